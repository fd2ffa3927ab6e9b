"""No path that kills a client or misleads: bad nodes, our own failures, handler errors, a
rejected certificate, calls after the end, cancelled queries, logout while backing off, and the
Baileys-style API (wait_open, chat states, presence subscription)."""

from __future__ import annotations

import logging
import math

import anyio
import pytest

from tests.bounds import EVENT_WAIT
from tests.scenarios.harness import PING, config_for, paired_store, running, scan_when_shown
from walink.auth import MemoryStore
from walink.fsm.policy import PolicyConfig
from walink.fsm.reasons import CloseReason
from walink.io import client as client_module
from walink.io._support import Waiter
from walink.io.client import ChatState, Client
from walink.io.errors import (
    ClientClosedError,
    InvalidNodeError,
    LoggedOutError,
    QueryTimeoutError,
)
from walink.io.events import ConnectionUpdate
from walink.protocol.binary import Node
from walink.protocol.certs import WHATSAPP_ROOT, CertificateDefect
from walink.session import QueryError, QueryResult
from walink.testing.emulator import Emulator
from walink.testing.faults import Drop, Step

pytestmark = pytest.mark.anyio


def nested(depth: int) -> Node:
    node = Node("leaf")
    for _ in range(depth):
        node = Node("n", {}, [node])
    return node


BAD_NODES: list[tuple[str, Node]] = [
    ("an int attribute", Node("iq", {"n": 1})),  # type: ignore[dict-item]
    ("an empty tag", Node("")),
    ("a lone surrogate", Node("iq", {"x": "\ud800"})),
    ("nesting deeper than 64", nested(70)),
    ("65,536 attributes", Node("iq", {str(i): "" for i in range(65_536)})),
    ("a frame over 16 MiB", Node("iq", {}, b"x" * (1 << 24))),
    ("a child that is not a node", Node("iq", {}, ["text"])),  # type: ignore[list-item]
]


async def test_unencodable_nodes_are_refused_and_the_connection_lives() -> None:
    # Before: the codec's error reached the caller raw *and* left the connection failed; the
    # next ping or received byte then raised inside a client task (an ExceptionGroup).
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        config = config_for(emulator, keepalive_interval=0.05, keepalive_timeout=5.0)
        async with running(Client(store, config)) as recorder:
            await recorder.wait_open()
            client = recorder.client
            for what, node in BAD_NODES:
                with pytest.raises(InvalidNodeError):
                    await client.send_node(node)
                with pytest.raises(InvalidNodeError):
                    await client.query(node)
                assert client.is_connected, what
            # keepalive pings go out on the same connection, and queries still work
            [session] = emulator.sessions()
            pings = len([n for n in session.received if n.attr("xmlns") == "w:p"])
            with anyio.fail_after(5):
                while len([n for n in session.received if n.attr("xmlns") == "w:p"]) <= pings:
                    await anyio.sleep(0.01)
            reply = await client.query(PING)
            assert reply.attr("type") == "result"
            assert not recorder.closes


async def test_a_failure_inside_the_client_ends_the_attempt_not_the_client() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        config = config_for(emulator, keepalive_interval=0.05)  # the pong brings bytes
        async with running(Client(store, config)) as recorder:
            await recorder.wait_open()
            client = recorder.client
            session = client.session
            original = session.receive_data

            def broken(data: bytes | None, *, now: float) -> None:
                session.receive_data = original  # type: ignore[method-assign]
                raise RuntimeError("a bug while reading")

            session.receive_data = broken  # type: ignore[method-assign]
            closed = await recorder.wait_closed()
            assert closed.disconnect.reason is CloseReason.INTERNAL_ERROR
            assert "a bug while reading" in closed.disconnect.message
            assert closed.decision.reconnect
            await recorder.wait_for(
                lambda e: isinstance(e, ConnectionUpdate) and e.connection == "open",
                start=recorder.events.index(closed),
            )
            assert (await client.query(PING)).attr("type") == "result"


async def test_an_exception_in_a_handler_comes_out_as_itself() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)

        def fail_when_open(update: ConnectionUpdate) -> None:
            if update.connection == "open":
                raise LookupError("the application's bug")

        with anyio.fail_after(10), pytest.raises(LookupError, match="application's bug"):
            async with Client(store, config_for(emulator)) as client:
                client.on("connection.update", fail_when_open)
                await client.wait_closed()
        closed = client.last_closed
        assert closed is not None and closed.disconnect.reason is CloseReason.LOCAL_CLOSE


