"""The connection lifecycle as a declared python-statemachine ``StateChart``.

Theory of operation
-------------------
The class body below is the table; ``walink diagram`` draws it. Everything that changes the
lifecycle state is an event sent to :class:`ConnectionMachine`; an event that the current state
does not declare raises ``TransitionNotAllowed`` (``allow_event_without_transition = False``),
and a callback's exception propagates (``catch_errors_as_events = False``). Callbacks are sync
only: an ``async def`` callback would switch the library to its asyncio-only engine.

One connection attempt is the compound state ``attempt`` (dialing -> handshaking -> awaiting a
QR scan, a pairing code, the restart after pairing, or authenticating -> open). The only way into
it is ``dial``, declared from ``idle``, ``backing_off`` and ``restarting`` alone, so at most one
attempt is ever alive. Every attempt ends through one event, ``close``, which carries the
:class:`~walink.fsm.reasons.Disconnect` and the policy's :class:`~walink.fsm.policy.Decision`;
guards route it (first match wins):

- ``restart_at_once``: the policy asked for a 515 restart -> ``restarting`` ("connecting");
- ``reconnect_later``: the policy will reconnect after a delay -> ``backing_off``;
- otherwise a final state named after the reason (logged out, replaced, client outdated, QR
  exhausted, pairing timed out), and ``stopped`` for anything else.

Outside an attempt, ``stop`` ends the lifecycle (``stopped``). Final states declare no events,
so any event there raises.

Each state has a Baileys-compatible ``connection`` value. The machine records a
:class:`ConnectionChange` whenever that value changes; a change to ``"close"`` carries the
disconnect, so every close produces exactly one close change with its reason, and the 515 after
pairing produces none (``"connecting"`` stays ``"connecting"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from statemachine import Event, State, StateChart

from walink.fsm.policy import Decision
from walink.fsm.reasons import CloseReason, Disconnect
from walink.protocol.errors import LocalProtocolError

__all__ = [
    "CONNECTION_OF_STATE",
    "Connection",
    "ConnectionChange",
    "ConnectionMachine",
    "MachineSnapshot",
]

Connection = Literal["connecting", "open", "close"]

CONNECTION_OF_STATE: dict[str, Connection] = {
    "idle": "close",
    "attempt": "connecting",
    "dialing": "connecting",
    "handshaking": "connecting",
    "awaiting_qr": "connecting",
    "awaiting_pairing_code": "connecting",
    "paired": "connecting",
    "authenticating": "connecting",
    "open": "open",
    "backing_off": "close",
    "restarting": "connecting",
    "logged_out": "close",
    "replaced": "close",
    "client_outdated": "close",
    "qr_exhausted": "close",
    "pairing_timeout": "close",
    "stopped": "close",
}
"""Baileys' ``connection`` value of every state (compound ``attempt`` included)."""

# which final state a stop decision leads to, by reason; any other reason ends in `stopped`
_FINAL_STATE_OF_REASON: dict[CloseReason, str] = {
    CloseReason.LOGGED_OUT: "logged_out",
    CloseReason.FORBIDDEN: "logged_out",
    CloseReason.BANNED: "logged_out",
    CloseReason.LOCAL_LOGOUT: "logged_out",
    CloseReason.REPLACED: "replaced",
    CloseReason.CLIENT_OUTDATED: "client_outdated",
    CloseReason.BAD_USER_AGENT: "client_outdated",
    CloseReason.MULTIDEVICE_MISMATCH: "client_outdated",
    CloseReason.QR_EXHAUSTED: "qr_exhausted",
    CloseReason.PAIRING_TIMEOUT: "pairing_timeout",
}


def close_target(disconnect: Disconnect, decision: Decision) -> str:
    """The state a ``close`` with these arguments leads to (the guards below, as one function)."""
    if decision.reconnect:
        return "restarting" if decision.restart else "backing_off"
    return _FINAL_STATE_OF_REASON.get(disconnect.reason, "stopped")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionChange:
    """The user-visible ``connection`` value changed."""

    connection: Connection
    """The new value."""
    state: str
    """The internal state now active (its id, e.g. ``"backing_off"``)."""
    disconnect: Disconnect | None
    """Why, when the change was caused by a close (always set when ``connection == "close"``)."""


@dataclass(frozen=True, slots=True)
class MachineSnapshot:
    """A ``ConnectionMachine``'s state, without the machine (see ``walink.fsm.shared``)."""

    value: Any
    """The model's state field: the active state's value, or the set of them in a compound."""
    connection: Connection
    last_disconnect: Disconnect | None


