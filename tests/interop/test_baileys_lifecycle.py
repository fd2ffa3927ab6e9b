"""Baileys, a client nobody here wrote, through the whole lifecycle against our emulator (issue 9).

Baileys 7.0.0-rc14 runs ``tests/peer/baileys-lifecycle.mjs``, strict against the emulator's test
root (docs/protocol/peer.md#certificate-checks), as an application would: one creds object for its
whole life, a new socket after a 515 and after nothing else (Baileys never reconnects by itself,
docs/protocol/lifecycle.md#disconnect-reasons). The test plays the person: it carries Baileys' QR
(or pairing code) to the emulator's phone.

1. fresh creds: QR, scan, pair-success (Baileys' HMAC check), 515, login on a new socket, 'open';
2. saved creds: 'open' directly;
3. pairing code: ``requestPairingCode``, the phone types the code, 515, 'open';
4. every fault the emulator can script: Baileys' ``DisconnectReason`` status is walink's mapping
   (``walink.fsm.reasons.classify`` of the same cause), except where a difference is pinned;
5. ``logout()``: the emulator forgets the device, and its next login gets 401.

The lifecycle scenarios run on both anyio backends (the emulator is in-process); the fault table
runs on asyncio only, since what it checks is Baileys' side and each row costs a Node start.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import pytest

from tests.bounds import SCENARIO_LIMIT
from tests.interop.baileys import QR_PREFIX, BaileysRun, Line, baileys, event_is, is_open
from walink.fsm.reasons import CloseReason, Disconnect, WebSocketClosed, classify
from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.pairing import parse_qr_string
from walink.testing.emulator import Emulator
from walink.testing.faults import (
    Drop,
    Failure,
    Fault,
    Garbage,
    Silence,
    Step,
    StreamError,
    TruncatedFrame,
)
from walink.testing.registry import DEFAULT_PHONE
from walink.testing.server import stream_error_node

pytestmark = pytest.mark.peer

CODE_PHONE = "15557654321"
"""The phone number Baileys asks a pairing code for (a second simulated phone)."""
PAIRING_CODE_ALPHABET = set("123456789ABCDEFGHJKLMNPQRSTVWXYZ")
UNKNOWN_DEVICE = "15551230000:7@s.whatsapp.net"
"""A login the registry never saw: faults that strike before the lookup need nothing more."""


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of the test (the anyio pytest plugin reads this fixture)."""
    return str(request.param)


def closes_of(run: BaileysRun, socket: int) -> list[Line]:
    return [
        line
        for line in run.events("connection.update")
        if line["connection"] == "close" and line["socket"] == socket
    ]


# -- a paired device, made once per module --------------------------------------------------------


@dataclass(frozen=True)
class PairedDevice:
    """An emulator state folder and Baileys' saved creds for one device paired through a QR."""

    state_dir: Path
    auth_dir: Path
    jid: str


async def pair_with_qr(peer_dir: Path, emulator: Emulator, auth_dir: Path) -> BaileysRun:
    """Scenario 1's flow: fresh creds, the QR relayed to the phone, until 'open'; then end."""
    async with baileys(peer_dir, emulator, auth_dir=auth_dir) as run:
        with anyio.fail_after(SCENARIO_LIMIT):
            await run.until(is_open)
            await run.send("end")
            await run.finish()
    return run


