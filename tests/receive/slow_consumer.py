"""The child process of the slow-consumer kill -9 loop (``tests/receive/test_kill9.py``).

``python -m tests.receive.slow_consumer AUTH URL TRUST_ROOT_HEX SEED`` runs a ``Client`` on the
SQLite store ``AUTH`` against an emulator, with a ``messages.upsert`` handler that takes its
time (a random pause per event) and a small event bound, so that events wait in the queue and
the slow-consumer close happens. It prints one JSON line per fact, flushed at once:

- ``{"event": "open"}`` when a connection opened;
- ``{"event": "upsert", "id", "type", "text"}`` for each message, when the handler starts;
- ``{"event": "handled", "id"}`` for each message, as the handler's last act (the client may ack
  only after this line is out).
"""

from __future__ import annotations

import json
import random
import sys

import anyio

from tests.scenarios.harness import FAST_POLICY
from walink.io.client import Client
from walink.io.config import ClientConfig
from walink.io.events import ConnectionUpdate, MessagesUpsert
from walink.protocol.certs import TrustRoot


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def consumer_config(url: str, trust_root: str) -> ClientConfig:
    """The emulator's client settings of a slow consumer: quick retries, a small event bound."""
    return ClientConfig(
        url=url,
        trust_root=TrustRoot(public_key=bytes.fromhex(trust_root), name="emulator"),
        policy=FAST_POLICY,
        close_timeout=0.3,
        max_pending_events=6,
    )


async def main(auth: str, url: str, trust_root: str, seed: int) -> None:
    rng = random.Random(seed)
    client = Client(auth, consumer_config(url, trust_root))

    def on_update(event: ConnectionUpdate) -> None:
        if event.connection == "open":
            emit(event="open")

    async def on_upsert(event: MessagesUpsert) -> None:
        for message in event.messages:
            emit(event="upsert", id=message.key.id, type=event.type, text=message.text)
        await anyio.sleep(rng.uniform(0.0, 0.06))  # a slow application
        for message in event.messages:
            emit(event="handled", id=message.key.id)

    client.on("connection.update", on_update)
    client.on("messages.upsert", on_upsert)
    async with client:
        await client.wait_closed()


if __name__ == "__main__":
    auth, url, trust_root, seed = sys.argv[1:5]
    anyio.run(main, auth, url, trust_root, int(seed))
