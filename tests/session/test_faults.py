"""Every fault of walink.testing.faults against the session: its reason, decision and updates."""

from __future__ import annotations

import pytest

from walink.fsm.reasons import CloseReason
from walink.testing.faults import (
    Drop,
    Failure,
    Fault,
    Garbage,
    Silence,
    SlowReads,
    Step,
    StreamError,
    TruncatedFrame,
)

from .helpers import (
    check_one_close_update_per_close,
    fresh_pair,
    login_pair,
    make_hub,
    paired_creds,
)

RECONNECT, STOP, RESTART = "reconnect", "stop", "restart"

# (fault, expected reason, decision) for a login of a paired device
LOGIN_FAULTS: list[tuple[Fault, CloseReason, str]] = [
    (Drop(at=Step.CONNECTED), CloseReason.NETWORK_ERROR, RECONNECT),
    (Drop(at=Step.CLIENT_HELLO), CloseReason.NETWORK_ERROR, RECONNECT),
    (Drop(at=Step.CLIENT_FINISH), CloseReason.NETWORK_ERROR, RECONNECT),
    (Drop(at=Step.OPEN), CloseReason.NETWORK_ERROR, RECONNECT),
    (Silence(at=Step.CONNECTED), CloseReason.CONNECT_TIMEOUT, RECONNECT),
    (Silence(at=Step.CLIENT_HELLO), CloseReason.CONNECT_TIMEOUT, RECONNECT),
    (Silence(at=Step.CLIENT_FINISH), CloseReason.CONNECT_TIMEOUT, RECONNECT),
    (Silence(at=Step.OPEN), CloseReason.KEEPALIVE_TIMEOUT, RECONNECT),
    (Garbage(at=Step.CONNECTED), CloseReason.PROTOCOL_ERROR, RECONNECT),
    (Garbage(at=Step.CLIENT_HELLO), CloseReason.PROTOCOL_ERROR, RECONNECT),
    (Garbage(at=Step.CLIENT_FINISH), CloseReason.PROTOCOL_ERROR, RECONNECT),
    (Garbage(at=Step.OPEN), CloseReason.PROTOCOL_ERROR, RECONNECT),
    (TruncatedFrame(at=Step.CLIENT_HELLO), CloseReason.NETWORK_ERROR, RECONNECT),
    (TruncatedFrame(at=Step.CLIENT_FINISH), CloseReason.NETWORK_ERROR, RECONNECT),
    (TruncatedFrame(at=Step.OPEN), CloseReason.NETWORK_ERROR, RECONNECT),
    (StreamError(code=515), CloseReason.RESTART_REQUIRED, RESTART),
    (StreamError(code=515, at=Step.CLIENT_FINISH), CloseReason.RESTART_REQUIRED, RESTART),
    (StreamError(code=401), CloseReason.LOGGED_OUT, STOP),
    (StreamError(code=440), CloseReason.REPLACED, STOP),
    (StreamError(code=503), CloseReason.SERVICE_UNAVAILABLE, RECONNECT),
    (StreamError(code=503, at=Step.CLIENT_FINISH), CloseReason.SERVICE_UNAVAILABLE, RECONNECT),
    (Failure(reason=401), CloseReason.LOGGED_OUT, STOP),
    (Failure(reason=402, attrs={"expire": "3600"}), CloseReason.TEMP_BANNED, RECONNECT),
    (Failure(reason=403), CloseReason.FORBIDDEN, STOP),
    (Failure(reason=405), CloseReason.CLIENT_OUTDATED, STOP),
    (Failure(reason=500), CloseReason.BAD_SESSION, RECONNECT),
]

FINAL_STATE = {
    CloseReason.LOGGED_OUT: "logged_out",
    CloseReason.FORBIDDEN: "logged_out",
    CloseReason.REPLACED: "replaced",
    CloseReason.CLIENT_OUTDATED: "client_outdated",
}


def _ids(value: object) -> str:
    return repr(value) if not isinstance(value, CloseReason) else value.name


