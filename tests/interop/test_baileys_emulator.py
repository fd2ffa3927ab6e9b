"""Baileys, a client nobody here wrote, against walink's emulator (issue 6; docs/protocol/peer.md).

Baileys 7.0.0-rc14 (``tests/peer``) runs ``client-harness.mjs`` with its certificate check made
strict against the emulator's test root: it must accept our Noise handshake and our certificate
chain, and show its QR in the current format. The negative control gives it another root, which
it must refuse: without that control a harness whose check were a no-op would pass too. The last
test relays Baileys' QR to the emulator's phone, as a person would, and sees Baileys accept
pair-success and take the 515 restart (the rest of the flow is the interop issue's).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.conftest import REPO_ROOT
from walink.protocol.certs import make_test_root
from walink.protocol.pairing import parse_qr_string
from walink.testing.emulator import Emulator
from walink.testing.registry import DEFAULT_PHONE

_HARNESS = "client-harness.mjs"
_HARNESS_TIMEOUT_MS = "8000"
_QR_PREFIX = "https://wa.me/settings/linked_devices#"


def harness_env(trust_root_hex: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "WA_TEST_ROOT_PUB_HEX": trust_root_hex, **extra}


def run_harness(peer_dir: Path, url: str, trust_root_hex: str) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        ["node", _HARNESS, url, _HARNESS_TIMEOUT_MS],
        cwd=peer_dir,
        env=harness_env(trust_root_hex),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def walink_emulator() -> Any:
    """``walink emulator --json`` as a subprocess; its first line (url, trust_root, phone)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "walink.cli", "emulator", "--json"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "walink emulator printed no first line"
        yield json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_baileys_reaches_its_qr_with_our_handshake_and_chain(
    peer_dir: Path, walink_emulator: dict[str, Any]
) -> None:
    code, lines = run_harness(peer_dir, walink_emulator["url"], walink_emulator["trust_root"])
    qrs = [line["qr"] for line in lines if line.get("qr")]
    assert code == 0 and qrs, lines
    qr = qrs[0]
    assert qr.startswith(_QR_PREFIX)
    ref, *keys, platform = qr[len(_QR_PREFIX) :].split(",")
    assert ref.startswith("2@") and len(keys) == 3 and platform.isdigit()
    parsed = parse_qr_string(qr)  # the three keys are 32 bytes of base64 each
    assert parsed.ref == ref and len(parsed.noise_public) == len(parsed.adv_secret) == 32
    assert not any(line.get("error") for line in lines if line.get("connection") == "close"), lines


def test_baileys_refuses_a_chain_from_another_root(
    peer_dir: Path, walink_emulator: dict[str, Any]
) -> None:
    other_root = make_test_root().key_pair.public.hex()
    code, lines = run_harness(peer_dir, walink_emulator["url"], other_root)
    assert code == 1, lines
    assert not any(line.get("qr") for line in lines)
    [closed] = [line for line in lines if line.get("connection") == "close"]
    assert "certificate" in closed["error"], closed


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of the test (the anyio pytest plugin reads this fixture)."""
    return str(request.param)


@pytest.mark.anyio
async def test_baileys_accepts_pair_success_and_takes_the_515(peer_dir: Path) -> None:
    async with Emulator() as emulator:
        lines: list[dict[str, Any]] = []
        jids: list[str] = []
        with anyio.fail_after(20):
            async with await anyio.open_process(
                ["node", _HARNESS, emulator.url, _HARNESS_TIMEOUT_MS],
                cwd=peer_dir,
                env=harness_env(emulator.trust_root_hex, WA_AFTER_QR="wait"),
                stderr=subprocess.DEVNULL,
            ) as process:
                assert process.stdout is not None
                stdout = BufferedByteReceiveStream(process.stdout)
                while True:
                    try:
                        raw = await stdout.receive_until(b"\n", 1 << 16)
                    except (anyio.EndOfStream, anyio.IncompleteRead):
                        break
                    line = json.loads(raw)
                    lines.append(line)
                    if line.get("qr") and not jids:
                        # the person carries the QR from Baileys' screen to the phone
                        jids.append(await emulator.phone.scan_qr(line["qr"]))
                code = await process.wait()
    assert jids == [f"{DEFAULT_PHONE}:1@s.whatsapp.net"], lines
    # Baileys verified pair-success (HMAC, account signature) and took the identity as `me`
    [update] = [line for line in lines if line.get("event") == "creds.update"]
    assert update["me"] == jids[0] and str(update["lid"]).endswith(":1@lid"), lines
    closed = [line for line in lines if line.get("connection") == "close"]
    assert closed and closed[0]["status"] == 515, lines
    assert code == 1
    assert emulator.registry.device(DEFAULT_PHONE, 1) is not None  # the device signature held
