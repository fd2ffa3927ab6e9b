"""The AuthStore contract, checked on every store: SQLite, multi-file and memory."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings

from tests.auth.failing_fs import FailingFileSystem, acquired
from tests.auth.strategies import creds_strategy, every_key_type, full_creds
from walink.auth import (
    AuthStore,
    Creds,
    KeyPair,
    KeyUpdates,
    KeyValue,
    MemoryStore,
    MultiFileStore,
    SQLiteStore,
    StoreClosedError,
    StoreLockedError,
    StoreWriteError,
)
from walink.auth.key_values import WALINK_MESSAGE

StoreFactory = Callable[[], AuthStore]
PERSISTENT = ["sqlite", "multifile"]


def _factory(kind: str, where: Path) -> StoreFactory:
    if kind == "sqlite":
        return lambda: SQLiteStore(where / "auth.db")
    if kind == "multifile":
        return lambda: MultiFileStore(where / "auth_info_baileys")
    shared = MemoryStore()
    return lambda: shared


@pytest.fixture(params=[*PERSISTENT, "memory"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(kind: str, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[AuthStore] = []
    factory = _factory(kind, tmp_path)

    def make() -> AuthStore:
        store = factory()
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_a_missing_store_is_a_new_device(open_store: StoreFactory) -> None:
    store = open_store()
    assert store.load() is None
    assert store.get_keys("pre-key", ["1", "2"]) == {"1": None, "2": None}


def test_every_field_and_key_type_round_trips(open_store: StoreFactory) -> None:
    creds, keys = full_creds(), every_key_type()
    writer = open_store()
    writer.save(creds)
    writer.set_keys(keys)
    for store in (writer, open_store()):
        assert store.load() == creds
        for key_type, values in keys.items():
            assert store.get_keys(key_type, list(values)) == values


def test_a_save_replaces_the_creds(open_store: StoreFactory) -> None:
    store = open_store()
    first = Creds.new()
    store.save(first)
    second = dataclasses.replace(first, registered=True, platform="android")
    store.save(second)
    assert open_store().load() == second


def test_none_deletes_a_key_and_other_keys_stay(open_store: StoreFactory) -> None:
    store = open_store()
    one, two = KeyPair.generate(), KeyPair.generate()
    store.set_keys({"pre-key": {"1": one, "2": two}})
    store.set_keys({"pre-key": {"1": None, "3": None}})
    assert open_store().get_keys("pre-key", ["1", "2", "3"]) == {"1": None, "2": two, "3": None}


def test_a_bad_value_in_a_batch_writes_nothing(open_store: StoreFactory) -> None:
    store = open_store()
    with pytest.raises(TypeError):
        store.set_keys({"pre-key": {"1": KeyPair.generate(), "2": b"not a key pair"}})
    assert store.get_keys("pre-key", ["1"]) == {"1": None}


def test_keys_before_creds_are_kept(open_store: StoreFactory) -> None:
    # The client saves new pre-keys before uploading them, maybe before the next creds save.
    store = open_store()
    pair = KeyPair.generate()
    store.set_keys({"pre-key": {"5": pair}})
    assert store.load() is None
    assert open_store().get_keys("pre-key", ["5"]) == {"5": pair}


def test_closed_store_refuses_writes_but_still_reads(open_store: StoreFactory) -> None:
    store = open_store()
    creds = Creds.new()
    store.save(creds)
    store.close()
    with pytest.raises(StoreClosedError):
        store.save(creds)
    with pytest.raises(StoreClosedError):
        store.set_keys({"pre-key": {"1": None}})
    assert store.load() == creds


@pytest.mark.parametrize("kind", PERSISTENT)
def test_second_writer_gets_a_clear_error_while_readers_work(open_store: StoreFactory) -> None:
    writer, second, reader = open_store(), open_store(), open_store()
    creds = Creds.new()
    writer.save(creds)
    with pytest.raises(StoreLockedError, match="another writer"):
        second.save(creds)
    with pytest.raises(StoreLockedError):
        second.set_keys({"pre-key": {"1": None}})
    assert reader.load() == creds
    newer = dataclasses.replace(creds, account_sync_counter=9)
    writer.save(newer)
    assert reader.load() == newer
    assert second.load() == newer
    writer.close()
    second.save(creds)  # the lock is free once the first writer closes
    assert reader.load() == creds


@pytest.mark.parametrize("kind", PERSISTENT)
def test_constructing_and_loading_never_take_the_lock(open_store: StoreFactory) -> None:
    readers = [open_store() for _ in range(3)]
    for reader in readers:
        assert reader.load() is None
    writer = open_store()
    writer.save(Creds.new())  # no reader holds the lock
    assert all(reader.load() is not None for reader in readers)


def test_context_manager_closes(kind: str, tmp_path: Path) -> None:
    factory = _factory(kind, tmp_path)
    with factory() as store:
        store.save(Creds.new())
    with pytest.raises(StoreClosedError):
        store.save(Creds.new())
    if kind in PERSISTENT:
        with factory() as again:
            again.save(Creds.new())  # the lock was released


@pytest.mark.parametrize("kind", [*PERSISTENT, "memory"])
@settings(max_examples=15)
@given(creds=creds_strategy)
def test_any_creds_round_trip(kind: str, creds: Creds) -> None:
    with tempfile.TemporaryDirectory() as folder:
        factory = _factory(kind, Path(folder))
        with factory() as store:
            store.save(creds)
        with factory() as store:
            assert store.load() == creds


# -- acquire: the writer, now ------------------------------------------------------------------


def test_acquire_is_idempotent_and_refused_once_closed(open_store: StoreFactory) -> None:
    store = open_store()
    store.acquire()
    store.acquire()
    store.save(Creds.new())
    store.close()
    with pytest.raises(StoreClosedError):
        store.acquire()


@pytest.mark.parametrize("kind", PERSISTENT)
def test_acquire_refuses_a_second_writer_before_any_write(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    first.acquire()  # nothing written yet: the lock alone refuses the second
    with pytest.raises(StoreLockedError, match=rf"another writer.*pid {os.getpid()}") as caught:
        second.acquire()
    assert caught.value.pid == os.getpid()
    with pytest.raises(StoreLockedError):
        second.set_keys({"pre-key": {"1": None}})
    assert second.load() is None  # reading is never refused
    first.close()
    second.acquire()
    second.save(Creds.new())


# -- batches of several types: all or nothing --------------------------------------------------

CIPHERTEXT_HASH = hashlib.sha256(b"a pkmsg").hexdigest()


def _signal_batch(seed: int) -> KeyUpdates:
    """What one decrypted pkmsg commits: session, identity, consumed pre-key, the message."""
    return {
        "session": {"15551234567.0": {"_sessions": {"YWJj": {"seed": seed}}, "version": "v1"}},
        "pre-key": {"7": None},
        "identity-key": {"15551234567.0": bytes([5]) + bytes([seed]) * 32},
        WALINK_MESSAGE: {CIPHERTEXT_HASH: {"id": "3EB0", "text": f"hello {seed}"}},
    }


def _failing_batch(kind: str, where: Path) -> tuple[AuthStore, KeyUpdates]:
    """A writer on ``where`` and a batch of several types that fails at its last entry."""
    batch = _signal_batch(1)
    if kind == "memory":
        # A value the walink-message type cannot hold: encoding fails after the other entries.
        return MemoryStore(), {**batch, WALINK_MESSAGE: {CIPHERTEXT_HASH: KeyPair.generate()}}
    if kind == "sqlite":
        path = where / "auth.db"
        with SQLiteStore(path) as creating:
            creating.save(Creds.new())
        conn = sqlite3.connect(path)
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON keys WHEN NEW.type = 'walink-message'"
            " BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
        conn.commit()
        conn.close()
        return SQLiteStore(path), batch
    failing = FailingFileSystem("write", errno.ENOSPC, match="walink-message")
    return acquired(MultiFileStore(where / "auth_info_baileys", fs=failing), failing), batch


def test_a_batch_of_several_types_commits_together(open_store: StoreFactory) -> None:
    store = open_store()
    pre_key = KeyPair.generate()
    store.set_keys({"pre-key": {"7": pre_key, "8": pre_key}})
    store.set_keys(_signal_batch(1))
    for reader in (store, open_store()):
        for key_type, values in _signal_batch(1).items():
            assert reader.get_keys(key_type, list(values)) == values
        assert reader.get_keys("pre-key", ["8"]) == {"8": pre_key}


@pytest.mark.parametrize("kind", [*PERSISTENT, "memory"])
def test_a_batch_of_several_types_that_fails_changes_nothing(kind: str, tmp_path: Path) -> None:
    store, batch = _failing_batch(kind, tmp_path)
    store.set_keys({"pre-key": {"7": KeyPair.generate()}})

    def snapshot() -> dict[str, dict[str, KeyValue | None]]:
        return {key_type: store.get_keys(key_type, list(v)) for key_type, v in batch.items()}

    before = snapshot()
    with pytest.raises((StoreWriteError, TypeError)):
        store.set_keys(batch)
    assert snapshot() == before
    assert before["pre-key"]["7"] is not None  # the consumed pre-key is still there
    assert before["session"] == {"15551234567.0": None}
    store.close()


# -- listing the ids of one type ---------------------------------------------------------------


def test_list_key_ids_lists_one_type_sorted(open_store: StoreFactory) -> None:
    store = open_store()
    assert store.list_key_ids(WALINK_MESSAGE) == []  # no store yet
    hashes = sorted(hashlib.sha256(bytes([n])).hexdigest() for n in range(5))
    store.set_keys(
        {
            WALINK_MESSAGE: {h: {"n": i} for i, h in enumerate(reversed(hashes))},
            "sender-key": {"g@g.us--u--0": b"k"},  # the file-name form of g@g.us::u::0
            "sender-key-memory": {"g@g.us": {"u@s.whatsapp.net": True}},
            "pre-key": {"10": KeyPair.generate(), "9": KeyPair.generate()},
        }
    )
    store.set_keys({WALINK_MESSAGE: {hashes[0]: None}})
    for reader in (store, open_store()):
        assert reader.list_key_ids(WALINK_MESSAGE) == hashes[1:]
        assert reader.list_key_ids("sender-key") == ["g@g.us--u--0"]
        assert reader.list_key_ids("sender-key-memory") == ["g@g.us"]
        assert reader.list_key_ids("pre-key") == ["10", "9"]  # text order, as ids are text
        assert reader.list_key_ids("session") == []
