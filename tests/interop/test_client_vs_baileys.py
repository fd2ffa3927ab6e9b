"""walink's ``Client`` and Baileys in the same emulator scenarios end the same way (issue 9).

For every fault the emulator can script, both clients start from the same paired state (one
Baileys multi-file creds folder, which walink's ``Client`` opens by its path, and one emulator
state folder; each client gets its own copy of both and its own in-process ``Emulator``), meet
the same fault on their first connection, and are compared on what an application sees:

1. the status: walink's ``Closed.disconnect.status`` is Baileys' ``lastDisconnect`` status code;
2. the close update: walink publishes ``connection == "close"`` carrying that disconnect, as
   Baileys does;
3. what follows: walink's policy reconnects exactly when a Baileys application would (Baileys'
   documented pattern: reconnect unless the status is 401 ``loggedOut``).

Where walink differs on purpose, :data:`DELIBERATE` names the row's :class:`Difference` (each
says why), and the test checks that the difference really is there (the table cannot keep a
stale excuse) and that nothing else differs: the 515 restart, the stops of walink's default
policy (440 above all), the causes walink names under the one 408, and the garbage Baileys
reports without a status or not at all.

Runs on asyncio only: each row costs a Node start, and what varies is the peer, not the backend
(the scenario tests run walink's side of every fault on trio too).
"""

from __future__ import annotations

import enum
import json
import random
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from tests.bounds import SCENARIO_LIMIT
from tests.interop.baileys import BaileysRun, Line, baileys, event_is, is_open
from tests.scenarios.harness import Recorder, config_for, running
from walink.fsm.policy import PolicyConfig, ReconnectHistory, ReconnectPolicy
from walink.fsm.reasons import CloseReason, Disconnect, DisconnectReason
from walink.io.client import Client
from walink.io.events import Closed, ConnectionUpdate
from walink.protocol.binary import Node
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

pytestmark = pytest.mark.peer


class Difference(enum.Enum):
    """The deliberate differences between walink and Baileys (each value says why)."""

    RESTART = (
        "515: walink restarts inside the client, so the application sees no close (the update "
        "stays 'connecting'; Closed.decision.restart); Baileys closes with 515 and every Baileys "
        "application must build a new socket itself "
        "(docs/protocol/lifecycle.md#disconnect-reasons). The status agrees."
    )
    STOPS = (
        "walink's default policy stops where a Baileys application (reconnect unless 401) would "
        "reconnect: 440, because reconnecting takes the session back from the other client and "
        "both flap; 403/405/411 and the QR refs running out, because the same attempt can only "
        "get the same answer. The status agrees; PolicyConfig.baileys_compatible() reconnects."
    )
    NAMED_408 = (
        "408 is overloaded (docs/protocol/lifecycle.md#disconnect-reasons): Baileys' timedOut and "
        "connectionLost share it and "
        "only the message tells them apart; walink reports the same 408 with a distinct reason "
        "(CONNECT_TIMEOUT, KEEPALIVE_TIMEOUT, QR_EXHAUSTED)."
    )
    NO_STATUS = (
        "garbage before the Noise transport: Baileys' protobuf decoder throws a plain Error (not "
        "a Boom), so lastDisconnect has no statusCode; walink names it PROTOCOL_ERROR (500, "
        "Baileys' badSession for unclassified errors) and reconnects, as a Baileys app would."
    )
    CRASH = (
        "garbage inside the Noise transport: Baileys' frame decryption throws outside any "
        "handler, no connection.update is emitted and Node would die; walink closes with "
        "PROTOCOL_ERROR (500) and reconnects."
    )


Login = Literal["register", "paired"]
"""Fresh creds (a registration connection: QR) or the paired device's saved creds."""


@dataclass(frozen=True)
class Row:
    """One emulator scenario, and the deliberate differences expected in it (none by default)."""

    id: str
    login: Login
    faults: tuple[Fault, ...] = ()
    after_open: Node | None = None
    """A node the emulator sends once the client is open (what no fault scripts)."""
    reason: CloseReason | None = None
    """``NAMED_408``: walink's reason for the 408."""
    baileys_error: str | None = None
    """``NAMED_408``: Baileys' message for the same 408 (its only way to tell them apart)."""
    baileys_timers: Mapping[str, str] = field(default_factory=dict)
    walink_timers: Mapping[str, Any] = field(default_factory=dict)
    """``ClientConfig`` fields to override (its timers, in seconds)."""

    @property
    def differences(self) -> frozenset[Difference]:
        """The row's deliberate differences (:data:`DELIBERATE`); none: everything agrees."""
        return DELIBERATE.get(self.id, frozenset())


