"""walink.fsm.shared: lifecycles on one borrowed machine behave like machines of their own."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fsm.test_machine import CLOSE_ROUTES, EVENTS, disconnect_of
from walink.fsm.machine import ConnectionMachine
from walink.fsm.reasons import CloseReason
from walink.fsm.shared import SharedMachine

# (which of the lifecycles, event, close route)
steps = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(EVENTS),
        st.integers(0, len(CLOSE_ROUTES) - 1),
    ),
    max_size=40,
)


def _fire(machine: Any, event: str, route: int) -> str:
    """Send one event; the outcome as text (the exception's type when it raised)."""
    try:
        if event == "close":
            reason, decision, _ = CLOSE_ROUTES[route]
            machine.send("close", disconnect=disconnect_of(reason), decision=decision)
        elif event == "stop":
            machine.send("stop", disconnect=disconnect_of(CloseReason.LOCAL_CLOSE))
        else:
            machine.send(event)
    except Exception as error:
        return type(error).__name__
    return "ok"


def _view(machine: Any) -> tuple[object, ...]:
    return (
        machine.state_id,
        machine.connection,
        machine.finished,
        machine.attempt_alive,
        machine.last_disconnect,
        tuple(machine.drain_changes()),
    )


@settings(max_examples=100)
@given(steps=steps)
def test_interleaved_lifecycles_match_machines_of_their_own(
    steps: list[tuple[int, str, int]],
) -> None:
    own = [ConnectionMachine() for _ in range(3)]
    shared = [SharedMachine() for _ in range(3)]
    for which, event, route in steps:
        expected = _fire(own[which], event, route)
        assert _fire(shared[which], event, route) == expected, (which, event)
        for mine, theirs in zip(own, shared, strict=True):
            assert _view(theirs) == _view(mine)


def test_a_lifecycle_is_a_few_hundred_bytes_not_a_machine() -> None:
    SharedMachine().dial()  # the thread's machine exists before measuring
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        many = [SharedMachine() for _ in range(50)]
        for machine in many:
            machine.dial()
            machine.send("transport_open")
            machine.send("authenticate")
            machine.send("login_success")
        gc.collect()
        each = (tracemalloc.get_traced_memory()[0] - before) / len(many)
    finally:
        tracemalloc.stop()
    assert all(machine.state_id == "open" for machine in many)
    assert each < 2048, each
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        machines = [ConnectionMachine() for _ in range(5)]
        gc.collect()
        own = (tracemalloc.get_traced_memory()[0] - before) / len(machines)
    finally:
        tracemalloc.stop()
    assert own > 20 * each  # what this module saves per session


def test_threads_each_borrow_their_own_machine() -> None:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(10):
                machine = SharedMachine()
                for event in ("dial", "transport_open", "authenticate", "login_success"):
                    machine.send(event)
                assert machine.state_id == "open"
                machine.close(
                    disconnect=disconnect_of(CloseReason.LOCAL_CLOSE),
                    decision=CLOSE_ROUTES[-2][1],
                )
                assert machine.finished and machine.state_id == "stopped"
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_finished_lifecycle_leaves_the_machine_to_the_next_one() -> None:
    # building a machine takes milliseconds: a thousand sessions closing together must not
    # build one each
    from walink.fsm import shared

    first = SharedMachine()
    first.dial()
    machine = shared._spare.machine
    assert machine is not None
    for event in ("transport_open", "authenticate", "login_success"):
        first.send(event)
    first.close(disconnect=disconnect_of(CloseReason.LOCAL_CLOSE), decision=CLOSE_ROUTES[-2][1])
    assert first.finished and shared._spare.machine is machine
    second = SharedMachine()
    second.dial()
    assert second.state_id == "dialing" and not second.finished
    assert shared._spare.machine is machine
    # and the finished lifecycle still refuses every event, as a machine of its own does
    own = ConnectionMachine()
    own.send("stop", disconnect=disconnect_of(CloseReason.LOCAL_CLOSE))
    assert own.finished
    assert _fire(first, "dial", 0) == _fire(own, "dial", 0) == "TransitionNotAllowed"
