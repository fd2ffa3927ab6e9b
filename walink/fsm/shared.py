"""``SharedMachine``: one session's lifecycle, run on a ``ConnectionMachine`` it borrows.

Theory of operation
-------------------
A python-statemachine instance binds every callback of the class to itself: about 90 KiB per
``ConnectionMachine``, the largest part of an idle session, and building one takes milliseconds.
Nothing in it differs between sessions but the active state and the two values the machine
records (the user-visible ``connection`` and the last disconnect): a ``MachineSnapshot``.

So a session keeps only its snapshot, and each event it fires runs on a machine shared by every
session of the thread: the machine is restored from the snapshot (the model's state field, no
callback runs), takes the event with the class's own guards and validators, and its new
snapshot goes back to the session. The lifecycle rules stay in ``ConnectionMachine`` alone.

A machine that raised mid-event is dropped and the thread's next event builds a new one. One
that reached a final state (python-statemachine's engine stops there and refuses every further
event) is set running again once its snapshot is taken: building a machine takes milliseconds,
and a fleet that closes a thousand sessions at once would otherwise spend seconds of its close
bound building a machine per finished lifecycle. Should the library ever stop exposing that
flag, such a machine is dropped as one that raised.
"""

from __future__ import annotations

import threading
from typing import Any

from walink.fsm.machine import (
    CONNECTION_OF_STATE,
    Connection,
    ConnectionChange,
    ConnectionMachine,
    MachineSnapshot,
)
from walink.fsm.reasons import Disconnect

__all__ = ["SharedMachine"]

_FINAL_STATES = frozenset(state.id for state in ConnectionMachine.final_states)
_INITIAL = MachineSnapshot(
    value=ConnectionMachine.initial_state.value if ConnectionMachine.initial_state else "idle",
    connection="close",
    last_disconnect=None,
)


def _run_again(machine: ConnectionMachine) -> bool:
    """Let a machine that reached a final state take events again; False if it cannot.

    Its state is whatever the next ``restore`` sets; only the engine's stop is undone (the
    library keeps it in its engine's ``running`` flag, and has no public way to reset it).
    """
    engine = getattr(machine, "_engine", None)
    if engine is None or getattr(engine, "running", None) is not False:
        return False
    engine.running = True
    return not machine.finished


class _Spare(threading.local):
    machine: ConnectionMachine | None = None


_spare = _Spare()


class SharedMachine:
    """The ``ConnectionMachine`` surface a session uses, holding only a ``MachineSnapshot``."""

    __slots__ = ("_attempt_alive", "_snapshot", "_state_id", "changes")

    def __init__(self) -> None:
        self._snapshot = _INITIAL
        self._state_id = str(_INITIAL.value)
        self._attempt_alive = False
        self.changes: list[ConnectionChange] = []

    # -- what the session reads ------------------------------------------------------------------

    @property
    def state_id(self) -> str:
        """The id of the innermost active state (``"open"``, ``"backing_off"``, ...)."""
        return self._state_id

    @property
    def connection(self) -> Connection:
        return CONNECTION_OF_STATE[self._state_id]

    @property
    def last_disconnect(self) -> Disconnect | None:
        return self._snapshot.last_disconnect

    @property
    def finished(self) -> bool:
        """Whether a final state was reached: every further event raises."""
        return self._state_id in _FINAL_STATES

    @property
    def attempt_alive(self) -> bool:
        return self._attempt_alive

    def drain_changes(self) -> list[ConnectionChange]:
        changes, self.changes = self.changes, []
        return changes

    # -- events ----------------------------------------------------------------------------------

    def send(self, event: str, **kwargs: Any) -> None:
        """Fire ``event`` (``TransitionNotAllowed`` and validator errors propagate)."""
        machine = _spare.machine
        if machine is None:
            machine = ConnectionMachine()
        # borrowed: if the event raises, the machine may be half-way and is not given back
        _spare.machine = None
        machine.restore(self._snapshot)
        machine.send(event, **kwargs)
        self._snapshot = machine.snapshot()
        self._state_id = machine.state_id
        self._attempt_alive = machine.attempt_alive
        self.changes.extend(machine.drain_changes())
        if not machine.finished or _run_again(machine):
            _spare.machine = machine

    def dial(self) -> None:
        self.send("dial")

    def close(self, *, disconnect: Disconnect, decision: object) -> None:
        self.send("close", disconnect=disconnect, decision=decision)

    def stop(self, *, disconnect: Disconnect) -> None:
        self.send("stop", disconnect=disconnect)
