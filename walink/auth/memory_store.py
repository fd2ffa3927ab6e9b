"""``MemoryStore``: creds and keys in memory, for tests and throwaway sessions.

Values are kept as their encoded text, exactly like the persistent stores, so a test that passes
against ``MemoryStore`` exercises the same encoding and hands out fresh copies on every read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from walink.auth.errors import StoreClosedError
from walink.auth.key_values import KeyValue
from walink.auth.model import Creds
from walink.auth.store import KeyUpdates, decode_creds, decode_key, encode_creds, encode_key

__all__ = ["MemoryStore"]

_SOURCE = "<memory>"


class MemoryStore:
    """An ``AuthStore`` that forgets everything when dropped. One object is one writer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._creds: str | None = None
        self._keys: dict[tuple[str, str], str] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore(saved={self._creds is not None}, keys={len(self._keys)})"

    def load(self) -> Creds | None:
        with self._lock:
            text = self._creds
        return None if text is None else decode_creds(text, _SOURCE)

    def acquire(self) -> None:
        """Nothing to lock (one object is one writer) and nothing that could refuse a write."""
        with self._lock:
            self._check_open()

    def list_key_ids(self, key_type: str) -> list[str]:
        with self._lock:
            return sorted(key_id for kind, key_id in self._keys if kind == key_type)

    def save(self, creds: Creds) -> None:
        text = encode_creds(creds)
        with self._lock:
            self._check_open()
            self._creds = text

    def get_keys(self, key_type: str, ids: Iterable[str]) -> dict[str, KeyValue | None]:
        with self._lock:
            found = {key_id: self._keys.get((key_type, key_id)) for key_id in ids}
        return {
            key_id: None if text is None else decode_key(key_type, text, _SOURCE)
            for key_id, text in found.items()
        }

    def set_keys(self, updates: KeyUpdates) -> None:
        # Encode everything first: a bad value leaves the store untouched (one transaction).
        encoded = {
            (key_type, key_id): None if value is None else encode_key(key_type, value)
            for key_type, values in updates.items()
            for key_id, value in values.items()
        }
        with self._lock:
            self._check_open()
            for address, text in encoded.items():
                if text is None:
                    self._keys.pop(address, None)
                else:
                    self._keys[address] = text

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the memory store is closed")

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