class ConnectionMachine(StateChart[Any]):
    """The connection lifecycle (see the module docstring)."""

    allow_event_without_transition = False
    catch_errors_as_events = False

    idle = State("Idle", initial=True)

    class attempt(State.Compound, name="Connection attempt"):
        dialing = State("Dialing", initial=True)
        handshaking = State("Handshaking")
        awaiting_qr = State("Awaiting QR scan")
        awaiting_pairing_code = State("Awaiting pairing code")
        paired = State("Paired, awaiting restart")
        authenticating = State("Authenticating")
        open = State("Open")

        transport_open = dialing.to(handshaking)
        await_qr = Event(handshaking.to(awaiting_qr), name="Await QR")
        await_pairing_code = handshaking.to(awaiting_pairing_code) | awaiting_qr.to(
            awaiting_pairing_code
        )
        pair_success = awaiting_qr.to(paired) | awaiting_pairing_code.to(paired)
        authenticate = handshaking.to(authenticating)
        login_success = authenticating.to(open)

    backing_off = State("Backing off")
    restarting = State("Restarting (515)")

    logged_out = State("Logged out", final=True)
    replaced = State("Replaced", final=True)
    client_outdated = State("Client outdated", final=True)
    qr_exhausted = State("QR exhausted", final=True)
    pairing_timeout = State("Pairing timed out", final=True)
    stopped = State("Stopped", final=True)

    dial = idle.to(attempt) | backing_off.to(attempt) | restarting.to(attempt)
    # validators run before the guards: a close without its reason and decision is misuse
    close = (
        restarting.from_(attempt, cond="restart_at_once", validators="close_arguments")
        | backing_off.from_(attempt, cond="reconnect_later", validators="close_arguments")
        | logged_out.from_(attempt, cond="stop_logged_out", validators="close_arguments")
        | replaced.from_(attempt, cond="stop_replaced", validators="close_arguments")
        | client_outdated.from_(attempt, cond="stop_outdated", validators="close_arguments")
        | qr_exhausted.from_(attempt, cond="stop_qr_exhausted", validators="close_arguments")
        | pairing_timeout.from_(attempt, cond="stop_pairing_timeout", validators="close_arguments")
        | stopped.from_(attempt, validators="close_arguments")
    )
    stop = (
        idle.to(stopped, validators="stop_arguments")
        | backing_off.to(stopped, validators="stop_arguments")
        | restarting.to(stopped, validators="stop_arguments")
    )

    def __init__(self, **kwargs: Any) -> None:
        self.changes: list[ConnectionChange] = []
        self.last_disconnect: Disconnect | None = None
        self._connection: Connection = "close"
        super().__init__(**kwargs)

    def close_arguments(
        self, disconnect: object = None, decision: object = None, **_: object
    ) -> None:
        if not isinstance(disconnect, Disconnect) or not isinstance(decision, Decision):
            raise LocalProtocolError("close needs disconnect=Disconnect and decision=Decision")

    def stop_arguments(self, disconnect: object = None, **_: object) -> None:
        # every change to "close" carries its reason, so stopping must say why
        if not isinstance(disconnect, Disconnect):
            raise LocalProtocolError("stop needs disconnect=Disconnect (e.g. LOCAL_CLOSE)")

    # guards: each names the route it takes, which is what the diagram shows
    def restart_at_once(self, disconnect: Disconnect, decision: Decision) -> bool:
        return close_target(disconnect, decision) == "restarting"

    def reconnect_later(self, disconnect: Disconnect, decision: Decision) -> bool:
        return close_target(disconnect, decision) == "backing_off"

    def stop_logged_out(self, disconnect: Disconnect, decision: Decision) -> bool:
        return close_target(disconnect, decision) == "logged_out"

    def stop_replaced(self, disconnect: Disconnect, decision: Decision) -> bool:
        return close_target(disconnect, decision) == "replaced"

    def stop_outdated(self, disconnect: Disconnect, decision: Decision) -> bool:
        return close_target(disconnect, decision) == "client_outdated"

    def stop_qr_exhausted(self, disconnect: Disconnect, decision: Decision) -> bool:
        return close_target(disconnect, decision) == "qr_exhausted"

    def stop_pairing_timeout(self, disconnect: Disconnect, decision: Decision) -> bool:
        return close_target(disconnect, decision) == "pairing_timeout"

    def after_transition(self, disconnect: Disconnect | None = None) -> None:
        if disconnect is not None:
            self.last_disconnect = disconnect
        connection = self.connection
        if connection != self._connection:
            self._connection = connection
            self.changes.append(
                ConnectionChange(connection=connection, state=self.state_id, disconnect=disconnect)
            )

    @property
    def state_id(self) -> str:
        """The id of the innermost active state (``"open"``, ``"backing_off"``, ...)."""
        ids = [state.id for state in self.configuration]
        return str(ids[-1])

    @property
    def connection(self) -> Connection:
        """Baileys' ``connection`` value of the current state."""
        return CONNECTION_OF_STATE[self.state_id]

    @property
    def attempt_alive(self) -> bool:
        """Whether a connection attempt (dialing ... open) is in progress."""
        return any(state.id == "attempt" for state in self.configuration)

    @property
    def finished(self) -> bool:
        """Whether a final state was reached: every further event raises."""
        return bool(self.is_terminated)

    def snapshot(self) -> MachineSnapshot:
        """Everything that tells this machine's lifecycle apart from another one's."""
        return MachineSnapshot(
            value=self.model.state,
            connection=self._connection,
            last_disconnect=self.last_disconnect,
        )

    def restore(self, snapshot: MachineSnapshot) -> None:
        """Continue from ``snapshot`` (taken from any machine of this class; no callback runs)."""
        self.model.state = snapshot.value
        self._connection = snapshot.connection
        self.last_disconnect = snapshot.last_disconnect
        self.changes = []

    def drain_changes(self) -> list[ConnectionChange]:
        """Return and forget the changes recorded since the last call."""
        changes, self.changes = self.changes, []
        return changes