def _stream_error_rows() -> list[Row]:
    rows = []
    for code in (515, 401, 440, 503, 418):
        # before pairing: the stream error replaces pair-device on a registration connection
        at_finish = StreamError(code=code, at=Step.CLIENT_FINISH)
        rows.append(Row(f"stream-error-{code}-registering", "register", (at_finish,)))
        # after login: it follows success and the offline delivery
        rows.append(Row(f"stream-error-{code}-open", "paired", (StreamError(code=code),)))
    return rows


def _failure_rows() -> list[Row]:
    rows = []
    for reason, attrs in (
        (401, {}),
        (402, {"expire": "3600", "code": "101"}),
        (403, {}),
        (405, {}),
        (500, {}),
        (503, {}),
    ):
        rows.append(Row(f"failure-{reason}", "paired", (Failure(reason=reason, attrs=attrs),)))
    return rows


DOWNGRADE = Node("ib", {}, [Node("downgrade_webclient")])

ROWS = [
    *_stream_error_rows(),
    *_failure_rows(),
    Row("xmlstreamend", "paired", after_open=Node("xmlstreamend")),
    Row("downgrade-webclient", "paired", after_open=DOWNGRADE),
    *[Row(f"drop-{step.value}", "paired", (Drop(at=step),)) for step in Step],
    *[Row(f"truncated-{step.value}", "paired", (TruncatedFrame(at=step),)) for step in Step],
    Row(
        "silence-before-server-hello",
        "register",
        (Silence(at=Step.CLIENT_HELLO),),
        reason=CloseReason.CONNECT_TIMEOUT,
        baileys_error="Timed Out",
        baileys_timers={"WA_CONNECT_TIMEOUT_MS": "1000"},  # its wait for the ServerHello
        walink_timers={"connect_timeout": 0.5},
    ),
    Row(
        "silence-while-open",
        "paired",
        (Silence(at=Step.OPEN),),
        reason=CloseReason.KEEPALIVE_TIMEOUT,
        baileys_error="Connection was lost",
        # Baileys' deadline is keepAliveIntervalMs + a fixed 5 s: keep the interval short
        baileys_timers={"WA_KEEPALIVE_MS": "500"},
        walink_timers={"keepalive_interval": 0.2, "keepalive_timeout": 0.3},
    ),
    Row(
        "qr-refs-exhausted",
        "register",
        reason=CloseReason.QR_EXHAUSTED,
        baileys_error="QR refs attempts ended",
        baileys_timers={"WA_QR_TIMEOUT_MS": "150"},  # 6 refs, each shown 150 ms
        walink_timers={"qr_timeout": 0.05},
    ),
    Row("garbage-connected", "register", (Garbage(at=Step.CONNECTED),)),
    Row("garbage-server-hello", "register", (Garbage(at=Step.CLIENT_HELLO),)),
    Row("garbage-first-node", "paired", (Garbage(at=Step.CLIENT_FINISH),)),
    Row("garbage-while-open", "paired", (Garbage(at=Step.OPEN),)),
]

RESTART, STOPS, NAMED_408 = Difference.RESTART, Difference.STOPS, Difference.NAMED_408
NO_STATUS, CRASH = Difference.NO_STATUS, Difference.CRASH

DELIBERATE: dict[str, frozenset[Difference]] = {
    "stream-error-515-registering": frozenset({RESTART}),
    "stream-error-515-open": frozenset({RESTART}),
    "stream-error-440-registering": frozenset({STOPS}),
    "stream-error-440-open": frozenset({STOPS}),
    "failure-403": frozenset({STOPS}),
    "failure-405": frozenset({STOPS}),
    "downgrade-webclient": frozenset({STOPS}),  # 411
    "silence-before-server-hello": frozenset({NAMED_408}),
    "silence-while-open": frozenset({NAMED_408}),
    "qr-refs-exhausted": frozenset({NAMED_408, STOPS}),
    "garbage-connected": frozenset({NO_STATUS}),
    "garbage-server-hello": frozenset({NO_STATUS}),
    "garbage-first-node": frozenset({CRASH}),
    "garbage-while-open": frozenset({CRASH}),
}
"""Every deliberate difference, by row; a row not named here must agree with Baileys in full."""