async def test_a_rejected_certificate_is_named_logged_at_error_and_final(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Emulator() as emulator:
        # WhatsApp's root: the emulator's chain does not lead to it
        config = config_for(emulator, trust_root=WHATSAPP_ROOT)
        with caplog.at_level(logging.INFO, logger="walink.client"):
            async with running(Client(MemoryStore(), config)) as recorder:
                with pytest.raises(ClientClosedError) as ended:
                    await recorder.client.wait_open()
                await recorder.done.wait()  # the iteration ended: the lifecycle is over
        closed = ended.value.closed
        assert closed is not None and closed is recorder.client.last_closed
        disconnect = closed.disconnect
        assert disconnect.reason is CloseReason.CERTIFICATE_REJECTED
        assert disconnect.certificate_defect is CertificateDefect.BAD_INTERMEDIATE_SIGNATURE
        assert closed.final and not closed.decision.reconnect
        assert len(recorder.closes) == 1  # never retried
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert any("CERTIFICATE_REJECTED" in r.getMessage() for r in errors)


async def test_a_rejected_certificate_retries_when_the_policy_says_so() -> None:
    async with Emulator() as emulator:
        policy = PolicyConfig(backoff_unit=0.01, backoff_cap=0.02, jitter=0.0, stop_reasons=set())  # type: ignore[arg-type]
        config = config_for(emulator, trust_root=WHATSAPP_ROOT, policy=policy)
        async with running(Client(MemoryStore(), config)) as recorder:
            second = await recorder.wait_closed(2)
            assert second.disconnect.reason is CloseReason.CERTIFICATE_REJECTED
            assert second.decision.reconnect


async def test_calls_after_the_end_raise_client_closed() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator, push_name="Bot"))) as recorder:
            await recorder.client.wait_open()
            await recorder.client.aclose()
        client = recorder.client
        calls = [
            client.query(PING),
            client.send_node(PING),
            client.logout(),
            client.send_presence_update("available"),
            client.send_chat_state("123@s.whatsapp.net", "composing"),
            client.subscribe_presence("123@s.whatsapp.net"),
            client.wait_open(),
        ]
        for call in calls:
            with pytest.raises(ClientClosedError) as ended:
                await call
            assert ended.value.closed is client.last_closed


async def test_query_timeouts_and_ids_are_checked_and_cancelled_queries_released() -> None:
    never = Node("q", {"id": "never"})  # the emulator answers no <q>: it waits until released
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            client = recorder.client
            for bad in (math.nan, -1.0):
                with pytest.raises(ValueError, match="timeout"):
                    await client.query(PING, timeout=bad)
            # a cancelled query, even one that would wait for ever, gives its id back at once
            for _ in range(2):
                with anyio.move_on_after(0.05) as scope:
                    await client.query(never, timeout=math.inf)
                assert scope.cancelled_caught
            # while one waits, its id is taken: a documented error, nothing sent
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(client.query, never)
                await anyio.sleep(0.01)
                with pytest.raises(InvalidNodeError, match="already waiting"):
                    await client.query(never)
                tasks.cancel_scope.cancel()
            assert client.is_connected and not recorder.closes


async def test_a_query_id_reused_before_its_first_caller_resumes_stays_the_new_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Once a query is answered its id is free, and a second caller can send a query with the
    # same id before the first caller's task has resumed. The first caller, resuming, must
    # neither take the second one's waiter nor give its query up (it would then wait for ever).
    # The first caller's wake-up is held back until the second query is sent, to force that.
    answered, resume, second_sent = anyio.Event(), anyio.Event(), anyio.Event()

    class HeldEvent:
        def __init__(self) -> None:
            self._event = anyio.Event()

        def set(self) -> None:
            self._event.set()

        def is_set(self) -> bool:
            return self._event.is_set()

        async def wait(self) -> None:
            await self._event.wait()
            answered.set()
            await resume.wait()

    class FirstCallerHeld(Waiter[QueryResult | QueryError]):
        made = 0

        def __init__(self) -> None:
            super().__init__()
            FirstCallerHeld.made += 1
            if FirstCallerHeld.made == 1:
                self.done = HeldEvent()  # type: ignore[assignment]
            else:
                second_sent.set()

    dup_ping = Node(PING.tag, {**PING.attrs, "id": "dup"}, PING.content)
    dup_never = Node("q", {"id": "dup"})  # the emulator answers no <q>: it times out
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            client = recorder.client
            monkeypatch.setattr(client_module, "Waiter", FirstCallerHeld)
            outcomes: dict[str, object] = {}

            async def first() -> None:
                outcomes["first"] = await client.query(dup_ping)

            async def second() -> None:
                try:
                    await client.query(dup_never, timeout=1.0)
                except QueryTimeoutError as error:
                    outcomes["second"] = error

            with anyio.fail_after(EVENT_WAIT):
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(first)
                    await answered.wait()  # answered; the first caller has not resumed
                    tasks.start_soon(second)
                    await second_sent.wait()
                    resume.set()
            assert isinstance(outcomes["first"], Node) and outcomes["first"].attr("id") == "dup"
            assert isinstance(outcomes["second"], QueryTimeoutError)
            assert client.is_connected and not recorder.closes


