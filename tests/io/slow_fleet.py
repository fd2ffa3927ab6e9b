"""The child process of the fleet's kill -9 loop (``tests/io/test_fleet_kill9.py``).

``python -m tests.io.slow_fleet STORE URL TRUST_ROOT_HEX SEED`` runs a ``Fleet`` on the SQLite
device store ``STORE`` against an emulator, whose loop takes its time over each
``messages.upsert`` (a random pause), with a small fleet buffer and a small per-client event
bound, so that events wait in the fleet's buffer and in the clients' queues. The store's owner
is the same every run, so a fleet started after a killed one takes its devices back at once.
It prints one JSON line per fact, flushed at once:

- ``{"event": "open", "device"}`` when a device's connection opened;
- ``{"event": "upsert", "device", "id", "type", "text"}`` for each message, when the loop body
  starts on it;
- ``{"event": "handled", "device", "id"}`` for each message, as the loop body's last act (the
  fleet may have the message acked only after this line is out).
"""

from __future__ import annotations

import random
import sys

import anyio

from tests.receive.slow_consumer import consumer_config, emit
from walink.auth.devices import open_device_store
from walink.io.events import ConnectionUpdate, MessagesUpsert
from walink.io.fleet import DeviceEvent, Fleet, FleetConfig

OWNER = "slow-fleet"


async def main(store_path: str, url: str, trust_root: str, seed: int) -> None:
    rng = random.Random(seed)
    client = consumer_config(url, trust_root)
    config = FleetConfig(
        client=client,
        connect_rate=100.0,
        connect_burst=10,
        connect_jitter=0.0,
        claim_interval=0.1,
        event_buffer=4,
    )
    store = open_device_store(store_path, owner=OWNER)
    async with Fleet(store, config) as fleet:
        async for item in fleet:
            if not isinstance(item, DeviceEvent):
                continue
            event, device = item.event, item.device
            if isinstance(event, ConnectionUpdate) and event.connection == "open":
                emit(event="open", device=device)
            elif isinstance(event, MessagesUpsert):
                for message in event.messages:
                    fields = {"id": message.key.id, "type": event.type, "text": message.text}
                    emit(event="upsert", device=device, **fields)
                await anyio.sleep(rng.uniform(0.0, 0.06))  # a slow application
                for message in event.messages:
                    emit(event="handled", device=device, id=message.key.id)


if __name__ == "__main__":
    store_path, url, trust_root, seed = sys.argv[1:5]
    anyio.run(main, store_path, url, trust_root, int(seed))
