"""walink.fsm.machine: the declared lifecycle, walked pair by pair and driven at random with the
reconnection policy (a Hypothesis RuleBasedStateMachine checking the lifecycle invariants)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from statemachine.exceptions import TransitionNotAllowed

from walink.fsm.machine import CONNECTION_OF_STATE, ConnectionMachine, close_target
from walink.fsm.policy import (
    DEFAULT_STOP_REASONS,
    Decision,
    PolicyConfig,
    ReconnectHistory,
    ReconnectPolicy,
)
from walink.fsm.reasons import CloseReason, Disconnect
from walink.protocol.errors import LocalProtocolError

LIVE = (
    "dialing",
    "handshaking",
    "awaiting_qr",
    "awaiting_pairing_code",
    "paired",
    "authenticating",
    "open",
)
FINAL = ("logged_out", "replaced", "client_outdated", "qr_exhausted", "pairing_timeout", "stopped")
OUTSIDE = ("idle", "backing_off", "restarting")
LEAF_STATES = (*OUTSIDE[:1], *LIVE, *OUTSIDE[1:], *FINAL)
CLOSE = "<close>"  # the target of `close` depends on its arguments: see close_target

# The specification, written independently of the class body: (state, event) -> target.
# Every pair not listed must raise.
DECLARED: dict[tuple[str, str], str] = {
    ("idle", "dial"): "dialing",
    ("backing_off", "dial"): "dialing",
    ("restarting", "dial"): "dialing",
    ("dialing", "transport_open"): "handshaking",
    ("handshaking", "await_qr"): "awaiting_qr",
    ("handshaking", "await_pairing_code"): "awaiting_pairing_code",
    ("awaiting_qr", "await_pairing_code"): "awaiting_pairing_code",
    ("awaiting_qr", "pair_success"): "paired",
    ("awaiting_pairing_code", "pair_success"): "paired",
    ("handshaking", "authenticate"): "authenticating",
    ("authenticating", "login_success"): "open",
    **{(state, "close"): CLOSE for state in LIVE},
    **{(state, "stop"): "stopped" for state in OUTSIDE},
}
EVENTS = (
    "dial",
    "transport_open",
    "await_qr",
    "await_pairing_code",
    "pair_success",
    "authenticate",
    "login_success",
    "close",
    "stop",
)
PROGRESS = EVENTS[1:7]
# closes that keep the lifecycle going get drawn more often, or runs end at the first stop
FREQUENT_REASONS = [
    CloseReason.RESTART_REQUIRED,
    CloseReason.NETWORK_ERROR,
    CloseReason.KEEPALIVE_TIMEOUT,
    CloseReason.TEMP_BANNED,
    CloseReason.RATE_LIMITED,
]
close_reasons = st.one_of(st.sampled_from(FREQUENT_REASONS), st.sampled_from(list(CloseReason)))
expires = st.none() | st.floats(0, 10**7, allow_nan=False)


def disconnect_of(reason: CloseReason, at: float = 0.0, expire: float | None = None) -> Disconnect:
    return Disconnect(
        reason=reason,
        status=reason.status,
        message=reason.name,
        terminal=reason.terminal,
        at=at,
        expire=expire,
    )


def decision_of(*, reconnect: bool, restart: bool = False) -> Decision:
    return Decision(
        reconnect=reconnect,
        delay=0.0 if restart or not reconnect else 1.0,
        restart=restart,
        nominal_delay=0.0,
        counted=reconnect and not restart,
        failures=0,
        loop_detected=False,
        explanation="test",
        history=ReconnectHistory(),
    )


# one (disconnect, decision) per route out of the attempt, and the state each must reach
CLOSE_ROUTES: list[tuple[CloseReason, Decision, str]] = [
    (CloseReason.RESTART_REQUIRED, decision_of(reconnect=True, restart=True), "restarting"),
    (CloseReason.RESTART_REQUIRED, decision_of(reconnect=True), "backing_off"),
    (CloseReason.NETWORK_ERROR, decision_of(reconnect=True), "backing_off"),
    (CloseReason.CLIENT_OUTDATED, decision_of(reconnect=True), "backing_off"),
    (CloseReason.LOGGED_OUT, decision_of(reconnect=False), "logged_out"),
    (CloseReason.FORBIDDEN, decision_of(reconnect=False), "logged_out"),
    (CloseReason.BANNED, decision_of(reconnect=False), "logged_out"),
    (CloseReason.LOCAL_LOGOUT, decision_of(reconnect=False), "logged_out"),
    (CloseReason.REPLACED, decision_of(reconnect=False), "replaced"),
    (CloseReason.CLIENT_OUTDATED, decision_of(reconnect=False), "client_outdated"),
    (CloseReason.BAD_USER_AGENT, decision_of(reconnect=False), "client_outdated"),
    (CloseReason.MULTIDEVICE_MISMATCH, decision_of(reconnect=False), "client_outdated"),
    (CloseReason.QR_EXHAUSTED, decision_of(reconnect=False), "qr_exhausted"),
    (CloseReason.PAIRING_TIMEOUT, decision_of(reconnect=False), "pairing_timeout"),
    (CloseReason.LOCAL_CLOSE, decision_of(reconnect=False), "stopped"),
    (CloseReason.NETWORK_ERROR, decision_of(reconnect=False), "stopped"),
]

PATHS: dict[str, list[str]] = {
    "idle": [],
    "dialing": ["dial"],
    "handshaking": ["dial", "transport_open"],
    "awaiting_qr": ["dial", "transport_open", "await_qr"],
    "awaiting_pairing_code": ["dial", "transport_open", "await_pairing_code"],
    "paired": ["dial", "transport_open", "await_qr", "pair_success"],
    "authenticating": ["dial", "transport_open", "authenticate"],
    "open": ["dial", "transport_open", "authenticate", "login_success"],
}


def send(machine: ConnectionMachine, event: str, route: int = 2) -> None:
    if event == "close":
        reason, decision, _ = CLOSE_ROUTES[route]
        machine.send("close", disconnect=disconnect_of(reason), decision=decision)
    elif event == "stop":
        machine.send("stop", disconnect=disconnect_of(CloseReason.LOCAL_CLOSE))
    else:
        machine.send(event)


def reach(state: str) -> ConnectionMachine:
    machine = ConnectionMachine()
    if state in PATHS:
        for event in PATHS[state]:
            send(machine, event)
    elif state in ("backing_off", "restarting"):
        send(machine, "dial")
        send(machine, "close", route=0 if state == "restarting" else 2)
    elif state == "stopped":
        send(machine, "stop")
    else:
        route = next(i for i, (_, _, target) in enumerate(CLOSE_ROUTES) if target == state)
        send(machine, "dial")
        send(machine, "close", route=route)
    assert machine.state_id == state
    return machine


def test_the_specification_covers_the_declared_events_and_states() -> None:
    assert {event.id for event in ConnectionMachine().events} == set(EVENTS)
    assert set(ConnectionMachine.states_map) == {*LEAF_STATES, "attempt"}
    assert set(CONNECTION_OF_STATE) == set(ConnectionMachine.states_map)
    finals = {state.id for state in ConnectionMachine.states_map.values() if state.final}
    assert finals == set(FINAL)


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("state", LEAF_STATES)
def test_every_state_event_pair_transitions_as_declared_or_raises(state: str, event: str) -> None:
    declared = DECLARED.get((state, event))
    if declared == CLOSE:
        for route, (reason, decision, target) in enumerate(CLOSE_ROUTES):
            machine = reach(state)
            send(machine, event, route)
            assert machine.state_id == target, (state, reason, decision)
            assert target == close_target(disconnect_of(reason), decision)
        return
    machine = reach(state)
    if declared is None:
        with pytest.raises(TransitionNotAllowed):
            send(machine, event)
        assert machine.state_id == state  # a refused event changes nothing
    else:
        send(machine, event)
        assert machine.state_id == declared


def test_only_idle_backing_off_and_restarting_lead_into_dialing() -> None:
    sources = set()
    for state in ConnectionMachine.states_map.values():
        for transition in state.transitions:
            if transition.initial:
                continue  # entering `attempt` enters its initial child, dialing
            if any(target.id in ("attempt", "dialing") for target in transition.targets):
                sources.add(transition.source.id)
    assert sources == set(OUTSIDE)


def test_connection_values_and_changes_along_a_pairing_then_login() -> None:
    machine = ConnectionMachine()
    assert (machine.connection, machine.drain_changes()) == ("close", [])
    for event in ("dial", "transport_open", "await_qr", "pair_success"):
        send(machine, event)
    restart = disconnect_of(CloseReason.RESTART_REQUIRED)
    machine.close(disconnect=restart, decision=decision_of(reconnect=True, restart=True))
    assert (machine.connection, machine.state_id) == ("connecting", "restarting")
    for event in ("dial", "transport_open", "authenticate", "login_success"):
        send(machine, event)
    # the 515 after pairing is not a close: connecting, then open, nothing else
    assert [(c.connection, c.disconnect) for c in machine.drain_changes()] == [
        ("connecting", None),
        ("open", None),
    ]
    lost = disconnect_of(CloseReason.KEEPALIVE_TIMEOUT)
    machine.close(disconnect=lost, decision=decision_of(reconnect=True))
    (change,) = machine.drain_changes()
    assert (change.connection, change.state, change.disconnect) == ("close", "backing_off", lost)
    assert machine.last_disconnect is lost


def test_stopping_while_restarting_is_one_close() -> None:
    machine = reach("restarting")
    machine.drain_changes()
    local = disconnect_of(CloseReason.LOCAL_CLOSE)
    machine.stop(disconnect=local)
    assert [(c.connection, c.disconnect) for c in machine.drain_changes()] == [("close", local)]
    assert machine.finished


class LifecycleWithPolicy(RuleBasedStateMachine):
    """A session-like driver: the machine and the policy together, fed random events."""

    config = PolicyConfig()

    def __init__(self) -> None:
        super().__init__()
        self.machine = ConnectionMachine()
        self.policy = ReconnectPolicy(self.config)
        self.history = ReconnectHistory()
        self.now = 0.0
        self.seed = 0
        self.rng = random.Random(0)
        self.calls: list[tuple[Disconnect, ReconnectHistory, Decision]] = []
        self.last_regular_nominal = 0.0
        self.close_times: list[float] = []  # closes since the last stable open

    @initialize(seed=st.integers(0, 2**32 - 1))
    def seed_rng(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    @rule(seconds=st.floats(0, 120, allow_nan=False))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule(event=st.sampled_from(PROGRESS))
    def progress(self, event: str) -> None:
        declared = DECLARED.get((self.machine.state_id, event))
        if declared is None:
            self.assert_refused(event)
            return
        self.machine.send(event)
        assert self.machine.state_id == declared
        if declared == "open":
            self.history = self.policy.opened(self.history, at=self.now)

    @rule()
    def dial(self) -> None:
        if self.machine.state_id in OUTSIDE:
            self.machine.dial()
            assert self.machine.state_id == "dialing"
        else:
            # at most one attempt alive: a second dial is refused, never a second connection
            self.assert_refused("dial")

    @precondition(lambda self: self.machine.state_id in OUTSIDE)
    @rule(
        goal=st.sampled_from(LIVE),
        lasted=st.floats(0, 60, allow_nan=False),
        reason=close_reasons,
        expire=expires,
    )
    def whole_attempt(
        self, goal: str, lasted: float, reason: CloseReason, expire: float | None
    ) -> None:
        """Dial, get as far as ``goal``, stay ``lasted`` seconds, close: one full attempt."""
        self.dial()
        path = PATHS[goal]
        for event in path[1:]:
            self.progress(event)
        self.time_passes(lasted)
        self.close(reason, expire)

    @precondition(lambda self: self.machine.state_id in OUTSIDE)
    @rule(count=st.integers(1, 8), gap=st.floats(0, 20, allow_nan=False))
    def restart_storm(self, count: int, gap: float) -> None:
        """The server answers every attempt with 515: it must end in backoff, never spin."""
        for _ in range(count):
            if self.machine.state_id not in OUTSIDE:
                return
            self.whole_attempt("paired", gap, CloseReason.RESTART_REQUIRED, None)

    @rule(reason=close_reasons, expire=expires)
    def close(self, reason: CloseReason, expire: float | None) -> None:
        disconnect = disconnect_of(reason, self.now, expire)
        if not self.machine.attempt_alive:
            self.assert_refused(
                "close", disconnect=disconnect, decision=decision_of(reconnect=True)
            )
            return
        before = self.history
        was_stable = self.policy.is_stable(before, now=self.now)
        connection_before = self.machine.connection
        self.machine.drain_changes()
        decision = self.policy.decide(disconnect, before, self.rng)
        self.calls.append((disconnect, before, decision))
        self.history = decision.history
        self.machine.close(disconnect=disconnect, decision=decision)
        self.check_decision(disconnect, before, was_stable, decision)
        self.check_close_changes(disconnect, decision, connection_before)

    @rule()
    def stop(self) -> None:
        local = disconnect_of(CloseReason.LOCAL_CLOSE, self.now)
        if self.machine.state_id in OUTSIDE:
            self.machine.stop(disconnect=local)
            assert self.machine.state_id == "stopped"
        else:
            self.assert_refused("stop", disconnect=local)

    @precondition(lambda self: self.machine.finished)
    @rule(event=st.sampled_from(EVENTS))
    def final_states_refuse_everything(self, event: str) -> None:
        self.assert_refused(
            event,
            disconnect=disconnect_of(CloseReason.NETWORK_ERROR, self.now),
            decision=decision_of(reconnect=True),
        )

    def assert_refused(self, event: str, **kwargs: Any) -> None:
        state = self.machine.state_id
        changes = list(self.machine.changes)
        with pytest.raises(TransitionNotAllowed):
            self.machine.send(event, **kwargs)
        assert self.machine.state_id == state
        assert self.machine.changes == changes

    def check_decision(
        self, disconnect: Disconnect, before: ReconnectHistory, was_stable: bool, decision: Decision
    ) -> None:
        config = self.config
        reason = disconnect.reason
        if reason in config.stop_reasons:
            assert not decision.reconnect
        if config.stop_reasons == DEFAULT_STOP_REASONS and disconnect.terminal:
            assert not decision.reconnect  # no reconnect ever follows a terminal reason
        if decision.reconnect:
            assert self.machine.state_id in ("restarting", "backing_off")
        else:
            assert self.machine.finished

        if decision.restart:
            # 515: immediate, never counted
            assert reason is CloseReason.RESTART_REQUIRED
            assert decision.delay == 0.0 and not decision.counted
            expected = 0 if was_stable else before.failures
            assert decision.failures == expected
        elif reason is CloseReason.RESTART_REQUIRED and decision.reconnect:
            assert decision.loop_detected and decision.counted
        # 515 cannot loop: N closes within the window never end in an immediate restart
        if was_stable:
            self.close_times = []
        self.close_times.append(disconnect.at)
        in_window = [t for t in self.close_times if disconnect.at - t < config.loop_window]
        if len(in_window) >= config.loop_max_closes:
            assert not decision.restart and decision.loop_detected

        if reason not in (CloseReason.TEMP_BANNED, CloseReason.RATE_LIMITED):
            assert 0.0 <= decision.delay <= config.backoff_cap * (1 + config.jitter)
        else:
            bound = config.temp_ban_max if reason is CloseReason.TEMP_BANNED else 0.0
            bound = max(bound, config.rate_limit_max, config.backoff_cap * (1 + config.jitter))
            assert 0.0 <= decision.delay <= bound

        # the counter resets only after a stable open
        if decision.failures < before.failures + int(decision.counted):
            assert was_stable
        if decision.counted:
            assert decision.failures == (0 if was_stable else before.failures) + 1
            if was_stable or before.failures == 0:
                self.last_regular_nominal = 0.0
            if reason not in (CloseReason.TEMP_BANNED, CloseReason.RATE_LIMITED):
                # consecutive failures never decrease, except by jitter
                assert decision.nominal_delay >= self.last_regular_nominal
                low, high = 1 - config.jitter, 1 + config.jitter
                assert low * decision.nominal_delay <= decision.delay + 1e-9
                assert decision.delay <= high * decision.nominal_delay + 1e-9
                self.last_regular_nominal = decision.nominal_delay
            else:
                self.last_regular_nominal = max(
                    self.last_regular_nominal, self.policy.backoff(decision.failures)
                )
        elif was_stable:
            self.last_regular_nominal = 0.0

    def check_close_changes(
        self, disconnect: Disconnect, decision: Decision, connection_before: str
    ) -> None:
        changes = self.machine.drain_changes()
        closes = [change for change in changes if change.connection == "close"]
        if decision.restart:
            assert closes == []
            expected_changes = 1 if connection_before == "open" else 0
            assert len(changes) == expected_changes
        else:
            # every close produces exactly one close event carrying its reason
            assert len(changes) == len(closes) == 1
            assert closes[0].disconnect is disconnect

    @invariant()
    def at_most_one_attempt_and_consistent_connection(self) -> None:
        state = self.machine.state_id
        assert self.machine.attempt_alive == (state in LIVE)
        assert self.machine.connection == CONNECTION_OF_STATE[state]
        assert self.machine.finished == (state in FINAL)

    def teardown(self) -> None:
        # the same seed gives the same decisions
        rng = random.Random(self.seed)
        for disconnect, history, decision in self.calls:
            assert self.policy.decide(disconnect, history, rng) == decision


class LifecycleWithBaileysPolicy(LifecycleWithPolicy):
    config = PolicyConfig.baileys_compatible()


TestLifecycleDefaultPolicy = LifecycleWithPolicy.TestCase
TestLifecycleDefaultPolicy.settings = settings(stateful_step_count=40)
TestLifecycleBaileysPolicy = LifecycleWithBaileysPolicy.TestCase
TestLifecycleBaileysPolicy.settings = settings(stateful_step_count=40)


def test_close_and_stop_without_their_arguments_are_caller_misuse() -> None:
    machine = reach("open")
    with pytest.raises(LocalProtocolError):
        machine.close()
    with pytest.raises(LocalProtocolError):
        machine.close(disconnect=disconnect_of(CloseReason.NETWORK_ERROR), decision="later")
    idle = ConnectionMachine()
    with pytest.raises(LocalProtocolError):
        idle.stop()
    assert (machine.state_id, idle.state_id) == ("open", "idle")
    assert machine.drain_changes()[-1].connection == "open"
