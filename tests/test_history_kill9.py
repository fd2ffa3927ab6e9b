"""kill -9 while history chunks are being processed: after a restart nothing is published twice
and nothing is lost (``walink connect --json`` on a SQLite store, against the emulator).

The media server is slow, so the RECENT downloads are in flight when the process is killed; the
inline chunks were already published. The next run on the same store resumes the pending
notifications (saved in the creds before their acks left) and publishes each RECENT chunk once;
the server's redelivery of anything left unacked is not published again.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import pytest

from tests.test_cli_connect import Connect, connect, link
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

ALL_CHUNKS = [0, 1, 2, 3]  # INITIAL_BOOTSTRAP, RECENT, RECENT, PUSH_NAME


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def published(run: Connect) -> list[int]:
    return [line["chunk_order"] for line in run.lines if line["event"] == "messaging-history.set"]


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
        emulator.blob_delay = 0.0
        async with connect(emulator, auth) as second:
            await second.until(connection="open")
            while len(published(second)) < 2:
                await second.until(event="messaging-history.set")
            await second.until(event="messaging-history.status", sync_type="RECENT")
            assert await second.stop(signal.SIGINT) == 0
        every = published(first) + published(second)
        assert sorted(every) == ALL_CHUNKS, (published(first), published(second))
        latest = [
            line["is_latest"]
            for run in (first, second)
            for line in run.lines
            if line["event"] == "messaging-history.set"
        ]
        assert latest.count(True) == 1
