"""An open connection in use: queries, presence, keepalive both ways, logout, close."""

from __future__ import annotations

import math

import anyio
import pytest

from tests.scenarios.harness import PING, config_for, paired_store, running
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.errors import (
    ClientClosedError,
    LoggedOutError,
    NoPushNameError,
    QueryClosedError,
    QueryServerError,
    QueryTimeoutError,
)
from walink.io.events import ConnectionUpdate
from walink.io.websocket import ConnectionLostError, WebSocketConnection
from walink.protocol.binary import Node
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

UNKNOWN = Node("iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "nothing"}, [Node("x")])


async def test_query_answers_errors_and_timeouts() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            client = recorder.client
            reply = await client.query(PING)
            assert reply.tag == "iq" and reply.attr("type") == "result"
            with pytest.raises(QueryServerError) as server_error:
                await client.query(UNKNOWN)
            assert server_error.value.code == 501 and server_error.value.node is not None
            [session] = emulator.sessions()
            session.go_silent()
            with pytest.raises(QueryTimeoutError) as timeout:
                await client.query(PING, timeout=0.05)
            assert timeout.value.code == 408
            async with anyio.create_task_group() as task_group:

                async def close_soon() -> None:
                    await anyio.sleep(0.05)
                    await client.aclose()

                task_group.start_soon(close_soon)
                with pytest.raises(QueryClosedError) as closed:
                    await client.query(PING, timeout=math.inf)
            assert closed.value.disconnect is not None
            assert closed.value.disconnect.reason is CloseReason.LOCAL_CLOSE
            with pytest.raises(ClientClosedError):  # the lifecycle ended: for good
                await client.send_node(PING)


async def test_presence_updates_is_online() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator, push_name="Bot"))) as recorder:
            await recorder.wait_open()
            client = recorder.client
            assert not client.is_online and client.push_name == "Bot"
            await client.send_presence_update("available")
            assert client.is_online and client.health.is_online
            online = await recorder.wait_for(
                lambda e: isinstance(e, ConnectionUpdate) and e.is_online
            )
            assert isinstance(online, ConnectionUpdate) and online.connection == "open"
            await client.send_presence_update("unavailable")
            assert not client.is_online
            with pytest.raises(ValueError):
                await client.send_presence_update("away")


async def test_mark_online_on_connect() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        config = config_for(emulator, mark_online_on_connect=True, push_name="Bot")
        async with running(Client(store, config)) as recorder:
            await recorder.wait_open()
            await recorder.wait_for(lambda e: isinstance(e, ConnectionUpdate) and e.is_online)
            assert recorder.client.is_online


async def test_keepalive_detects_a_silent_server() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        config = config_for(emulator, keepalive_interval=0.1, keepalive_timeout=0.1)
        async with running(Client(store, config)) as recorder:
            await recorder.wait_open()
            [session] = emulator.sessions()
            session.go_silent()
            silent_at = anyio.current_time()
            closed = await recorder.wait_closed()
            waited = anyio.current_time() - silent_at
            assert closed.disconnect.reason is CloseReason.KEEPALIVE_TIMEOUT
            assert closed.disconnect.status == 408 and closed.decision.reconnect
            assert 0.1 <= waited < 2.0
            # the next connection (a new server session) opens again
            await recorder.wait_open()


async def test_server_pings_are_answered() -> None:
    async with Emulator(ping_interval=0.05) as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            [session] = emulator.sessions()
            with anyio.fail_after(5):
                while len(session.pongs) < 3:
                    await anyio.sleep(0.02)
            assert set(session.pongs) <= set(session.pings_sent)
            assert recorder.client.is_connected and recorder.closes == []
            # pings are protocol: none of them reached the application
            assert all(e.node.attr("xmlns") != "urn:xmpp:ping" for e in recorder.nodes)


async def test_a_failed_send_does_not_preempt_what_the_reader_still_hands_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The logout request goes out, then the socket reports the send as failed (as it does once
    the reader has seen the server's Close while the messages before it still wait): the server's
    answer must still reach the session, so the logout is confirmed, not read as a lost
    connection (a loaded CI run printed "the logout was not confirmed" this way)."""
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            real_send = WebSocketConnection.send
            failing = False

            async def send_then_fail(self: WebSocketConnection, data: bytes) -> None:
                await real_send(self, data)
                if failing and type(self) is WebSocketConnection:  # the client's, not the server's
                    raise ConnectionLostError("send failed: the peer closed")

            monkeypatch.setattr(WebSocketConnection, "send", send_then_fail)
            failing = True
            with anyio.fail_after(5):
                await recorder.client.logout()
            await recorder.done.wait()
        closed = recorder.closes[-1]
        assert closed.disconnect.reason is CloseReason.LOCAL_LOGOUT
        assert closed.disconnect.node is not None  # the server's answer: confirmed
        marked = store.load()
        assert marked is not None and marked.logged_out


async def test_logout_removes_the_device_and_ends() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        creds = store.load()
        assert creds is not None and creds.me is not None
        user, device = creds.me.id.split("@")[0].split(":")
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            with anyio.fail_after(5):
                await recorder.client.logout()
            assert recorder.client.finished
            await recorder.done.wait()
        closed = recorder.closes[-1]
        assert closed.disconnect.reason is CloseReason.LOCAL_LOGOUT
        assert closed.disconnect.status == 401 and closed.final and closed.requested
        [update] = recorder.close_updates
        assert update.last_disconnect is closed.disconnect
        assert emulator.registry.remove_device(user, int(device)) is False  # already gone
        with pytest.raises(ClientClosedError) as ended:  # for good: not a retryable state
            await recorder.client.logout()
        assert ended.value.closed is closed
        # the confirmed logout marked the store: a new client refuses it without dialing
        marked = store.load()
        assert marked is not None and marked.logged_out
        with pytest.raises(LoggedOutError):
            async with Client(store, config_for(emulator)):
                pass


async def test_close_is_bounded_against_a_silent_server() -> None:
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        config = config_for(emulator, close_timeout=0.2)
        async with Client(store, config) as client:
            with anyio.fail_after(5):
                while not client.is_connected:
                    await anyio.sleep(0.01)
            [session] = emulator.sessions()
            session.go_silent()
            started = anyio.current_time()
            await client.aclose()
            assert anyio.current_time() - started < 1.5
            assert client.finished
            closed = client.last_closed
            assert closed is not None and closed.disconnect.reason is CloseReason.LOCAL_CLOSE


async def test_no_presence_goes_out_without_a_push_name() -> None:
    # both reference clients refuse: the error says why, nothing is sent, the client stays open
    async with Emulator() as emulator:
        store = await paired_store(emulator)
        async with running(Client(store, config_for(emulator))) as recorder:
            await recorder.wait_open()
            client = recorder.client
            assert client.push_name is None
            await client.query(PING)
            [session] = emulator.sessions()
            with pytest.raises(NoPushNameError, match="push name"):
                await client.send_presence_update("available")
            assert not client.is_online and client.is_connected
            await client.query(PING)  # the round trip proves nothing else reached the server
            # not even the "unavailable" a connection announces at open
            assert [node for node in session.received if node.tag == "presence"] == []
            assert client.is_connected and not recorder.closes