async def test_chat_states_and_presence_subscription() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.client.wait_open()
            client = recorder.client
            assert client.logged_in and client.connection == "open"
            me = client.creds.me if client.creds is not None else None
            assert me is not None and me.lid is not None
            states: tuple[ChatState, ...] = ("composing", "paused", "recording")
            for state in states:
                await client.send_chat_state("15551234567@s.whatsapp.net", state)
            await client.send_chat_state("987654321@lid", "paused")  # from this account's LID
            await client.subscribe_presence("15551234567@s.whatsapp.net")
            with pytest.raises(ValueError):
                await client.send_chat_state("15551234567@s.whatsapp.net", "typing")  # type: ignore[arg-type]
            for bad in ("+1 555@s.whatsapp.net", "no-at-sign", None):
                with pytest.raises(ValueError):
                    await client.subscribe_presence(bad)  # type: ignore[arg-type]
            await client.query(PING)  # everything before it has reached the server
            [server] = emulator.sessions()
            sent = [n for n in server.received if n.tag in ("chatstate", "presence")]
            to = "15551234567@s.whatsapp.net"
            chat = {"from": me.id, "to": to}
            assert [n for n in sent if n.tag == "chatstate"] == [
                Node("chatstate", chat, [Node("composing")]),
                Node("chatstate", chat, [Node("paused")]),
                Node("chatstate", chat, [Node("composing", {"media": "audio"})]),
                Node("chatstate", {"from": me.lid, "to": "987654321@lid"}, [Node("paused")]),
            ]
            assert sent[-1] == Node("presence", {"type": "subscribe", "to": to})


async def test_logout_while_backing_off_dials_at_once_and_marks_the_store() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        slow = PolicyConfig(backoff_unit=3600.0, backoff_cap=3600.0, jitter=0.0)
        emulator.inject(Drop(at=Step.OPEN))
        async with running(Client(store, config_for(emulator, policy=slow))) as recorder:
            closed = await recorder.wait_closed()
            assert closed.decision.reconnect and closed.decision.delay == 3600.0
            assert recorder.client.connection == "close" and recorder.client.logged_in
            with anyio.fail_after(10):
                await recorder.client.logout()
            await recorder.done.wait()
        last = recorder.closes[-1]
        assert last.disconnect.reason is CloseReason.LOCAL_LOGOUT and last.requested
        creds = store.load()
        assert creds is not None and creds.logged_out
        with pytest.raises(LoggedOutError):
            async with Client(store, config_for(emulator)):
                pass


async def test_logout_of_a_device_never_linked_just_closes() -> None:
    async with Emulator() as emulator:
        store = MemoryStore()
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_for(lambda e: isinstance(e, ConnectionUpdate) and e.qr is not None)
            assert not recorder.client.logged_in
            with anyio.fail_after(10):
                await recorder.client.logout()
            assert recorder.client.finished
        assert recorder.closes[-1].disconnect.reason is CloseReason.LOCAL_CLOSE
        assert store.load() is None


async def test_wait_open_returns_once_open() -> None:
    async with Emulator() as emulator:
        client = Client(MemoryStore(), config_for(emulator))
        async with running(client) as recorder, anyio.create_task_group() as tasks:
            tasks.start_soon(scan_when_shown, emulator, recorder)
            with anyio.fail_after(10):
                await client.wait_open()
            assert client.is_connected and client.logged_in
            await client.wait_open()  # at once when open
