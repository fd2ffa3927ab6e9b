"""kill -9 while history chunks are being processed: every chunk is published at least once,
and one recorded as handled is never published again (``walink connect --json`` on a SQLite
store, against the emulator).

A chunk counts as processed in the creds only once the application handled it (for the CLI:
its line is written and flushed). The next run on the same store resumes the pending blob
notifications (saved in the creds before their acks left); an inline chunk that was published
but not recorded comes back with the server's redelivery of its notification, whose ack waited
for the application too.

``WALINK_KILL_ROUNDS`` (default 10; the history loop runs half as many) and ``WALINK_KILL_SEED``
change the random loop.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import anyio
import pytest

from tests.test_cli_connect import Connect, connect, link
from walink.auth import SQLiteStore
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

ALL_CHUNKS = [0, 1, 2, 3]  # INITIAL_BOOTSTRAP, RECENT, RECENT, PUSH_NAME
ROUNDS = max(2, int(os.environ.get("WALINK_KILL_ROUNDS", "10")) // 2)
SEED = int(os.environ.get("WALINK_KILL_SEED", "13"))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def published(run: Connect) -> list[int]:
    return [line["chunk_order"] for line in run.lines if line["event"] == "messaging-history.set"]


def recorded(auth: Path) -> int:
    """How many history chunks the store's creds record as processed (handled)."""
    store = SQLiteStore(auth)
    try:
        creds = store.load()
    finally:
        store.close()
    return 0 if creds is None else len(creds.processed_history_messages)


async def test_kill_9_during_the_downloads_loses_nothing_and_publishes_nothing_twice(
    tmp_path: Path,
) -> None:
    auth = tmp_path / "auth.db"
    async with Emulator(ping_interval=None) as emulator:
        emulator.blob_delay = 60.0  # the downloads hang until the kill
        async with connect(emulator, auth) as first:
            await link(emulator, first)
            while sorted(published(first)) != [0, 3]:  # the inline chunks
                await first.until(event="messaging-history.set")
            with anyio.fail_after(10):
                while not emulator.blobs.requests:
                    await anyio.sleep(0.02)
            os.kill(first.process.pid, signal.SIGKILL)
            assert await first.process.wait() == -signal.SIGKILL
        # the inline chunks' lines were out before the kill; recorded only if the client's
        # handled report and its save made it too
        before = recorded(auth)
        assert before <= 2
        emulator.blob_delay = 0.0
        async with connect(emulator, auth) as second:
            await second.until(connection="open")
            while len(published(second)) < len(ALL_CHUNKS) - before:
                await second.until(event="messaging-history.set")
            # the RECENT status follows its last chunk, which need not be the last one read
            await second.saw(event="messaging-history.status", sync_type="RECENT")
            assert await second.stop(signal.SIGINT) == 0
        assert sorted(set(published(first)) | set(published(second))) == ALL_CHUNKS
        # what was recorded is not published again; everything else is, once
        assert len(published(second)) == len(set(published(second))) == len(ALL_CHUNKS) - before
        assert {1, 2} <= set(published(second))
        assert recorded(auth) == len(ALL_CHUNKS)
        latest = [
            line["is_latest"]
            for run in (first, second)
            for line in run.lines
            if line["event"] == "messaging-history.set"
        ]
        assert latest.count(True) == 1 + (before == 0)  # the bootstrap, again if not recorded


async def test_kill_9_at_random_moments_of_the_history_sync_loses_no_chunk(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    auth = tmp_path / "auth.db"
    runs: list[list[int]] = []
    records: list[int] = []
    async with Emulator(ping_interval=None) as emulator:
        for number in range(ROUNDS + 1):
            last = number == ROUNDS
            emulator.blob_delay = 0.0 if last else rng.uniform(0.0, 0.2)
            async with connect(emulator, auth) as run:
                if number == 0:
                    await link(emulator, run)
                else:
                    await run.until(connection="open")
                if last:
                    everything = set(ALL_CHUNKS)
                    while not everything <= {c for r in [*runs, published(run)] for c in r}:
                        await run.until(event="messaging-history.set")
                    assert await run.stop(signal.SIGINT) == 0
                else:
                    with anyio.move_on_after(rng.uniform(0.0, 1.0)):
                        while True:
                            await run.line()  # lines go on being read until the kill
                    os.kill(run.process.pid, signal.SIGKILL)
                    assert await run.process.wait() == -signal.SIGKILL
                    while await run.line() is not None:
                        pass  # every complete line written before the kill
            runs.append(published(run))
            records.append(recorded(auth))
    for number, chunks in enumerate(runs):
        assert len(chunks) == len(set(chunks)), f"run {number} published a chunk twice"
    assert sorted({c for chunks in runs for c in chunks}) == ALL_CHUNKS
    for k in range(ROUNDS):
        # a chunk recorded as handled by the end of run k is never published after it: of the
        # chunks published up to run k, at most the unrecorded ones come again
        before = {c for chunks in runs[: k + 1] for c in chunks}
        after = {c for chunks in runs[k + 1 :] for c in chunks}
        assert len(before & after) <= len(before) - records[k], (k, runs, records)
    assert records[-1] == len(ALL_CHUNKS)
    print(f"history over {ROUNDS} kills: runs published {runs}, recorded {records}")
