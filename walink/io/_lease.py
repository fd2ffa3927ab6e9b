"""A ``Client``'s side of a device lease: take it before dialing, renew it while running.

A store with a lease (a ``DeviceHandle`` of a shared device store) is recognised by its shape,
``LeasedStore``; every other store has no lease and nothing here runs for it.

Renewal runs every ``renew_interval`` in a worker thread. ``LeaseLostError`` (the lease lapsed or
another process took the device) ends the session at once with ``LEASE_LOST``. Any other error
(the database is unreachable for a moment) is retried at the next tick, until a whole TTL has
passed since the last renewal that worked: from then on another process may hold the device, so
the session ends with ``LEASE_LOST`` too, even if it cannot tell.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import anyio

from walink.auth.errors import AuthStoreError, LeaseLostError

__all__ = ["LeasedStore", "keep_lease"]


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
        try:
            await run(store.renew)
        except LeaseLostError as error:
            log.error("%s", error)
            on_lost(str(error))
            return
        except AuthStoreError as error:
            if anyio.current_time() - last_ok >= store.lease_ttl:
                message = f"the lease could not be renewed for a whole TTL ({error})"
                log.error("%s", message)
                on_lost(message)
                return
            log.warning("renewing the device's lease failed (retrying): %s", error)
        else:
            last_ok = anyio.current_time()
