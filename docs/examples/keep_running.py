"""A long-running client: handlers with ``on()``, a health check, and a clean stop.

The client reconnects by itself (backoff, the 515 restart); the application only watches. Here
the emulator drops the first login's connection, so the handler sees a close and a reconnect;
in a real program the stop comes from a signal or a shutdown request instead.
"""

from __future__ import annotations

import sys

import anyio

from walink import Client, ClientConfig, ClientEvent, Closed, ConnectionUpdate, PolicyConfig
from walink.testing import Drop, Emulator, Step


async def main(auth: str = "walink-auth.db") -> list[str]:
    seen: list[str] = []
    opened = anyio.Event()
    async with Emulator() as emulator:
        config = ClientConfig(
            url=emulator.url,
            trust_root=emulator.trust_root,
            policy=PolicyConfig(backoff_unit=0.01),  # a fast backoff, for the example only
        )

        async def on_update(event: ClientEvent) -> None:
            assert isinstance(event, ConnectionUpdate)
            if event.qr:
                await emulator.phone.scan_qr(event.qr)
            if event.connection == "close" and event.last_disconnect is not None:
                seen.append(f"close {event.last_disconnect.reason.name}")
            if event.connection == "open":
                seen.append("open")
                if any(line.startswith("close") for line in seen):
                    opened.set()  # open again after the drop

        def on_closed(event: ClientEvent) -> None:
            assert isinstance(event, Closed)
            if event.decision.reconnect and not event.decision.restart:  # not the 515
                seen.append(f"reconnect in {event.decision.delay:.2f} s")

        # the 1st connection registers; the 2nd (after the 515 restart) logs in and is dropped
        emulator.inject()
        emulator.inject(Drop(at=Step.OPEN))
        async with Client(auth, config) as client:
            client.on("connection.update", on_update)
            client.on("closed", on_closed)
            with anyio.fail_after(30):
                await opened.wait()
            health = client.health
            assert health.is_connected and health.connections >= 3
        # leaving the block is the clean stop: close frame, creds saved, tasks ended
    return seen


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    for line in anyio.run(main, backend=backend):
        print(line)
