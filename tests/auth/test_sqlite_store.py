"""walink.auth.sqlite_store: WAL, schema versions, file modes, corruption and failing disks."""

from __future__ import annotations

import dataclasses
import errno
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.auth.failing_fs import FailingFileSystem
from tests.auth.strategies import full_creds
from walink.auth import (
    CorruptStoreError,
    Creds,
    KeyPair,
    SQLiteStore,
    StoreReadError,
    StoreWriteError,
    UnknownSchemaError,
)
from walink.auth.files import TEMP_SUFFIX
from walink.auth.sqlite_store import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION


def _saved(path: Path, creds: Creds | None = None) -> Creds:
    creds = creds or full_creds()
    with SQLiteStore(path) as store:
        store.save(creds)
    return creds


def test_database_is_wal_versioned_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    with SQLiteStore(path) as store:
        store.save(Creds.new())
        store.set_keys({"pre-key": {"1": KeyPair.generate()}})
        for sibling in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")):
            assert stat.S_IMODE(sibling.stat().st_mode) == 0o600, sibling
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    finally:
        conn.close()


def test_no_file_until_the_first_write_and_no_temp_after(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    store = SQLiteStore(path)
    assert store.load() is None
    assert os.listdir(tmp_path) == []
    store.save(Creds.new())
    store.close()
    assert sorted(os.listdir(tmp_path)) == ["auth.db", "auth.db.lock"]


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00", b"garbage" * 100])
def test_empty_truncated_or_foreign_file_is_corrupt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "auth.db"
    path.write_bytes(content)
    with pytest.raises(CorruptStoreError, match=r"auth\.db"):
        SQLiteStore(path).load()
    with pytest.raises(CorruptStoreError):
        SQLiteStore(path).save(Creds.new())  # never replaced by a fresh database
    assert path.read_bytes() == content


def test_truncated_database_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    with SQLiteStore(path) as store:
        store.save(full_creds())
        store.set_keys({"session": {str(i): "x" * 3000 for i in range(20)}})
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptStoreError, match=r"auth\.db"):
        SQLiteStore(path).get_keys("session", [str(i) for i in range(20)])


def test_garbled_pages_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    _saved(path)
    data = bytearray(path.read_bytes())
    data[4096:8192] = os.urandom(4096)  # the whole first table page
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError, match=r"auth\.db"):
        SQLiteStore(path).load()


