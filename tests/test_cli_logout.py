"""``walink logout``: removes the saved device, marks the store, and refuses what it cannot do.

The command runs as a real subprocess while the emulator runs in the test's own event loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import sniffio

from tests.conftest import REPO_ROOT
from tests.scenarios.harness import config_for, running, scan_when_shown
from walink.auth import Creds, SQLiteStore
from walink.io.client import Client
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def logout(emulator: Emulator, auth: Path) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "walink.cli", "logout", "--json"]
    command += ["--backend", sniffio.current_async_library(), "--auth", str(auth)]
    command += ["--url", emulator.url, "--trust-root", emulator.trust_root_hex]
    with anyio.fail_after(30):
        return await anyio.run_process(command, cwd=REPO_ROOT, check=False)


async def test_logout_removes_the_device_and_marks_the_store(tmp_path: Path) -> None:
    auth = tmp_path / "auth.db"
    async with Emulator() as emulator:
        async with running(Client(str(auth), config_for(emulator))) as recorder:
            jid = await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
        result = await logout(emulator, auth)
        assert result.returncode == 0, result.stderr
        line = json.loads(result.stdout)
        assert line == {"v": 1, "event": "logout", "jid": jid, "confirmed": True, "already": False}
        user, device = jid.split("@")[0].split(":")
        assert emulator.registry.remove_device(user, int(device)) is False  # already gone
        with SQLiteStore(auth) as store:
            creds = store.load()
        assert creds is not None and creds.logged_out
        again = await logout(emulator, auth)  # idempotent, without dialing
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["already"] is True
        assert not emulator.sessions()


async def test_nothing_to_log_out_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    async with Emulator() as emulator:
        missing = tmp_path / "missing.db"
        result = await logout(emulator, missing)
        assert (result.returncode, result.stdout) == (2, b"")
        assert b"no store at" in result.stderr and not missing.exists()
        empty = tmp_path / "unlinked.db"  # a new device's creds: never paired
        with SQLiteStore(empty) as store:
            store.save(Creds.new())
        result = await logout(emulator, empty)
        assert (result.returncode, result.stdout) == (2, b"")
        assert b"no linked device" in result.stderr
        assert b"Traceback" not in result.stderr
        assert not emulator.sessions()
