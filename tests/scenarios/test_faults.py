"""Every emulator fault against the client: the expected reason and decision, exactly one close
update per connection, and nothing (task, socket) left behind."""

from __future__ import annotations

from dataclasses import dataclass, replace

import anyio
import pytest

from tests.io.netutil import assert_fds_back_to, open_fds
from tests.scenarios.harness import (
    FAST_POLICY,
    WAIT,
    Recorder,
    config_for,
    paired_store,
    running,
)
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.config import ClientConfig
from walink.io.events import Closed, ConnectionUpdate
from walink.testing.emulator import Emulator
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

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Expect:
    reason: CloseReason
    status: int
    reconnect: bool


RETRY_EOF = Expect(CloseReason.SERVER_CLOSED, 428, True)
CONNECT_TIMEOUT = Expect(CloseReason.CONNECT_TIMEOUT, 408, True)
PROTOCOL = Expect(CloseReason.PROTOCOL_ERROR, 500, True)

CASES: list[tuple[Fault, Expect]] = [
    *[(Drop(at=step), RETRY_EOF) for step in Step],
    *[(Silence(at=step), CONNECT_TIMEOUT) for step in Step if step is not Step.OPEN],
    (Silence(at=Step.OPEN), Expect(CloseReason.KEEPALIVE_TIMEOUT, 408, True)),
    *[(Garbage(at=step), PROTOCOL) for step in Step],
    *[(TruncatedFrame(at=step), RETRY_EOF) for step in (Step.CLIENT_HELLO, Step.CLIENT_FINISH)],
    (StreamError(code=515), Expect(CloseReason.RESTART_REQUIRED, 515, True)),
    (StreamError(code=401), Expect(CloseReason.LOGGED_OUT, 401, False)),
    (StreamError(code=440), Expect(CloseReason.REPLACED, 440, False)),
    (StreamError(code=503), Expect(CloseReason.SERVICE_UNAVAILABLE, 503, True)),
    (StreamError(code=500, at=Step.CLIENT_FINISH), Expect(CloseReason.BAD_SESSION, 500, True)),
    (Failure(reason=401), Expect(CloseReason.LOGGED_OUT, 401, False)),
    (Failure(reason=402, attrs={"expire": "5"}), Expect(CloseReason.TEMP_BANNED, 402, True)),
    (Failure(reason=403), Expect(CloseReason.FORBIDDEN, 403, False)),
    (Failure(reason=405), Expect(CloseReason.CLIENT_OUTDATED, 405, False)),
    (Failure(reason=429), Expect(CloseReason.RATE_LIMITED, 429, True)),
    (Failure(reason=500), Expect(CloseReason.BAD_SESSION, 500, True)),
]


def check_one_close_update_per_connection(recorder: Recorder) -> None:
    """Each Closed but a 515 restart comes right after exactly one "close" update of its own."""
    events = recorder.events
    for index, event in enumerate(events):
        if not isinstance(event, Closed):
            continue
        before = events[index - 1]
        if event.decision.restart:
            assert not (isinstance(before, ConnectionUpdate) and before.connection == "close")
        else:
            assert isinstance(before, ConnectionUpdate) and before.connection == "close"
            assert before.last_disconnect is event.disconnect
    restarts = sum(1 for c in recorder.closes if c.decision.restart)
    assert len(recorder.close_updates) == len(recorder.closes) - restarts
    # every connection the client started ended with exactly one Closed; a close() during a
    # backoff adds one more, with no connection of its own
    extra = len(recorder.closes) - recorder.client.health.connections
    assert extra in (0, 1)
    if extra:
        last = recorder.closes[-1]
        assert last.disconnect.reason is CloseReason.LOCAL_CLOSE and last.requested


def with_short_timers(config: ClientConfig, fault: Fault) -> ClientConfig:
    """Short timers only for the faults they are to catch (a silence). Elsewhere the defaults
    stay: on a loaded machine a healthy handshake or ping can take longer than half a second,
    and a timeout that fired first would end the connection for another reason than the
    fault's (a 408 where the case expects the fault's own close)."""
    if not isinstance(fault, Silence):
        return config
    if fault.at is Step.OPEN:
        return replace(config, keepalive_interval=0.2, keepalive_timeout=0.2)
    return replace(config, connect_timeout=0.5)


@pytest.mark.parametrize(("fault", "expect"), CASES, ids=lambda v: repr(v).replace(" ", ""))
async def test_fault(fault: Fault, expect: Expect) -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        with anyio.fail_after(WAIT):
            await emulator.wait_idle()
        baseline = open_fds()
        emulator.inject(fault)
        config = with_short_timers(config_for(emulator), fault)
        async with running(Client(store, config)) as recorder:
            closed = await recorder.wait_closed()
            disconnect = closed.disconnect
            assert (disconnect.reason, disconnect.status) == (expect.reason, expect.status)
            assert closed.decision.reconnect is expect.reconnect
            assert closed.final is not expect.reconnect and not closed.requested
            if expect.reason is CloseReason.TEMP_BANNED:
                assert closed.decision.delay >= 5.0  # the ban's expire, not the tiny backoff
            elif expect.reason is CloseReason.RATE_LIMITED:
                assert closed.decision.delay >= FAST_POLICY.rate_limit_base  # the 429 penalty
            elif expect.reconnect:
                # the fault struck one connection only: the next one opens
                await recorder.wait_open()
        check_one_close_update_per_connection(recorder)
        last = recorder.closes[-1]
        if expect.reconnect:
            assert last.disconnect.reason is CloseReason.LOCAL_CLOSE and last.requested
        with anyio.fail_after(WAIT):
            await emulator.wait_idle()
        await assert_fds_back_to(baseline)


async def test_slow_reads_still_log_in() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        emulator.inject(SlowReads(delay=0.05))
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            assert recorder.closes == []
