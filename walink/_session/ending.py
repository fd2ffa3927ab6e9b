"""Ending an attempt (``end_attempt``) or, between attempts, the lifecycle (``stop_lifecycle``).

Every end goes through here: the Disconnect is final by then (``classify`` made it), the policy
decides what follows, the machine moves, and the session reports one ``Closed`` event.

When the server logged the device out (``LOGGED_OUT_REASONS``) and the lifecycle ends, the creds
are marked ``logged_out`` and saved (``CredsUpdate`` and ``SaveRequest`` just before ``Closed``):
DESIGN.md keeps such credentials, marked, and never dials with them again. The application's own
``logout`` (``LOCAL_LOGOUT``) is not marked: DESIGN.md's row for it is a plain stop, and a logout
that timed out may not have removed the device at all.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING

from statemachine.exceptions import TransitionNotAllowed

from walink._session import pairing_code, queries
from walink._session.events import Closed
from walink.fsm.reasons import CloseReason, Disconnect
from walink.protocol.errors import LocalProtocolError

if TYPE_CHECKING:
    from walink._session.attempt import Attempt
    from walink._session.core import ClientSession

__all__ = ["LOGGED_OUT_REASONS", "end_attempt", "stop_lifecycle"]

LOGGED_OUT_REASONS: frozenset[CloseReason] = frozenset(
    {CloseReason.LOGGED_OUT, CloseReason.FORBIDDEN, CloseReason.BANNED}
)
"""The server's word that this device is gone (401, device removed, 403, 406): the credentials
can never log in again, so a final close for one of them marks them ``logged_out``."""


def end_attempt(
    session: ClientSession, disconnect: Disconnect, *, requested: bool, stop: bool
) -> None:
    """Close the attempt: fail its queries, ask the policy, move the machine, report.

    ``stop``: end the lifecycle whatever the policy says (the application's close, a failed
    save). Nothing happens when no attempt is alive.
    """
    attempt = session._attempt
    if attempt is None:
        return
    if attempt.logging_out and disconnect.reason is not CloseReason.LOCAL_LOGOUT:
        # whatever the server does after a logout we asked for is the logout's normal end
        node = disconnect.node if disconnect.reason is CloseReason.LOGGED_OUT else None
        disconnect = session._logout_disconnect(disconnect.at, node)
        requested = True
    session._attempt = None
    _flush_released(session, attempt)
    queries.fail_on_close(session, attempt, disconnect)
    pairing_code.on_attempt_end(session, attempt, disconnect)
    decision = session._policy.decide(disconnect, session._history, session._rng)
    if stop and decision.reconnect:
        # the application's close always stops, whatever a custom policy says
        decision = replace(decision, reconnect=False, restart=False, delay=0.0)
    session._history = decision.history
    machine = session._machine
    try:
        machine.close(disconnect=disconnect, decision=decision)
        session._forget_machine_changes()
    except TransitionNotAllowed as error:  # pragma: no cover - every live state declares it
        raise LocalProtocolError(f"close refused in {session.state}: {error}") from None
    session._qr = None
    session._is_online = False
    session._reconnect_at = disconnect.at + decision.delay if decision.reconnect else None
    _mark_logged_out(session, disconnect)
    if machine.connection == "close":
        session._emit_update()
    session._emit(
        Closed(
            disconnect=disconnect,
            decision=decision,
            reconnect_at=session._reconnect_at,
            final=machine.finished,
            requested=requested,
        )
    )


def _mark_logged_out(session: ClientSession, disconnect: Disconnect) -> None:
    # Only a final close: a custom policy that reconnects after a 401 gets to try with the
    # creds as they are. The save's barrier holds nothing (the attempt's bytes were released
    # above and no attempt follows); the I/O layer still performs the save before it stops.
    creds = session.creds
    if disconnect.reason in LOGGED_OUT_REASONS and session.finished and not creds.logged_out:
        session._set_creds(
            replace(creds, logged_out=True), why=f"logged out ({disconnect.reason.name})"
        )


def _flush_released(session: ClientSession, attempt: Attempt) -> None:
    # Bytes already released stay for the caller to write (an error reply before the close);
    # bytes still held behind a save are dropped with the connection they were meant for.
    outbox = session._outbox
    if attempt.conn is not None:
        # a transport that failed earlier has nothing left to give
        with contextlib.suppress(LocalProtocolError):
            outbox.write(attempt.conn.data_to_send())
    released = outbox.take()
    outbox.discard()
    outbox.write(released)


def stop_lifecycle(session: ClientSession, disconnect: Disconnect, *, requested: bool) -> None:
    """End the lifecycle between attempts (``backing_off``/``restarting``/``idle``)."""
    decision = session._policy.decide(disconnect, session._history, session._rng)
    decision = replace(decision, reconnect=False, restart=False, delay=0.0)
    session._history = decision.history
    session._machine.stop(disconnect=disconnect)
    session._forget_machine_changes()
    session._reconnect_at = None
    session._emit_update()
    session._emit(
        Closed(
            disconnect=disconnect,
            decision=decision,
            reconnect_at=None,
            final=True,
            requested=requested,
        )
    )