@pytest.mark.parametrize(("fault", "reason", "decision"), LOGIN_FAULTS, ids=_ids)
def test_login_fault(fault: Fault, reason: CloseReason, decision: str) -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    hub.inject(fault)
    pair = login_pair(hub, creds)
    started = pair.now
    pair.start()
    pair.run_until(lambda: bool(pair.closes), limit=120)
    closed = pair.closes[0]
    assert closed.disconnect.reason is reason, closed
    assert closed.disconnect.status == (
        {CloseReason.FORBIDDEN: 403}.get(reason, closed.disconnect.status)
    )
    assert not closed.requested
    if decision == STOP:
        assert closed.final and not closed.decision.reconnect
        assert pair.session.state == FINAL_STATE[reason]
    elif decision == RESTART:
        assert closed.decision.restart and closed.reconnect_at == closed.disconnect.at
    else:
        assert closed.decision.reconnect and not closed.decision.restart
        assert closed.reconnect_at is not None and closed.reconnect_at > closed.disconnect.at
    if reason is CloseReason.TEMP_BANNED:
        assert closed.decision.delay >= 3600
    if reason is CloseReason.CONNECT_TIMEOUT:
        assert closed.disconnect.at == started + 20
    if reason is CloseReason.KEEPALIVE_TIMEOUT:
        assert closed.disconnect.at == started + 40
    # the next connection has no fault: the lifecycle recovers unless it stopped
    if decision != STOP:
        pair.run_until(lambda: pair.session.connection == "open", limit=4000)
        assert pair.session.connection == "open"
    check_one_close_update_per_close(pair.events)
    close_updates = [u for u in pair.updates if u.connection == "close"]
    assert len(close_updates) == (0 if decision == RESTART else 1)


REGISTRATION_FAULTS: list[tuple[Fault, CloseReason]] = [
    (Drop(at=Step.CLIENT_HELLO), CloseReason.NETWORK_ERROR),
    (Drop(at=Step.CLIENT_FINISH), CloseReason.NETWORK_ERROR),
    (Drop(at=Step.OPEN), CloseReason.NETWORK_ERROR),
    (Silence(at=Step.CLIENT_FINISH), CloseReason.CONNECT_TIMEOUT),
    (Garbage(at=Step.OPEN), CloseReason.PROTOCOL_ERROR),
    (TruncatedFrame(at=Step.CLIENT_FINISH), CloseReason.NETWORK_ERROR),
    (StreamError(code=503), CloseReason.SERVICE_UNAVAILABLE),
    (StreamError(code=440), CloseReason.REPLACED),
]


@pytest.mark.parametrize(("fault", "reason"), REGISTRATION_FAULTS, ids=_ids)
def test_registration_fault(fault: Fault, reason: CloseReason) -> None:
    hub = make_hub()
    hub.inject(fault)
    pair = fresh_pair(hub)
    pair.start()
    pair.run_until(lambda: bool(pair.closes), limit=60)
    [closed] = pair.closes
    assert closed.disconnect.reason is reason
    assert pair.session.creds.me is None
    check_one_close_update_per_close(pair.events)


def test_slow_reads_change_nothing_in_memory() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    hub.inject(SlowReads(delay=1.0))
    pair = login_pair(hub, creds)
    pair.start()
    assert pair.session.connection == "open" and not pair.closes


def test_backoff_grows_over_repeated_failures_and_resets_after_stable_open() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    for _ in range(3):
        hub.inject(Drop(at=Step.CLIENT_HELLO))
    pair = login_pair(hub, creds)
    pair.start()
    pair.run_until(lambda: pair.session.connection == "open", limit=60)
    delays = [c.decision.nominal_delay for c in pair.closes]
    assert delays == [1.0, 1.0, 2.0]
    assert [c.decision.failures for c in pair.closes] == [1, 2, 3]
    # 30 s open, then a drop: the budget starts over
    pair.advance(31)
    pair.session.connection_lost(ConnectionResetError("reset"), now=pair.now)
    pair.pump()
    assert pair.closes[-1].decision.failures == 1
