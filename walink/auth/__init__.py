"""Credentials and keys: a typed model and crash-safe stores.

``from walink.auth import Creds, SQLiteStore, MultiFileStore, MemoryStore`` is the stable import.
``Creds`` is Baileys' ``AuthenticationCreds`` as an immutable dataclass; every store implements
``AuthStore`` (``load``, ``acquire``, ``save``, ``get_keys``, ``set_keys``, ``list_key_ids``,
``close``; the contract is in ``walink.auth.store``). ``open_store`` picks the store a path
names (``walink.auth.opening``).
"""

from walink.auth.errors import (
    AuthStoreError,
    CorruptStoreError,
    StoreAccessError,
    StoreClosedError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
    UnknownSchemaError,
)
from walink.auth.key_values import KEY_TYPES, WALINK_MESSAGE, KeyValue
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
from walink.auth.opening import open_store
from walink.auth.sqlite_store import SQLiteStore
from walink.auth.store import AuthStore, KeyUpdates
from walink.protocol.keys import KeyPair, SignedKeyPair

__all__ = [
    "KEY_TYPES",
    "WALINK_MESSAGE",
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
    "StoreAccessError",
    "StoreClosedError",
    "StoreLockedError",
    "StoreReadError",
    "StoreWriteError",
    "UnknownSchemaError",
    "open_store",
]
