"""Logging in: a fresh QR login, QR rotation and exhaustion, saved creds, an unknown device."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.scenarios.harness import config_for, paired_store, running, scan_when_shown
from walink.auth import MemoryStore, SQLiteStore
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.events import ConnectionUpdate
from walink.testing.emulator import Emulator
from walink.testing.server import REF_COUNT

pytestmark = pytest.mark.anyio


async def test_fresh_qr_login_opens_after_the_restart(tmp_path: Path) -> None:
    async with Emulator() as emulator:
        path = tmp_path / "auth.db"
        async with running(Client(path, config_for(emulator))) as recorder:
            jid = await scan_when_shown(emulator, recorder)
            opened = await recorder.wait_open()
            assert opened.is_new_login
            client = recorder.client
            assert client.is_connected and client.health.is_connected
            assert client.creds is not None and client.creds.me is not None
            assert client.creds.me.id == jid
            # the 515 is a restart: one Closed with decision.restart, never a "close" update
            [restart] = recorder.closes
            assert restart.disconnect.reason is CloseReason.RESTART_REQUIRED
            assert restart.decision.restart and not restart.final
            assert recorder.close_updates == []
            assert client.health.last_disconnect is not None
            assert client.health.last_disconnect.reason is CloseReason.RESTART_REQUIRED
            assert client.health.connections == 2
            assert not client.is_online  # mark_online_on_connect is off by default
            connections = [u.connection for u in recorder.updates]
            assert connections[0] == "connecting" and connections[-1] == "open"
            assert "close" not in connections
            pending = await recorder.wait_for(
                lambda e: isinstance(e, ConnectionUpdate) and e.received_pending_notifications
            )
            assert isinstance(pending, ConnectionUpdate)
        # the creds reached the file: a new store object reads the linked device back
        with SQLiteStore(path) as store:
            saved = store.load()
        assert saved is not None and saved.me is not None and saved.me.id == jid
        assert recorder.client.finished


async def test_qr_rotates_then_runs_out() -> None:
    async with Emulator() as emulator:
        config = config_for(emulator, qr_timeout=0.05)
        async with running(Client(MemoryStore(), config)) as recorder:
            closed = await recorder.wait_closed()
            assert closed.disconnect.reason is CloseReason.QR_EXHAUSTED
            assert closed.final and not closed.decision.reconnect and not closed.requested
            await recorder.done.wait()
        qrs = recorder.qrs
        assert len(qrs) == REF_COUNT and len(set(qrs)) == REF_COUNT
        assert [u.connection for u in recorder.close_updates] == ["close"]
        assert recorder.client.health.state == recorder.client.session.state
        assert recorder.client.finished


async def test_saved_creds_log_in_without_a_qr() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator, seed=1))) as recorder:
            opened = await recorder.wait_open()
            assert not opened.is_new_login
            assert all(u.qr is None for u in recorder.updates)
            assert recorder.closes == []
            assert recorder.client.health.server_time_offset == pytest.approx(0.0, abs=2.0)


async def test_unknown_device_is_logged_out_for_good() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        creds = store.load()
        assert creds is not None and creds.me is not None
        user, device = creds.me.id.split("@")[0].split(":")
        assert emulator.registry.remove_device(user, int(device))
        async with running(Client(store, config_for(emulator))) as recorder:
            closed = await recorder.wait_closed()
            await recorder.done.wait()
        assert closed.disconnect.reason is CloseReason.LOGGED_OUT
        assert closed.disconnect.status == 401
        assert closed.final and not closed.requested and not closed.decision.reconnect
        [update] = recorder.close_updates
        assert update.last_disconnect is closed.disconnect
        with anyio.fail_after(5):
            await emulator.wait_idle()