def test_garbled_creds_text_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    _saved(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE creds SET json = '{\"noiseKey\":'")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptStoreError, match="unreadable credentials"):
        SQLiteStore(path).load()


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(UnknownSchemaError, match="not a walink"):
        SQLiteStore(path).load()
    with pytest.raises(UnknownSchemaError):
        SQLiteStore(path).save(Creds.new())


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    _saved(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(UnknownSchemaError, match="schema version"):
        SQLiteStore(path).load()
    with pytest.raises(UnknownSchemaError, match="schema version"):
        SQLiteStore(path).save(Creds.new())


def test_migrations_bring_an_old_database_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import walink.auth.sqlite_store as module

    path = tmp_path / "auth.db"
    creds = _saved(path)
    extra_step = ("CREATE TABLE notes (text TEXT)",)
    monkeypatch.setattr(module, "MIGRATIONS", (*MIGRATIONS, extra_step))
    monkeypatch.setattr(module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with SQLiteStore(path) as store:
        assert store.load() == creds  # readers read the old version as it is
        store.save(creds)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    finally:
        conn.close()


def test_set_keys_is_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"

    def refuse_second_insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON keys WHEN NEW.id = 'b'"
            " BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )

    with SQLiteStore(path) as store:
        store.save(Creds.new())
    conn = sqlite3.connect(path)
    refuse_second_insert(conn)
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store, pytest.raises(StoreWriteError, match="injected"):
        store.set_keys({"session": {"a": "1", "b": "2"}})
    assert SQLiteStore(path).get_keys("session", ["a", "b"]) == {"a": None, "b": None}


def _limited(path_text: str) -> sqlite3.Connection:
    # A "full disk": SQLite cannot grow the database past its current size (SQLITE_FULL).
    conn = sqlite3.connect(path_text, isolation_level=None, check_same_thread=False)
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
    return conn


def test_full_disk_is_a_clear_error_and_old_creds_survive(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    old = _saved(path)
    store = SQLiteStore(path, connect=_limited)
    bigger = dataclasses.replace(old, additional_data="x" * 200_000)
    with pytest.raises(StoreWriteError, match="full") as caught:
        store.save(bigger)
    assert "auth.db" in str(caught.value)
    assert SQLiteStore(path).load() == old
    store.save(dataclasses.replace(old, account_sync_counter=5))  # still usable where it fits
    store.close()
    assert SQLiteStore(path).load() == dataclasses.replace(old, account_sync_counter=5)


def test_read_only_file_system_is_a_clear_error_and_old_creds_survive(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    old = _saved(path)

    def read_only(path_text: str) -> sqlite3.Connection:
        return sqlite3.connect(
            f"file:{path_text}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )

    with pytest.raises(StoreWriteError, match="readonly"):
        SQLiteStore(path, connect=read_only).save(dataclasses.replace(old, registered=False))
    assert SQLiteStore(path).load() == old


def test_unreadable_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    _saved(path)
    with pytest.raises(StoreReadError, match="Permission denied") as caught:
        SQLiteStore(path, fs=FailingFileSystem("open", errno.EACCES, match="auth.db")).load()
    assert "auth.db" in str(caught.value)

    def refused(path_text: str) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    with pytest.raises(StoreReadError, match="unable to open"):
        SQLiteStore(path, connect=refused).load()


@pytest.mark.parametrize(("operation", "code"), [("fsync", errno.EIO), ("replace", errno.EROFS)])
def test_failed_creation_leaves_no_database(tmp_path: Path, operation: str, code: int) -> None:
    path = tmp_path / "auth.db"
    store = SQLiteStore(path, fs=FailingFileSystem(operation, code))
    with pytest.raises(StoreWriteError, match="cannot create"):
        store.save(Creds.new())
    assert SQLiteStore(path).load() is None
    assert sorted(os.listdir(tmp_path)) == ["auth.db.lock"]


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(CorruptStoreError, match="directory"):
        SQLiteStore(tmp_path).load()


def test_a_creation_cut_short_is_cleaned_up_and_not_a_database(tmp_path: Path) -> None:
    # What a writer killed inside _create leaves: a temp database and its journal.
    for leftover in (f".auth.db.1234{TEMP_SUFFIX}", f".auth.db.1234{TEMP_SUFFIX}-journal"):
        (tmp_path / leftover).write_bytes(b"partial")
    path = tmp_path / "auth.db"
    assert SQLiteStore(path).load() is None
    with SQLiteStore(path) as store:
        store.save(Creds.new())
    assert sorted(os.listdir(tmp_path)) == ["auth.db", "auth.db.lock"]


# -- acquire, and access errors that are not corruption ----------------------------------------


def _read_only(path_text: str) -> sqlite3.Connection:
    return sqlite3.connect(
        f"file:{path_text}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )


def test_acquire_finds_a_read_only_database_before_any_save(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    old = _saved(path)
    store = SQLiteStore(path, connect=_read_only)
    with pytest.raises(StoreWriteError, match="readonly") as caught:
        store.acquire()
    assert not isinstance(caught.value, CorruptStoreError)
    assert "\n" not in str(caught.value)
    assert SQLiteStore(path).load() == old
    SQLiteStore(path).acquire()  # the refused acquire released the lock


def test_acquire_probes_the_folder_of_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    store = SQLiteStore(path, fs=FailingFileSystem("open", errno.EROFS, match=".probe"))
    with pytest.raises(StoreWriteError, match=r"Read-only file system.*auth\.db"):
        store.acquire()
    assert sorted(os.listdir(tmp_path)) == ["auth.db.lock"]  # no database, no probe left
    with SQLiteStore(path) as healthy:
        healthy.acquire()
        assert not path.exists()  # a new database is made at the first save, not at acquire
        healthy.save(Creds.new())
    assert path.exists()


def test_a_missing_folder_is_a_write_error_not_a_raw_os_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing" / "auth.db")
    assert store.load() is None
    with pytest.raises(StoreWriteError, match=r"no such folder.*missing"):
        store.acquire()
    with pytest.raises(StoreWriteError, match="no such folder"):
        store.save(Creds.new())


class _CannotOpen(sqlite3.Connection):
    """A connection whose statements fail as SQLite fails on a WAL database it cannot open
    (a read-only mount without the -shm file): SQLITE_CANTOPEN, a real error from SQLite."""

    def execute(self, *args: object, **kwargs: object) -> sqlite3.Cursor:
        try:
            sqlite3.connect("file:/nonexistent/walink-test.db?mode=ro", uri=True)
        except sqlite3.OperationalError as error:
            raise error from None
        raise AssertionError("SQLite opened a database that does not exist")


def test_a_database_that_cannot_be_opened_is_not_called_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    _saved(path)

    def cannot_open(path_text: str) -> sqlite3.Connection:
        return sqlite3.connect(path_text, factory=_CannotOpen, isolation_level=None)

    with pytest.raises(StoreReadError, match=r"unable to open.*SQLITE_CANTOPEN") as caught:
        SQLiteStore(path, connect=cannot_open).load()
    assert not isinstance(caught.value, CorruptStoreError)
    assert "auth.db" in str(caught.value)


def test_a_corrupt_page_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    with SQLiteStore(path) as store:
        store.save(full_creds())
        store.set_keys({"session": {f"{i:04d}": "x" * 600 for i in range(50)}})
    data = bytearray(path.read_bytes())
    pages = len(data) // 4096
    # 20 pages no table owns, counted in the header: SQLite's check reports each on its own line.
    data += bytes(4096 * 20)
    data[28:32] = (pages + 20).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError) as caught:
        SQLiteStore(path).load()
    assert str(caught.value) == (
        f"corrupt database (Page {pages + 1} is never used; 19 more problems): {path}"
    )


def test_list_key_ids_reads_without_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    with SQLiteStore(path) as store:
        store.set_keys({"walink-message": {"b": {"n": 1}, "a": {"n": 2}}})
        assert SQLiteStore(path).list_key_ids("walink-message") == ["a", "b"]