@pytest.fixture(scope="module")
def paired_template(peer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> PairedDevice:
    root = tmp_path_factory.mktemp("paired")
    state_dir, auth_dir = root / "emulator", root / "baileys"
    auth_dir.mkdir()

    async def pair() -> str:
        async with Emulator(state_dir=state_dir) as emulator:
            run = await pair_with_qr(peer_dir, emulator, auth_dir)
        assert run.opened_on() == [2], run.lines
        return run.scanned[0]

    return PairedDevice(state_dir=state_dir, auth_dir=auth_dir, jid=anyio.run(pair))


@pytest.fixture
def paired(paired_template: PairedDevice, tmp_path: Path) -> PairedDevice:
    """A private copy of the paired device: a test may log it out or break its creds."""
    state_dir, auth_dir = tmp_path / "emulator", tmp_path / "baileys"
    shutil.copytree(paired_template.state_dir, state_dir)
    # the 812 pre-key files are most of the copying and no test here decrypts a message
    shutil.copytree(paired_template.auth_dir, auth_dir, ignore=shutil.ignore_patterns("pre-key-*"))
    return PairedDevice(state_dir=state_dir, auth_dir=auth_dir, jid=paired_template.jid)


# -- 1. fresh creds: QR ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_fresh_creds_qr_pair_success_515_then_open(peer_dir: Path, tmp_path: Path) -> None:
    async with Emulator() as emulator:
        run = await pair_with_qr(peer_dir, emulator, tmp_path)
        device = emulator.registry.device(DEFAULT_PHONE, 1)
    # the QR in the current format (docs/protocol/pairing.md#qr-string), from the first socket
    [qr_line, *_] = run.events("qr")
    qr = qr_line["qr"]
    assert qr_line["socket"] == 1 and qr.startswith(QR_PREFIX)
    ref, *keys, platform = qr[len(QR_PREFIX) :].split(",")
    assert ref.startswith("2@") and len(keys) == 3 and platform.isdigit()
    assert len(parse_qr_string(qr).adv_secret) == 32
    # Baileys took pair-success (its HMAC check passed: it only then sets `me`) ...
    jid = f"{DEFAULT_PHONE}:1@s.whatsapp.net"
    assert run.scanned == [jid]
    first_me = next(line for line in run.events("creds.update") if line["me"] == jid)
    assert first_me["socket"] == 1 and str(first_me["lid"]).endswith(":1@lid")
    assert any(line["isNewLogin"] for line in run.events("connection.update")), run.lines
    # ... and the emulator took its pair-device-sign (the device signature verified)
    assert device is not None and device.jid == jid
    # 515 on the first socket; the harness's new socket logs in and opens, with no QR
    assert [line["status"] for line in closes_of(run, 1)] == [515]
    assert run.opened_on() == [2]
    assert [line["socket"] for line in run.events("qr")] == [1] * len(run.events("qr"))
    assert run.closes() == [515, None]  # the second close is the test's own `end`
    saved = json.loads((tmp_path / "creds.json").read_text())
    assert saved["me"]["id"] == jid and saved["registered"] is False


# -- 2. saved creds -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_saved_creds_open_directly(peer_dir: Path, paired: PairedDevice) -> None:
    async with (
        Emulator(state_dir=paired.state_dir) as emulator,
        baileys(peer_dir, emulator, auth_dir=paired.auth_dir) as run,
    ):
        with anyio.fail_after(SCENARIO_LIMIT):
            opened = await run.until(is_open)
            logged_in = [s.device for s in emulator.sessions() if s.device is not None]
            await run.send("end")
            await run.finish()
    assert opened["socket"] == 1 and not run.events("qr"), run.lines
    assert [device.jid for device in logged_in] == [paired.jid]
    assert run.closes() == [None]


# -- 3. pairing code ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_pairing_code_then_515_then_open(peer_dir: Path) -> None:
    async with Emulator() as emulator:
        async with baileys(peer_dir, emulator, relay_qr=False) as run:
            with anyio.fail_after(SCENARIO_LIMIT):
                # Baileys advises asking for the code once the first QR is up
                # (docs/protocol/pairing.md#pairing-code)
                await run.until(event_is("qr"))
                await run.send("requestPairingCode", phone=CODE_PHONE)
                code = (await run.until(event_is("pairing-code")))["code"]
                await emulator.phone.enter_pairing_code(code, CODE_PHONE)
                await run.until(is_open)
                await run.send("end")
                await run.finish()
        device = emulator.registry.device(CODE_PHONE, 1)
    assert len(code) == 8 and set(code) <= PAIRING_CODE_ALPHABET
    jid = f"{CODE_PHONE}:1@s.whatsapp.net"
    assert device is not None and device.jid == jid
    assert [line["me"] for line in run.events("creds.update")][:2] == [
        f"{CODE_PHONE}@s.whatsapp.net",  # requestPairingCode sets `me` to the bare number
        jid,  # pair-success, verified with the adv secret both sides derived from the code
    ]
    assert [line["status"] for line in closes_of(run, 1)] == [515]
    assert run.opened_on() == [2]


# -- 5. logout ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_logout_removes_the_device_and_its_next_login_gets_401(
    peer_dir: Path, paired: PairedDevice
) -> None:
    phone, device = paired.jid.split("@")[0].split(":")
    async with Emulator(state_dir=paired.state_dir) as emulator:
        async with baileys(peer_dir, emulator, auth_dir=paired.auth_dir) as run:
            with anyio.fail_after(SCENARIO_LIMIT):
                await run.until(is_open)
                await run.send("logout")
                logged_out = await run.finish()
                # Baileys ends without waiting for the reply: the emulator removes it meanwhile
                while emulator.registry.device(phone, int(device)) is not None:
                    await anyio.sleep(0.02)
        # Baileys' logout() ends locally with 401, as walink's logout does
        assert logged_out["status"] == classify(CloseReason.LOCAL_LOGOUT, at=0).status == 401
        async with baileys(peer_dir, emulator, auth_dir=paired.auth_dir) as again:
            with anyio.fail_after(SCENARIO_LIMIT):
                refused = await again.finish()
    expected = classify(Node("failure", {"reason": "401"}), at=0)
    assert refused["status"] == expected.status == 401 and expected.terminal
    assert again.opened_on() == [] and again.closes() == [401], again.lines


