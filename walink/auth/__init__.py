"""Credentials and keys: a typed model and crash-safe stores.

``from walink.auth import Creds, SQLiteStore, MultiFileStore, MemoryStore`` is the stable import.
``Creds`` is Baileys' ``AuthenticationCreds`` (PROTOCOL.md §8) as an immutable dataclass; every
store implements ``AuthStore`` (``load``, ``save``, ``get_keys``, ``set_keys``, ``close``).
``DeviceStore`` (``open_device_store("postgresql://…")``) holds many devices, each handed out as
a ``DeviceHandle`` (an ``AuthStore``) that runs under a fenced lease.
"""

from walink.auth.device_import import import_store
from walink.auth.devices import DeviceHandle, DeviceInfo, DeviceStore, open_device_store
from walink.auth.errors import (
    AuthStoreError,
    CorruptStoreError,
    DeviceLeasedError,
    LeaseLostError,
    StoreClosedError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
    UnknownDeviceError,
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
    "DeviceHandle",
    "DeviceInfo",
    "DeviceLeasedError",
    "DeviceStore",
    "KeyPair",
    "KeyUpdates",
    "KeyValue",
    "LeaseLostError",
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
    "UnknownDeviceError",
    "UnknownSchemaError",
    "import_store",
    "open_device_store",
]
