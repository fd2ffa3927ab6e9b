"""kill -9 of a fleet process whose application is slow: nothing is lost across restarts.

A child process (``tests/io/slow_fleet.py``) runs a ``Fleet`` of two devices on a SQLite device
store against the emulator in this process; its loop takes its time over each message, and its
buffer and its clients' event bounds are small, so events wait in the fleet's buffer and in
the clients' queues. A contact writes to both devices the whole time, live or into the offline
backlog. The test kills the child with SIGKILL at random moments (half of the time while the
loop body is at work on a message), many times, restarting it each time; then a last run goes
on until every message was acked. Checked: every message sent was published at least once, as
its text; a message is acked only after the loop body that handled it finished (its "handled"
line is flushed before the fleet is asked for the next event); an acked message is never
published again; one published again comes as a redelivery (``append``).

``WALINK_KILL_ROUNDS`` (default 10) and ``WALINK_KILL_SEED`` change the loop.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.io.test_fleet_delivery import linked
from tests.receive.test_kill9 import (
    ROUNDS,
    SEED,
    check_delivery,
    kill_rounds,
    of_kind,
)
from walink.auth.devices import open_device_store
from walink.testing.emulator import Emulator

ALICE = "15550002222"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the child's backend does not matter here; both are covered elsewhere


pytestmark = pytest.mark.anyio


def slow_fleet(emulator: Emulator, store: Path, seed: int) -> list[str]:
    return [
        *(sys.executable, "-m", "tests.io.slow_fleet", str(store)),
        *(emulator.url, emulator.trust_root_hex, str(seed)),
    ]


async def test_kill9_of_a_fleet_with_a_slow_application_loses_no_message(tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    path = tmp_path / "fleet.db"
    async with Emulator() as emulator:
        with open_device_store(path) as store:
            devices = [(await linked(emulator, store, seed))[1] for seed in range(2)]
        alice = emulator.contact(ALICE, "Alice")
        sent: dict[str, str] = {}

        def opened(lines: list[dict[str, Any]]) -> bool:
            return {line["device"] for line in of_kind(lines, "open")} == set(devices)

        async def write(count: int) -> None:
            for _ in range(count):
                n = len(sent)
                text = f"fleet {n}"
                sent[await alice.send_text(devices[n % 2], text)] = text
                await anyio.sleep(rng.uniform(0.0, 0.01))

        runs, acks = await kill_rounds(
            emulator,
            rng,
            lambda number: slow_fleet(emulator, path, seed=number),
            devices,
            opened=opened,
            write=write,
            writes=(6, 16),
            sent=sent,
        )

    republished, window, cut_in_a_handler = check_delivery(runs, acks, sent)
    print(
        f"{len(sent)} texts to {len(devices)} devices over {ROUNDS} kills: "
        f"{cut_in_a_handler} kills inside the loop body, {republished} published again "
        f"({window} of them handled before the kill)"
    )
