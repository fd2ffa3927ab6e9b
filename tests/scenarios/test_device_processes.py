"""Processes sharing a device store: `walink connect` and `walink serve` as real subprocesses.

The emulator runs in the test's event loop; the processes dial it. Leases are short (seconds),
so takeovers after kill -9 and SIGSTOP happen within the test's time.

A failing test explains itself: each process's stdout lines and stderr are attached to the
failure, with the Python stacks of every thread of a process still running (the processes
start with a faulthandler on SIGUSR1) and, on PostgreSQL, what each database session was doing
and which sessions blocked it.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.bounds import PROCESS_START
from tests.conftest import REPO_ROOT
from tests.scenarios.harness import paired_store
from walink.auth.devices import open_device_store
from walink.auth.errors import DeviceLeasedError
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

TTL = 2.5
"""The lease TTL of a process whose lease the test lets lapse (killed, paused): short, so the
test waits little for it (seconds)."""
LIVE_TTL = 30.0
"""The lease TTL of a process whose lease the test needs live (refusing another, staying open):
far past the renewal stalls of a loaded machine, where a holder's renewals have been starved
for more than 2.5 s while a contender started (its lease lapsed and the process that was to be
refused took the device over and ran)."""
SERVE_TTL = 6.0
"""The lease TTL of the two serve processes: both must stay live while they split the devices
(a lapse there moves a device while its first holder still has it open: a replaced connection),
and the one killed -9 is waited out once, so it stays short of LIVE_TTL."""
WAIT = PROCESS_START
"""A bound on a hang only: each wait includes a fresh process's start."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the processes are what is tested; one loop for the test is enough


