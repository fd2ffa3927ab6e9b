"""walink.io.client's message jobs (run by walink.io._jobs), end to end: one at a time, in order,
in a worker thread, and nothing about a message leaves before the processor returned (asyncio
and trio)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import anyio
import pytest

from tests.io.blocking import Blocking, Updates
from tests.scenarios.harness import PING, config_for, paired_store, running
from walink.auth import AuthStore, SQLiteStore
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.events import ConnectionUpdate, MessageFailed, MessageProcessed, NodeReceived
from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.session import ProcessedMessage
from walink.testing.emulator import Emulator
from walink.testing.server import ServerSession

pytestmark = pytest.mark.anyio

CONTACT = "15550002222@s.whatsapp.net"


class UndecryptableError(RemoteProtocolError):
    """The double's decrypt failure."""


class RecordingProcessor:
    """A ``MessageProcessor`` double: ``<enc>`` holds ``ok:<text>``, ``bad`` or ``disk``. It
    records, for each call, its thread and what the server had received by then."""

    def __init__(self, store: AuthStore, emulator: Emulator) -> None:
        self.store = store
        self.emulator = emulator
        self.threads: list[int] = []
        self.order: list[str] = []
        self.answered_before: list[bool] = []
        self._busy = threading.Lock()

    def process(self, node: Node) -> ProcessedMessage:
        assert self._busy.acquire(blocking=False), "two jobs ran at once"
        try:
            time.sleep(0.005)  # long enough that a second job would overlap if one could
            node_id = node.attr("id") or ""
            self.threads.append(threading.get_ident())
            self.order.append(node_id)
            received = [n for s in self.emulator.sessions() for n in s.received]
            self.answered_before.append(
                any(n.tag in ("ack", "receipt") and n.attr("id") == node_id for n in received)
            )
            enc = node.child("enc")
            body = enc.content if enc is not None and isinstance(enc.content, bytes) else b""
            if body == b"bad":
                raise UndecryptableError("no session")
            if body == b"disk":
                raise OSError(28, "No space left on device")
            return ProcessedMessage(result=body.decode()[3:])
        finally:
            self._busy.release()


def message(node_id: str, body: bytes) -> Node:
    attrs = {"id": node_id, "from": CONTACT, "t": "1780000000", "type": "text"}
    return Node("message", attrs, [Node("enc", {"v": "2", "type": "msg"}, body)])


def answers(session: ServerSession, node_id: str) -> list[Node]:
    return [n for n in session.received if n.tag in ("ack", "receipt") and n.attr("id") == node_id]


async def on_disk(emulator: Emulator, path: Path) -> SQLiteStore:
    creds = (await paired_store(emulator)).load()
    assert creds is not None
    store = SQLiteStore(path)
    store.save(creds)
    return store


async def recording_client(emulator: Emulator, seed: int) -> Client:
    """A client of a device paired in memory, its messages run by a ``RecordingProcessor``."""
    store = await paired_store(emulator)
    return Client(
        store,
        config_for(emulator, seed=seed),
        processor=lambda opened: RecordingProcessor(opened, emulator),
    )


async def test_jobs_run_in_order_in_a_worker_thread_then_receipt_and_ack(tmp_path: Path) -> None:
    async with Emulator() as emulator:
        store = await on_disk(emulator, tmp_path / "auth.db")
        made: list[RecordingProcessor] = []

        def factory(opened: AuthStore) -> RecordingProcessor:
            made.append(RecordingProcessor(opened, emulator))
            return made[0]

        try:
            client = Client(store, config_for(emulator, seed=5), processor=factory)
            async with running(client) as recorder:
                await recorder.wait_open()
                [processor] = made
                assert processor.store is store
                ids = [f"M{n}" for n in range(6)]
                bodies = [b"ok:one", b"bad", b"ok:three", b"ok:four", b"bad", b"ok:six"]
                for node_id, body in zip(ids, bodies, strict=True):
                    await emulator.send_node(message(node_id, body))
                await recorder.wait_for(
                    lambda e: (
                        isinstance(e, (MessageProcessed, MessageFailed))
                        and e.node.attr("id") == ids[-1]
                    )
                )
                [server] = emulator.sessions()
                with anyio.fail_after(5):
                    while not answers(server, ids[-1]):
                        await anyio.sleep(0.01)
                outcomes = [
                    e for e in recorder.events if isinstance(e, (MessageProcessed, MessageFailed))
                ]
                await client.aclose()
        finally:
            store.close()
        assert processor.order == ids
        assert processor.answered_before == [False] * len(ids)
        assert threading.get_ident() not in processor.threads
        assert [e.node.attr("id") for e in outcomes] == ids
        assert [type(e) for e in outcomes] == [
            MessageProcessed if body.startswith(b"ok:") else MessageFailed for body in bodies
        ]
        assert [e.result for e in outcomes if isinstance(e, MessageProcessed)] == [
            "one",
            "three",
            "four",
            "six",
        ]
        assert not [e for e in recorder.events if isinstance(e, NodeReceived)]
        for node_id, body in zip(ids, bodies, strict=True):
            kinds = [(n.tag, n.attr("type"), n.attr("error")) for n in answers(server, node_id)]
            if body.startswith(b"ok:"):
                assert kinds == [("receipt", None, None), ("ack", None, None)]
            else:
                assert kinds == [("receipt", "retry", None), ("ack", None, "500")]


