"""Many devices in one store (SQLite or PostgreSQL), each run under a fenced lease.

Theory of operation
-------------------
A ``DeviceStore`` holds any number of devices: their creds, their keys and one lease row each.
``store.device(jid_or_id)`` hands out a ``DeviceHandle``, an ``AuthStore`` for that one device,
so a ``Client`` runs on it exactly as on a one-device file.

The lease is how several processes (on several machines) share a store without ever running a
device twice. A handle takes it with ``acquire()`` in one statement::

    INSERT INTO walink_leases ... VALUES (device, me, 1, now + ttl)
    ON CONFLICT (device) DO UPDATE SET owner = me, epoch = epoch + 1, expires = now + ttl
    WHERE expires <= now OR owner = me RETURNING epoch

so a lease is taken only when it is free, lapsed, or already this store object's; each taking
bumps the *epoch*. ``now`` is the database's clock. The holder renews (``renew()``) well inside
the TTL; a renewal that finds the lease lapsed or taken raises ``LeaseLostError``, as does every
write: each creds or key write first updates the lease row where ``owner``, ``epoch`` match and
the lease has not lapsed, in the same transaction as the write, and rolls back when that changed
no row. A holder that was paused past its TTL (SIGSTOP, a long GC pause, a partition) therefore
finds every write refused even before anyone took over, and a takeover can never interleave with
an old holder's write. ``close()`` releases the lease (it lapses at once, keeping its epoch).

Renewing and releasing are fenced the same way, and work on any number of leases of one store
in one statement (``DeviceStore.renew_leases``, ``release_leases``): a fleet of a thousand
devices renews them all with one write per interval instead of a thousand::

    UPDATE walink_leases SET expires = now + ttl
    WHERE owner = me AND expires > now AND (device, epoch) IN (the handles' devices and epochs)
    RETURNING device

A device missing from what it returns lost its lease (lapsed, or taken by another holder).

Writes without ``acquire()`` first take the lease themselves (like the one-device stores'
writer lock), but never take it back once it was lost.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from walink.auth.device_sql import Backend, SQLiteBackend, Tx
from walink.auth.errors import (
    AuthStoreError,
    DeviceLeasedError,
    LeaseLostError,
    StoreClosedError,
    UnknownDeviceError,
)
from walink.auth.key_values import KeyValue
from walink.auth.model import Creds
from walink.auth.store import (
    AuthStore,
    KeyUpdates,
    decode_creds,
    decode_key,
    encode_creds,
    encode_key,
)

__all__ = [
    "DEFAULT_LEASE_TTL",
    "DEFAULT_RENEW_INTERVAL",
    "DeviceHandle",
    "DeviceInfo",
    "DeviceStore",
    "is_store_url",
    "open_device_store",
]

DEFAULT_LEASE_TTL = 30.0
"""Seconds a lease lasts without renewal."""
DEFAULT_RENEW_INTERVAL = 10.0
"""Seconds between renewals: three chances before the lease lapses."""

T = TypeVar("T")

_SCHEMES = ("postgresql://", "postgres://", "sqlite://")


def is_store_url(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` names a many-device store (``postgresql://``, ``sqlite:///path``)."""
    return isinstance(text, str) and text.startswith(_SCHEMES)


def default_owner() -> str:
    """``host:pid:tag``: who holds a lease, readable by a person deciding what to stop."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """One device of a store, and who holds its lease."""

    id: str
    """The store's id for the device (stable from ``add()`` on)."""
    jid: str | None
    """The device's JID once it is linked (``PHONE:N@s.whatsapp.net``), else None."""
    logged_out: bool
    """The server removed this device: it can never log in again."""
    holder: str | None
    """The owner of a lease that has not lapsed, else None."""
    epoch: int
    """The lease's epoch (0: never leased)."""
    expires_in: float | None
    """Seconds until the holder's lease lapses (None when nobody holds it)."""

    @property
    def name(self) -> str:
        """The JID, or ``new:<id>`` for a device not linked yet."""
        return self.jid if self.jid is not None else f"new:{self.id}"