class Running:
    """A walink subprocess whose stdout JSON lines and stderr are collected by background
    tasks (stderr too: a pipe nobody reads would block the process once full)."""

    def __init__(self, process: anyio.abc.Process, args: tuple[str, ...]) -> None:
        self.process = process
        self.args = args
        self.lines: list[dict[str, Any]] = []
        self.changed = anyio.Event()
        self.ended = anyio.Event()
        self._err = bytearray()
        self._err_ended = anyio.Event()
        self._started = time.monotonic()
        self._stamps: list[float] = []  # when each line came, from the start (for a report)

    async def read(self) -> None:
        assert self.process.stdout is not None
        stream = BufferedByteReceiveStream(self.process.stdout)
        try:
            while True:
                raw = await stream.receive_until(b"\n", 1 << 20)
                line = json.loads(raw)
                assert isinstance(line, dict) and line["v"] == 1, raw
                self.lines.append(line)
                self._stamps.append(time.monotonic() - self._started)
                self.changed.set()
                self.changed = anyio.Event()
        except (anyio.EndOfStream, anyio.IncompleteRead):
            pass
        finally:
            self.ended.set()
            self.changed.set()

    async def wait_for(self, check: Callable[[], bool], timeout: float = WAIT) -> None:
        with anyio.fail_after(timeout):
            while not check():
                if self.ended.is_set():
                    raise AssertionError(f"the process ended: {self.lines}")
                await self.changed.wait()

    def opened(self) -> bool:
        return any(line.get("connection") == "open" for line in self.lines)

    async def read_stderr(self) -> None:
        assert self.process.stderr is not None
        try:
            async for chunk in self.process.stderr:
                self._err += chunk
        finally:
            self._err_ended.set()

    async def stderr(self) -> str:
        """Everything the process wrote on stderr (once it closed it)."""
        await self._err_ended.wait()
        return self._err.decode(errors="replace")

    async def explain(self) -> str:
        """What the process printed, for a failure's report; a process still running first
        dumps its threads' stacks (SIGUSR1), then is killed."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGUSR1)
            await anyio.sleep(1.0)  # the dump is written by the process's own main thread
            if self.process.returncode is None:
                self.process.kill()
        with anyio.move_on_after(10):
            await self.process.wait()
            await self._err_ended.wait()
            await self.ended.wait()
        stdout = "\n".join(
            f"+{stamp:.1f}s {json.dumps(line)}"
            for stamp, line in zip(self._stamps, self.lines, strict=True)
        )
        stdout = stdout or "(nothing)"
        stderr = self._err.decode(errors="replace") or "(nothing)"
        return (
            f"walink {' '.join(self.args[:1])} (pid {self.process.pid}, exit"
            f" {self.process.returncode}, reported +{time.monotonic() - self._started:.1f}s)"
            f" printed on stdout:\n{stdout}\nand on stderr:\n{stderr}"
        )


# `python -m walink.cli`, with the stacks of every thread dumped to stderr on SIGUSR1
_MAIN = (
    "import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1);"
    " from walink.cli import main; sys.exit(main())"
)


@asynccontextmanager
async def walink(emulator: Emulator, *args: str) -> AsyncIterator[Running]:
    command = [sys.executable, "-c", _MAIN, *args, "--json"]
    command += ["--url", emulator.url, "--trust-root", emulator.trust_root_hex]
    async with await anyio.open_process(command, cwd=REPO_ROOT) as process:
        running = Running(process, args)
        async with anyio.create_task_group() as group:
            group.start_soon(running.read)
            group.start_soon(running.read_stderr)
            try:
                yield running
            except Exception as error:
                # the database first, while the processes still hold what they held (once:
                # the enclosing processes' contexts see the same error after this one)
                auth = args[args.index("--auth") + 1] if "--auth" in args else ""
                if auth.startswith("postgresql://") and not _noted(error, _SESSIONS):
                    error.add_note(await _sessions(auth))
                error.add_note(await running.explain())
                raise
            finally:
                if process.returncode is None:
                    process.kill()
                    process.send_signal(signal.SIGCONT)  # a stopped process dies only when run
                with anyio.fail_after(10):
                    await process.wait()


_SESSIONS = "database sessions at the failure:"


def _noted(error: BaseException, prefix: str) -> bool:
    """Whether ``error`` (or one inside it, when a task group wrapped it) has a note
    starting with ``prefix``."""
    if any(note.startswith(prefix) for note in getattr(error, "__notes__", ())):
        return True
    inner = error.exceptions if isinstance(error, BaseExceptionGroup) else ()
    return any(_noted(each, prefix) for each in inner)


async def _sessions(url: str) -> str:
    """What every other session of the PostgreSQL database at ``url`` is doing."""

    def query() -> str:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pid, state, wait_event_type, wait_event, pg_blocking_pids(pid),"
                " round(extract(epoch FROM now() - xact_start)::numeric, 2), left(query, 160)"
                " FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() ORDER BY pid"
            ).fetchall()
        lines = [
            f"  pid {pid} {state} waits {kind}/{event} blocked by {blockers}"
            f" in a transaction for {age} s: {statement}"
            for pid, state, kind, event, blockers, age, statement in rows
        ]
        return "\n".join([_SESSIONS, *lines])

    try:
        with anyio.fail_after(15):
            return await anyio.to_thread.run_sync(query, abandon_on_cancel=True)
    except Exception as error:
        return f"(the database sessions could not be listed: {error!r})"


async def _linked(emulator: Emulator, url: str, count: int) -> list[str]:
    jids = []
    with open_device_store(url) as store:
        for seed in range(count):
            creds = (await paired_store(emulator, seed)).load()
            assert creds is not None and creds.me is not None
            store.add(creds)
            jids.append(creds.me.id)
    return jids


async def test_one_device_two_processes_kill_and_pause(store_url: str) -> None:
    def connect(ttl: float) -> tuple[str, ...]:
        return ("connect", "--auth", store_url, "--lease-ttl", str(ttl))

    async with Emulator() as emulator:
        await _linked(emulator, store_url, 1)
        async with walink(emulator, *connect(LIVE_TTL)) as first:
            await first.wait_for(first.opened)
            # a second process is refused at once, naming the holder
            async with walink(emulator, *connect(TTL)) as refused:
                with anyio.fail_after(WAIT):  # its start is most of it
                    assert await refused.process.wait() == 2
                message = await refused.stderr()
            assert f":{first.process.pid}:" in message and "holds its lease" in message
            assert not refused.lines
            # SIGTERM gives the lease back at once
            first.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(WAIT):
                assert await first.process.wait() == 0
        with open_device_store(store_url) as store:
            (info,) = store.devices()
            assert info.holder is None
        async with walink(emulator, *connect(TTL)) as second:
            await second.wait_for(second.opened)
            # kill -9 the holder: its lease lapses after the TTL, and only then
            second.process.kill()
            await second.process.wait()
            killed_at = time.monotonic()
            with open_device_store(store_url) as store:
                (info,) = store.devices()
                assert info.holder is not None and f":{second.process.pid}:" in info.holder
                with pytest.raises(DeviceLeasedError):
                    store.device(info.id).acquire()
            await anyio.sleep(max(0.0, TTL + 0.2 - (time.monotonic() - killed_at)))
        async with walink(emulator, *connect(TTL)) as third:
            await third.wait_for(third.opened)
            assert emulator.replaced == 0
            # pause the holder past its TTL: a fourth process takes the device over
            third.process.send_signal(signal.SIGSTOP)
            await anyio.sleep(TTL + 0.5)
            async with walink(emulator, *connect(LIVE_TTL)) as fourth:
                await fourth.wait_for(fourth.opened)
                third.process.send_signal(signal.SIGCONT)
                # the paused one finds its lease (or its connection) gone and stops for good
                with anyio.fail_after(WAIT):
                    assert await third.process.wait() == 1
                await third.ended.wait()
                close = [line for line in third.lines if line.get("connection") == "close"]
                assert close and close[-1]["reason"] in ("LEASE_LOST", "REPLACED")
                assert sum(1 for line in third.lines if line.get("connection") == "open") == 1
                # no loop: the new holder stays open, replaced at most the paused one once
                await anyio.sleep(TTL * 2)
                assert emulator.replaced <= 1
                assert not [line for line in fourth.lines if line.get("connection") == "close"]
                assert fourth.process.returncode is None
                fourth.process.send_signal(signal.SIGTERM)
                with anyio.fail_after(10):
                    assert await fourth.process.wait() == 0


def _held(run: Running) -> set[str]:
    held: set[str] = set()
    for line in run.lines:
        if line["event"] == "fleet.claimed":
            held.add(line["device"])
        elif line["event"] == "fleet.released":
            held.discard(line["device"])
    return held


def _open(run: Running) -> set[str]:
    state: dict[str, str] = {}
    for line in run.lines:
        if line["event"] == "connection.update":
            assert list(line)[:3] == ["v", "event", "device"]
            state[line["device"]] = line["connection"]
    return {device for device, connection in state.items() if connection == "open"}


async def test_two_serve_processes_split_20_devices_and_take_over(postgres_url: str) -> None:
    serve = (
        "serve",
        "--auth",
        postgres_url,
        "--lease-ttl",
        str(SERVE_TTL),
        "--claim-interval",
        "0.3",
        "--claim-batch",
        "2",
        "--connect-rate",
        "100",
    )
    async with Emulator() as emulator:
        jids = set(await _linked(emulator, postgres_url, 20))
        # the first process stops at 12 devices, so the second always gets some: which one
        # starts first (a loaded machine can start either seconds after the other) does not
        # decide whether they split
        capped = (*serve, "--max-devices", "12")
        async with walink(emulator, *capped) as a, walink(emulator, *serve) as b:

            def split() -> bool:
                return _open(a) | _open(b) == jids and not _held(a) & _held(b)

            with anyio.fail_after(WAIT):
                while not split():
                    await anyio.sleep(0.1)
            assert _held(a) and _held(b), (len(_held(a)), len(_held(b)))
            assert _held(a) | _held(b) == jids
            for line in a.lines + b.lines:
                if line["event"].startswith("fleet."):
                    assert list(line) == ["v", "event", "device", "epoch"]
                    assert type(line["epoch"]) is int
            a.process.kill()
            killed_at = time.monotonic()
            await b.wait_for(lambda: _open(b) == jids, timeout=SERVE_TTL + 15)
            took = time.monotonic() - killed_at
            assert took <= SERVE_TTL + 15
            assert emulator.replaced == 0
            b.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(15):
                assert await b.process.wait() == 0
            await b.ended.wait()
            assert _held(b) == set()  # every lease released on SIGTERM
        with open_device_store(postgres_url) as store:
            assert all(info.holder is None for info in store.devices())
