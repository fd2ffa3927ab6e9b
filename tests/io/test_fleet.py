"""walink.io.fleet: the connect limiter, and fleets sharing a device store against the emulator."""

from __future__ import annotations

import dataclasses
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import trio.testing

from tests.scenarios.harness import config_for, paired_store
from walink.auth.devices import DeviceStore, open_device_store
from walink.auth.model import Contact, Creds
from walink.fsm.policy import PolicyConfig
from walink.io.config import ClientConfig
from walink.io.events import ConnectionUpdate
from walink.io.fleet import (
    ConnectLimiter,
    DeviceClaimed,
    DeviceEvent,
    DeviceReleased,
    Fleet,
    FleetConfig,
    FleetEvent,
)
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize(
    "anyio_backend",
    [pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}))],
)
async def test_500_devices_dropped_at_once_reconnect_no_faster_than_the_rate() -> None:
    rate, burst, jitter = 50.0, 10, 0.2
    limiter = ConnectLimiter(rate, burst, jitter=jitter, rng=random.Random(5))
    passed: list[float] = []

    async def device() -> None:
        await limiter.wait()
        passed.append(anyio.current_time())

    start = anyio.current_time()
    async with anyio.create_task_group() as group:
        for _ in range(500):
            group.start_soon(device)
    assert len(passed) == limiter.passed == 500
    for window in (0.1, 1.0, 3.0):
        assert _max_in_window(passed, window) <= burst + rate * (window + jitter)
    # and it does not hold them back much longer than the rate needs
    assert max(passed) - start <= (500 - burst) / rate + jitter + 0.01
    assert _max_in_window(passed, 0.0) < burst + 2  # never a thundering herd


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_limiter_refills_after_a_quiet_time() -> None:
    limiter = ConnectLimiter(1000.0, 3)
    with anyio.fail_after(1.0):
        for _ in range(3):
            await limiter.wait()
    await anyio.sleep(0.01)
    with anyio.fail_after(1.0):
        await limiter.wait()
    with pytest.raises(ValueError):
        ConnectLimiter(0.0)


@pytest.fixture
def store_path(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite://{tmp_path / 'fleet.db'}"


async def _add_linked(emulator: Emulator, store: DeviceStore, count: int) -> list[str]:
    jids = []
    for seed in range(count):
        source = await paired_store(emulator, seed)
        creds = source.load()
        assert creds is not None and creds.me is not None
        store.add(creds)
        jids.append(creds.me.id)
    return jids


def _fleet_config(emulator: Emulator, **overrides: object) -> FleetConfig:
    options: dict[str, object] = {
        "client": config_for(emulator),
        "connect_rate": 200.0,
        "connect_burst": 5,
        "connect_jitter": 0.01,
        "claim_interval": 0.2,
    }
    options.update(overrides)
    return FleetConfig(**options)  # type: ignore[arg-type]


async def _collect(fleet: Fleet, events: list[FleetEvent]) -> None:
    async for event in fleet:
        events.append(event)


def _open_devices(events: list[FleetEvent]) -> set[str]:
    return {
        e.device
        for e in events
        if isinstance(e, DeviceEvent)
        and isinstance(e.event, ConnectionUpdate)
        and e.event.connection == "open"
    }


async def _until(condition: object, timeout: float = 15.0) -> None:
    assert callable(condition)
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.05)


async def test_a_fleet_runs_every_linked_device_and_releases_them_on_close(
    store_path: str,
) -> None:
    async with Emulator() as emulator:
        with open_device_store(store_path) as store:
            jids = await _add_linked(emulator, store, 4)
            store.add()  # not linked yet: a fleet leaves it to `connect --new`
            events: list[FleetEvent] = []
            fleet = Fleet(store, _fleet_config(emulator))
            async with fleet, anyio.create_task_group() as group:
                group.start_soon(_collect, fleet, events)
                await _until(lambda: _open_devices(events) == set(jids))
                assert len(fleet.held) == 4
                holders = {d.jid: d.holder for d in store.devices()}
                assert all(holders[jid] == store.owner for jid in jids)
                await fleet.aclose()
            claimed = {e.device for e in events if isinstance(e, DeviceClaimed)}
            released = {e.device for e in events if isinstance(e, DeviceReleased)}
            assert claimed == released == set(jids)
            assert all(e.epoch == 1 for e in events if isinstance(e, DeviceClaimed))
            # released at once, not after the TTL
            assert all(d.holder is None for d in store.devices())
            assert fleet.limiter.passed == 4
            assert emulator.replaced == 0


async def test_two_fleets_split_the_devices_and_one_takes_over_the_other(store_path: str) -> None:
    async with Emulator() as emulator:
        with open_device_store(store_path) as setup:
            jids = await _add_linked(emulator, setup, 6)
        # a TTL far past every wait below: a 1 s TTL (renewed every third of it) lapsed again
        # and again on a loaded machine, and the fleets kept taking devices from each other;
        # and b's takeover within 10 s then shows that a clean stop does not wait for the TTL
        a_store = open_device_store(store_path, lease_ttl=30.0)
        b_store = open_device_store(store_path, lease_ttl=30.0)
        a_events: list[FleetEvent] = []
        b_events: list[FleetEvent] = []
        config = _fleet_config(emulator, claim_batch=1, claim_interval=0.1)
        async with Fleet(b_store, config) as b, anyio.create_task_group() as group:
            group.start_soon(_collect, b, b_events)
            async with Fleet(a_store, config) as a:
                group.start_soon(_collect, a, a_events)
                await _until(lambda: len(a.held) + len(b.held) == 6)
                assert a.held and b.held
                assert not set(a.held) & set(b.held)
                await _until(lambda: len(_open_devices(a_events) | _open_devices(b_events)) == 6)
            # a stopped cleanly: b holds all six soon after, without waiting for the TTL
            await _until(lambda: len(b.held) == 6, timeout=10.0)
            await _until(lambda: _open_devices(b_events) == set(jids))
            await b.aclose()
        assert emulator.replaced == 0
        a_store.close()
        b_store.close()


