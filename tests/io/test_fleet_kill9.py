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
    REPO_ROOT,
    ROUNDS,
    SEED,
    acked,
    check_delivery,
    in_a_handler,
    of_kind,
    read_lines,
    wait_until,
    watch_servers,
)
from walink.auth.devices import open_device_store
from walink.testing.emulator import Emulator
from walink.testing.server import ServerSession

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
        runs: list[list[dict[str, Any]]] = []
        acks: list[set[str]] = []

        def connected() -> bool:
            return any(
                s.device is not None and s.device.jid in devices for s in emulator.sessions()
            )

        def opened(lines: list[dict[str, Any]]) -> bool:
            return {line["device"] for line in of_kind(lines, "open")} == set(devices)

        async def write(count: int) -> None:
            for _ in range(count):
                n = len(sent)
                text = f"fleet {n}"
                sent[await alice.send_text(devices[n % 2], text)] = text
                await anyio.sleep(rng.uniform(0.0, 0.01))

        async def run(number: int, *, last: bool) -> None:
            lines: list[dict[str, Any]] = []
            runs.append(lines)
            servers: dict[int, ServerSession] = {}
            command = slow_fleet(emulator, path, seed=number)
            async with (
                await anyio.open_process(command, cwd=REPO_ROOT) as process,
                anyio.create_task_group() as tasks,
            ):
                tasks.start_soon(read_lines, process, lines)
                for jid in devices:
                    tasks.start_soon(watch_servers, emulator, jid, servers)
                if last:
                    await wait_until(lambda: opened(lines), "open")
                    everything = set(sent)
                    await wait_until(
                        lambda: everything <= acked(servers) | set().union(*acks), "every ack"
                    )
                    process.terminate()
                else:
                    await write(rng.randint(0, 6))
                    await wait_until(lambda: opened(lines), "open")
                    async with anyio.create_task_group() as writers:
                        writers.start_soon(write, rng.randint(6, 16))
                        if number % 2:
                            await anyio.sleep(rng.uniform(0.05, 0.5))  # anywhere
                        else:
                            # while the loop body is at work (events wait behind it); a
                            # starved test process may miss that moment: then anywhere
                            with anyio.move_on_after(5):
                                while not in_a_handler(lines):
                                    await anyio.sleep(0.002)
                        process.kill()
                await process.wait()
                await wait_until(lambda: not connected(), "the server to drop the sockets")
                tasks.cancel_scope.cancel()
            acks.append(acked(servers))

        for number in range(ROUNDS):
            await run(number, last=False)
        await run(ROUNDS, last=True)

    republished, window, cut_in_a_handler = check_delivery(runs, acks, sent)
    print(
        f"{len(sent)} texts to {len(devices)} devices over {ROUNDS} kills: "
        f"{cut_in_a_handler} kills inside the loop body, {republished} published again "
        f"({window} of them handled before the kill)"
    )
