"""The reconnection policy: ``(disconnect, history, rng) -> Decision``, a pure function.

Theory of operation
-------------------
The policy never sleeps, reads a clock or touches a global random source. The caller (the
session) passes the :class:`~walink.fsm.reasons.Disconnect` (whose ``at`` is "now"), the
:class:`ReconnectHistory` returned by the previous call, and a ``random.Random``; it gets back a
:class:`Decision` that carries the next ``ReconnectHistory``. The same inputs and seed give the same
decisions, which is what lets Hypothesis check the invariants below over any event sequence.

Default table (docs/protocol/architecture.md#reasons-and-policy):

- a stop reason (every terminal reason, ``REPLACED`` and ``CERTIFICATE_REJECTED``) stops: never
  a reconnect;
- ``RESTART_REQUIRED`` (515) reconnects at once, is not counted as a failure, and is shown as
  ``"connecting"`` rather than a close; the loop detector still counts it;
- every other close counts as a failure and waits a Fibonacci backoff (1, 1, 2, 3, 5, 8 ... s),
  capped at ``backoff_cap`` (900 s), with +-``jitter`` (10 %) applied after the cap, so every
  such delay lies in ``[0, cap * (1 + jitter)]``;
- ``TEMP_BANNED`` (402) waits at least its ``expire`` (a duration in seconds), or
  ``temp_ban_default`` when the server gave none, never more than ``temp_ban_max`` (48 h);
- ``RATE_LIMITED`` (429) waits at least a penalty that doubles with every 429
  (``rate_limit_base`` 60 s, at most ``rate_limit_max`` 1 h); the penalty level survives a counter
  reset and is forgotten only after ``rate_limit_forget`` (6 h) without a 429;
- the failure counter resets only when the connection that just closed had stayed open for
  ``stable_open`` (30 s): a brief open must not reset the budget, or flapping links and 440
  loops would retry at full speed forever;
- the loop detector: ``loop_max_closes`` closes (515 included) within ``loop_window`` seconds turn
  the next close into a counted failure with backoff, so no server behaviour can make walink spin.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from walink.fsm.reasons import CloseReason, Disconnect

__all__ = [
    "DEFAULT_STOP_REASONS",
    "Decision",
    "PolicyConfig",
    "ReconnectHistory",
    "ReconnectPolicy",
]

DEFAULT_STOP_REASONS: frozenset[CloseReason] = frozenset(
    {reason for reason in CloseReason if reason.terminal}
    | {CloseReason.REPLACED, CloseReason.CERTIFICATE_REJECTED}
)
"""Terminal reasons, plus ``REPLACED`` (another process holds this session) and
``CERTIFICATE_REJECTED`` (the server could not prove who it is: retrying would only repeat it;
``PolicyConfig(stop_reasons=DEFAULT_STOP_REASONS - {CloseReason.CERTIFICATE_REJECTED})``
retries it with backoff instead)."""

# Baileys apps reconnect unless the status is 401 (loggedOut); a close the application itself
# asked for must still stop, or `close()` would never end anything, and so must a store that
# cannot save credentials (reconnecting would lose whatever the next pairing or key upload saves),
# and a proxy that refuses the settings (Baileys leaves proxies to an agent the app brings, so
# there is no behaviour to match; retrying refused credentials for ever only gets them locked),
# and so must a device whose lease another process now holds (reconnecting is the 440 loop).
BAILEYS_STOP_REASONS: frozenset[CloseReason] = frozenset(
    {reason for reason in CloseReason if reason.status == 401}
    | {
        CloseReason.LOCAL_CLOSE,
        CloseReason.STORE_ERROR,
        CloseReason.PROXY_ERROR,
        CloseReason.LEASE_LOST,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyConfig:
    """Every number and rule of the policy; all overridable (``PolicyConfig(backoff_cap=60)``)."""

    backoff_unit: float = 1.0
    """Seconds per Fibonacci step: the n-th consecutive failure waits ``fib(n) * unit``."""
    backoff_cap: float = 900.0
    """Upper bound of the backoff before jitter."""
    jitter: float = 0.10
    """Relative jitter, uniform in ``[-jitter, +jitter]``, applied after the cap."""
    stable_open: float = 30.0
    """Seconds a connection must stay open before its close resets the failure counter."""
    loop_window: float = 60.0
    """The loop detector's window, in seconds."""
    loop_max_closes: int = 5
    """That many closes (515 included) inside the window make the close a counted failure."""
    stop_reasons: frozenset[CloseReason] = DEFAULT_STOP_REASONS
    """Reasons that end the lifecycle instead of reconnecting."""
    temp_ban_default: float = 3600.0
    """Wait for a 402 that carries no ``expire``."""
    temp_ban_max: float = 172800.0
    """Longest wait a 402 can impose (48 h), whatever its ``expire`` says."""
    rate_limit_base: float = 60.0
    """Penalty of the first 429; each further 429 doubles it."""
    rate_limit_max: float = 3600.0
    """Largest 429 penalty."""
    rate_limit_forget: float = 21600.0
    """Seconds without a 429 after which the penalty level drops back to zero."""

    @classmethod
    def baileys_compatible(cls, **overrides: Any) -> PolicyConfig:
        """Baileys' example app behaviour: reconnect on everything except loggedOut (401).

        Unlike the default this reconnects on 440, 403, 405, 406, 411 and after the QR refs run
        out (it still stops on a local close, a store that cannot save and a proxy that refuses
        the settings); the backoff, the loop detector and the 402/429 bounds still apply. Opt in
        knowingly.
        """
        return cls(**{"stop_reasons": BAILEYS_STOP_REASONS, **overrides})


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectHistory:
    """What the policy remembers between closes. Start with ``ReconnectHistory()``; immutable."""

    failures: int = 0
    """Consecutive counted failures since the last stable open."""
    opened_at: float | None = None
    """When the current connection opened (set by ``ReconnectPolicy.opened``), else None."""
    recent_closes: tuple[float, ...] = ()
    """Times of the latest closes inside the loop window (at most ``loop_max_closes``)."""
    rate_limit_level: int = 0
    """How many 429s in a row the penalty has seen; survives a counter reset."""
    rate_limited_at: float | None = None
    """Time of the last 429."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What to do after one close."""

    reconnect: bool
    """Whether to dial again."""
    delay: float
    """Seconds to wait before dialing (0 when ``restart`` or not reconnecting)."""
    restart: bool
    """Reconnect at once as a restart (515): shown as ``"connecting"``, not as a close."""
    nominal_delay: float
    """The delay before jitter (the backoff step, or the 402/429 floor when larger)."""
    counted: bool
    """Whether this close counted as a failure."""
    failures: int
    """The failure counter after this close."""
    loop_detected: bool
    """Whether the loop detector fired on this close."""
    explanation: str
    """Why, in words, for logs and the health view."""
    history: ReconnectHistory = field(repr=False)
    """The history to pass with the next close."""