async def test_a_store_failure_stops_without_an_ack() -> None:
    async with Emulator() as emulator:
        client = await recording_client(emulator, seed=6)
        async with running(client) as recorder:
            await recorder.wait_open()
            [server] = emulator.sessions()
            await emulator.send_node(message("D1", b"disk"))
            closed = await recorder.wait_closed()
            await recorder.done.wait()
        assert closed.disconnect.reason is CloseReason.STORE_ERROR and closed.final
        assert "D1" in closed.disconnect.message
        assert answers(server, "D1") == []
        assert not [e for e in recorder.events if isinstance(e, (MessageProcessed, MessageFailed))]


def test_message_events_have_names() -> None:
    from walink.io.events import EVENT_NAMES, event_name

    processed = MessageProcessed(
        token=1, node=message("N1", b"ok:x"), result="x", offline=False, redelivered=False
    )
    failed = MessageFailed(
        node=message("N2", b"bad"),
        error=UndecryptableError("no session"),
        retry_count=1,
        gave_up=False,
    )
    assert [event_name(processed), event_name(failed)] == ["message", "message.failed"]
    assert {"message", "message.failed"} <= EVENT_NAMES


async def server_caught_up(client: Client) -> None:
    """Once a query's reply is back, the server has read every byte the client sent before it
    (one ordered connection): what it has not received by then was not sent."""
    await client.query(PING)


async def processed(client: Client, count: int) -> None:
    """Wait until ``count`` messages wait for the application in the session (published)."""
    with anyio.fail_after(10):
        while len(client.session.messages_unhandled) < count:
            await anyio.sleep(0.005)


async def test_an_on_handler_that_blocks_holds_the_receipt_and_ack_until_it_returns() -> None:
    async with Emulator() as emulator:
        client = await recording_client(emulator, seed=7)
        updates, on_message = Updates(), Blocking[MessageProcessed]()
        client.on("connection.update", updates)
        client.on("message", on_message)
        async with client:
            with anyio.fail_after(10):
                await updates.opened.wait()
            [server] = emulator.sessions()
            await emulator.send_node(message("B1", b"ok:blocked"))
            await emulator.send_node(message("B2", b"ok:queued"))
            await on_message.wait_entered()
            await processed(client, 2)
            await server_caught_up(client)
            assert answers(server, "B1") == [] and answers(server, "B2") == []
            on_message.release.set()
            with anyio.fail_after(10):
                while len(answers(server, "B2")) < 2:
                    await anyio.sleep(0.005)
            assert [n.tag for n in answers(server, "B1")] == ["receipt", "ack"]
            assert client.session.messages_unhandled == frozenset()
        assert [event.node.attr("id") for event in on_message.seen] == ["B1", "B2"]


async def test_iteration_handles_an_event_when_it_asks_for_the_next_one() -> None:
    async with Emulator() as emulator:
        client = await recording_client(emulator, seed=8)
        async with client:
            async for event in client:
                if isinstance(event, ConnectionUpdate) and event.connection == "open":
                    break
            [server] = emulator.sessions()
            await emulator.send_node(message("I1", b"ok:one"))
            with anyio.fail_after(10):
                async for event in client:
                    if isinstance(event, MessageProcessed):
                        assert event.node.attr("id") == "I1"
                        # the loop body holds I1: nothing about it leaves
                        await server_caught_up(client)
                        assert answers(server, "I1") == []
                        break
            # a `break` leaves the event it stopped on unhandled
            await server_caught_up(client)
            assert answers(server, "I1") == []
            assert len(client.session.messages_unhandled) == 1
            # asking for the next event (a new loop continues where the last one stopped)
            # reports I1 handled: its receipt and ack go out; I2 waits for its own turn
            await emulator.send_node(message("I2", b"ok:two"))
            with anyio.fail_after(10):
                async for event in client:
                    if isinstance(event, MessageProcessed):
                        assert event.node.attr("id") == "I2"
                        await server_caught_up(client)
                        assert [n.tag for n in answers(server, "I1")] == ["receipt", "ack"]
                        assert answers(server, "I2") == []
                        break
