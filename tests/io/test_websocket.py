"""The WebSocket client (walink.io.websocket) over loopback sockets, on asyncio and trio.

The peer is mostly walink.testing.wsserver (wsproto in the server role); where a test needs a peer
that misbehaves below the WebSocket layer, a bare anyio listener plays it.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
)

from tests.io.netutil import assert_fds_back_to, make_self_signed, open_fds
from walink.io import (
    CertificateVerifyError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    HandshakeRejectedError,
    MessageTooBigError,
    WebSocketClosed,
    WebSocketConnection,
    WebSocketProtocolError,
    connect_websocket,
)
from walink.testing.wsserver import ServerWebSocket, WebSocketServer, serve

pytestmark = pytest.mark.anyio

LIMIT = 100_000


async def echo(conn: ServerWebSocket) -> None:
    while True:
        await conn.send(await conn.receive())


@asynccontextmanager
async def echo_server(**options: Any) -> AsyncIterator[WebSocketServer]:
    async with serve(echo, **options) as server:
        yield server


def binary_frame_header(length: int, opcode: int = 0x2) -> bytes:
    """An unmasked, final server frame header announcing ``length`` payload bytes."""
    if length < 126:
        return bytes([0x80 | opcode, length])
    if length < 1 << 16:
        return bytes([0x80 | opcode, 126]) + struct.pack("!H", length)
    return bytes([0x80 | opcode, 127]) + struct.pack("!Q", length)


# round trips and the size limit


@pytest.mark.parametrize("size", [0, 1, 1000, LIMIT - 1, LIMIT])
async def test_echo_round_trip_up_to_the_limit(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    async with echo_server() as server:
        conn = await connect_websocket(server.url, max_message_size=LIMIT)
        await conn.send(payload)
        assert await conn.receive() == payload
        await conn.aclose()


async def test_big_messages_round_trip() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB, many socket reads
    async with echo_server() as server:
        conn = await connect_websocket(server.url)
        for message in (big, b"small", big[::-1]):
            await conn.send(message)
        assert [await conn.receive() for _ in range(3)] == [big, b"small", big[::-1]]
        await conn.aclose()


async def test_message_over_the_limit_is_refused_with_1009() -> None:
    server_saw: list[BaseException] = []

    async def handler(conn: ServerWebSocket) -> None:
        await conn.send(b"x" * (LIMIT + 1))
        try:
            await conn.receive()
        except WebSocketClosed as exc:
            server_saw.append(exc)

    async with serve(handler) as server:
        conn = await connect_websocket(server.url, max_message_size=LIMIT)
        with pytest.raises(MessageTooBigError) as caught:
            await conn.receive()
        assert caught.value.limit == LIMIT
        with pytest.raises(MessageTooBigError):
            await conn.send(b"after")  # the connection stays failed
        with anyio.fail_after(5):
            await server.wait_idle()
    assert isinstance(server_saw[0], WebSocketClosed) and server_saw[0].code == 1009


async def test_limit_is_enforced_before_the_whole_message_arrives() -> None:
    async def handler(conn: ServerWebSocket) -> None:
        # announce 50 MB but send only 3 * LIMIT: the client must give up without waiting
        await conn.send_raw(binary_frame_header(50_000_000) + b"z" * (3 * LIMIT))
        await conn.silence()

    async with serve(handler) as server:
        conn = await connect_websocket(server.url, max_message_size=LIMIT, close_timeout=0.2)
        with anyio.fail_after(5), pytest.raises(MessageTooBigError):
            await conn.receive()


# control frames


async def test_server_ping_is_answered_with_pong() -> None:
    seen: dict[str, Any] = {}

    async def handler(conn: ServerWebSocket) -> None:
        await conn.send_ping(b"are you there")
        await conn.send(b"after the ping")
        seen["reply"] = await conn.receive()
        seen["pongs"] = conn.pongs_received
        seen["last_pong"] = conn.last_pong

    async with serve(handler) as server:
        conn = await connect_websocket(server.url)
        assert await conn.receive() == b"after the ping"
        await conn.send(b"ok")
        with anyio.fail_after(5), pytest.raises(WebSocketClosed) as caught:
            await conn.receive()  # the handler returned: the server closes normally
        assert caught.value.code == 1000
        with anyio.fail_after(5):
            await server.wait_idle()
    assert seen == {"reply": b"ok", "pongs": 1, "last_pong": b"are you there"}


async def test_client_ping_gets_a_pong() -> None:
    async with echo_server() as server:
        conn = await connect_websocket(server.url)
        await conn.send_ping(b"p1")
        await conn.send(b"m")
        assert await conn.receive() == b"m"  # the Pong was sent before the echo
        assert (conn.pongs_received, conn.last_pong) == (1, b"p1")
        await conn.aclose()


async def test_peer_close_is_answered_and_reported() -> None:
    server_close_seconds: list[float] = []

    async def handler(conn: ServerWebSocket) -> None:
        await conn.send(b"last words")
        started = time.monotonic()
        await conn.aclose(4000, "bye", timeout=5)
        server_close_seconds.append(time.monotonic() - started)

    async with serve(handler) as server:
        conn = await connect_websocket(server.url)
        assert await conn.receive() == b"last words"  # messages before the Close come first
        with pytest.raises(WebSocketClosed) as caught:
            await conn.receive()
        assert (caught.value.code, caught.value.reason, caught.value.by_peer) == (4000, "bye", True)
        with pytest.raises(WebSocketClosed):
            await conn.send(b"too late")
        with anyio.fail_after(5):
            await server.wait_idle()
    # the server's close completed on our answer, not on its 5 s timeout
    assert server_close_seconds[0] < 2.0


async def test_client_close_handshake_completes_quickly() -> None:
    server_saw: list[WebSocketClosed] = []

    async def handler(conn: ServerWebSocket) -> None:
        try:
            await conn.receive()
        except WebSocketClosed as exc:
            server_saw.append(exc)

    async with serve(handler) as server:
        conn = await connect_websocket(server.url)
        started = time.monotonic()
        await conn.aclose(1000, "done", timeout=5)
        assert time.monotonic() - started < 2.0
        assert conn.closed
        await conn.aclose()  # idempotent
        with anyio.fail_after(5):
            await server.wait_idle()
    assert (server_saw[0].code, server_saw[0].reason) == (1000, "done")


async def test_bounded_close_against_a_silent_peer() -> None:
    async def handler(conn: ServerWebSocket) -> None:
        await conn.silence()

    async with serve(handler) as server:
        conn = await connect_websocket(server.url)
        started = time.monotonic()
        await conn.aclose(timeout=0.3)
        elapsed = time.monotonic() - started
        assert 0.25 <= elapsed < 2.0
        with pytest.raises(WebSocketClosed) as caught:
            await conn.receive()
        assert caught.value.by_peer is False


async def test_close_from_a_cancelled_scope_still_says_goodbye() -> None:
    server_saw: list[WebSocketClosed] = []

    async def handler(conn: ServerWebSocket) -> None:
        try:
            await conn.receive()
        except WebSocketClosed as exc:
            server_saw.append(exc)

    async with serve(handler) as server:
        conn = await connect_websocket(server.url)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await conn.aclose(1001, "going away", timeout=2)
        with anyio.fail_after(5):
            await server.wait_idle()
    assert server_saw and server_saw[0].code == 1001


async def test_close_while_another_task_receives() -> None:
    outcome: list[BaseException] = []

    async with echo_server() as server:
        conn = await connect_websocket(server.url)

        async def reader() -> None:
            try:
                await conn.receive()
            except WebSocketClosed as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(reader)
            await anyio.sleep(0.05)
            started = time.monotonic()
            await conn.aclose(timeout=5)
            assert time.monotonic() - started < 2.0
    assert isinstance(outcome[0], WebSocketClosed) and outcome[0].by_peer is False


async def test_second_concurrent_receive_is_refused() -> None:
    async with echo_server() as server:
        conn = await connect_websocket(server.url)
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(conn.receive)
            await anyio.sleep(0.05)
            with pytest.raises(anyio.BusyResourceError):
                await conn.receive()
            task_group.cancel_scope.cancel()
        await conn.aclose()


# peers that break the rules


async def raw_fault(data: bytes) -> Callable[[ServerWebSocket], Awaitable[None]]:
    async def handler(conn: ServerWebSocket) -> None:
        await conn.send_raw(data)
        await conn.silence()

    return handler


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x81\x02hi", 1003),  # a text message
        (b"\xff\xff\xff\xff", 1002),  # reserved bits and opcode: not a frame
    ],
)
async def test_protocol_violations_are_typed(data: bytes, code: int) -> None:
    async with serve(await raw_fault(data)) as server:
        conn = await connect_websocket(server.url, close_timeout=0.2)
        with anyio.fail_after(5), pytest.raises(WebSocketProtocolError) as caught:
            await conn.receive()
        assert caught.value.code == code


async def test_abort_without_close_frame_is_connection_lost() -> None:
    async def handler(conn: ServerWebSocket) -> None:
        await conn.abort()

    async with serve(handler) as server:
        conn = await connect_websocket(server.url)
        with anyio.fail_after(5), pytest.raises(ConnectionLostError):
            await conn.receive()
        with pytest.raises(ConnectionLostError):
            await conn.send(b"x")
        await conn.aclose()


# connecting


async def test_connect_timeout_when_the_upgrade_is_never_answered() -> None:
    async def accept_and_say_nothing(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, accept_and_say_nothing)
        baseline = open_fds()
        started = time.monotonic()
        with pytest.raises(ConnectTimeoutError):
            await connect_websocket(f"ws://127.0.0.1:{port}/ws/chat", connect_timeout=0.3)
        assert 0.25 <= time.monotonic() - started < 2.0
        task_group.cancel_scope.cancel()
    await assert_fds_back_to(baseline - 1)  # the listener is closed too


async def test_upgrade_rejection_carries_the_status() -> None:
    async with echo_server() as server:
        with pytest.raises(HandshakeRejectedError) as caught:
            await connect_websocket(f"ws://127.0.0.1:{server.port}/not/here")
    assert caught.value.status == 404
    assert str(caught.value) == "Unexpected server response: 404"


async def test_refused_connection_is_connect_error() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now
    with pytest.raises(ConnectError):
        await connect_websocket(f"ws://127.0.0.1:{port}/ws/chat")


async def test_bad_url_is_refused() -> None:
    with pytest.raises(ValueError):
        await connect_websocket("http://127.0.0.1/ws/chat")


async def test_origin_and_custom_headers_sent_and_no_extension_offered() -> None:
    seen: list[ServerWebSocket] = []

    async def handler(conn: ServerWebSocket) -> None:
        seen.append(conn)

    async with serve(handler) as server:
        conn = await connect_websocket(f"{server.url}?x=1", headers=[("X-Walink-Test", "yes")])
        await conn.aclose()
        other = await connect_websocket(server.url, origin=None)
        await other.aclose()
    first, second = seen
    assert first.header("Origin") == "https://web.whatsapp.com"
    assert first.header("x-walink-test") == "yes"
    assert first.header("host") == f"127.0.0.1:{server.port}"
    assert first.path == "/ws/chat?x=1"
    assert first.header("sec-websocket-extensions") is None
    assert second.header("origin") is None


async def test_wss_with_a_trusted_self_signed_certificate(tmp_path: Path) -> None:
    cert = make_self_signed(tmp_path)
    async with echo_server(ssl_context=cert.server_context()) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        conn = await connect_websocket(server.url, ssl_context=cert.client_context())
        await conn.send(b"over tls" * 10_000)
        assert await conn.receive() == b"over tls" * 10_000
        await conn.aclose()


async def test_wss_default_verification_refuses_a_self_signed_certificate(
    tmp_path: Path,
) -> None:
    cert = make_self_signed(tmp_path)
    async with echo_server(ssl_context=cert.server_context()) as server:
        with pytest.raises(CertificateVerifyError):
            await connect_websocket(server.url)
        with anyio.fail_after(5):
            await server.wait_idle()


async def test_no_socket_left_behind() -> None:
    baseline = open_fds()
    async with echo_server() as server:
        for _ in range(5):
            conn = await connect_websocket(server.url)
            await conn.send(b"ping")
            assert await conn.receive() == b"ping"
            await conn.aclose()
        with anyio.fail_after(5):
            await server.wait_idle()
        assert server.connections_accepted == 5
    await assert_fds_back_to(baseline)


# chunking: whatever way the bytes are cut, the same messages come out


class ChunkedStream(anyio.abc.ByteStream):
    """A byte stream that yields prepared chunks, then end of stream, and records writes."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.written = bytearray()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self.chunks:
            raise anyio.EndOfStream
        chunk = self.chunks.pop(0)
        if len(chunk) > max_bytes:
            self.chunks.insert(0, chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        return chunk

    async def send(self, item: bytes) -> None:
        self.written += item

    async def send_eof(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def open_pair() -> tuple[WSConnection, WSConnection]:
    """A client and a server wsproto connection whose handshake is done in memory."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="localhost", target="/ws/chat")))
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection()))
    assert isinstance(next(client.events()), AcceptConnection)
    return client, server


@given(
    messages=st.lists(st.binary(max_size=300), max_size=8),
    ping_after=st.integers(min_value=0, max_value=8),
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=30),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_any_chunking_gives_the_same_messages_and_answers(
    messages: list[bytes], ping_after: int, cuts: list[int], backend: str
) -> None:
    client_ws, server_ws = open_pair()
    wire = bytearray()
    for index, message in enumerate(messages):
        if index == ping_after:
            wire += server_ws.send(Ping(payload=b"hb"))
        wire += server_ws.send(BytesMessage(data=message))
    wire += server_ws.send(CloseConnection(code=4001, reason="end"))
    chunks: list[bytes] = []
    position = 0
    for cut in cuts:
        if position < len(wire):
            chunks.append(bytes(wire[position : position + cut]))
            position += cut
    chunks.append(bytes(wire[position:]))
    stream = ChunkedStream(chunks)

    async def main() -> list[bytes]:
        conn = WebSocketConnection(stream, client_ws)
        received: list[bytes] = []
        with pytest.raises(WebSocketClosed) as caught:
            while True:
                received.append(await conn.receive())
        assert (caught.value.code, caught.value.reason) == (4001, "end")
        return received

    assert anyio.run(main, backend=backend) == messages
    server_ws.receive_data(bytes(stream.written))
    answers = list(server_ws.events())
    pongs = [event for event in answers if isinstance(event, Pong)]
    assert len(pongs) == (1 if ping_after < len(messages) else 0)
    assert isinstance(answers[-1], CloseConnection) and answers[-1].code == 4001


async def test_a_message_in_the_same_packet_as_the_101_is_kept() -> None:
    async def accept_and_greet(stream: anyio.abc.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        async with stream:
            while not any(isinstance(event, Request) for event in ws.events()):
                ws.receive_data(await stream.receive())
            # one write: the handshake answer and the first message arrive together
            await stream.send(ws.send(AcceptConnection()) + ws.send(BytesMessage(data=b"early")))
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, accept_and_greet)
        conn = await connect_websocket(f"ws://127.0.0.1:{port}/ws/chat")
        with anyio.fail_after(5):
            assert await conn.receive() == b"early"
        await conn.abort()
        task_group.cancel_scope.cancel()


# cancellation in the middle of a close


class GatedStream(anyio.abc.ByteStream):
    """An in-memory byte stream whose reads come from ``incoming`` and whose sends block until
    ``open_gate`` is set (a peer that stopped reading, a full socket buffer)."""

    def __init__(self, incoming: bytes) -> None:
        self.incoming = bytearray(incoming)
        self.more = anyio.Event()
        self.open_gate = anyio.Event()
        self.sending = anyio.Event()
        self.closed = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        while not self.incoming:
            if self.closed:
                raise anyio.ClosedResourceError
            await self.more.wait()
        data = bytes(self.incoming[:max_bytes])
        del self.incoming[:max_bytes]
        return data

    async def send(self, item: bytes) -> None:
        self.sending.set()
        await self.open_gate.wait()

    async def send_eof(self) -> None:
        return None

    async def aclose(self) -> None:
        self.closed = True
        self.more.set()


def handshaken_pair() -> tuple[WSConnection, WSConnection]:
    """A client and a server wsproto connection past the upgrade, in memory."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="localhost", target="/")))
    [request] = list(server.events())
    assert isinstance(request, Request)
    client.receive_data(server.send(AcceptConnection()))
    [accepted] = list(client.events())
    assert isinstance(accepted, AcceptConnection)
    return client, server


async def test_a_receiver_cancelled_while_answering_the_peer_close_does_not_stall_aclose() -> None:
    client, server = handshaken_pair()
    stream = GatedStream(server.send(CloseConnection(code=1000, reason="bye")))
    conn = WebSocketConnection(stream, client, close_timeout=3.0)

    async def receiver() -> None:
        # cancelled inside the answer; the Close itself may still surface once it is sent
        with contextlib.suppress(WebSocketClosed):
            await conn.receive()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(receiver)
            await stream.sending.wait()  # the receiver is inside its answer to the Close
            task_group.cancel_scope.cancel()
            stream.open_gate.set()  # the peer reads again: the (shielded) answer can finish
        started = anyio.current_time()
        await conn.aclose()
        elapsed = anyio.current_time() - started
    # the answer's wait is the only bounded part left: aclose does not wait its own 3 s too
    assert elapsed < 1.0
    assert conn.closed and stream.closed
    error = conn.close_error
    assert isinstance(error, WebSocketClosed) and error.by_peer and error.code == 1000
    with pytest.raises(WebSocketClosed):
        await conn.receive()