# -- 4. faults: Baileys' DisconnectReason against walink's mapping --------------------------------

Login = Literal["register", "unknown", "paired"]
"""How the harness starts: fresh creds, creds whose device the emulator never saw, or paired."""
SAME = "same"
"""Baileys reports walink's status: no difference to pin."""
CRASH = "uncaught exception"
"""Baileys does not report a status at all: the exception escapes and would kill Node."""


@dataclass(frozen=True)
class FaultCase:
    """One emulator behaviour, walink's expected ``Disconnect`` for it, and Baileys' verdict."""

    id: str
    expected: Disconnect
    """``classify`` of the same node or cause: the mapping walink's client applies."""
    login: Login
    faults: tuple[Fault, ...] = ()
    after_open: Node | None = None
    """A node the emulator sends once Baileys is open (nodes no fault scripts)."""
    baileys: int | str | None = SAME
    """A pinned difference: the status Baileys reports instead (None: none), or ``CRASH``."""
    baileys_error: str | None = None
    """Baileys' error message, pinned where the status alone does not tell causes apart."""
    timers: Mapping[str, str] = field(default_factory=dict)


def node_case(
    id: str, node: Node, login: Login, *faults: Fault, after_open: Node | None = None
) -> FaultCase:
    """A case whose expectation is walink's mapping of ``node``, the node the emulator sends."""
    return FaultCase(id, classify(node, at=0), login, faults, after_open=after_open)


EOF_CLOSE = classify(WebSocketClosed(), at=0)
"""The server aborted the WebSocket (no close frame): what Drop and TruncatedFrame end with."""
GARBAGE = classify(RemoteProtocolError("not a frame"), at=0)


def _stream_error_cases() -> list[FaultCase]:
    cases = []
    for code in (515, 401, 440, 503, 418):
        node = stream_error_node(code)  # the exact node the emulator sends for this fault
        # before pairing: the stream error replaces pair-device on a registration connection
        cases.append(
            node_case(
                f"stream-error-{code}-registering",
                node,
                "register",
                StreamError(code=code, at=Step.CLIENT_FINISH),
            )
        )
        # after login: it follows success and the offline delivery
        cases.append(node_case(f"stream-error-{code}-open", node, "paired", StreamError(code=code)))
    return cases


def _failure_cases() -> list[FaultCase]:
    cases = []
    for reason, attrs in (
        (401, {}),
        (402, {"expire": "3600", "code": "101"}),
        (403, {}),
        (405, {}),
        (500, {}),
        (503, {}),
    ):
        node = Node("failure", {"reason": str(reason), **attrs})  # what the emulator sends
        cases.append(
            node_case(f"failure-{reason}", node, "unknown", Failure(reason=reason, attrs=attrs))
        )
    return cases


