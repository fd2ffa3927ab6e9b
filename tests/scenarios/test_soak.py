"""Soak: 500 reconnect cycles (drops, cut handshakes, logins ended by a 503) with memory growth
under a small bound."""

from __future__ import annotations

import gc
import tracemalloc

import anyio
import pytest

from tests.scenarios.harness import config_for, paired_store
from walink.fsm.policy import PolicyConfig
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.events import Closed, ConnectionUpdate
from walink.testing.emulator import Emulator
from walink.testing.faults import Drop, Fault, Garbage, Step, StreamError, TruncatedFrame

pytestmark = pytest.mark.anyio

CYCLES = 500
WARMUP = 100
GROWTH_LIMIT = 32 * 1024
"""Bytes the process may grow between cycle 100 and cycle 500: under 100 bytes a cycle, so one
leaked ``Disconnect`` per connection fails it (measured: about 1.5 KiB once the session keeps
nothing per connection)."""

FAULTS: list[Fault] = [
    Drop(at=Step.CONNECTED),
    TruncatedFrame(at=Step.CLIENT_HELLO),
    Drop(at=Step.CLIENT_FINISH),
    Drop(at=Step.CONNECTED),
    Garbage(at=Step.CLIENT_HELLO),
    Drop(at=Step.CONNECTED),
    Drop(at=Step.CONNECTED),
    Drop(at=Step.CONNECTED),
    Drop(at=Step.CONNECTED),
    StreamError(code=503),
]
"""Mostly cheap drops (a dial and an upgrade), with a handshake cut, garbage, and a full login
ended by a 503 every tenth cycle: every path of an attempt's end runs 50 times or more."""

EXPECTED = {
    CloseReason.SERVER_CLOSED,
    CloseReason.PROTOCOL_ERROR,
    CloseReason.SERVICE_UNAVAILABLE,
}

TINY_BACKOFF = PolicyConfig(backoff_unit=0.0005, backoff_cap=0.001, jitter=0.0)


def traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_500_reconnect_cycles_do_not_grow_memory() -> None:
    async with Emulator(ping_interval=None) as emulator:
        store = await paired_store(emulator)
        for cycle in range(CYCLES):
            emulator.inject(FAULTS[cycle % len(FAULTS)])
        config = config_for(emulator, policy=TINY_BACKOFF, max_pending_events=64)
        closes = 0
        opens = 0
        tracemalloc.start()
        try:
            async with Client(store, config) as client:
                # a bound on a hang only: the cycles took more than 120 s on a loaded machine
                # (the suite's per-test limit is 300 s)
                with anyio.fail_after(240):
                    async for event in client:
                        if isinstance(event, Closed):
                            assert event.disconnect.reason in EXPECTED
                            assert event.decision.reconnect
                            closes += 1
                            if closes == WARMUP:
                                baseline = traced_now()
                        elif isinstance(event, ConnectionUpdate) and event.connection == "open":
                            # the fault strikes right after the login: only the last one opens
                            opens += 1
                            grown = traced_now() - baseline
                            break
                await client.aclose()
        finally:
            tracemalloc.stop()
        assert closes == CYCLES and opens == 1
        assert client.health.connections == CYCLES + 1
        assert grown < GROWTH_LIMIT, f"grew {grown} bytes over {CYCLES - WARMUP} cycles"
