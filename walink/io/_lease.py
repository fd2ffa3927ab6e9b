"""A ``Client``'s side of a device lease: taken before dialing, renewed while it runs, given back.

A store with a lease (a ``DeviceHandle`` of a shared device store) is recognised by its shape,
``LeasedStore``; every other store has no lease and nothing here runs for it.

Theory of operation
-------------------
A client keeps its lease through a ``LeaseKeeper``: ``keep(done, on_lost)`` runs as one of the
client's tasks until ``done`` is set, and ``release()`` gives the lease back when the client
stops. There are two keepers:

* ``OwnLease``, a standalone client's: it renews its one lease every ``renew_interval`` in a
  worker thread (one write per client per interval).
* ``LeaseGroup.keeper(handle)``, a fleet's: the group renews every lease it keeps with one
  statement per ``renew_interval`` (``DeviceStore.renew_leases``), so a thousand devices cost
  one write per interval, not a thousand; and it gives back together the leases of clients
  that stop together (``release_leases``: one statement for those that arrive while the
  previous one runs), so closing a thousand clients does not queue a thousand transactions
  behind the store's one writer.

Both end a lease the same way. A lease found lapsed or taken (``LeaseLostError``, or a device
missing from the group's renewal) calls ``on_lost`` at once, and the session ends with
``LEASE_LOST``. Any other error (the database unreachable for a moment) is retried at the next
tick, until a whole TTL has passed since the start of the last renewal that worked: from then on
another process may hold the device, so ``on_lost`` is called too, even if it cannot tell. Every
write stays fenced by the lease's epoch in its own transaction whatever the keeper does: a
keeper only decides how soon the client learns that its lease is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import anyio

from walink.auth.devices import DeviceHandle, DeviceStore
from walink.auth.errors import AuthStoreError, LeaseLostError

__all__ = ["LeaseGroup", "LeaseKeeper", "LeasedStore", "OwnLease", "keep_lease", "lapsed"]


@runtime_checkable
class LeasedStore(Protocol):
    """A store that holds its device under a lease."""

    @property
    def lease_ttl(self) -> float: ...

    @property
    def renew_interval(self) -> float: ...

    def acquire(self) -> int: ...

    def renew(self) -> None: ...

    def release(self) -> None: ...


class LeaseKeeper(Protocol):
    """How a client keeps its device's lease while it runs."""

    async def keep(self, done: anyio.Event, on_lost: Callable[[str], None]) -> None:
        """Keep the lease until ``done`` is set; call ``on_lost(message)`` once if it is lost."""
        ...

    async def release(self) -> None:
        """Give the lease back now; ``AuthStoreError`` if the store refused (it then lapses by
        itself within its TTL)."""
        ...


class OwnLease:
    """A standalone client's keeper: its own renewal every ``renew_interval``.

    ``run`` runs a blocking store call off the event loop (the client's worker threads).
    """

    def __init__(
        self,
        store: LeasedStore,
        run: Callable[[Callable[[], None]], Awaitable[None]],
        log: logging.Logger,
    ) -> None:
        self._store = store
        self._run = run
        self._log = log

    async def keep(self, done: anyio.Event, on_lost: Callable[[str], None]) -> None:
        await keep_lease(self._store, self._run, done, on_lost, self._log)

    async def release(self) -> None:
        await self._run(self._store.release)


async def keep_lease(
    store: LeasedStore,
    run: Callable[[Callable[[], None]], Awaitable[None]],
    done: anyio.Event,
    on_lost: Callable[[str], None],
    log: logging.Logger,
) -> None:
    """Renew ``store``'s lease until ``done`` is set; call ``on_lost(message)`` if it is lost."""
    last_ok = anyio.current_time()
    while not done.is_set():
        with anyio.move_on_after(store.renew_interval):
            await done.wait()
        if done.is_set():
            return
        started = anyio.current_time()
        try:
            await run(store.renew)
        except LeaseLostError as error:
            log.error("%s", error)
            on_lost(str(error))
            return
        except AuthStoreError as error:
            message = lapsed(last_ok, store.lease_ttl, error)
            if message is not None:
                log.error("%s", message)
                on_lost(message)
                return
            log.warning("renewing the device's lease failed (retrying): %s", error)
        else:
            # the database extended the lease at some moment after this one
            last_ok = started


def lapsed(last_ok: float, ttl: float, error: AuthStoreError) -> str | None:
    """The rule both keepers follow when a renewal failed with ``error`` (not a lost lease):
    None while less than ``ttl`` has passed since ``last_ok`` (the start of the last renewal
    that worked: retry at the next tick); past it, the message the lease is lost with (another
    process may hold the device by now)."""
    if anyio.current_time() - last_ok < ttl:
        return None
    return f"the lease could not be renewed for a whole TTL ({error})"


