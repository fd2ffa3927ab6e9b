"""A consumer that falls behind: the connection closes with SLOW_CONSUMER, nothing is dropped,
the protocol (keepalive, acks) keeps running, and the backlog stays bounded."""

from __future__ import annotations

import anyio
import pytest

from tests.scenarios.harness import WAIT, Recorder, config_for, paired_store
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.events import Closed, NodeReceived
from walink.protocol.binary import Node
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

LIMIT = 20
MESSAGES = 60


def message(number: int, jid: str) -> Node:
    return Node(
        "message",
        {"id": f"M{number:03d}", "from": "15551230000@s.whatsapp.net", "to": jid, "type": "text"},
        [Node("enc", {"v": "2", "type": "msg"}, b"ciphertext")],
    )


async def test_slow_consumer_closes_visibly_and_drops_nothing() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        creds = store.load()
        assert creds is not None and creds.me is not None
        config = config_for(emulator, max_pending_events=LIMIT, process_messages=False)
        async with Client(store, config) as client:
            # nobody consumes yet: wait for the open through the client's state only
            with anyio.fail_after(5):
                while not client.is_connected:
                    await anyio.sleep(0.005)
            [session] = emulator.sessions()
            for number in range(MESSAGES):
                queued = client.health.pending_events
                await emulator.send_node(message(number, creds.me.id))
                # until the close, the next message leaves only once this one is queued: the
                # client checks its bound after each read, and a starved client reading many
                # messages at once went past LIMIT + 3 before its check (a loaded run saw 24)
                with anyio.fail_after(WAIT):
                    while (
                        client.health.pending_events == queued
                        and client.health.last_disconnect is None
                    ):
                        await anyio.sleep(0.005)
            with anyio.fail_after(5):
                while client.health.last_disconnect is None:
                    await anyio.sleep(0.005)
            health = client.health
            assert health.last_disconnect is not None
            assert health.last_disconnect.reason is CloseReason.SLOW_CONSUMER
            assert not health.is_connected
            # the backlog is bounded: the close stopped the inflow
            assert health.pending_events <= LIMIT + 3
            # now the application catches up: everything is there, in order, then a reconnect
            recorder = Recorder(client)
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(recorder.run)
                closed = await recorder.wait_closed()
                assert closed.disconnect.reason is CloseReason.SLOW_CONSUMER
                assert closed.disconnect.status == 428
                assert closed.decision.reconnect and not closed.final
                await recorder.wait_open()
                await client.aclose()
        received = [e.node.attr("id") for e in recorder.nodes if e.node.tag == "message"]
        # no message event was dropped; the ones that arrived after the close were not read
        assert received == [f"M{n:03d}" for n in range(len(received))]
        assert len(received) > LIMIT - 10
        # every ack the server got is for a message that had been queued first
        acked = {n.attr("id") for n in session.received if n.tag == "ack"}
        assert acked <= set(received)
        assert acked, "the queued messages were acked"
        first_close = next(i for i, e in enumerate(recorder.events) if isinstance(e, Closed))
        before = [e for e in recorder.events[:first_close] if isinstance(e, NodeReceived)]
        assert len(before) == len(received)
