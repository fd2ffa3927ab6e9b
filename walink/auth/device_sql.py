"""The SQL side of the many-device store: one schema, two engines (SQLite and PostgreSQL).

Theory of operation
-------------------
``DeviceStore`` (``walink.auth.devices``) speaks to a ``Backend``: ``run(work, write=...)``
runs ``work(tx)`` in one transaction and commits it, or rolls it back when ``work`` raises.
Statements are written once, with ``?`` placeholders and ``{now}`` for the database's clock in
unix seconds; each backend rewrites both for its engine. ``{device_epochs}`` stands for a
``SELECT`` of ``(device, epoch)`` rows read from one parameter, the JSON text of
``[[device, epoch], ...]``: a fleet renews or releases any number of leases in one statement
with one parameter, whatever the engine's limit on parameters. The clock is always the database's,
never a machine's: two machines with skewed clocks still agree on when a lease lapses.

The schema is versioned: ``walink_schema`` holds one row with the version, and ``MIGRATIONS[n]``
takes version n to n + 1. Opening a store applies the missing steps in one transaction (under
an advisory lock on PostgreSQL, under ``BEGIN IMMEDIATE`` on SQLite); a newer version than this
walink knows is refused (``UnknownSchemaError``), never written to.

The SQLite backend keeps one connection per store object (WAL, ``synchronous=FULL``, a busy
timeout so that processes sharing the file wait for each other's short transactions) behind a
mutex: SQLite runs one writer at a time anyway.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from walink.auth.errors import (
    AuthStoreError,
    CorruptStoreError,
    StoreReadError,
    StoreWriteError,
    UnknownSchemaError,
)

__all__ = [
    "DEVICES_APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Backend",
    "SQLiteBackend",
    "Tx",
]

T = TypeVar("T")

#: ``PRAGMA application_id`` of a many-device SQLite file: "WALM" (one-device files say "WALK").
DEVICES_APPLICATION_ID = 0x57414C4D

#: ``MIGRATIONS[n]`` takes the schema from version n to n + 1; the SQL is valid on both engines.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE walink_devices (id TEXT PRIMARY KEY, jid TEXT UNIQUE, creds TEXT,"
        " logged_out INTEGER NOT NULL DEFAULT 0, created DOUBLE PRECISION NOT NULL)",
        "CREATE TABLE walink_keys (device TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,"
        " json TEXT NOT NULL, PRIMARY KEY (device, type, id))",
        "CREATE TABLE walink_leases (device TEXT PRIMARY KEY, owner TEXT NOT NULL,"
        " epoch BIGINT NOT NULL, expires DOUBLE PRECISION NOT NULL)",
    ),
    # A fleet looks for lapsed leases every few seconds: index them by expiry.
    ("CREATE INDEX walink_leases_expires ON walink_leases (expires)",),
)
SCHEMA_VERSION = len(MIGRATIONS)


class Tx(Protocol):
    """One open transaction."""

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run a statement that returns rows."""
        ...

    def update(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement; return how many rows it changed."""
        ...


class Backend(Protocol):
    """An engine the device store runs its transactions on."""

    @property
    def where(self) -> str:
        """What errors name: a path, or a URL without its password."""
        ...

    def run(self, work: Callable[[Tx], T], *, write: bool) -> T: ...

    def close(self) -> None: ...


def migrate(tx: Tx, version: int, where: str) -> None:
    """Bring a schema at ``version`` (0: none yet) to ``SCHEMA_VERSION`` inside ``tx``."""
    if version > SCHEMA_VERSION:
        raise UnknownSchemaError(
            f"schema version {version} is newer than this walink knows (1..{SCHEMA_VERSION})",
            where,
        )
    if version == 0:
        tx.update("CREATE TABLE walink_schema (version INTEGER NOT NULL)")
        tx.update("INSERT INTO walink_schema (version) VALUES (0)")
    for step in MIGRATIONS[version:]:
        for statement in step:
            tx.update(statement)
    tx.update("UPDATE walink_schema SET version = ?", (SCHEMA_VERSION,))


def read_version(tx: Tx, where: str) -> int:
    rows = tx.query("SELECT version FROM walink_schema")
    if len(rows) != 1 or not isinstance(rows[0][0], int):
        raise CorruptStoreError("the schema table does not hold one version", where)
    return int(rows[0][0])


# -- SQLite ---------------------------------------------------------------------------------------

# julianday('now') has millisecond precision on every SQLite version (unixepoch('subsec') is 3.42+)
_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_SQLITE_DEVICE_EPOCHS = (
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)"
)


def _sqlite_sql(sql: str) -> str:
    return sql.replace("{device_epochs}", _SQLITE_DEVICE_EPOCHS).replace("{now}", _SQLITE_NOW)


class _SQLiteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(_sqlite_sql(sql), tuple(params)).fetchall()

    def update(self, sql: str, params: Sequence[object] = ()) -> int:
        cursor = self._conn.execute(_sqlite_sql(sql), tuple(params))
        return cursor.rowcount


class SQLiteBackend:
    """Many devices in one SQLite file (created 0600 at first open)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.path.abspath(os.fspath(path))
        self._mutex = threading.Lock()
        folder = os.path.dirname(self._path)
        if not os.path.isdir(folder):
            raise StoreReadError("no such folder", folder)
        if not os.path.exists(self._path):
            # create it 0600 before SQLite does (SQLite would use the umask)
            try:
                os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            except OSError as error:
                raise StoreWriteError(f"cannot create ({error.strerror})", self._path) from None
        try:
            self._conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as error:
            raise CorruptStoreError(f"not a usable SQLite database ({error})", self._path) from None
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    @property
    def where(self) -> str:
        return self._path

    def _prepare(self) -> None:
        def check(tx: Tx) -> None:
            (app_id,) = tx.query("PRAGMA application_id")[0]
            tables = tx.query("SELECT name FROM sqlite_master WHERE type = 'table'")
            if app_id == 0 and not tables:
                tx.update(f"PRAGMA application_id = {DEVICES_APPLICATION_ID}")
                migrate(tx, 0, self._path)
                return
            if app_id != DEVICES_APPLICATION_ID:
                what = (
                    "a one-device walink database (import it into a device store instead)"
                    if app_id == 0x57414C4B
                    else "not a walink device store"
                )
                raise UnknownSchemaError(what, self._path)
            version = read_version(tx, self._path)
            if version != SCHEMA_VERSION:
                migrate(tx, version, self._path)

        self.run(check, write=True)

    def run(self, work: Callable[[Tx], T], *, write: bool) -> T:
        with self._mutex:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = work(_SQLiteTx(conn))
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result
            except AuthStoreError:
                raise
            except sqlite3.DatabaseError as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if write:
                    raise StoreWriteError(f"cannot write ({error})", self._path) from error
                raise StoreReadError(f"cannot read ({error})", self._path) from error

    def close(self) -> None:
        with self._mutex:
            self._conn.close()
