"""kill -9 of ``walink connect --json`` at random moments while contacts write: nothing is lost.

A child process runs ``walink connect --json`` on a SQLite store against the emulator in this
process; contacts send texts (1:1 and in a group) the whole time, live or into the offline
backlog. The test kills the child with SIGKILL at a random moment after it opened, many times,
restarting it each time; the emulator redelivers what the device did not ack. Then a last run
ends cleanly. Checked: every text sent was printed, as its text (never a stub: a committed message
is answered from its committed copy, never decrypted twice); no run prints a message twice; a
message printed by two runs was printed first by a run that was killed before its ack and again
as a redelivery (``append``) with the same text; and the sessions still decrypt the next texts.

``WALINK_KILL_ROUNDS`` (default 10) and ``WALINK_KILL_SEED`` change the loop.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.bounds import PROCESS_START
from tests.receive.test_client_messages import paired_on_disk
from walink.testing.emulator import Emulator
from walink.testing.server import ServerSession

REPO_ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("WALINK_KILL_ROUNDS", "10"))
SEED = int(os.environ.get("WALINK_KILL_SEED", "13"))
ALICE, BOB = "15550002222", "15550003333"
GROUP = "120363000000000042@g.us"
WAIT = PROCESS_START
"""A bound on a hang only: each wait includes a fresh process's start."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the child's backend does not matter here; both are covered elsewhere


pytestmark = pytest.mark.anyio


def command(emulator: Emulator, auth: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "walink.cli", "connect", "--json", "--auth", str(auth)),
        *("--url", emulator.url, "--trust-root", emulator.trust_root_hex),
    ]


async def read_lines(process: anyio.abc.Process, lines: list[dict[str, Any]]) -> None:
    """Every complete JSON line of the child's stdout until it ends (a cut last line is not
    a printed message)."""
    assert process.stdout is not None
    stream = BufferedByteReceiveStream(process.stdout)
    while True:
        try:
            raw = await stream.receive_until(b"\n", 1 << 20)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return
        lines.append(json.loads(raw))


def messages(lines: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (line["type"], message)
        for line in lines
        if line["event"] == "messages.upsert"
        for message in line["messages"]
    ]


def opened(lines: list[dict[str, Any]]) -> bool:
    return any(line.get("connection") == "open" for line in lines)


async def wait_until(predicate: Any, what: str) -> None:
    with anyio.fail_after(WAIT):
        while not predicate():
            await anyio.sleep(0.01)


