"""``walink._commands.timeline``: the JSON line shape, the readable lines and the exit codes."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink._commands.timeline import Timeline, closed_text, exit_code, update_json, update_text
from walink._session.events import Closed, ConnectionUpdate
from walink.fsm.policy import ReconnectHistory, ReconnectPolicy
from walink.fsm.reasons import CloseReason, Disconnect

EXPECTED_EXIT = {
    CloseReason.LOGGED_OUT: 3,
    CloseReason.FORBIDDEN: 3,
    CloseReason.BANNED: 3,
    CloseReason.QR_EXHAUSTED: 4,
    CloseReason.PAIRING_TIMEOUT: 4,
}


def disconnect_for(reason: CloseReason, message: str = "why") -> Disconnect:
    return Disconnect(
        reason=reason, status=reason.status, message=message, terminal=reason.terminal, at=0.0
    )


def closed_for(reason: CloseReason, *, requested: bool) -> Closed:
    disconnect = disconnect_for(reason)
    decision = ReconnectPolicy().decide(disconnect, ReconnectHistory(), random.Random(0))
    return Closed(
        disconnect=disconnect,
        decision=decision,
        reconnect_at=decision.delay if decision.reconnect else None,
        final=not decision.reconnect,
        requested=requested,
    )


@pytest.mark.parametrize("reason", list(CloseReason))
def test_exit_code_of_every_reason(reason: CloseReason) -> None:
    assert exit_code(closed_for(reason, requested=False)) == EXPECTED_EXIT.get(reason, 1)
    # what the user asked for is a normal end, even the logout the server answers with 401
    assert exit_code(closed_for(reason, requested=True)) == 0


def test_exit_code_without_a_close() -> None:
    assert exit_code(None) == 1


updates = st.builds(
    ConnectionUpdate,
    connection=st.sampled_from(["connecting", "open", "close"]),
    qr=st.none() | st.text(min_size=1),
    is_new_login=st.booleans(),
    received_pending_notifications=st.booleans(),
    is_online=st.booleans(),
    last_disconnect=st.none()
    | st.builds(disconnect_for, st.sampled_from(list(CloseReason)), st.text()),
)


@given(updates)
def test_update_json_is_the_full_snapshot(update: ConnectionUpdate) -> None:
    line = update_json(update)
    keys = ["event", "connection", "qr", "is_new_login", "received_pending_notifications"]
    keys.append("is_online")
    if update.connection == "close":
        keys += ["reason", "status", "message"]
        disconnect = update.last_disconnect
        if disconnect is not None:
            assert line["reason"] == disconnect.reason.name
            assert line["status"] == disconnect.status
            assert line["message"] == disconnect.message
        assert type(line["status"]) is int and isinstance(line["message"], str)
    assert list(line) == keys
    assert line["event"] == "connection.update" and line["qr"] == update.qr
    assert (line["is_new_login"], line["received_pending_notifications"], line["is_online"]) == (
        update.is_new_login,
        update.received_pending_notifications,
        update.is_online,
    )
    assert json.loads(json.dumps(line)) == line  # plain JSON types only


def snapshot(**changes: object) -> ConnectionUpdate:
    fields: dict[str, object] = {
        "connection": "connecting",
        "qr": None,
        "is_new_login": False,
        "received_pending_notifications": False,
        "is_online": False,
        "last_disconnect": None,
    }
    fields.update(changes)
    return ConnectionUpdate(**fields)  # type: ignore[arg-type]


def test_readable_lines_say_what_changed() -> None:
    assert "new QR shown" in update_text(snapshot(qr="2@ref"), snapshot())
    assert "new QR shown" not in update_text(snapshot(qr="2@ref"), snapshot(qr="2@ref"))
    assert "new login" in update_text(snapshot(is_new_login=True), snapshot())
    opened = snapshot(connection="open", received_pending_notifications=True)
    assert "pending notifications received" in update_text(opened, snapshot())
    assert update_text(opened, opened).strip() == "open"
    gone = snapshot(connection="close", last_disconnect=disconnect_for(CloseReason.LOGGED_OUT))
    assert "LOGGED_OUT (401) why" in update_text(gone, opened)
    # a QR's text is a secret-bearing token: the readable line never contains it
    assert "2@ref" not in update_text(snapshot(qr="2@ref"), None)


def test_readable_decisions() -> None:
    assert "reconnecting now" in closed_text(
        closed_for(CloseReason.RESTART_REQUIRED, requested=False)
    )
    backoff = closed_text(closed_for(CloseReason.KEEPALIVE_TIMEOUT, requested=False))
    assert "reconnecting in" in backoff
    assert "as asked" in closed_text(closed_for(CloseReason.LOCAL_CLOSE, requested=True))
    assert "LOGGED_OUT" in closed_text(closed_for(CloseReason.LOGGED_OUT, requested=False))


def test_timeline_modes(capsys: pytest.CaptureFixture[str]) -> None:
    times = iter([0.0, 1.5, 2.0])
    plain = Timeline(json_lines=False, clock=lambda: next(times), label="[2]")
    plain.show(snapshot())
    plain.pairing_code("ABCD1234")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("   1.50s  [2]") and out[0].rstrip().endswith("connecting")
    assert "ABCD1234" in out[1]

    lines = Timeline(json_lines=True)
    lines.show(snapshot(connection="open"))
    lines.show(closed_for(CloseReason.KEEPALIVE_TIMEOUT, requested=False))  # not a JSON line
    lines.note("only for people")
    lines.pairing_code("ABCD1234")
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in printed] == ["connection.update", "pairing_code"]
    assert printed[1] == {"v": 1, "event": "pairing_code", "code": "ABCD1234"}


def test_exit_3_reasons_are_the_ones_that_mark_creds_logged_out() -> None:
    from walink._commands.timeline import _LOGGED_OUT_REASONS
    from walink._session.ending import LOGGED_OUT_REASONS

    assert {reason.name for reason in LOGGED_OUT_REASONS} == _LOGGED_OUT_REASONS
