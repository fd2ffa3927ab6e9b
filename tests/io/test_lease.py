"""walink.io._lease: a fleet's leases renewed and released together, on SQLite and PostgreSQL.

The same failure cases as a client's own renewal: a lease that lapsed, one another holder took,
the database down for less than a TTL (kept) and for more (lost), each on both stores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TypeVar

import anyio
import pytest

from walink.auth.device_sql import Backend, SQLiteBackend, Tx
from walink.auth.devices import DeviceHandle, DeviceStore, open_device_store
from walink.auth.errors import LeaseLostError, StoreWriteError
from walink.auth.model import Creds
from walink.io._lease import LeaseGroup, OwnLease

pytestmark = pytest.mark.anyio

T = TypeVar("T")
_log = logging.getLogger("tests.lease")


class Switchable:
    """A device store engine that counts its write transactions and can be made to fail."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.writes = 0
        self.down = False

    @property
    def where(self) -> str:
        return self._backend.where

    def run(self, work: Callable[[Tx], T], *, write: bool) -> T:
        if self.down:
            raise StoreWriteError("cannot write (the server is gone)", self.where)
        if write:
            self.writes += 1
        return self._backend.run(work, write=write)

    def close(self) -> None:
        self._backend.close()


def _backend(url: str) -> Backend:
    if url.startswith("sqlite://"):
        return SQLiteBackend(url.removeprefix("sqlite://"))
    from walink.auth.postgres_store import PostgresBackend

    return PostgresBackend(url)


def _store(url: str, ttl: float) -> tuple[DeviceStore, Switchable]:
    engine = Switchable(_backend(url))
    return DeviceStore(engine, lease_ttl=ttl), engine


def _devices(url: str, count: int) -> list[str]:
    with open_device_store(url) as setup:
        return [setup.add() for _ in range(count)]


class Kept:
    """Many devices' leases kept by one group, as a fleet's clients keep them."""

    def __init__(self, group: LeaseGroup, handles: list[DeviceHandle]) -> None:
        self.group = group
        self.handles = handles
        self.lost: dict[str, str] = {}
        self.done = anyio.Event()

    async def keep_all(self, task_group: anyio.abc.TaskGroup) -> None:
        for handle in self.handles:
            task_group.start_soon(self._keep, handle)
        while self.group.kept < len(self.handles):
            await anyio.sleep(0)

    async def _keep(self, handle: DeviceHandle) -> None:
        def on_lost(message: str) -> None:
            self.lost[handle.id] = message

        await self.group.keeper(handle).keep(self.done, on_lost)


async def _acquire(handles: list[DeviceHandle]) -> None:
    for handle in handles:
        await anyio.to_thread.run_sync(handle.acquire)


class Leased(NamedTuple):
    """``count`` new devices of one store, each under its lease, and a group to keep them."""

    ids: list[str]
    store: DeviceStore
    engine: Switchable
    handles: list[DeviceHandle]
    group: LeaseGroup
    kept: Kept


async def _leased(url: str, count: int, *, ttl: float) -> Leased:
    ids = _devices(url, count)
    store, engine = _store(url, ttl=ttl)
    handles = [DeviceHandle(store, device) for device in ids]
    await _acquire(handles)
    group = LeaseGroup(store, _log)
    return Leased(ids, store, engine, handles, group, Kept(group, handles))


async def test_one_statement_renews_every_lease_each_tick(store_url: str) -> None:
    _, store, engine, handles, group, kept = await _leased(store_url, 60, ttl=30.0)

    def shorten(tx: Tx) -> None:
        tx.update("UPDATE walink_leases SET expires = expires - 25")

    async with anyio.create_task_group() as task_group:
        await kept.keep_all(task_group)
        before = engine.writes
        for tick in range(1, 4):
            store.run(shorten, write=True)
            assert all(
                info.expires_in is not None and info.expires_in < 6 for info in store.devices()
            )
            await group.renew_once()
            assert engine.writes - before - tick == tick == group.renewals  # the shortening too
            # every lease runs a whole TTL from the database's now again, at the same epoch
            infos = store.devices()
            assert all(
                info.holder == store.owner
                and info.epoch == 1
                and info.expires_in is not None
                and info.expires_in > 25
                for info in infos
            )
        assert kept.lost == {}
        # the handles still write under their leases
        await anyio.to_thread.run_sync(handles[0].save, Creds.new())
        kept.done.set()
    assert group.kept == 0
    store.close()


async def test_a_lapsed_and_a_stolen_lease_end_their_clients_alone(store_url: str) -> None:
    ids, store, _, handles, group, kept = await _leased(store_url, 5, ttl=30.0)
    thief, _ = _store(store_url, ttl=30.0)
    lapsed, stolen = ids[0], ids[1]
    async with anyio.create_task_group() as task_group:
        await kept.keep_all(task_group)

        def expire(tx: Tx) -> None:
            tx.update(
                "UPDATE walink_leases SET expires = 0 WHERE device IN (?, ?)", (lapsed, stolen)
            )

        store.run(expire, write=True)
        taker = thief.device(stolen)
        assert taker.acquire() == 2
        await group.renew_once()
        assert set(kept.lost) == {lapsed, stolen}
        assert "lapsed or was taken over" in kept.lost[stolen]
        assert group.kept == 3
        # lost for good: their writes are refused, and the handle never takes the lease back
        for handle in handles[:2]:
            with pytest.raises(LeaseLostError):
                handle.save(Creds.new())
            with pytest.raises(LeaseLostError):
                handle.acquire()
        # the others were renewed; the thief's lease was not touched
        infos = {info.id: info for info in store.devices()}
        assert infos[stolen].holder == thief.owner and infos[stolen].epoch == 2
        assert all(infos[device].holder == store.owner for device in ids[2:])
        await group.renew_once()
        assert set(kept.lost) == {lapsed, stolen}
        kept.done.set()
    taker.close()
    store.close()
    thief.close()


