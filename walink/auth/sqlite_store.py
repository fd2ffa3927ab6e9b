"""``SQLiteStore``: the default store, one SQLite file with creds and keys.

- WAL journal and ``synchronous=FULL``: every save is one durable transaction, and readers
  (other processes included) read while the writer writes.
- The file is created 0600 (SQLite gives its ``-wal`` and ``-shm`` files the same mode). A new
  database is built under a temp name and renamed into place, so a file at ``path`` is always a
  complete walink database: an empty or truncated one is corruption, never "a new device".
- ``application_id`` marks the file as walink's and ``user_version`` is the schema version; the
  writer applies ``MIGRATIONS`` in order, and a newer version than we know is refused.
- The writer lock is an ``flock`` on ``<path>.lock`` (SQLite's own locks serialise transactions,
  not writers: two processes saving alternately would each overwrite the other's creds).

Creds and key values are stored as BufferJSON text, as in Baileys' files.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable

from walink.auth.errors import (
    CorruptStoreError,
    StoreClosedError,
    StoreReadError,
    StoreWriteError,
    UnknownSchemaError,
)
from walink.auth.files import TEMP_SUFFIX, FileSystem, discard_temp, fsync_dir, write_temp
from walink.auth.key_values import KeyValue
from walink.auth.lock import WriterLock
from walink.auth.model import Creds
from walink.auth.store import KeyUpdates, decode_creds, decode_key, encode_creds, encode_key

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore"]

#: ``PRAGMA application_id``: "WALK", so another program's SQLite file is not taken for ours.
APPLICATION_ID = 0x57414C4B
_HEADER = b"SQLite format 3\x00"
_HEADER_SIZE = 100

#: ``MIGRATIONS[n]`` takes a database from schema version n to n + 1 (0 is "empty").
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE creds (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)",
        "CREATE TABLE keys (type TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL,"
        " PRIMARY KEY (type, id)) WITHOUT ROWID",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

Connector = Callable[[str], sqlite3.Connection]

#: Primary result codes that mean the file's contents are damaged (SQLITE_CORRUPT, SQLITE_NOTADB).
#: Every other failure (SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_IOERR, SQLITE_PERM, ...) is the
#: operating system refusing access: the credentials in the file may be perfectly good.
_CORRUPTION_CODES = frozenset({11, 26})


def _describe(error: sqlite3.Error) -> str:
    """SQLite's message and its result code's name, on one line."""
    name = getattr(error, "sqlite_errorname", None)
    text = " ".join(str(error).split())
    return f"{text}, {name}" if name else text


def _is_corruption(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is None or code & 0xFF in _CORRUPTION_CODES


def _integrity_problem(rows: list[tuple[object, ...]]) -> str | None:
    """``PRAGMA quick_check``'s verdict as one line, or None when it says "ok"."""
    problems = [
        line.strip()
        for row in rows
        for line in str(row[0]).splitlines()
        if line.strip() and not line.startswith("***")
    ]
    if problems in ([], ["ok"]):
        return None
    more = f"; {len(problems) - 1} more problems" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def _connect(path: str) -> sqlite3.Connection:
    # Autocommit mode: we issue BEGIN/COMMIT ourselves so each save is exactly one transaction.
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