class DeviceStore:
    """Many devices' creds, keys and leases in one database.

    ``lease_ttl`` and ``renew_interval`` apply to the leases this object takes; ``owner`` names
    it in every lease (default ``host:pid:random``), so two store objects, in one process or
    two, exclude each other exactly like two machines.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        renew_interval: float | None = None,
        owner: str | None = None,
    ) -> None:
        if not lease_ttl > 0:
            raise ValueError("the lease TTL must be positive")
        self._backend = backend
        self.lease_ttl = lease_ttl
        self.renew_interval = renew_interval if renew_interval is not None else lease_ttl / 3
        self.owner = owner if owner is not None else default_owner()
        self._closed = False

    @property
    def where(self) -> str:
        """The path or (password-less) URL."""
        return self._backend.where

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"DeviceStore({self.where!r})"

    def run(self, work: Callable[[Tx], T], *, write: bool) -> T:
        if self._closed:
            raise StoreClosedError("the device store is closed", self.where)
        return self._backend.run(work, write=write)

    # -- devices ------------------------------------------------------------------------------

    def devices(self) -> list[DeviceInfo]:
        """Every device, oldest first, with its lease holder."""
        rows = self.run(
            lambda tx: tx.query(
                "SELECT d.id, d.jid, d.logged_out, l.owner, l.epoch, l.expires - {now}"
                " FROM walink_devices d LEFT JOIN walink_leases l ON l.device = d.id"
                " ORDER BY d.created, d.id"
            ),
            write=False,
        )
        return [_info(row) for row in rows]

    def add(self, creds: Creds | None = None) -> str:
        """A new device (no creds: linked by the first ``Client`` that runs it); its id."""
        device_id = secrets.token_hex(6)
        text = None if creds is None else encode_creds(creds)
        jid = None if creds is None or creds.me is None else creds.me.id
        self.run(
            lambda tx: tx.update(
                "INSERT INTO walink_devices (id, jid, creds, logged_out, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (device_id, jid, text, int(bool(creds and creds.logged_out)), time.time()),
            ),
            write=True,
        )
        return device_id

    def find(self, device: str) -> DeviceInfo:
        """The device whose id or JID is ``device`` (``UnknownDeviceError`` if none)."""
        for info in self.devices():
            if device in (info.id, info.jid, info.name):
                return info
        raise UnknownDeviceError(f"no device {device!r} in this store", self.where)

    def device(self, device: str) -> DeviceHandle:
        """An ``AuthStore`` for one device (by id or JID); it takes the lease when it writes."""
        return DeviceHandle(self, self.find(device).id)

    def remove(self, device: str) -> None:
        """Delete a device and its keys; refused (``DeviceLeasedError``) while someone runs it."""
        handle = self.device(device)
        handle.acquire()

        def delete(tx: Tx) -> None:
            handle.fence(tx)
            for table, column in (
                ("walink_keys", "device"),
                ("walink_leases", "device"),
                ("walink_devices", "id"),
            ):
                tx.update(f"DELETE FROM {table} WHERE {column} = ?", (handle.id,))

        self.run(delete, write=True)

    def import_from(self, source: AuthStore, keys: Iterable[tuple[str, str]]) -> str:
        """Copy a device (its creds and the ``(type, id)`` keys listed) into a new device."""
        creds = source.load()
        if creds is None:
            raise UnknownDeviceError("the source store holds no credentials")
        wanted: dict[str, list[str]] = {}
        for key_type, key_id in keys:
            wanted.setdefault(key_type, []).append(key_id)
        device_id = self.add(creds)
        handle = DeviceHandle(self, device_id)
        try:
            for key_type, ids in wanted.items():
                values = source.get_keys(key_type, ids)
                handle.set_keys({key_type: values})
        finally:
            handle.close()
        return device_id

    # -- leases of many handles at once -------------------------------------------------------

    def renew_leases(self, handles: Sequence[DeviceHandle]) -> dict[DeviceHandle, LeaseLostError]:
        """Extend every handle's lease by a TTL from now, in one statement; the ones lost.

        Each lease is extended only where this store still holds it at the handle's epoch and it
        has not lapsed, exactly as a fenced write checks. A handle whose lease lapsed or was
        taken (or that holds none, or is closed) is in the result, with the error its writes now
        raise: it is marked lost and never takes the lease back. Handles of another store:
        ``ValueError``. The store's errors (``AuthStoreError``) leave the handles as they were.
        """
        held, lost = self._held(handles)
        if held:
            rows = self.run(
                lambda tx: tx.query(
                    "UPDATE walink_leases SET expires = {now} + ?"
                    " WHERE owner = ? AND expires > {now}"
                    " AND (device, epoch) IN ({device_epochs}) RETURNING device",
                    (self.lease_ttl, self.owner, _device_epochs(held)),
                ),
                write=True,
            )
            renewed = {str(row[0]) for row in rows}
            for handle, epoch in held.items():
                if handle.id not in renewed:
                    lost[handle] = handle._lose(epoch)
        return lost

    def release_leases(self, handles: Sequence[DeviceHandle]) -> None:
        """Give every handle's lease up now, in one statement (they lapse at once, keeping
        their epochs, so the next holder's is higher). Handles holding none are skipped."""
        held: dict[DeviceHandle, int] = {}
        for handle in handles:
            epoch = handle._give_up()
            if epoch is not None:
                held[handle] = epoch
        if not held or self._closed:
            return
        self.run(
            lambda tx: tx.update(
                "UPDATE walink_leases SET expires = {now} - 1"
                " WHERE owner = ? AND (device, epoch) IN ({device_epochs})",
                (self.owner, _device_epochs(held)),
            ),
            write=True,
        )

    def _held(
        self, handles: Sequence[DeviceHandle]
    ) -> tuple[dict[DeviceHandle, int], dict[DeviceHandle, LeaseLostError]]:
        """The handles' epochs, and the handles that hold no lease (with their errors)."""
        held: dict[DeviceHandle, int] = {}
        lost: dict[DeviceHandle, LeaseLostError] = {}
        for handle in handles:
            if handle.store is not self:
                raise ValueError(f"{handle!r} is not a handle of {self!r}")
            epoch = handle.epoch
            if epoch is None or handle.closed:
                lost[handle] = LeaseLostError("no lease is held to renew", handle._where())
            else:
                held[handle] = epoch
        return held, lost

    def close(self) -> None:
        """Close the database connections (handles' leases are released by the handles)."""
        if not self._closed:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> DeviceStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _device_epochs(held: dict[DeviceHandle, int]) -> str:
    """The ``{device_epochs}`` parameter: ``[[device, epoch], ...]`` as JSON text."""
    return json.dumps([[handle.id, epoch] for handle, epoch in held.items()])


