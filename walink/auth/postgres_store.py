"""The PostgreSQL engine of the many-device store (psycopg 3, its synchronous API).

psycopg's async API runs on asyncio only, and walink also runs under trio: the store is called
from worker threads instead (as every store is), and a ``psycopg_pool.ConnectionPool`` lends
each thread a connection for one transaction. The driver is an optional extra; without it,
opening a ``postgresql://`` store says how to install it.

Transactions run at READ COMMITTED (PostgreSQL's default). That suffices: every write first
updates its device's lease row (the fence), which holds that row's lock until commit, so a
takeover waits for a write in flight and the write after it sees the new epoch.

That lock is why every session of ours carries two bounds. A process paused inside one of its
transactions (SIGSTOP, a stalled machine) keeps its row locks for as long as it is paused, and
PostgreSQL would make a contender wait for them forever. ``idle_in_transaction_session_timeout``
(``stalled_after``: the device store passes its lease TTL) makes the server end such a session
and roll its transaction back, so a paused holder's locks go about when its lease lapses. A
lock held by a session without that bound (another program's) is met by ``lock_timeout``
(twice ``stalled_after``): the statement fails with ``StoreLockedError`` instead of waiting on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from walink.auth.device_sql import SCHEMA_VERSION, Tx, migrate
from walink.auth.errors import (
    AuthStoreError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
)

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = ["INSTALL_HINT", "PostgresBackend", "redact_url"]

T = TypeVar("T")

INSTALL_HINT = "PostgreSQL stores need the driver: pip install 'walink[postgres]'"
_NOW = "extract(epoch from clock_timestamp())::double precision"
_DEVICE_EPOCHS = (
    "SELECT e.value ->> 0, (e.value ->> 1)::bigint FROM json_array_elements(?::json) AS e(value)"
)
# one arbitrary 64-bit number: the advisory lock that serialises schema upgrades
_MIGRATION_LOCK = 0x57414C4D_0001


def redact_url(url: str) -> str:
    """``url`` without its password (errors and logs may show the rest)."""
    return re.sub(r"(//[^/:@]*):[^/@]*@", r"\1:***@", url)


class _PgTx:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @staticmethod
    def _sql(sql: str) -> str:
        # no statement of ours has a literal % or ?: a plain rewrite is safe
        return (
            sql.replace("{device_epochs}", _DEVICE_EPOCHS).replace("?", "%s").replace("{now}", _NOW)
        )

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), tuple(params))
        return list(self._cursor.fetchall())

    def update(self, sql: str, params: Sequence[object] = ()) -> int:
        self._cursor.execute(self._sql(sql), tuple(params))
        return self._cursor.rowcount


class PostgresBackend:
    """Many devices in a PostgreSQL database (tables ``walink_*``, created at first open)."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 10,
        connect_timeout: float = 10.0,
        stalled_after: float = 30.0,
    ) -> None:
        """``stalled_after``: seconds a session of ours may sit inside a transaction without
        sending a statement before the server ends it; a lock wait lasts at most twice that
        (see the module docstring)."""
        if not stalled_after > 0:
            raise ValueError("stalled_after must be positive")
        try:
            import psycopg
            import psycopg_pool
        except ImportError:
            raise StoreReadError(INSTALL_HINT, redact_url(url)) from None
        self._psycopg = psycopg
        self._where = redact_url(url)
        self._lock_timeout = 2 * stalled_after
        # whole milliseconds, at least 1 (0 would turn the bound off)
        bounds = (
            f"{max(1, round(stalled_after * 1000))}ms",
            f"{max(1, round(self._lock_timeout * 1000))}ms",
        )

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, false),"
                " set_config('lock_timeout', %s, false)",
                bounds,
            )
            conn.commit()  # the pool takes back only an idle connection

        self._pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=connect_timeout,
            configure=configure,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except psycopg_pool.PoolTimeout as error:
            self._pool.close()
            raise StoreReadError(f"cannot connect ({error})", self._where) from None
        try:
            self.run(self._prepare, write=True)
        except BaseException:
            self._pool.close()
            raise

    @property
    def where(self) -> str:
        return self._where

    def _prepare(self, tx: Tx) -> None:
        tx.query("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        exists = tx.query("SELECT to_regclass('walink_schema') IS NOT NULL")[0][0]
        version = 0
        if exists:
            version = int(tx.query("SELECT version FROM walink_schema")[0][0])
        if version != SCHEMA_VERSION:
            migrate(tx, version, self._where)

    def run(self, work: Callable[[Tx], T], *, write: bool) -> T:
        psycopg = self._psycopg
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
                return work(_PgTx(cursor))
        except AuthStoreError:
            raise
        except psycopg.errors.LockNotAvailable as error:
            raise StoreLockedError(
                f"a row stayed locked by another session for {self._lock_timeout:g} s"
                f" (a program keeping a transaction open?) ({error})",
                self._where,
            ) from error
        except (psycopg.Error, OSError) as error:
            if write:
                raise StoreWriteError(f"cannot write ({error})", self._where) from error
            raise StoreReadError(f"cannot read ({error})", self._where) from error
        except Exception as error:
            # the pool's own errors (PoolTimeout when every connection is busy or the server is
            # gone) are not psycopg.Error
            if type(error).__module__.startswith("psycopg"):
                raise StoreReadError(f"database unavailable ({error})", self._where) from error
            raise

    def close(self) -> None:
        self._pool.close()