async def test_the_database_down_for_less_than_a_ttl_loses_nothing(store_url: str) -> None:
    _, store, engine, _, group, kept = await _leased(store_url, 4, ttl=1.5)
    async with anyio.create_task_group() as task_group:
        await kept.keep_all(task_group)
        engine.down = True
        await group.renew_once()
        await anyio.sleep(0.2)
        await group.renew_once()
        assert kept.lost == {} and group.kept == 4
        engine.down = False
        await group.renew_once()
        assert kept.lost == {}
        assert all(info.holder == store.owner for info in store.devices())
        kept.done.set()
    store.close()


async def test_the_database_down_for_a_whole_ttl_loses_every_lease(store_url: str) -> None:
    ids, store, engine, _, group, kept = await _leased(store_url, 4, ttl=0.4)
    async with anyio.create_task_group() as task_group:
        await kept.keep_all(task_group)
        await group.renew_once()
        engine.down = True
        await group.renew_once()
        assert kept.lost == {}
        await anyio.sleep(0.45)
        await group.renew_once()
        assert set(kept.lost) == set(ids)
        assert all("for a whole TTL" in message for message in kept.lost.values())
        assert group.kept == 0
        engine.down = False
        kept.done.set()
    store.close()


async def test_a_lease_is_counted_from_when_its_client_began_keeping_it(store_url: str) -> None:
    # a device that joins while the database is down gets its own whole TTL
    _, store, engine, (old, new), group, _ = await _leased(store_url, 2, ttl=0.4)
    early, late = Kept(group, [old]), Kept(group, [new])
    async with anyio.create_task_group() as task_group:
        await early.keep_all(task_group)
        engine.down = True
        await anyio.sleep(0.45)
        await late.keep_all(task_group)
        await group.renew_once()
        assert set(early.lost) == {old.id} and late.lost == {}
        early.done.set()
        late.done.set()
    engine.down = False
    store.close()


async def test_clients_closing_together_release_in_a_few_statements(store_url: str) -> None:
    ids, store, engine, handles, group, _ = await _leased(store_url, 100, ttl=30.0)
    before = engine.writes
    async with anyio.create_task_group() as task_group:
        for handle in handles:
            task_group.start_soon(group.keeper(handle).release)
    # the first caller's statement, then one for everyone who arrived while it ran
    assert engine.writes - before == group.releases <= 3
    assert all(info.holder is None for info in store.devices())
    assert all(handle.epoch is None for handle in handles)
    # released, so free for the next holder at once, with a higher epoch
    other, _ = _store(store_url, ttl=30.0)
    assert other.device(ids[0]).acquire() == 2
    other.close()
    store.close()


async def test_a_failed_release_is_reported_to_every_caller(store_url: str) -> None:
    _, store, engine, handles, group, _ = await _leased(store_url, 3, ttl=30.0)
    engine.down = True
    failures: list[str] = []

    async def release(handle: DeviceHandle) -> None:
        try:
            await group.keeper(handle).release()
        except StoreWriteError as error:
            failures.append(str(error))

    async with anyio.create_task_group() as task_group:
        for handle in handles:
            task_group.start_soon(release, handle)
    assert len(failures) == 3
    engine.down = False
    store.close()


async def test_a_group_refuses_another_stores_handle(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'devices.db'}"
    (device,) = _devices(url, 1)
    mine, _ = _store(url, ttl=30.0)
    theirs, _ = _store(url, ttl=30.0)
    with pytest.raises(ValueError):
        LeaseGroup(mine, _log).keeper(DeviceHandle(theirs, device))
    with pytest.raises(ValueError):
        mine.renew_leases([DeviceHandle(theirs, device)])
    mine.close()
    theirs.close()


async def test_a_standalone_client_keeps_its_own_lease(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'devices.db'}"
    (device,) = _devices(url, 1)
    store, engine = _store(url, ttl=0.3)
    handle = DeviceHandle(store, device)
    handle.acquire()

    async def run(function: Callable[[], None]) -> None:
        await anyio.to_thread.run_sync(function)

    own = OwnLease(handle, run, _log)
    lost: list[str] = []
    done = anyio.Event()
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(own.keep, done, lost.append)
        await anyio.sleep(0.5)  # past the TTL: renewed every 0.1 s
        assert lost == [] and store.find(device).holder == store.owner
        engine.down = True
        await anyio.sleep(0.5)  # the database gone for more than a TTL
        assert len(lost) == 1 and "for a whole TTL" in lost[0]
        engine.down = False
        done.set()
    await own.release()
    assert store.find(device).holder is None
    store.close()
