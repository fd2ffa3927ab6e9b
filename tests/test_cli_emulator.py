"""``walink emulator``: the first line, a client through it, signals, bad arguments, ``--state``.

The command runs as a real subprocess (``python -m walink.cli``), as a user or CI starts it.
"""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.bounds import PROCESS_START
from tests.conftest import REPO_ROOT
from tests.testing.client import Creds, seeded
from tests.testing.socket_client import SocketClient, post
from walink.io import WebSocketClosed
from walink.protocol.binary import Node
from walink.protocol.certs import TrustRoot

_STOP_TIMEOUT = 10.0
"""A signalled emulator must be gone within this many seconds."""
_PLAIN_LINE = re.compile(
    r"^walink emulator: url (ws://127\.0\.0\.1:\d+/ws/chat)  trust root ([0-9a-f]{64})  "
    r"phone (http://127\.0\.0\.1:\d+/phone)  "
    r"connect with: walink connect --url \1 --trust-root \2$"
)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "walink.cli", "emulator", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(proc: subprocess.Popen[str]) -> str:
    """The first stdout line, failing (not hanging) if it does not come in time."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], PROCESS_START)
    assert ready, "no first line from walink emulator"
    return proc.stdout.readline()


@contextmanager
def running(*args: str) -> Iterator[subprocess.Popen[str]]:
    proc = start(*args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=_STOP_TIMEOUT)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def stop(proc: subprocess.Popen[str], how: signal.Signals) -> tuple[int, str, str]:
    """Signal the emulator; its exit code and the rest of stdout and stderr."""
    started = time.monotonic()
    proc.send_signal(how)
    out, err = proc.communicate(timeout=_STOP_TIMEOUT)
    assert time.monotonic() - started < _STOP_TIMEOUT
    return proc.returncode, out, err


async def pair_through(info: dict[str, Any]) -> str:
    """Register a client with the running emulator and scan its QR over the phone endpoint."""
    trust_root = TrustRoot(public_key=bytes.fromhex(info["trust_root"]))
    client = await SocketClient.open(info["url"], trust_root, Creds.fresh(seeded(1)))
    await client.node_where(lambda n: n.child("pair-device") is not None)
    port = int(info["url"].split(":")[2].split("/")[0])
    status, answer = await post(port, "/phone/scan-qr", json.dumps({"qr": client.qr()}).encode())
    assert status == 200 and answer["ok"] is True
    error = await client.node_where(lambda n: n.tag == "stream:error")
    assert error == Node("stream:error", {"code": "515"})
    assert isinstance(await client.ended(), WebSocketClosed)
    return str(answer["jid"])


def test_json_first_line_client_and_sigterm() -> None:
    with running("--json", "--port", "0") as proc:
        line = first_line(proc)
        info = json.loads(line)
        assert list(info) == ["v", "url", "trust_root", "phone"] and info["v"] == 1
        port = int(info["url"].split(":")[2].split("/")[0])
        assert info["url"] == f"ws://127.0.0.1:{port}/ws/chat"
        assert info["phone"] == f"http://127.0.0.1:{port}/phone"
        assert re.fullmatch(r"[0-9a-f]{64}", info["trust_root"])
        jid = anyio.run(pair_through, info)
        assert jid.endswith("@s.whatsapp.net")
        code, rest, err = stop(proc, signal.SIGTERM)
    assert code == 0
    assert rest == ""  # the first line is the only stdout line
    assert "SIGTERM received" in err and "pair-success sent" in err


def test_plain_first_line_and_sigint() -> None:
    with running() as proc:
        line = first_line(proc).rstrip("\n")
        assert _PLAIN_LINE.match(line), line
        code, rest, _ = stop(proc, signal.SIGINT)
    assert (code, rest) == (0, "")


def test_state_folder_keeps_the_trust_root(tmp_path: Path) -> None:
    roots = []
    for _ in range(2):
        with running("--json", "--state", str(tmp_path / "state")) as proc:
            roots.append(json.loads(first_line(proc))["trust_root"])
            assert stop(proc, signal.SIGTERM)[0] == 0
    assert roots[0] == roots[1]
    assert (tmp_path / "state" / "emulator-keys.json").is_file()


@pytest.mark.parametrize(
    "args",
    [["--port", "70000"], ["--port", "http"], ["--bogus"], ["--json", "extra"]],
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    with running(*args) as proc:
        _, err = proc.communicate(timeout=PROCESS_START)  # its start is most of it
    assert proc.returncode == 2 and "usage:" in err


def test_unusable_state_exits_2(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "emulator-keys.json").write_text("{broken")
    for state in (not_a_folder, corrupt):
        with running("--state", str(state)) as proc:
            out, err = proc.communicate(timeout=PROCESS_START)  # its start is most of it
        assert (proc.returncode, out) == (2, ""), err
        assert "walink emulator:" in err