class ReconnectPolicy:
    """The policy. Stateless: all memory is in the ``ReconnectHistory`` passed in and returned."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config if config is not None else PolicyConfig()

    def opened(self, history: ReconnectHistory, *, at: float) -> ReconnectHistory:
        """Record that a connection reached ``open`` at time ``at``."""
        return replace(history, opened_at=at)

    def is_stable(self, history: ReconnectHistory, *, now: float) -> bool:
        """Whether the current open connection has lasted long enough to reset the counter."""
        opened_at = history.opened_at
        return opened_at is not None and now - opened_at >= self.config.stable_open

    def backoff(self, failures: int) -> float:
        """The nominal delay (no jitter) of the ``failures``-th consecutive failure."""
        config = self.config
        if failures <= 0:
            return 0.0
        previous, current = 0, 1  # fib(0), fib(1)
        for _ in range(failures - 1):
            # stop early: past the cap the exact Fibonacci number no longer matters
            if current * config.backoff_unit >= config.backoff_cap:
                break
            previous, current = current, previous + current
        return min(current * config.backoff_unit, config.backoff_cap)

    def decide(
        self, disconnect: Disconnect, history: ReconnectHistory, rng: random.Random
    ) -> Decision:
        """Decide what follows ``disconnect``. Pure apart from drawing from ``rng``."""
        config = self.config
        now = disconnect.at
        reason = disconnect.reason

        failures = history.failures
        recent = history.recent_closes
        if self.is_stable(history, now=now):
            # a healthy session ended: its close starts a fresh budget and a fresh loop window
            failures = 0
            recent = ()
        recent = (*(t for t in recent if now - t < config.loop_window), now)
        recent = recent[-config.loop_max_closes :]
        loop_detected = len(recent) >= config.loop_max_closes

        level = history.rate_limit_level
        if history.rate_limited_at is not None and (
            now - history.rate_limited_at >= config.rate_limit_forget
        ):
            level = 0
        rate_limited_at = history.rate_limited_at if level else None

        base = ReconnectHistory(
            failures=failures,
            opened_at=None,
            recent_closes=recent,
            rate_limit_level=level,
            rate_limited_at=rate_limited_at,
        )

        if reason in config.stop_reasons:
            kind = "terminal" if disconnect.terminal else "a stop reason of this policy"
            return Decision(
                reconnect=False,
                delay=0.0,
                restart=False,
                nominal_delay=0.0,
                counted=False,
                failures=failures,
                loop_detected=loop_detected,
                explanation=f"stop: {reason.name} ({disconnect.status}) is {kind}",
                history=base,
            )

        if reason is CloseReason.RESTART_REQUIRED and not loop_detected:
            return Decision(
                reconnect=True,
                delay=0.0,
                restart=True,
                nominal_delay=0.0,
                counted=False,
                failures=failures,
                loop_detected=False,
                explanation="restart required (515): reconnect at once",
                history=base,
            )

        failures += 1
        nominal = self.backoff(failures)
        delay = max(0.0, nominal * (1.0 + rng.uniform(-config.jitter, config.jitter)))
        explanation = f"{reason.name} ({disconnect.status}): failure {failures}, backoff"
        if loop_detected:
            explanation += f" ({len(recent)} closes within {config.loop_window:g} s: loop)"

        if reason is CloseReason.TEMP_BANNED:
            wait = config.temp_ban_default if disconnect.expire is None else disconnect.expire
            wait = min(max(wait, 0.0), config.temp_ban_max)
            if wait > delay:
                nominal, delay = max(nominal, wait), wait
                explanation += f"; temporary ban: wait {wait:g} s"
        elif reason is CloseReason.RATE_LIMITED:
            level += 1
            rate_limited_at = now
            penalty = min(config.rate_limit_base * 2.0 ** min(level - 1, 64), config.rate_limit_max)
            if penalty > delay:
                nominal, delay = max(nominal, penalty), penalty
            explanation += f"; rate limited (level {level}): at least {penalty:g} s"

        return Decision(
            reconnect=True,
            delay=delay,
            restart=False,
            nominal_delay=nominal,
            counted=True,
            failures=failures,
            loop_detected=loop_detected,
            explanation=explanation,
            history=replace(
                base,
                failures=failures,
                rate_limit_level=level,
                rate_limited_at=rate_limited_at,
            ),
        )
