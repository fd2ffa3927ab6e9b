"""Credentials and keys: a typed model and crash-safe stores.

``from walink.auth import Creds, SQLiteStore, MultiFileStore, MemoryStore`` is the stable import.
``Creds`` is Baileys' ``AuthenticationCreds`` (PROTOCOL.md §8) as an immutable dataclass; every
store implements ``AuthStore`` (``load``, ``save``, ``get_keys``, ``set_keys``, ``close``).
"""

from walink.auth.errors import (
    AuthStoreError,
    CorruptStoreError,
    StoreClosedError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
    UnknownSchemaError,
)
from walink.auth.key_values import KEY_TYPES, KeyValue
from walink.auth.memory_store import MemoryStore
from walink.auth.model import (
    AccountSettings,
    AppStateSyncKeyData,
    AppStateSyncKeyFingerprint,
    Contact,
    Creds,
    SignalIdentity,
    SignedDeviceIdentity,
)
from walink.auth.multifile_store import MultiFileStore
from walink.auth.sqlite_store import SQLiteStore
from walink.auth.store import AuthStore, KeyUpdates
from walink.protocol.keys import KeyPair, SignedKeyPair

__all__ = [
    "KEY_TYPES",
    "AccountSettings",
    "AppStateSyncKeyData",
    "AppStateSyncKeyFingerprint",
    "AuthStore",
    "AuthStoreError",
    "Contact",
    "CorruptStoreError",
    "Creds",
    "KeyPair",
    "KeyUpdates",
    "KeyValue",
    "MemoryStore",
    "MultiFileStore",
    "SQLiteStore",
    "SignalIdentity",
    "SignedDeviceIdentity",
    "SignedKeyPair",
    "StoreClosedError",
    "StoreLockedError",
    "StoreReadError",
    "StoreWriteError",
    "UnknownSchemaError",
]
