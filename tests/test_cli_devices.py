"""``walink devices`` and ``walink connect --auth URL --new/--device``: device stores on the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import REPO_ROOT
from tests.scenarios.test_device_processes import Running, walink
from walink.auth import Creds, SQLiteStore
from walink.testing.emulator import Emulator

DEVICE_KEYS = ["v", "event", "device", "id", "jid", "logged_out", "holder", "epoch", "expires_in"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def devices(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    done = subprocess.run(
        [sys.executable, "-m", "walink.cli", "devices", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()] if "--json" in args else []
    return done.returncode, lines, done.stderr + done.stdout


async def _link_new(emulator: Emulator, url: str) -> str:
    async with walink(emulator, "connect", "--auth", url, "--new") as run:
        await run.wait_for(lambda: any(line.get("qr") for line in run.lines))
        qr = next(line["qr"] for line in run.lines if line.get("qr"))
        jid = await emulator.phone.scan_qr(qr)
        await run.wait_for(run.opened)
        run.process.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await run.process.wait() == 0
    return jid


async def _exit_code(run: Running) -> int:
    with anyio.fail_after(15):
        return await run.process.wait()


@pytest.mark.anyio
async def test_connect_links_lists_and_chooses_devices(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'devices.db'}"
    async with Emulator() as emulator:
        first = await _link_new(emulator, url)
        code, lines, _ = devices("--auth", url, "--json")
        assert code == 0 and [line["device"] for line in lines] == [first]
        assert list(lines[0]) == DEVICE_KEYS
        assert lines[0]["holder"] is None and lines[0]["epoch"] == 1
        # the only device runs without a choice
        async with walink(emulator, "connect", "--auth", url) as only:
            await only.wait_for(only.opened)
            code, lines, _ = devices("--auth", url, "--json")
            assert f":{only.process.pid}:" in lines[0]["holder"]
            assert 0 < lines[0]["expires_in"] <= 30
            only.process.send_signal(signal.SIGTERM)
            assert await _exit_code(only) == 0
        second = await _link_new(emulator, url)
        # two devices and no choice: exit 2, listing them
        async with walink(emulator, "connect", "--auth", url) as unsure:
            assert await _exit_code(unsure) == 2
            message = await unsure.stderr()
        assert first in message and second in message and "--device" in message
        async with walink(emulator, "connect", "--auth", url, "--device", second) as chosen:
            await chosen.wait_for(chosen.opened)
            chosen.process.send_signal(signal.SIGTERM)
            assert await _exit_code(chosen) == 0
        async with walink(emulator, "connect", "--auth", url, "--device", "nope") as unknown:
            assert await _exit_code(unknown) == 2
        assert emulator.replaced == 0


def test_devices_imports_and_removes(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'devices.db'}"
    single = tmp_path / "auth.db"
    with SQLiteStore(single) as store:
        store.save(Creds.new())
    code, lines, _ = devices("--auth", url, "--json", "--import", str(single))
    assert code == 0 and len(lines) == 1 and lines[0]["jid"] is None
    assert lines[0]["device"] == f"new:{lines[0]['id']}"
    code, lines, _ = devices("--auth", url, "--json", "--remove", lines[0]["id"])
    assert code == 0 and lines == []
    code, _, text = devices("--auth", url)
    assert code == 0 and text == ""


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    code, _, text = devices("--auth", str(tmp_path / "plain.db"))
    assert code == 2 and "device store URL" in text
    code, _, text = devices("--auth", f"sqlite://{tmp_path / 'd.db'}", "--remove", "nope")
    assert code == 2 and "no device" in text
    done = subprocess.run(
        [sys.executable, "-m", "walink.cli", "connect", "--auth", str(tmp_path / "a.db"), "--new"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "device store URL" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "walink.cli", "serve", "--auth", str(tmp_path / "a.db")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "device store URL" in done.stderr
