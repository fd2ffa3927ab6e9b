"""walink.fsm.policy: the default table, the presets and the pure-function contract."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.fsm.policy import (
    BAILEYS_STOP_REASONS,
    DEFAULT_STOP_REASONS,
    PolicyConfig,
    ReconnectHistory,
    ReconnectPolicy,
)
from walink.fsm.reasons import CloseReason, Disconnect


def close(reason: CloseReason, at: float, *, expire: float | None = None) -> Disconnect:
    return Disconnect(
        reason=reason,
        status=reason.status,
        message=reason.name,
        terminal=reason.terminal,
        at=at,
        expire=expire,
    )


def no_jitter(**overrides: float) -> ReconnectPolicy:
    return ReconnectPolicy(PolicyConfig(jitter=0.0, **overrides))  # type: ignore[arg-type]


def test_fibonacci_backoff_capped() -> None:
    policy = ReconnectPolicy()
    steps = [policy.backoff(n) for n in range(1, 21)]
    assert steps[:8] == [1, 1, 2, 3, 5, 8, 13, 21]
    assert max(steps) == 900.0
    assert steps[-1] == 900.0
    assert policy.backoff(0) == 0.0
    assert policy.backoff(10**9) == 900.0  # no overflow, no slow loop


def test_consecutive_failures_follow_the_table_without_jitter() -> None:
    policy = no_jitter()
    history = ReconnectHistory()
    delays = []
    for step in range(6):
        decision = policy.decide(
            close(CloseReason.NETWORK_ERROR, step * 1000.0), history, random.Random(0)
        )
        assert decision.reconnect and decision.counted and not decision.restart
        delays.append(decision.delay)
        history = decision.history
    assert delays == [1, 1, 2, 3, 5, 8]


@pytest.mark.parametrize(
    "reason",
    [
        CloseReason.NETWORK_ERROR,
        CloseReason.CONNECT_TIMEOUT,
        CloseReason.KEEPALIVE_TIMEOUT,
        CloseReason.SERVER_CLOSED,
        CloseReason.BAD_SESSION,
        CloseReason.SERVICE_UNAVAILABLE,
        CloseReason.STREAM_ERROR,
        CloseReason.SLOW_CONSUMER,
    ],
)
def test_transient_reasons_back_off(reason: CloseReason) -> None:
    decision = ReconnectPolicy().decide(close(reason, 0.0), ReconnectHistory(), random.Random(1))
    assert decision.reconnect and decision.counted and decision.failures == 1
    assert 0.9 <= decision.delay <= 1.1


@pytest.mark.parametrize("reason", [r for r in CloseReason if r in DEFAULT_STOP_REASONS])
def test_stop_reasons_never_reconnect(reason: CloseReason) -> None:
    decision = ReconnectPolicy().decide(close(reason, 0.0), ReconnectHistory(), random.Random(1))
    assert not decision.reconnect and decision.delay == 0.0
    assert reason.name in decision.explanation


def test_replaced_stops_by_default_but_is_not_terminal() -> None:
    assert not CloseReason.REPLACED.terminal
    assert CloseReason.REPLACED in DEFAULT_STOP_REASONS
    config = PolicyConfig(stop_reasons=DEFAULT_STOP_REASONS - {CloseReason.REPLACED})
    decision = ReconnectPolicy(config).decide(
        close(CloseReason.REPLACED, 0.0), ReconnectHistory(), random.Random(1)
    )
    assert decision.reconnect and decision.counted


def test_a_rejected_certificate_stops_by_default_and_retries_when_configured() -> None:
    # a server that cannot prove who it is must not be redialled ~96 times a day for ever
    assert not CloseReason.CERTIFICATE_REJECTED.terminal
    assert CloseReason.CERTIFICATE_REJECTED in DEFAULT_STOP_REASONS
    stop = ReconnectPolicy().decide(
        close(CloseReason.CERTIFICATE_REJECTED, 0.0), ReconnectHistory(), random.Random(1)
    )
    assert not stop.reconnect and "CERTIFICATE_REJECTED" in stop.explanation
    config = PolicyConfig(stop_reasons=DEFAULT_STOP_REASONS - {CloseReason.CERTIFICATE_REJECTED})
    retry = ReconnectPolicy(config).decide(
        close(CloseReason.CERTIFICATE_REJECTED, 0.0), ReconnectHistory(), random.Random(1)
    )
    assert retry.reconnect and retry.counted and retry.delay > 0


def test_an_internal_error_backs_off_like_a_failure() -> None:
    decision = ReconnectPolicy().decide(
        close(CloseReason.INTERNAL_ERROR, 0.0), ReconnectHistory(), random.Random(1)
    )
    assert decision.reconnect and decision.counted and decision.failures == 1


def test_restart_required_is_immediate_and_not_counted() -> None:
    policy = ReconnectPolicy()
    history = ReconnectHistory(failures=3)
    decision = policy.decide(close(CloseReason.RESTART_REQUIRED, 10.0), history, random.Random(1))
    assert decision.reconnect and decision.restart and decision.delay == 0.0
    assert not decision.counted and decision.failures == 3
    assert decision.history.recent_closes == (10.0,)  # the loop detector saw it


def test_repeated_restarts_turn_into_backoff() -> None:
    policy = no_jitter()
    history = ReconnectHistory()
    decisions = []
    for step in range(7):
        decision = policy.decide(
            close(CloseReason.RESTART_REQUIRED, step * 1.0), history, random.Random(0)
        )
        decisions.append(decision)
        history = decision.history
    assert [d.restart for d in decisions] == [True] * 4 + [False] * 3
    assert all(d.loop_detected for d in decisions[4:])
    assert [d.delay for d in decisions[4:]] == [1, 1, 2]
    assert "loop" in decisions[4].explanation


def test_closes_outside_the_loop_window_do_not_count_as_a_loop() -> None:
    policy = ReconnectPolicy()
    history = ReconnectHistory()
    for step in range(10):
        decision = policy.decide(
            close(CloseReason.RESTART_REQUIRED, step * 20.0), history, random.Random(0)
        )
        assert decision.restart, step
        history = decision.history


def test_counter_resets_only_after_a_stable_open() -> None:
    policy = no_jitter()
    history = ReconnectHistory(failures=5)
    # a brief open (10 s) keeps the budget
    brief = policy.decide(
        close(CloseReason.NETWORK_ERROR, 110.0), policy.opened(history, at=100.0), random.Random()
    )
    assert brief.failures == 6 and brief.delay == 8.0
    # 30 s open resets it: this close is the first failure of a fresh budget
    stable = policy.decide(
        close(CloseReason.NETWORK_ERROR, 1130.0),
        policy.opened(brief.history, at=1100.0),
        random.Random(),
    )
    assert stable.failures == 1 and stable.delay == 1.0
    assert stable.history.opened_at is None
    assert policy.is_stable(policy.opened(ReconnectHistory(), at=0.0), now=30.0)
    assert not policy.is_stable(policy.opened(ReconnectHistory(), at=0.0), now=29.9)
    assert not policy.is_stable(ReconnectHistory(), now=1e9)


def test_temp_ban_waits_for_its_expire_bounded_by_its_own_maximum() -> None:
    policy = ReconnectPolicy()
    rng = random.Random(3)
    timed = policy.decide(
        close(CloseReason.TEMP_BANNED, 0.0, expire=7200.0), ReconnectHistory(), rng
    )
    assert timed.reconnect and timed.delay == 7200.0  # above the 900 s backoff cap
    default = policy.decide(close(CloseReason.TEMP_BANNED, 0.0), ReconnectHistory(), rng)
    assert default.delay == policy.config.temp_ban_default
    huge = policy.decide(close(CloseReason.TEMP_BANNED, 0.0, expire=1e12), ReconnectHistory(), rng)
    assert huge.delay == policy.config.temp_ban_max == 172800.0
    # an expire of zero cannot make a loop: the backoff still applies
    zero = policy.decide(close(CloseReason.TEMP_BANNED, 0.0, expire=0.0), ReconnectHistory(), rng)
    assert zero.delay > 0


def test_rate_limit_penalty_doubles_is_bounded_and_survives_a_reset() -> None:
    policy = no_jitter()
    history = ReconnectHistory()
    delays = []
    for step in range(8):
        decision = policy.decide(
            close(CloseReason.RATE_LIMITED, step * 10_000.0), history, random.Random()
        )
        delays.append(decision.delay)
        history = policy.opened(decision.history, at=step * 10_000.0 + 1)
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    # a stable open reset the failure counter above, not the penalty level
    assert history.failures == 1 and history.rate_limit_level == 8
    # another reason is not penalised
    other = policy.decide(close(CloseReason.NETWORK_ERROR, 80_000.0), history, random.Random())
    assert other.delay == 1.0 and other.history.rate_limit_level == 8
    # after rate_limit_forget without a 429 the level is forgotten
    later = policy.decide(
        close(CloseReason.RATE_LIMITED, 80_000.0 + 21_600.0), other.history, random.Random()
    )
    assert later.delay == 60.0 and later.history.rate_limit_level == 1


def test_baileys_preset_reconnects_on_everything_but_logged_out() -> None:
    config = PolicyConfig.baileys_compatible()
    policy = ReconnectPolicy(config)
    assert config.stop_reasons == BAILEYS_STOP_REASONS
    for reason in CloseReason:
        decision = policy.decide(close(reason, 0.0), ReconnectHistory(), random.Random(0))
        expect_stop = reason.status == 401 or reason in (
            CloseReason.LOCAL_CLOSE,
            CloseReason.STORE_ERROR,
            CloseReason.PROXY_ERROR,
            CloseReason.LEASE_LOST,
        )
        assert decision.reconnect is not expect_stop, reason
    assert PolicyConfig.baileys_compatible(backoff_cap=5.0).backoff_cap == 5.0


def test_every_value_is_overridable() -> None:
    config = PolicyConfig(backoff_unit=0.5, backoff_cap=3.0, jitter=0.0, loop_max_closes=2)
    policy = ReconnectPolicy(config)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 0.5, 1.0, 1.5, 2.5, 3.0]
    first = policy.decide(
        close(CloseReason.RESTART_REQUIRED, 0.0), ReconnectHistory(), random.Random()
    )
    second = policy.decide(close(CloseReason.RESTART_REQUIRED, 1.0), first.history, random.Random())
    assert first.restart and not second.restart


@given(
    seed=st.integers(0, 2**32),
    reasons=st.lists(st.sampled_from(list(CloseReason)), max_size=30),
    gaps=st.lists(st.floats(0, 100), min_size=30, max_size=30),
)
def test_same_seed_same_decisions(seed: int, reasons: list[CloseReason], gaps: list[float]) -> None:
    def run() -> list[tuple[bool, float, bool]]:
        policy, rng, history, now, out = (
            ReconnectPolicy(),
            random.Random(seed),
            ReconnectHistory(),
            0.0,
            [],
        )
        for reason, gap in zip(reasons, gaps, strict=False):
            now += gap
            decision = policy.decide(close(reason, now), history, rng)
            out.append((decision.reconnect, decision.delay, decision.restart))
            history = decision.history
        return out

    assert run() == run()
