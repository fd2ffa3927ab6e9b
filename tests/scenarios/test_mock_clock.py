"""Under trio's ``MockClock(autojump_threshold=0)`` minutes of backoff take no wall time.

Only trio has a virtual clock; the same scenario runs on asyncio in real time elsewhere
(``test_faults``). The emulator is given the same virtual clock (as unix time), so the
certificates it signs and the ``<success t>`` it stamps agree with the client's clock.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
import trio
import trio.testing

from tests.scenarios.harness import config_for, paired_store, running
from walink.fsm.policy import PolicyConfig
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.testing.emulator import Emulator
from walink.testing.faults import Drop, Step

pytestmark = pytest.mark.anyio

DROPS = 9
"""Fibonacci backoff 1+1+2+3+5+8+13+21+34 = 88 s of waiting, each +-10 % jitter."""


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


async def test_minutes_of_backoff_run_instantly() -> None:
    wall_offset = time.time() - trio.current_time()
    async with Emulator(clock=lambda: wall_offset + trio.current_time()) as emulator:
        store = await paired_store(emulator)
        for _ in range(DROPS):
            emulator.inject(Drop(at=Step.CONNECTED))
        config = config_for(emulator, policy=PolicyConfig())  # the real backoff
        wall_started = time.monotonic()
        virtual_started = anyio.current_time()
        async with running(Client(store, config)) as recorder:
            await recorder.wait_open(timeout=600)
            virtual = anyio.current_time() - virtual_started
            wall = time.monotonic() - wall_started
            closes = recorder.closes
            assert [c.disconnect.reason for c in closes] == [CloseReason.SERVER_CLOSED] * DROPS
            assert [c.decision.failures for c in closes] == list(range(1, DROPS + 1))
            delays = [c.decision.delay for c in closes]
            assert 88 * 0.9 <= sum(delays) <= 88 * 1.1
        assert virtual >= sum(delays) - 1e-6
        assert wall < 10.0, f"{virtual:.0f} s of backoff took {wall:.1f} s of wall time"