@dataclass(slots=True, eq=False)
class _Kept:
    """One lease a group keeps: whom to tell when it is lost, and when it was last renewed."""

    handle: DeviceHandle
    on_lost: Callable[[str], None]
    last_ok: float


@dataclass(slots=True, eq=False)
class _Release:
    """Leases given back in one statement, and how it went."""

    handles: list[DeviceHandle] = field(default_factory=list)
    done: anyio.Event = field(default_factory=anyio.Event)
    error: AuthStoreError | None = None


class LeaseGroup:
    """The leases of one fleet: renewed together, given back together (see the module docstring).

    ``run()`` is the renewal task (it runs until cancelled); ``keeper(handle)`` is what each
    client of the fleet keeps its lease with. Every handle must be of ``store``.
    """

    def __init__(self, store: DeviceStore, log: logging.Logger) -> None:
        self._store = store
        self._log = log
        self._kept: dict[DeviceHandle, _Kept] = {}
        self._next = _Release()
        self._flushing = False
        self.renewals = 0
        """Renewal statements run so far (for tests and metrics)."""
        self.releases = 0
        """Release statements run so far (for tests and metrics)."""

    def keeper(self, handle: DeviceHandle) -> LeaseKeeper:
        """The keeper of ``handle``'s lease, for its client (``Client(..., lease=...)``)."""
        if handle.store is not self._store:
            raise ValueError(f"{handle!r} is not a handle of {self._store!r}")
        return _GroupLease(self, handle)

    @property
    def kept(self) -> int:
        """How many leases the group renews now."""
        return len(self._kept)

    async def run(self) -> None:
        """Renew every kept lease once per ``renew_interval``, until cancelled."""
        while True:
            await anyio.sleep(self._store.renew_interval)
            await self.renew_once()

    async def renew_once(self) -> None:
        """One renewal of every kept lease, in one statement (``run`` calls it every interval)."""
        kept = list(self._kept.values())
        if not kept:
            return
        started = anyio.current_time()
        self.renewals += 1
        try:
            lost = await anyio.to_thread.run_sync(
                self._store.renew_leases, [entry.handle for entry in kept]
            )
        except AuthStoreError as error:
            ttl = self._store.lease_ttl
            expired = [
                (entry, message)
                for entry in kept
                if (message := lapsed(entry.last_ok, ttl, error)) is not None
            ]
            if len(expired) < len(kept):
                self._log.warning("renewing the fleet's leases failed (retrying): %s", error)
            for entry, message in expired:
                self._lose(entry, message)
            return
        for entry in kept:
            error_lost = lost.get(entry.handle)
            if error_lost is not None:
                self._lose(entry, str(error_lost))
            else:
                entry.last_ok = started

    def _lose(self, entry: _Kept, message: str) -> None:
        if self._kept.get(entry.handle) is not entry:
            return  # its client stopped meanwhile
        del self._kept[entry.handle]
        self._log.error("%s", message)
        try:
            entry.on_lost(message)
        except Exception as error:
            # one client's failure must not stop the renewal of every other lease
            self._log.error("ending a client whose lease was lost failed: %r", error)

    async def _keep(
        self, handle: DeviceHandle, done: anyio.Event, on_lost: Callable[[str], None]
    ) -> None:
        entry = _Kept(handle=handle, on_lost=on_lost, last_ok=anyio.current_time())
        self._kept[handle] = entry
        try:
            await done.wait()
        finally:
            if self._kept.get(handle) is entry:
                del self._kept[handle]

    async def _release(self, handle: DeviceHandle) -> None:
        """Give ``handle``'s lease back with every other one asked for meanwhile.

        The first caller runs the statements; whoever arrives while one runs joins the next one,
        so a thousand clients closing at once cost a few statements, not a thousand.
        """
        self._kept.pop(handle, None)
        batch = self._next
        batch.handles.append(handle)
        if not self._flushing:
            self._flushing = True
            try:
                # shielded: the others waiting on these statements are not this caller's to drop
                with anyio.CancelScope(shield=True):
                    while self._next.handles:
                        running, self._next = self._next, _Release()
                        self.releases += 1
                        try:
                            await anyio.to_thread.run_sync(
                                self._store.release_leases, running.handles
                            )
                        except AuthStoreError as error:
                            running.error = error
                        finally:
                            running.done.set()
            finally:
                self._flushing = False
        await batch.done.wait()
        if batch.error is not None:
            raise batch.error


class _GroupLease:
    """One client's view of its fleet's ``LeaseGroup``."""

    def __init__(self, group: LeaseGroup, handle: DeviceHandle) -> None:
        self._group = group
        self._handle = handle

    async def keep(self, done: anyio.Event, on_lost: Callable[[str], None]) -> None:
        await self._group._keep(self._handle, done, on_lost)

    async def release(self) -> None:
        await self._group._release(self._handle)