FAULT_CASES = [
    *_stream_error_cases(),
    *_failure_cases(),
    node_case("xmlstreamend", Node("xmlstreamend"), "paired", after_open=Node("xmlstreamend")),
    node_case(
        "downgrade-webclient",
        Node("ib", {}, [Node("downgrade_webclient")]),
        "paired",
        after_open=Node("ib", {}, [Node("downgrade_webclient")]),
    ),
    *[FaultCase(f"drop-{step.value}", EOF_CLOSE, "paired", (Drop(at=step),)) for step in Step],
    *[
        FaultCase(f"truncated-{step.value}", EOF_CLOSE, "paired", (TruncatedFrame(at=step),))
        for step in Step
    ],
    # 408 is overloaded (docs/protocol/lifecycle.md#disconnect-reasons): Baileys' timedOut and
    # connectionLost share it and only the message tells them apart; walink reports one status and a
    # distinct reason for each.
    FaultCase(
        "silence-before-server-hello",
        classify(CloseReason.CONNECT_TIMEOUT, at=0),
        "register",
        (Silence(at=Step.CLIENT_HELLO),),
        baileys_error="Timed Out",
        timers={"WA_CONNECT_TIMEOUT_MS": "1000"},  # how long Baileys waits for the ServerHello
    ),
    FaultCase(
        "silence-while-open",
        classify(CloseReason.KEEPALIVE_TIMEOUT, at=0),
        "paired",
        (Silence(at=Step.OPEN),),
        baileys_error="Connection was lost",
        # Baileys' deadline is keepAliveIntervalMs + a fixed 5 s: keep the interval short
        timers={"WA_KEEPALIVE_MS": "500"},
    ),
    FaultCase(
        "qr-refs-exhausted",
        classify(CloseReason.QR_EXHAUSTED, at=0),
        "register",
        baileys_error="QR refs attempts ended",
        timers={"WA_QR_TIMEOUT_MS": "150"},  # 6 refs, each shown 150 ms
    ),
    # Differences, pinned. Garbage instead of the ServerHello: Baileys' protobuf decoder throws a
    # plain Error (not a Boom), so `lastDisconnect.error.output.statusCode` is undefined; walink
    # names it a protocol error (500, like Baileys' badSession for unclassified errors).
    FaultCase(
        "garbage-connected", GARBAGE, "register", (Garbage(at=Step.CONNECTED),), baileys=None
    ),
    FaultCase(
        "garbage-server-hello", GARBAGE, "register", (Garbage(at=Step.CLIENT_HELLO),), baileys=None
    ),
    # Garbage once the transport is encrypted: Baileys' frame decoder throws outside any handler
    # (AES-GCM with a 5-byte tag) and Node dies; no connection.update is ever emitted.
    FaultCase(
        "garbage-first-node", GARBAGE, "paired", (Garbage(at=Step.CLIENT_FINISH),), baileys=CRASH
    ),
    FaultCase("garbage-while-open", GARBAGE, "paired", (Garbage(at=Step.OPEN),), baileys=CRASH),
]


def _harness_login(
    case: FaultCase, paired: PairedDevice, fresh: Path
) -> tuple[Path | None, str | None]:
    """The harness's (auth_dir, me_jid) for the case's way of starting."""
    if case.login == "paired":
        return paired.auth_dir, None
    if case.login == "unknown":
        return None, UNKNOWN_DEVICE
    fresh.mkdir()
    return fresh, None


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("case", FAULT_CASES, ids=[case.id for case in FAULT_CASES])
@pytest.mark.anyio
async def test_baileys_disconnect_reason_matches_walink(
    case: FaultCase, peer_dir: Path, paired: PairedDevice, tmp_path: Path
) -> None:
    auth_dir, me_jid = _harness_login(case, paired, tmp_path / "fresh")
    async with Emulator(state_dir=paired.state_dir) as emulator:
        emulator.inject(*case.faults)
        async with baileys(
            peer_dir,
            emulator,
            auth_dir=auth_dir,
            me_jid=me_jid,
            relay_qr=False,
            timers=case.timers,
        ) as run:
            with anyio.fail_after(SCENARIO_LIMIT):
                if case.after_open is not None:
                    await run.until(is_open)
                    assert await emulator.send_node(case.after_open) == 1
                if case.expected.status == 515:
                    await run.until(
                        lambda line: (
                            line["socket"] == 2 and (is_open(line) or line["event"] == "qr")
                        )
                    )
                    await run.send("end")
                last = await run.until(
                    event_is("exit") if case.baileys != CRASH else event_is("uncaught")
                )
    first = closes_of(run, 1)
    if case.baileys == CRASH:
        assert first == [] and last["event"] == "uncaught", run.lines
        assert "authentication tag" in last["error"], last
        return
    assert len(first) == 1, run.lines
    [closed] = first
    if case.baileys == SAME:
        assert closed["status"] == case.expected.status, (closed, case.expected)
    else:
        assert closed["status"] == case.baileys != case.expected.status, (closed, case.expected)
    if case.baileys_error is not None:
        assert closed["error"] == case.baileys_error, closed
    if case.expected.status == 515:
        # a restart: the harness's new socket carries on (QR again, or logged in)
        assert run.closes() == [515, None], run.lines
