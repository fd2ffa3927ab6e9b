"""Capture a client's traffic, then replay it deterministically through the sans-IO session.

A capture holds every node in and out (decrypted, secrets redacted), the timers and the events;
``walink replay FILE`` or ``replay_capture`` plays it back without a network, and says whether
the replayed events match the recorded ones. Attach a capture to a bug report.

The outcomes of message and history processing are in the capture as well (redacted: no
plaintext, no key), so the emulator phone's history, sent at this new login, replays the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from walink import Client, ClientConfig, ConnectionUpdate, HistorySet
from walink.capture import read_capture, replay_capture
from walink.testing import Emulator


async def record(path: Path, auth: str) -> None:
    async with Emulator() as emulator:
        config = ClientConfig(url=emulator.url, trust_root=emulator.trust_root)
        async with Client(auth, config, capture=path) as client:
            chunks = 0
            async for event in client:
                if isinstance(event, ConnectionUpdate) and event.qr:
                    await emulator.phone.scan_qr(event.qr)
                if isinstance(event, HistorySet):
                    chunks += 1
                    if chunks == 4:  # the emulator phone's whole history
                        break


async def main(auth: str = "walink-auth.db", capture: str = "run.jsonl") -> bool:
    path = Path(capture)
    await record(path, auth)
    result = replay_capture(read_capture(path))
    end = result.lines[-1]  # {"event": "replay.end", "events_match": ..., ...}
    return bool(end["events_match"])


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    print("replay matches the recording:", anyio.run(main, backend=backend))
