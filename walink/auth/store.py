"""The store interface every credential store implements, and the text encoding they share.

Every store keeps creds and keys as BufferJSON text (Baileys' ``creds.json`` and key-file
format), so a value read back from any store is equal to the value saved, and moving a device
between stores is a load and a save.

The interface is synchronous: a save is a few small writes and an fsync. Async callers run it in
a worker thread (``anyio.to_thread.run_sync``); every store is safe to call from threads.

Contract, for every store:

- ``load()`` returns None for a store that does not exist yet (a new device) and raises
  ``CorruptStoreError`` (the contents are damaged) or ``StoreReadError`` (the operating system
  refused: permissions, a read-only or failing disk; the contents may be fine) for one that
  exists but cannot be read. It never keeps the writer lock, so any number of readers can load
  while a writer runs.
- ``acquire()`` makes this object the store's one writer, now: it takes the writer lock
  (``StoreLockedError`` naming the holder, pid and host where the store can tell, if another
  writer has it) and proves the store writable (``StoreWriteError`` with the cause: a read-only
  file system, a folder that cannot be created, a full disk...), so a program finds out before
  it dials, not after a phone linked a device it cannot save. It is idempotent, and the first
  ``save``/``set_keys`` calls it. The lock is held until ``close()``; after ``close()`` writes
  (and ``acquire``) raise ``StoreClosedError``. A store shared by several machines implements
  the same contract with a lease: ``acquire`` takes it or raises ``StoreLockedError``.
- A failed write raises ``StoreWriteError`` (never a raw ``OSError``); ``load`` and
  ``get_keys`` then return the state before the call, or, for a multi-file batch that failed
  after its commit point, the whole batch: never a part of one.
- ``get_keys`` answers every id asked, None for a missing key. ``set_keys`` writes and deletes
  (a None value) keys of any number of types **all or nothing**, even when the process is killed
  mid-way: a Signal session, the pre-key it consumed and the message it decrypted go in one
  call. Pre-keys are saved by ``set_keys`` before anyone uploads them.
- ``list_key_ids(key_type)`` lists the ids stored under one type, sorted (to prune a type, such
  as old ``walink-message`` entries). The multi-file store returns them in their file-name form
  (``:`` as ``-``, ``/`` as ``__``), which addresses the same key.

Key types are Baileys' names with Baileys' values, kept verbatim (``walink.auth.key_values``):
``session`` (libsignal's ``SessionRecord`` JSON, keyed by the Signal address ``user.device``,
``user_1.device`` for a LID), ``identity-key`` (33 bytes, same key), ``pre-key`` (a key pair,
by decimal id), ``sender-key`` (libsignal's record JSON as bytes, keyed
``group::user::device``), ``sender-key-memory`` (``{jid: bool}`` by group), and
``app-state-sync-key``. walink adds ``walink-message`` (``key_values.WALINK_MESSAGE``): the
committed result of a decrypted message by the hex sha256 of its ciphertext. In Baileys' folder
each key is the file ``{type}-{id}.json`` with ``/`` as ``__`` and ``:`` as ``-``
(``session-15551234567.0.json``, ``sender-key-123@g.us--15551234567--0.json``).
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
    """What the client needs from a credential store (the contract is the module docstring)."""

    def load(self) -> Creds | None:
        """The saved credentials, or None when none were ever saved (corruption raises)."""

    def acquire(self) -> object:
        """Take the writer lock (or a device store's lease) now; what it returns is the store's
        own business (a device handle returns its lease's epoch), callers ignore it."""
        ...

    def save(self, creds: Creds) -> None:
        """Replace the credentials, atomically and durably."""

    def get_keys(self, key_type: str, ids: Iterable[str]) -> dict[str, KeyValue | None]:
        """Every id asked, with its value or None when missing."""

    def set_keys(self, updates: KeyUpdates) -> None:
        """Write (or, for a None value, delete) keys of any types, all or nothing."""

    def list_key_ids(self, key_type: str) -> list[str]:
        """The ids stored under ``key_type``, sorted."""

    def close(self) -> None:
        """Release the writer lock and the resources; later writes raise ``StoreClosedError``."""

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
