"""walink.io.fleet's delivery: a device's message is acked only once the application handled the
``DeviceEvent`` carrying it (asked the fleet for the next event), never once the fleet merely
buffered it; an event the application stopped on, or that a closed client left in the buffer,
is never acked by it, and comes again (asyncio and trio)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tests.scenarios.harness import PING, config_for, paired_store
from walink.auth.devices import DeviceStore, open_device_store
from walink.io.client import Client
from walink.io.events import ConnectionUpdate, MessagesUpsert
from walink.io.fleet import (
    DeviceClaimed,
    DeviceEvent,
    DeviceReleased,
    Fleet,
    FleetConfig,
    FleetEvent,
)
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

ALICE = "15550002222"
WAIT = 15.0


async def linked(emulator: Emulator, store: DeviceStore, seed: int = 0) -> tuple[str, str]:
    """A device linked to ``emulator`` in ``store``, with the pre-keys it uploaded (so that a
    contact's first message decrypts): its id in the store and its JID."""
    memory = await paired_store(emulator, seed)
    creds = memory.load()
    assert creds is not None and creds.me is not None
    keys = [("pre-key", key_id) for key_id in memory.list_key_ids("pre-key")]
    return store.import_from(memory, keys), creds.me.id


def fleet_config(emulator: Emulator, **overrides: object) -> FleetConfig:
    options: dict[str, object] = {
        "client": config_for(emulator),
        "connect_rate": 200.0,
        "connect_burst": 5,
        "connect_jitter": 0.01,
        "claim_interval": 0.1,
    }
    options.update(overrides)
    return FleetConfig(**options)  # type: ignore[arg-type]


def answers(emulator: Emulator, message_id: str) -> list[str]:
    """What every server connection received about ``message_id``: its receipts and acks."""
    return [
        node.tag
        for session in emulator.sessions()
        for node in session.received
        if node.tag in ("ack", "receipt") and node.attr("id") == message_id
    ]


async def caught_up(client: Client) -> None:
    """Once a query's reply is back, the server read every byte the client sent before it
    (one ordered connection): what it has not received by then was not sent."""
    with anyio.fail_after(WAIT):
        await client.wait_open()  # the offline backlog may come before the open
        await client.query(PING)


async def until_answered(emulator: Emulator, message_id: str) -> None:
    with anyio.fail_after(WAIT):
        while "ack" not in answers(emulator, message_id):
            await anyio.sleep(0.005)


async def next_upsert(events: AsyncIterator[FleetEvent], message_id: str) -> MessagesUpsert:
    """Iterate (handling every event on the way) up to the upsert of ``message_id``, held."""
    with anyio.fail_after(WAIT):
        async for event in events:
            if (
                isinstance(event, DeviceEvent)
                and isinstance(event.event, MessagesUpsert)
                and any(m.key.id == message_id for m in event.event.messages)
            ):
                return event.event
    raise AssertionError("the fleet stopped first")


async def until_open(events: AsyncIterator[FleetEvent]) -> None:
    with anyio.fail_after(WAIT):
        async for event in events:
            if (
                isinstance(event, DeviceEvent)
                and isinstance(event.event, ConnectionUpdate)
                and event.event.connection == "open"
            ):
                return


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_message_is_acked_once_the_application_asks_for_the_next_event(
    tmp_path: Path,
) -> None:
    async with Emulator() as emulator:
        with open_device_store(tmp_path / "fleet.db") as store:
            device, jid = await linked(emulator, store)
            alice = emulator.contact(ALICE, "Alice")
            async with Fleet(store, fleet_config(emulator)) as fleet:
                events = fleet.events()
                await until_open(events)
                client = fleet.clients[device]
                first = await alice.send_text(jid, "one")
                await next_upsert(events, first)
                # the application holds the event: the fleet buffered and handed it out, yet
                # neither its receipt nor its ack left
                await caught_up(client)
                assert answers(emulator, first) == []
                assert len(client.session.messages_unhandled) == 1
                second = await alice.send_text(jid, "two")
                with anyio.fail_after(WAIT):
                    while len(client.session.messages_unhandled) < 2:
                        await anyio.sleep(0.005)
                await caught_up(client)
                assert answers(emulator, first) == answers(emulator, second) == []
                # asking for the next event reports the held one handled: now it is answered
                # (a new loop, over a new iterator, continues where the last one stopped)
                upsert = await next_upsert(fleet.events(), second)
                assert upsert.type == "notify"
                await until_answered(emulator, first)
                assert answers(emulator, first) == ["receipt", "ack"]
                # a `break` on the second, then the fleet closes: the second is never acked
                await caught_up(client)
                assert answers(emulator, second) == []
            assert answers(emulator, second) == []
            # the next run gets it again from the server, and acks it once handled
            async with Fleet(store, fleet_config(emulator)) as fleet:
                events = fleet.events()
                again = await next_upsert(events, second)
                assert again.type == "append"
                assert [m.text for m in again.messages] == ["two"]
                client = fleet.clients[device]
                await caught_up(client)
                assert "ack" not in answers(emulator, second)
                third = await alice.send_text(jid, "three")
                await next_upsert(events, third)
                await until_answered(emulator, second)
                await fleet.aclose()
            assert "ack" not in answers(emulator, third)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_slow_application_holds_the_acks_and_the_buffer_stays_bounded(
    tmp_path: Path,
) -> None:
    """An application that takes nothing: the fleet's buffer fills to its bound and no more;
    nothing is acked. Once it reads, every message comes, in order, and is acked."""
    buffer = 3
    async with Emulator() as emulator:
        with open_device_store(tmp_path / "fleet.db") as store:
            device, jid = await linked(emulator, store)
            alice = emulator.contact(ALICE, "Alice")
            config = fleet_config(emulator, event_buffer=buffer)
            async with Fleet(store, config) as fleet:
                events = fleet.events()
                await until_open(events)
                client = fleet.clients[device]
                sent = [await alice.send_text(jid, f"slow {n}") for n in range(8)]
                # every message is processed and published, none handled
                with anyio.fail_after(WAIT):
                    while len(client.session.messages_unhandled) < len(sent):
                        await anyio.sleep(0.005)
                await caught_up(client)
                assert all(answers(emulator, m) == [] for m in sent)
                # the rest waits in the client's own queue (bounded by max_pending_events)
                assert client.health.pending_events >= 2 * len(sent) - buffer - 1
                got: list[str] = []
                with anyio.fail_after(WAIT):
                    async for event in events:
                        if isinstance(event, DeviceEvent) and isinstance(
                            event.event, MessagesUpsert
                        ):
                            got.extend(m.key.id for m in event.event.messages)
                            if got == sent:
                                break
                assert got == sent
                for message_id in sent[:-1]:
                    await until_answered(emulator, message_id)
                await caught_up(client)
                assert answers(emulator, sent[-1]) == []  # the loop stopped on it


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_an_event_whose_client_ended_is_never_acked_by_a_later_client(
    tmp_path: Path,
) -> None:
    """The application holds a message while the device's lease is lost and the fleet claims it
    again with a new client: handling the old event acks nothing; the new client's delivery
    of the message (``append``) is acked once that event is handled."""
    path = tmp_path / "fleet.db"
    async with Emulator() as emulator:
        with open_device_store(path) as setup:
            device, jid = await linked(emulator, setup)
        mine = open_device_store(path, lease_ttl=0.6)
        theirs = open_device_store(path)
        alice = emulator.contact(ALICE, "Alice")
        try:
            async with Fleet(mine, fleet_config(emulator)) as fleet:
                events = fleet.events()
                await until_open(events)
                message_id = await alice.send_text(jid, "held across clients")
                await next_upsert(events, message_id)
                old = fleet.clients[device]
                epoch = fleet.held[device]
                # the lease is taken away while the application holds the event
                conn = sqlite3.connect(path)
                conn.execute("UPDATE walink_leases SET expires = 0")
                conn.commit()
                conn.close()
                taker = theirs.device(device)
                assert taker.acquire() == epoch + 1
                with anyio.fail_after(WAIT):
                    while not old.finished:
                        await anyio.sleep(0.01)
                taker.close()  # free again: the fleet claims it with a new client
                with anyio.fail_after(WAIT):
                    while fleet.held.get(device) != epoch + 2 or device not in fleet.clients:
                        await anyio.sleep(0.01)
                    new = fleet.clients[device]
                    while len(new.session.messages_unhandled) < 1:
                        await anyio.sleep(0.01)
                # the old event is handled now (the application asks for the next one, and
                # goes on to the old client's release): its client is gone, and it must not
                # ack the new connection's delivery
                released = await anext(events)
                while not isinstance(released, DeviceReleased):
                    released = await anext(events)
                assert (released.reason, released.epoch) == ("LEASE_LOST", epoch)
                await caught_up(new)
                assert "ack" not in answers(emulator, message_id)
                assert len(new.session.messages_unhandled) == 1
                claimed = await anext(events)
                assert isinstance(claimed, DeviceClaimed) and claimed.epoch == epoch + 2
                again = await next_upsert(events, message_id)
                assert again.type == "append"
                await caught_up(new)
                assert "ack" not in answers(emulator, message_id)
                later = await alice.send_text(jid, "later")
                await next_upsert(events, later)
                await until_answered(emulator, message_id)
                await fleet.aclose()
        finally:
            mine.close()
            theirs.close()