async def test_a_device_whose_lease_was_lost_is_claimed_again_once_free(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "fleet.db"
    async with Emulator() as emulator:
        with open_device_store(path) as setup:
            (jid,) = await _add_linked(emulator, setup, 1)
        mine = open_device_store(path, lease_ttl=0.6)
        theirs = open_device_store(path)
        events: list[FleetEvent] = []
        async with Fleet(mine, _fleet_config(emulator)) as fleet, anyio.create_task_group() as g:
            g.start_soon(_collect, fleet, events)
            await _until(lambda: _open_devices(events) == {jid})
            conn = sqlite3.connect(path)
            conn.execute("UPDATE walink_leases SET expires = 0")
            conn.commit()
            conn.close()
            taker = theirs.device(jid)
            assert taker.acquire() == 2
            await _until(lambda: any(isinstance(e, DeviceReleased) for e in events))
            released = next(e for e in events if isinstance(e, DeviceReleased))
            assert (released.device, released.epoch, released.reason) == (jid, 1, "LEASE_LOST")
            assert fleet.held == {}
            taker.close()  # free again: the fleet takes it back at its next look
            await _until(lambda: fleet.held != {})
            assert list(fleet.held.values()) == [3]
            await fleet.aclose()
        assert emulator.replaced == 0
        mine.close()
        theirs.close()


def _refused_url() -> str:
    """A loopback URL where nothing listens: every attempt fails at once (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}/ws/chat"


@pytest.mark.parametrize(
    "anyio_backend",
    [pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}))],
)
async def test_a_fleet_of_hundreds_starts_its_attempts_at_the_rate_and_burst(
    tmp_path: Path,
) -> None:
    count, rate, burst, jitter = 200, 50.0, 20, 0.1
    with open_device_store(tmp_path / "fleet.db") as store:
        base = dataclasses.replace(Creds.new(), registered=True)
        for n in range(count):
            store.add(dataclasses.replace(base, me=Contact(id=f"1555{n:07d}:1@s.whatsapp.net")))
        # a refused attempt is retried an hour later (which trio's clock may reach: it jumps
        # whenever every task waits, for the store's worker threads too)
        policy = PolicyConfig(backoff_unit=3600.0, jitter=0.0)
        client = ClientConfig(url=_refused_url(), policy=policy, close_timeout=0.3)
        config = FleetConfig(
            client=client,
            connect_rate=rate,
            connect_burst=burst,
            connect_jitter=jitter,
            claim_batch=count,
        )
        fleet = Fleet(store, config, limiter=ConnectLimiter(rate, burst, jitter=jitter))
        # where each attempt starts: the session's "connecting", right after the limiter
        starts: list[float] = []
        tried: set[str] = set()
        began = anyio.current_time()
        async with fleet:
            async for event in fleet:
                if (
                    isinstance(event, DeviceEvent)
                    and isinstance(event.event, ConnectionUpdate)
                    and event.event.connection == "connecting"
                ):
                    starts.append(anyio.current_time())
                    tried.add(event.device)
                    if len(tried) == count:
                        break
            await fleet.aclose()
    # every device tried, every attempt through the limiter, never faster than the bucket
    # allows in any window
    assert len(tried) == count <= len(starts) <= fleet.limiter.passed
    for window in (0.0, 0.1, 1.0, 3.0):
        assert _max_in_window(starts, window) <= burst + rate * (window + jitter)
    assert _max_in_window(starts, 0.0) < burst + 2  # the burst, then one at a time
    # so all of them took (count - burst) / rate seconds at least (the upper end is not
    # checked: the clock's jumps while the store's threads work count as waiting)
    assert max(starts) - began >= (count - burst) / rate - 0.01


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_an_application_that_stopped_reading_does_not_hold_the_close(
    tmp_path: Path,
) -> None:
    count = 5
    with open_device_store(tmp_path / "fleet.db") as store:
        base = dataclasses.replace(Creds.new(), registered=True)
        for n in range(count):
            store.add(dataclasses.replace(base, me=Contact(id=f"1555{n:07d}:1@s.whatsapp.net")))
        policy = PolicyConfig(backoff_unit=0.01, backoff_cap=0.05, jitter=0.0)
        client = ClientConfig(url=_refused_url(), policy=policy, close_timeout=0.3)
        config = FleetConfig(client=client, connect_rate=1000.0, event_buffer=2)
        async with Fleet(store, config) as fleet:
            await _until(lambda: len(fleet.held) == count)
            # every device's task now waits for room in the buffer nobody reads
            await _until(lambda: fleet.limiter.passed >= 2, timeout=5.0)
            await anyio.sleep(0.2)
            with anyio.fail_after(10.0):  # the fleet's own bound is 30 s
                await fleet.aclose()
            assert fleet.held == {}
        assert all(info.holder is None for info in store.devices())