class SQLiteStore:
    """An ``AuthStore`` in one SQLite file (the default)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        connect: Connector = _connect,
        fs: FileSystem | None = None,
    ) -> None:
        self._path = os.path.abspath(os.fspath(path))
        self._connect = connect
        self._fs = fs if fs is not None else FileSystem()
        self._lock = WriterLock(self._path + ".lock", what="credential database")
        self._mutex = threading.RLock()
        self._writer: sqlite3.Connection | None = None
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"

    # -- reading (no lock) -------------------------------------------------------------------

    def _check_header(self) -> bool:
        """False when there is no database; raise when the file is not a whole SQLite file."""
        try:
            fd = self._fs.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        except IsADirectoryError:
            raise CorruptStoreError("a directory, not a database", self._path) from None
        except OSError as error:
            raise StoreReadError(f"cannot read ({error.strerror})", self._path) from error
        try:
            header = self._fs.read(fd, _HEADER_SIZE)
        except IsADirectoryError:
            raise CorruptStoreError("a directory, not a database", self._path) from None
        except OSError as error:
            raise StoreReadError(f"cannot read ({error.strerror})", self._path) from error
        finally:
            self._fs.close(fd)
        # A database we created is whole from its first byte on (see ``_create``): a short or
        # foreign header is damage, never "no database yet".
        if len(header) < _HEADER_SIZE or not header.startswith(_HEADER):
            raise CorruptStoreError(
                "not a SQLite database (empty, truncated or overwritten)", self._path
            )
        return True

    def _open_checked(self) -> sqlite3.Connection:
        try:
            conn = self._connect(self._path)
        except sqlite3.Error as error:
            raise StoreReadError(f"cannot open ({_describe(error)})", self._path) from error
        try:
            self._check_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> int:
        try:
            (app_id,) = conn.execute("PRAGMA application_id").fetchone()
            (version,) = conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.Error as error:
            raise self._read_failure(error) from None
        if app_id != APPLICATION_ID:
            raise UnknownSchemaError("not a walink credential database", self._path)
        if not 1 <= version <= SCHEMA_VERSION:
            raise UnknownSchemaError(
                f"schema version {version} is not one this walink knows (1..{SCHEMA_VERSION})",
                self._path,
            )
        return int(version)

    def _read(self, query: Callable[[sqlite3.Connection], object], *, check: bool) -> object:
        with self._mutex:
            if self._writer is not None:
                return self._run_read(self._writer, query, check)
        if not self._check_header():
            return None
        conn = self._open_checked()
        try:
            return self._run_read(conn, query, check)
        finally:
            conn.close()

    def _run_read(
        self, conn: sqlite3.Connection, query: Callable[[sqlite3.Connection], object], check: bool
    ) -> object:
        # One read transaction, so the integrity check and the query see the same snapshot.
        try:
            conn.execute("BEGIN")
            try:
                if check:
                    problem = _integrity_problem(conn.execute("PRAGMA quick_check").fetchall())
                    if problem is not None:
                        raise CorruptStoreError(f"corrupt database ({problem})", self._path)
                return query(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._read_failure(error) from None

    def _read_failure(self, error: sqlite3.Error) -> CorruptStoreError | StoreReadError:
        """Damaged contents are corruption; anything else is the system refusing access."""
        if _is_corruption(error):
            return CorruptStoreError(f"corrupt database ({_describe(error)})", self._path)
        return StoreReadError(
            f"cannot read ({_describe(error)}; the file and its folder must be readable, and "
            "writable for SQLite's -wal and -shm files)",
            self._path,
        )

    def load(self) -> Creds | None:
        """The saved creds; None when the database does not exist or has no creds yet.

        Runs SQLite's ``quick_check`` first (once per load, not per key read): a damaged page
        anywhere is reported before the device connects with half its keys.
        """
        row = self._read(
            lambda c: c.execute("SELECT json FROM creds WHERE id = 1").fetchone(), check=True
        )
        if row is None:
            return None
        assert isinstance(row, tuple)
        return decode_creds(row[0], self._path)

    def get_keys(self, key_type: str, ids: Iterable[str]) -> dict[str, KeyValue | None]:
        wanted = list(dict.fromkeys(ids))

        def query(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            for key_id in wanted:
                row = conn.execute(
                    "SELECT json FROM keys WHERE type = ? AND id = ?", (key_type, key_id)
                ).fetchone()
                if row is not None:
                    found[key_id] = row[0]
            return found

        rows = self._read(query, check=False) or {}
        assert isinstance(rows, dict)
        return {
            key_id: None
            if key_id not in rows
            else decode_key(key_type, rows[key_id], f"{self._path} ({key_type} {key_id})")
            for key_id in wanted
        }

    # -- writing (the writer lock) -----------------------------------------------------------

    def _create(self) -> None:
        """Build a complete empty database under a temp name and rename it to ``path``."""
        folder, name = os.path.split(self._path)
        temp = os.path.join(folder, f".{name}.{os.getpid()}{TEMP_SUFFIX}")
        # A writer killed while creating leaves its temp database (and journal): we hold the
        # lock, so every such leftover is dead.
        for leftover in os.listdir(folder or "."):
            if leftover.startswith(f".{name}.") and TEMP_SUFFIX in leftover:
                os.unlink(os.path.join(folder, leftover))
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        try:
            conn = self._connect(temp)
            try:
                conn.execute("PRAGMA journal_mode=DELETE")
                conn.execute("BEGIN IMMEDIATE")
                self._migrate(conn, 0)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute("COMMIT")
            finally:
                conn.close()
            fd = self._fs.open(temp, os.O_RDONLY | os.O_CLOEXEC)
            try:
                self._fs.fsync(fd)
            finally:
                self._fs.close(fd)
            self._fs.replace(temp, self._path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        fsync_dir(self._fs, folder)

    @staticmethod
    def _migrate(conn: sqlite3.Connection, version: int) -> None:
        for step in MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def acquire(self) -> None:
        """Take the writer lock now and prove the database writable (``AuthStore.acquire``).

        An existing database is opened for writing (migrated if older) and a write is tried and
        rolled back; for a new one, a probe file is created and removed in its folder. So a
        read-only file system, a missing folder or a full disk is a ``StoreWriteError`` here.
        """
        with self._mutex:
            if self._closed:
                raise StoreClosedError("the store is closed", self._path)
            if self._lock.held:
                return
            folder = os.path.dirname(self._path)
            if not os.path.isdir(folder):
                raise StoreWriteError("cannot create the database: no such folder", folder)
            self._lock.acquire()
            try:
                if self._check_header():
                    self._writer = self._open_writer()
                else:
                    self._probe_folder(folder)
            except BaseException:
                self._lock.release()
                raise

    def _probe_folder(self, folder: str) -> None:
        try:
            probe = write_temp(self._fs, folder, f"{os.path.basename(self._path)}.probe", b"probe")
        except OSError as error:
            raise StoreWriteError(
                f"cannot create the database ({error.strerror})", self._path
            ) from error
        discard_temp(self._fs, probe)

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._open_checked()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            version = self._check_schema(conn)
            conn.execute("BEGIN IMMEDIATE")
            if version < SCHEMA_VERSION:
                self._migrate(conn, version)
                conn.execute("COMMIT")
            else:
                # Rewriting the header's version, rolled back: proves the file takes writes
                # without needing a new page (a nearly full disk still takes small saves).
                conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            conn.close()
            if _is_corruption(error):
                raise CorruptStoreError(
                    f"corrupt database ({_describe(error)})", self._path
                ) from None
            raise StoreWriteError(f"cannot write ({_describe(error)})", self._path) from error
        except BaseException:
            conn.close()
            raise
        return conn

    def _start_writing(self) -> sqlite3.Connection:
        if self._writer is not None:
            return self._writer
        self.acquire()  # raises StoreClosedError once closed
        if self._writer is None:
            # A new database: made whole under a temp name at the first write, not at acquire,
            # so a program that stops before linking leaves no empty database behind.
            try:
                self._create()
            except (OSError, sqlite3.Error) as error:
                raise StoreWriteError(
                    f"cannot create the database ({error})", self._path
                ) from error
            self._writer = self._open_writer()
        return self._writer

    def _transaction(self, statements: list[tuple[str, tuple[str, ...]]]) -> None:
        with self._mutex:
            conn = self._start_writing()
            try:
                conn.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                if conn.in_transaction:
                    # SQLite may already have rolled back by itself (SQLITE_FULL can).
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise StoreWriteError(f"cannot save ({_describe(error)})", self._path) from error

    def list_key_ids(self, key_type: str) -> list[str]:
        """The ids of every stored key of ``key_type``, sorted."""
        ids = self._read(
            lambda c: [
                row[0]
                for row in c.execute("SELECT id FROM keys WHERE type = ? ORDER BY id", (key_type,))
            ],
            check=False,
        )
        assert ids is None or isinstance(ids, list)
        return ids or []

    def save(self, creds: Creds) -> None:
        """Replace the creds in one transaction."""
        text = encode_creds(creds)
        self._transaction([("INSERT OR REPLACE INTO creds (id, json) VALUES (1, ?)", (text,))])

    def set_keys(self, updates: KeyUpdates) -> None:
        """Write and delete keys, all in one transaction."""
        statements: list[tuple[str, tuple[str, ...]]] = []
        for key_type, values in updates.items():
            for key_id, value in values.items():
                if value is None:
                    statements.append(
                        ("DELETE FROM keys WHERE type = ? AND id = ?", (key_type, key_id))
                    )
                else:
                    statements.append(
                        (
                            "INSERT OR REPLACE INTO keys (type, id, json) VALUES (?, ?, ?)",
                            (key_type, key_id, encode_key(key_type, value)),
                        )
                    )
        self._transaction(statements)

    def close(self) -> None:
        """Close the database and release the writer lock; later writes raise."""
        with self._mutex:
            self._closed = True
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()
            self._lock.release()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