async def test_kill9_between_commit_and_ack_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    async with Emulator() as emulator:
        store, jid = await paired_on_disk(emulator, "sqlite", tmp_path)
        store.close()
        auth = tmp_path / "auth.db"
        alice = emulator.contact(ALICE, "Alice")
        emulator.contact(BOB, "Bob")
        group = emulator.group(GROUP, [ALICE, BOB])
        sent: dict[str, str] = {}
        runs: list[list[dict[str, Any]]] = []

        def device_connected() -> bool:
            return any(s.device is not None and s.device.jid == jid for s in emulator.sessions())

        async def write(count: int) -> None:
            for _ in range(count):
                n = len(sent)
                if n % 3 == 2:
                    text = f"group {n}"
                    sent[await group.send_text(BOB, jid, text)] = text
                else:
                    text = f"text {n}"
                    sent[await alice.send_text(jid, text)] = text
                await anyio.sleep(rng.uniform(0.0, 0.02))

        for _ in range(ROUNDS):
            lines: list[dict[str, Any]] = []
            runs.append(lines)
            async with (
                await anyio.open_process(command(emulator, auth), cwd=REPO_ROOT) as process,
                anyio.create_task_group() as tasks,
            ):
                tasks.start_soon(read_lines, process, lines)
                await write(rng.randint(0, 3))  # some wait on the server, some arrive live
                await wait_until(lambda run=lines: opened(run), "open")
                async with anyio.create_task_group() as writers:
                    writers.start_soon(write, rng.randint(2, 6))
                    await anyio.sleep(rng.uniform(0.0, 0.25))
                    process.kill()  # SIGKILL, anywhere: mid-decrypt, mid-commit, before the ack
                await process.wait()
            await wait_until(lambda: not device_connected(), "the server to drop the socket")

        # the last run ends cleanly, once everything arrived; then the sessions still work
        lines = []
        runs.append(lines)
        async with (
            await anyio.open_process(command(emulator, auth), cwd=REPO_ROOT) as process,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(read_lines, process, lines)
            await wait_until(lambda: opened(lines), "open")

            def printed() -> set[str]:
                return {m["id"] for run in runs for _, m in messages(run)}

            await wait_until(lambda: set(sent) <= printed(), "every text")
            after = {
                await alice.send_text(jid, "after the kills"): "after the kills",
                await group.send_text(BOB, jid, "group after the kills"): "group after the kills",
            }
            await wait_until(lambda: set(after) <= {m["id"] for _, m in messages(lines)}, "after")
            process.terminate()
            assert await process.wait() == 0

    seen: dict[str, int] = {}
    duplicates = 0
    for number, run in enumerate(runs):
        ids = [m["id"] for _, m in messages(run)]
        assert len(ids) == len(set(ids)), f"run {number} printed a message twice"
        for kind, message in messages(run):
            expected = {**sent, **after}[message["id"]]
            assert message["text"] == expected, message  # never a stub, never another text
            if message["id"] in seen:
                duplicates += 1
                assert seen[message["id"]] < len(runs) - 1  # first printed by a killed run
                assert kind == "append"  # and now redelivered by the server
            else:
                seen[message["id"]] = number
    assert set(sent) | set(after) == set(seen)
    kills_with_messages = sum(1 for run in runs[:-1] if messages(run))
    assert kills_with_messages >= ROUNDS // 2, "the kills hardly ever hit a run with messages"
    print(f"{len(sent)} texts over {ROUNDS} kills: {duplicates} printed again after a kill")


def slow_consumer(emulator: Emulator, auth: Path, seed: int) -> list[str]:
    return [
        *(sys.executable, "-m", "tests.receive.slow_consumer", str(auth)),
        *(emulator.url, emulator.trust_root_hex, str(seed)),
    ]


async def watch_servers(emulator: Emulator, jid: str, found: dict[int, ServerSession]) -> None:
    """Keep every server connection of the device (its ``received`` says what was acked)."""
    while True:
        for session in emulator.sessions():
            if session.device is not None and session.device.jid == jid:
                found.setdefault(id(session), session)
        await anyio.sleep(0.002)


def acked(servers: dict[int, ServerSession]) -> set[str]:
    return {
        n.attrs["id"]
        for s in servers.values()
        for n in s.received
        if n.tag == "ack" and n.attr("class") == "message" and n.attr("error") is None
    }


def of_kind(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == kind]


def in_a_handler(lines: list[dict[str, Any]]) -> bool:
    """A message was handed to the handler, which has not returned yet."""
    handled = {line["id"] for line in of_kind(lines, "handled")}
    return any(line["id"] not in handled for line in of_kind(lines, "upsert"))


async def kill_rounds(
    emulator: Emulator,
    rng: random.Random,
    command: Callable[[int], list[str]],
    jids: list[str],
    *,
    opened: Callable[[list[dict[str, Any]]], bool],
    write: Callable[[int], Coroutine[Any, Any, None]],
    writes: tuple[int, int],
    sent: dict[str, str],
) -> tuple[list[list[dict[str, Any]]], list[set[str]]]:
    """Run the child ``command(number)`` and kill -9 it, ROUNDS times, then once more to the
    end; return each run's lines and the ids each run acked.

    A killed run gets up to ``writes[0]`` messages before it opens and ``writes[0]`` to
    ``writes[1]`` more while it runs; it is killed at a random moment (odd rounds) or while the
    application is at work (even rounds). The last run ends once everything sent was acked.
    """
    runs: list[list[dict[str, Any]]] = []
    acks: list[set[str]] = []

    def connected() -> bool:
        return any(s.device is not None and s.device.jid in jids for s in emulator.sessions())

    async def run(number: int, *, last: bool) -> None:
        lines: list[dict[str, Any]] = []
        runs.append(lines)
        servers: dict[int, ServerSession] = {}
        async with (
            await anyio.open_process(command(number), cwd=REPO_ROOT) as process,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(read_lines, process, lines)
            for jid in jids:
                tasks.start_soon(watch_servers, emulator, jid, servers)
            if last:
                await wait_until(lambda: opened(lines), "open")
                everything = set(sent)
                await wait_until(
                    lambda: everything <= acked(servers) | set().union(*acks), "every ack"
                )
                process.terminate()
            else:
                await write(rng.randint(0, writes[0]))
                await wait_until(lambda: opened(lines), "open")
                async with anyio.create_task_group() as writers:
                    writers.start_soon(write, rng.randint(*writes))
                    if number % 2:
                        await anyio.sleep(rng.uniform(0.05, 0.5))  # anywhere
                    else:
                        # while the application is at work (and, often, events wait behind
                        # it); a starved test process may miss that moment: then anywhere
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
    return runs, acks


async def test_kill9_of_a_slow_consumer_publishes_each_message_until_it_is_handled(
    tmp_path: Path,
) -> None:
    """A client whose handler takes its time (events wait in its queue, its bound of 6 closes
    the connection now and then): kill -9 at random moments, while a handler runs or events
    wait. Every message is published at least once; a message is acked only after its handler
    returned; one republished by a later run was never acked before (handled or not: the window
    between the handler's return and the ack reaching the server), and comes as ``append``."""
    rng = random.Random(SEED + 1)
    async with Emulator() as emulator:
        store, jid = await paired_on_disk(emulator, "sqlite", tmp_path)
        store.close()
        auth = tmp_path / "auth.db"
        alice = emulator.contact(ALICE, "Alice")
        sent: dict[str, str] = {}

        async def write(count: int) -> None:
            for _ in range(count):
                text = f"slow {len(sent)}"
                sent[await alice.send_text(jid, text)] = text
                await anyio.sleep(rng.uniform(0.0, 0.01))

        runs, acks = await kill_rounds(
            emulator,
            rng,
            lambda number: slow_consumer(emulator, auth, seed=number),
            [jid],
            opened=lambda lines: bool(of_kind(lines, "open")),
            write=write,
            writes=(4, 12),
            sent=sent,
        )

    republished, window, cut_in_a_handler = check_delivery(runs, acks, sent)
    print(
        f"{len(sent)} texts over {ROUNDS} kills: {cut_in_a_handler} kills inside a handler, "
        f"{republished} published again ({window} of them handled before the kill)"
    )


def check_delivery(
    runs: list[list[dict[str, Any]]], acks: list[set[str]], sent: dict[str, str]
) -> tuple[int, int, int]:
    """What every kill -9 loop of a slow consumer checks, over its runs' ``upsert`` and
    ``handled`` lines and the ids each run acked: every message published (never as a stub)
    until acked, none acked before it was handled, none published again once acked, every
    republish an ``append``. Returns (republished, of those handled before the kill, runs cut
    while the application was at work)."""
    every_ack: set[str] = set()
    handled: set[str] = set()
    published: set[str] = set()
    republished = window = cut_at_work = 0
    rounds = len(runs) - 1  # the last run is not killed
    for number, lines in enumerate(runs):
        upserts = of_kind(lines, "upsert")
        ids = [line["id"] for line in upserts]
        assert len(ids) == len(set(ids)), f"run {number} published a message twice"
        for line in upserts:
            assert line["text"] == sent[line["id"]]  # never a stub, never another text
            # acked before: the server never delivers it again, so no run publishes it again
            assert line["id"] not in every_ack, f"run {number} republished an acked message"
            if line["id"] in published:
                republished += 1
                window += line["id"] in handled  # handled, killed before the ack left
                assert line["type"] == "append"
            published.add(line["id"])
        run_handled = {line["id"] for line in of_kind(lines, "handled")}
        handled |= run_handled
        # nothing is acked before the application handled it (the line is flushed first)
        assert acks[number] <= handled, f"run {number} acked unhandled {acks[number] - handled}"
        every_ack |= acks[number]
        cut_at_work += number < rounds and bool(set(ids) - run_handled)
    assert set(sent) <= published and set(sent) <= every_ack
    assert cut_at_work >= rounds // 3, "the kills hardly ever hit the application at work"
    return republished, window, cut_at_work
