"""The store interface every credential store implements, and the text encoding they share.

Every store keeps creds and keys as BufferJSON text (Baileys' ``creds.json`` and key-file
format), so a value read back from any store is equal to the value saved, and moving a device
between stores is a load and a save.

The interface is synchronous: a save is a few small writes and an fsync. Async callers run it in
a worker thread (``anyio.to_thread.run_sync``); every store is safe to call from threads.

Contract, for every store:

- ``load()`` returns None for a store that does not exist yet (a new device) and raises
  ``CorruptStoreError`` / ``StoreReadError`` for one that exists but cannot be read. It never
  takes the writer lock, so any number of readers can load while a writer runs.
- The first ``save``/``set_keys`` takes the writer lock (``StoreLockedError`` if another writer
  has it) and ``close()`` releases it. After ``close()`` writes raise ``StoreClosedError``.
- A failed write raises ``StoreWriteError``; what was saved before is still what ``load`` returns.
- ``get_keys`` answers every id asked, None for a missing key; ``set_keys`` with a None value
  deletes that key. Pre-keys are saved by ``set_keys`` before anyone uploads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, Self, TypeAlias

from walink.auth import bufferjson
from walink.auth.creds_json import creds_from_json, creds_to_json
from walink.auth.errors import CorruptStoreError
from walink.auth.key_values import KeyValue, key_from_json, key_to_json
from walink.auth.model import Creds

__all__ = ["AuthStore", "KeyUpdates", "decode_creds", "decode_key", "encode_creds", "encode_key"]

KeyUpdates: TypeAlias = "Mapping[str, Mapping[str, KeyValue | None]]"
"""``set_keys`` input: ``{type: {id: value, or None to delete}}``."""


class AuthStore(Protocol):
    """What the client needs from a credential store."""

    def load(self) -> Creds | None: ...

    def save(self, creds: Creds) -> None: ...

    def get_keys(self, key_type: str, ids: Iterable[str]) -> dict[str, KeyValue | None]: ...

    def set_keys(self, updates: KeyUpdates) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


def encode_creds(creds: Creds) -> str:
    return bufferjson.dumps(creds_to_json(creds))


def decode_creds(text: str | bytes, source: str) -> Creds:
    """Parse stored creds text; any defect is a ``CorruptStoreError`` naming ``source``."""
    try:
        return creds_from_json(bufferjson.loads(text))
    except ValueError as error:  # includes JSONDecodeError and UnicodeDecodeError
        raise CorruptStoreError(f"unreadable credentials ({error})", source) from None


def encode_key(key_type: str, value: KeyValue) -> str:
    return bufferjson.dumps(key_to_json(key_type, value))


def decode_key(key_type: str, text: str | bytes, source: str) -> KeyValue:
    try:
        return key_from_json(key_type, bufferjson.loads(text))
    except ValueError as error:
        raise CorruptStoreError(f"unreadable {key_type} key ({error})", source) from None