# -- the shared paired state ----------------------------------------------------------------------


@dataclass(frozen=True)
class PairedState:
    """An emulator state folder and the Baileys creds folder of one device paired through a QR."""

    state_dir: Path
    auth_dir: Path


@pytest.fixture(scope="module")
def paired_state(peer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> PairedState:
    """Baileys pairs once (QR, 515, 'open', end); every row copies the result for each client."""
    root = tmp_path_factory.mktemp("paired")
    state = PairedState(state_dir=root / "emulator", auth_dir=root / "baileys")
    state.auth_dir.mkdir()

    async def pair() -> None:
        async with (
            Emulator(state_dir=state.state_dir) as emulator,
            baileys(peer_dir, emulator, auth_dir=state.auth_dir) as run,
        ):
            with anyio.fail_after(SCENARIO_LIMIT):
                await run.until(is_open)
                await run.send("end")
                await run.finish()

    anyio.run(pair)
    return state


def private_copy(paired: PairedState, into: Path, login: Login) -> PairedState:
    """One client's own copy: the emulator's state, and the paired creds or an empty folder."""
    copy = PairedState(state_dir=into / "emulator", auth_dir=into / "auth")
    shutil.copytree(paired.state_dir, copy.state_dir)
    if login == "paired":
        # Without the one-time pre-keys (812 files, one each): no scenario here decrypts a
        # message, and copying them twice per row cost more than both clients' runs together.
        skip = shutil.ignore_patterns("pre-key-*")
        shutil.copytree(paired.auth_dir, copy.auth_dir, ignore=skip)
    else:
        copy.auth_dir.mkdir()
    return copy


# -- one row, each client -------------------------------------------------------------------------


async def run_baileys(peer_dir: Path, row: Row, state: PairedState) -> BaileysRun:
    """Baileys' harness through the row: until its final close (or its uncaught exception)."""
    async with Emulator(state_dir=state.state_dir) as emulator:
        emulator.inject(*row.faults)
        async with baileys(
            peer_dir,
            emulator,
            auth_dir=state.auth_dir,
            relay_qr=False,
            timers=row.baileys_timers,
        ) as run:
            if row.after_open is not None:
                await run.until(is_open)
                assert await emulator.send_node(row.after_open) == 1
            if Difference.RESTART in row.differences:
                # the harness, as every Baileys app must, built a new socket: let it get going
                await run.until(
                    lambda line: line["socket"] == 2 and (is_open(line) or line["event"] == "qr")
                )
                await run.send("end")
            crashes = Difference.CRASH in row.differences
            await run.until(event_is("uncaught" if crashes else "exit"))
    return run


async def run_walink(row: Row, state: PairedState) -> Recorder:
    """walink's Client on the same creds folder, until the first connection's ``Closed``."""
    async with Emulator(state_dir=state.state_dir) as emulator:
        emulator.inject(*row.faults)
        config = replace(config_for(emulator, connect_timeout=5.0), **row.walink_timers)
        async with running(Client(state.auth_dir, config)) as recorder:
            if row.after_open is not None:
                await recorder.wait_open(timeout=SCENARIO_LIMIT)
                assert await emulator.send_node(row.after_open) == 1
            await recorder.wait_closed(timeout=SCENARIO_LIMIT)
            # leaving the block closes the client whether or not its policy would reconnect
    return recorder


def baileys_closes(run: BaileysRun, socket: int) -> list[Line]:
    return [
        line
        for line in run.events("connection.update")
        if line["connection"] == "close" and line["socket"] == socket
    ]


def baileys_app_reconnects(status: int | None) -> bool:
    """What Baileys' documented application does on a close: reconnect unless loggedOut."""
    return status != DisconnectReason.loggedOut


def close_update_of(recorder: Recorder, closed: Closed) -> ConnectionUpdate | None:
    """The "close" update walink published for this ``Closed`` (right before it), if any."""
    events = recorder.events
    before = events[events.index(closed) - 1]
    if isinstance(before, ConnectionUpdate) and before.connection == "close":
        return before
    return None


def test_the_table_of_differences_names_only_rows_and_408_rows_name_both_sides() -> None:
    assert set(DELIBERATE) <= {row.id for row in ROWS}
    for row in ROWS:
        named = NAMED_408 in row.differences
        assert (row.reason is not None, row.baileys_error is not None) == (named, named), row.id


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
@pytest.mark.anyio
async def test_walink_client_ends_as_baileys_does(
    row: Row, peer_dir: Path, paired_state: PairedState, tmp_path: Path
) -> None:
    baileys_state = private_copy(paired_state, tmp_path / "baileys", row.login)
    walink_state = private_copy(paired_state, tmp_path / "walink", row.login)
    baileys_runs: list[BaileysRun] = []
    walink_runs: list[Recorder] = []

    async def run_baileys_side() -> None:
        baileys_runs.append(await run_baileys(peer_dir, row, baileys_state))

    async def run_walink_side() -> None:
        walink_runs.append(await run_walink(row, walink_state))

    # side by side, each on its own emulator: a row costs the slower of the two, not the sum
    with anyio.fail_after(SCENARIO_LIMIT):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(run_baileys_side)
            task_group.start_soon(run_walink_side)
    [run], [recorder] = baileys_runs, walink_runs
    if row.login == "paired":
        # the same device: walink read Baileys' saved creds from the folder
        saved = json.loads((paired_state.auth_dir / "creds.json").read_text())
        creds = recorder.client.creds
        assert creds is not None and creds.me is not None and creds.me.id == saved["me"]["id"]
    closed = recorder.closes[0]
    seen = f"walink {closed}; Baileys {run.lines}"
    baileys_status = check_status(row, run, closed.disconnect, seen)
    check_close_update(row, run, recorder, closed, seen)
    check_what_follows(row, baileys_status, closed, seen)


def check_status(row: Row, run: BaileysRun, walink: Disconnect, seen: str) -> int | None:
    """1. walink's status is Baileys' (return Baileys' status, None when it has none)."""
    first = baileys_closes(run, 1)
    if Difference.CRASH in row.differences:
        assert first == [] and run.lines[-1]["event"] == "uncaught", seen
        assert "authentication tag" in run.lines[-1]["error"], seen
        baileys_status = None
    else:
        assert len(first) == 1, seen
        baileys_status = first[0]["status"]
    if row.differences & {Difference.CRASH, Difference.NO_STATUS}:
        assert baileys_status is None, seen
        assert (walink.reason, walink.status) == (CloseReason.PROTOCOL_ERROR, 500), seen
    else:
        assert walink.status == baileys_status, seen
    if Difference.NAMED_408 in row.differences:
        assert walink.status == 408 and walink.reason is row.reason, seen
        assert first[0]["error"] == row.baileys_error, seen
    else:
        # every row that ends in 408 must say which of its causes walink names
        assert walink.status != 408, seen
    return baileys_status


def check_close_update(
    row: Row, run: BaileysRun, recorder: Recorder, closed: Closed, seen: str
) -> None:
    """2. walink publishes the close Baileys publishes, except the 515 restart."""
    close_update = close_update_of(recorder, closed)
    if Difference.RESTART in row.differences:
        assert close_update is None and closed.decision.restart, seen
        # Baileys reported the close; the new socket was the application's job
        assert run.closes()[0] == 515 and run.events("socket")[-1]["socket"] == 2, seen
    else:
        assert close_update is not None and close_update.last_disconnect is closed.disconnect
        assert not closed.decision.restart, seen


def check_what_follows(row: Row, baileys_status: int | None, closed: Closed, seen: str) -> None:
    """3. walink reconnects where a Baileys application would, except its deliberate stops."""
    if Difference.CRASH in row.differences:
        # Baileys' process is gone: no application decision to compare, only walink's own
        assert closed.decision.reconnect, seen
    elif Difference.STOPS in row.differences:
        assert baileys_app_reconnects(baileys_status), seen
        assert not closed.decision.reconnect and closed.final, seen
        # only the default policy differs: walink's Baileys-compatible policy reconnects
        compatible = ReconnectPolicy(PolicyConfig.baileys_compatible())
        decision = compatible.decide(closed.disconnect, ReconnectHistory(), random.Random(0))
        assert decision.reconnect, seen
    else:
        assert closed.decision.reconnect is baileys_app_reconnects(baileys_status), seen