def _info(row: tuple[object, ...]) -> DeviceInfo:
    device_id, jid, logged_out, owner, epoch, left = row
    live = owner is not None and isinstance(left, float | int) and left > 0
    return DeviceInfo(
        id=str(device_id),
        jid=None if jid is None else str(jid),
        logged_out=bool(logged_out),
        holder=str(owner) if live else None,
        epoch=int(epoch) if isinstance(epoch, int) else 0,
        expires_in=float(left) if live and isinstance(left, float | int) else None,
    )


class DeviceHandle:
    """One device of a ``DeviceStore``, as an ``AuthStore`` with a lease.

    ``close()`` releases the lease; the store itself stays open unless ``owns_store`` (set by
    ``open_store`` for a URL, where the handle is all the caller sees).
    """

    def __init__(self, store: DeviceStore, device_id: str, *, owns_store: bool = False) -> None:
        self.store = store
        self.id = device_id
        self.owns_store = owns_store
        self._mutex = threading.Lock()
        self._epoch: int | None = None
        self._lost = False
        self._closed = False

    def __repr__(self) -> str:
        return f"DeviceHandle({self.store.where!r}, {self.id!r})"

    @property
    def epoch(self) -> int | None:
        """The epoch of the lease held (None when none is)."""
        return self._epoch

    @property
    def lease_ttl(self) -> float:
        return self.store.lease_ttl

    @property
    def renew_interval(self) -> float:
        return self.store.renew_interval

    # -- the lease ----------------------------------------------------------------------------

    def acquire(self) -> int:
        """Take the device's lease (or keep the one held); return its epoch.

        ``DeviceLeasedError`` names the holder when another one has it; ``LeaseLostError`` when
        this handle had it and lost it (a handle never takes a lost lease back: a new handle can).
        """
        with self._mutex:
            self._check_open()
            if self._epoch is not None:
                return self._epoch
            if self._lost:
                raise LeaseLostError("the device's lease was lost", self._where())
            epoch = self.store.run(self._take, write=True)
            self._epoch = epoch
            return epoch

    def _take(self, tx: Tx) -> int:
        owner, ttl = self.store.owner, self.store.lease_ttl
        # First the lease as last committed: a plain read waits for no lock (on PostgreSQL), so
        # a live holder refuses us at once even while one of its writes holds the lease row
        # (the insert below would wait for that write's commit, however long it takes).
        rows = tx.query(
            "SELECT l.owner, l.epoch, l.expires - {now} FROM walink_devices d"
            " LEFT JOIN walink_leases l ON l.device = d.id WHERE d.id = ?",
            (self.id,),
        )
        if not rows:
            raise UnknownDeviceError(f"no device {self.id!r} in this store", self.store.where)
        holder, epoch, left = rows[0]
        if holder is not None and holder != owner and float(left) > 0:
            raise self._leased(tx, holder, epoch, left)
        rows = tx.query(
            "INSERT INTO walink_leases (device, owner, epoch, expires) VALUES (?, ?, 1, {now} + ?)"
            " ON CONFLICT (device) DO UPDATE SET owner = excluded.owner,"
            " epoch = walink_leases.epoch + 1, expires = excluded.expires"
            " WHERE walink_leases.expires <= {now} OR walink_leases.owner = excluded.owner"
            " RETURNING epoch",
            (self.id, owner, ttl),
        )
        if rows:
            return int(rows[0][0])
        holder, epoch, left = tx.query(
            "SELECT owner, epoch, expires - {now} FROM walink_leases WHERE device = ?", (self.id,)
        )[0]
        raise self._leased(tx, holder, epoch, left)

    def _leased(self, tx: Tx, holder: object, epoch: object, left: object) -> DeviceLeasedError:
        """The refusal naming the lease's ``holder`` (a row of ``walink_leases``)."""
        assert isinstance(epoch, int) and isinstance(left, float | int)
        return DeviceLeasedError(
            f"device {self._name(tx)} is running elsewhere: {holder} holds its lease"
            f" (epoch {epoch}, {float(left):.0f} s left unless renewed)",
            self.store.where,
            holder=str(holder),
            epoch=int(epoch),
            expires_in=float(left),
        )

    def _name(self, tx: Tx) -> str:
        rows = tx.query("SELECT jid FROM walink_devices WHERE id = ?", (self.id,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else self.id

    def fence(self, tx: Tx) -> None:
        """Inside a write transaction: raise ``LeaseLostError`` unless our lease still holds.

        The update takes the lease row's lock, so no takeover can commit before this write does.
        """
        changed = tx.update(
            "UPDATE walink_leases SET epoch = epoch"
            " WHERE device = ? AND owner = ? AND epoch = ? AND expires > {now}",
            (self.id, self.store.owner, self._epoch),
        )
        if changed != 1:
            raise self._lost_error(self._epoch)

    def renew(self) -> None:
        """Extend the lease by a TTL from now; ``LeaseLostError`` when it lapsed or was taken."""
        self._check_open()
        lost = self.store.renew_leases([self])
        if self in lost:
            raise lost[self]

    def _lose(self, epoch: int) -> LeaseLostError:
        """A renewal found the lease held at ``epoch`` gone: mark it lost (unless it changed)."""
        with self._mutex:
            if self._epoch == epoch:
                self._epoch, self._lost = None, True
        return self._lost_error(epoch)

    def _lost_error(self, epoch: int | None) -> LeaseLostError:
        return LeaseLostError(
            f"the lease of device {self.id} (epoch {epoch}) lapsed or was taken over:"
            " this process must stop running it",
            self.store.where,
        )

    def release(self) -> None:
        """Give the lease up now (it lapses at once; the epoch stays for the next holder)."""
        self.store.release_leases([self])

    def _give_up(self) -> int | None:
        """Forget the lease (its epoch, None if none was held) before it is released."""
        with self._mutex:
            epoch, self._epoch = self._epoch, None
            return epoch

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    # -- AuthStore ----------------------------------------------------------------------------

    def load(self) -> Creds | None:
        rows = self.store.run(
            lambda tx: tx.query("SELECT creds FROM walink_devices WHERE id = ?", (self.id,)),
            write=False,
        )
        if not rows:
            raise UnknownDeviceError(f"no device {self.id!r} in this store", self.store.where)
        text = rows[0][0]
        return None if text is None else decode_creds(text, self._where())

    def get_keys(self, key_type: str, ids: Iterable[str]) -> dict[str, KeyValue | None]:
        wanted = list(dict.fromkeys(ids))

        def query(tx: Tx) -> dict[str, str]:
            found: dict[str, str] = {}
            for key_id in wanted:
                rows = tx.query(
                    "SELECT json FROM walink_keys WHERE device = ? AND type = ? AND id = ?",
                    (self.id, key_type, key_id),
                )
                if rows:
                    found[key_id] = rows[0][0]
            return found

        rows = self.store.run(query, write=False) if wanted else {}
        return {
            key_id: None
            if key_id not in rows
            else decode_key(key_type, rows[key_id], f"{self._where()} ({key_type} {key_id})")
            for key_id in wanted
        }

    def list_key_ids(self, key_type: str) -> list[str]:
        """The ids of every stored key of ``key_type``, sorted."""

        def query(tx: Tx) -> list[str]:
            rows = tx.query(
                "SELECT id FROM walink_keys WHERE device = ? AND type = ? ORDER BY id",
                (self.id, key_type),
            )
            return [str(row[0]) for row in rows]

        return self.store.run(query, write=False)

    def _write(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        self.acquire()

        def work(tx: Tx) -> None:
            self.fence(tx)
            for sql, params in statements:
                tx.update(sql, params)

        try:
            self.store.run(work, write=True)
        except LeaseLostError:
            with self._mutex:
                self._epoch, self._lost = None, True
            raise

    def save(self, creds: Creds) -> None:
        """Replace the creds (and the JID and logged-out mark the listing shows), fenced."""
        jid = None if creds.me is None else creds.me.id
        self._write(
            [
                (
                    "UPDATE walink_devices SET creds = ?, jid = ?, logged_out = ? WHERE id = ?",
                    (encode_creds(creds), jid, int(creds.logged_out), self.id),
                )
            ]
        )

    def set_keys(self, updates: KeyUpdates) -> None:
        """Write and delete keys in one fenced transaction."""
        statements: list[tuple[str, tuple[object, ...]]] = []
        for key_type, values in updates.items():
            for key_id, value in values.items():
                statements.append(
                    (
                        "DELETE FROM walink_keys WHERE device = ? AND type = ? AND id = ?",
                        (self.id, key_type, key_id),
                    )
                )
                if value is not None:
                    statements.append(
                        (
                            "INSERT INTO walink_keys (device, type, id, json) VALUES (?, ?, ?, ?)",
                            (self.id, key_type, key_id, encode_key(key_type, value)),
                        )
                    )
        if statements:
            self._write(statements)

    def close(self) -> None:
        """Release the lease; later writes raise ``StoreClosedError``."""
        if self._closed:
            return
        try:
            self.release()
        except AuthStoreError:
            pass  # the lease lapses by itself within its TTL
        finally:
            self._closed = True
            if self.owns_store:
                self.store.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the device handle is closed", self._where())

    def _where(self) -> str:
        return f"{self.store.where} (device {self.id})"

    def __enter__(self) -> DeviceHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_device_store(
    url: str | os.PathLike[str],
    *,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    renew_interval: float | None = None,
    owner: str | None = None,
) -> DeviceStore:
    """Open (creating or upgrading its schema) the store at ``url``.

    ``postgresql://user@host:port/db`` (needs ``pip install 'walink[postgres]'``),
    ``sqlite:///path/to/file.db``, or a plain path (a many-device SQLite file).
    """
    text = os.fspath(url)
    backend: Backend
    if text.startswith(("postgresql://", "postgres://")):
        from walink.auth.postgres_store import PostgresBackend

        # the server ends a session of ours stalled inside a transaction for a whole TTL: a
        # paused process's row locks must not outlive its lease (they would block a takeover)
        backend = PostgresBackend(text, stalled_after=lease_ttl)
    else:
        path = text.removeprefix("sqlite://") if text.startswith("sqlite://") else text
        backend = SQLiteBackend(Path(path))
    return DeviceStore(backend, lease_ttl=lease_ttl, renew_interval=renew_interval, owner=owner)


def open_single_device(url: str) -> DeviceHandle:
    """The one device of the store at ``url`` (a new one when it is empty), owning the store.

    Several devices: ``UnknownDeviceError`` listing them (choose one with ``store.device``).
    """
    store = open_device_store(url)
    try:
        devices = store.devices()
        if not devices:
            device_id = store.add()
        elif len(devices) == 1:
            device_id = devices[0].id
        else:
            names = ", ".join(info.name for info in devices)
            raise UnknownDeviceError(
                f"the store holds several devices ({names}): choose one", store.where
            )
    except BaseException:
        store.close()
        raise
    return DeviceHandle(store, device_id, owns_store=True)
