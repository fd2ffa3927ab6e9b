"""Devices in a shared store against the emulator: one connection per device, leases, LEASE_LOST."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from tests.scenarios.harness import WAIT, config_for, paired_store, running, scan_when_shown
from walink.auth import MemoryStore
from walink.auth.devices import DeviceStore, open_device_store
from walink.auth.errors import DeviceLeasedError
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


def _lapse_leases(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE walink_leases SET expires = 0")
        conn.commit()
    finally:
        conn.close()


async def _linked_device(emulator: Emulator, store: DeviceStore) -> str:
    source = await paired_store(emulator)
    creds = source.load()
    assert creds is not None and creds.me is not None
    return store.add(creds)


async def test_a_second_login_of_a_device_replaces_the_first_with_440() -> None:
    async with Emulator() as emulator:
        first_store = await paired_store(emulator)
        creds = first_store.load()
        assert creds is not None
        second_store = MemoryStore()
        second_store.save(creds)
        async with running(Client(first_store, config_for(emulator, 1))) as first:
            await first.wait_open()
            async with running(Client(second_store, config_for(emulator, 2))) as second:
                await second.wait_open()
                closed = await first.wait_closed()
                assert closed.disconnect.reason is CloseReason.REPLACED
                assert closed.disconnect.status == 440 and closed.final
                assert emulator.replaced == 1
                assert second.client.is_connected


async def test_a_held_device_is_refused_before_dialing(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'devices.db'}"
    async with Emulator() as emulator:
        with open_device_store(url) as one, open_device_store(url) as two:
            device = await _linked_device(emulator, one)
            async with running(Client(one.device(device), config_for(emulator))) as first:
                await first.wait_open()
                dialed = len(emulator.sessions())
                other = Client(two.device(device), config_for(emulator))
                with pytest.raises(DeviceLeasedError, match=one.owner):
                    await other.__aenter__()
                assert len(emulator.sessions()) == dialed
                (info,) = one.devices()
                assert info.holder == one.owner
            # a clean stop released the lease at once
            assert one.devices()[0].holder is None
            assert emulator.replaced == 0


async def test_a_lost_lease_ends_the_device_for_good(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'devices.db'}"
    async with Emulator() as emulator:
        # renewed every third of the TTL: a TTL of 0.6 s lapsed on a loaded machine, whose
        # event loop went more than 0.4 s without running the renewal
        with open_device_store(url, lease_ttl=3.0) as one, open_device_store(url) as two:
            device = await _linked_device(emulator, one)
            handle = one.device(device)
            async with running(Client(handle, config_for(emulator))) as first:
                await first.wait_open()
                # the lease is renewed past its TTL while the client runs
                await anyio.sleep(3.5)
                assert one.devices()[0].holder == one.owner and first.client.is_connected
                # another process takes the device over (as after a pause past the TTL)
                _lapse_leases(tmp_path / "devices.db")
                taker = two.device(device)
                assert taker.acquire() == 2
                closed = await first.wait_closed(timeout=WAIT)
                assert closed.disconnect.reason is CloseReason.LEASE_LOST
                assert closed.final and closed.decision.reconnect is False
                assert len(first.closes) == 1
            assert emulator.replaced == 0
            taker.close()


async def test_a_walink_sqlite_file_imports_into_postgres_and_opens_there(
    tmp_path: Path, postgres_url: str
) -> None:
    from walink.auth import SQLiteStore, import_store

    path = tmp_path / "auth.db"
    # no history: the phone would take pre-key 1 for its X3DH
    async with Emulator(history=None) as emulator:
        async with running(Client(path, config_for(emulator))) as recorder:
            await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
        single = SQLiteStore(path)
        creds = single.load()
        single.close()
        assert creds is not None and creds.me is not None
        with open_device_store(postgres_url) as store:
            device = import_store(store, path)
            handle = store.device(creds.me.id)
            assert handle.id == device and handle.load() == creds
            # the pre-keys uploaded at pairing came along
            imported = handle.get_keys("pre-key", ["1", "812"])
            assert None not in imported.values()
            assert imported == SQLiteStore(path).get_keys("pre-key", ["1", "812"])
            async with running(Client(handle, config_for(emulator))) as again:
                opened = await again.wait_open()
                assert not opened.is_new_login and again.qrs == []
            handle.close()
            assert emulator.replaced == 0
