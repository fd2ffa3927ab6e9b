"""Credentials and keys: a typed model and crash-safe stores.

``from walink.auth import Creds, SQLiteStore, MultiFileStore, MemoryStore`` is the stable import.
``Creds`` is Baileys' ``AuthenticationCreds`` as an immutable dataclass; every store implements
``AuthStore`` (``load``, ``acquire``, ``save``, ``get_keys``, ``set_keys``, ``list_key_ids``,
``close``; the contract is in ``walink.auth.store``). ``open_store`` picks the store a path
names (``walink.auth.opening``). ``DeviceStore`` (``open_device_store("postgresql://…")``) holds
many devices, each handed out as a ``DeviceHandle`` (an ``AuthStore``) that runs under a fenced
lease.
"""

from walink.auth.device_import import import_store
from walink.auth.devices import DeviceHandle, DeviceInfo, DeviceStore, open_device_store
from walink.auth.errors import (
    AuthStoreError,
    CorruptStoreError,
    DeviceLeasedError,
    LeaseLostError,
    StoreAccessError,
    StoreClosedError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
    UnknownDeviceError,
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
    "StoreAccessError",
    "StoreClosedError",
    "StoreLockedError",
    "StoreReadError",
    "StoreWriteError",
    "UnknownDeviceError",
    "UnknownSchemaError",
    "import_store",
    "open_device_store",
    "open_store",
]
