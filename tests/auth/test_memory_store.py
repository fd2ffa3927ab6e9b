"""walink.auth.memory_store: copies on read, the same encoding as the files, no sharing."""

from __future__ import annotations

from tests.auth.strategies import every_key_type, full_creds
from walink.auth import MemoryStore


def test_reads_are_fresh_copies() -> None:
    store = MemoryStore()
    store.set_keys({"session": {"a": {"_sessions": {}}}})
    first = store.get_keys("session", ["a"])["a"]
    assert isinstance(first, dict)
    first["_sessions"] = "changed by the caller"
    assert store.get_keys("session", ["a"])["a"] == {"_sessions": {}}


def test_two_memory_stores_share_nothing() -> None:
    one, two = MemoryStore(), MemoryStore()
    one.save(full_creds())
    one.set_keys(every_key_type())
    assert two.load() is None
    assert two.get_keys("pre-key", ["7"]) == {"7": None}


def test_repr_shows_no_secret() -> None:
    store = MemoryStore()
    creds = full_creds()
    store.save(creds)
    assert creds.noise_key.private.hex() not in repr(store)
    assert repr(store) == "MemoryStore(saved=True, keys=0)"
