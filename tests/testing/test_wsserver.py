"""The emulator's socket server (walink.testing.wsserver): routing, JSON, faults, cleanup.

Every async test runs on asyncio and trio. The clients are walink.io's WebSocket client and
small raw clients (h11, wsproto) written here, so the server is also checked against a client
that offers what ours never does (permessage-deflate).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import h11
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.extensions import PerMessageDeflate

from tests.io.netutil import assert_fds_back_to, make_self_signed, open_fds
from walink.io import ConnectTimeoutError, HandshakeRejectedError, connect_websocket
from walink.testing.wsserver import ServerWebSocket, serve

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of the test (the anyio pytest plugin reads this fixture)."""
    return str(request.param)


async def echo(conn: ServerWebSocket) -> None:
    while True:
        await conn.send(await conn.receive())


class Phone:
    """A stand-in for the phone endpoint that records what it was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []

    async def __call__(self, method: str, path: str, body: bytes) -> tuple[int, Mapping[str, Any]]:
        self.calls.append((method, path, body))
        if path == "/phone/scan-qr":
            return 200, {"ok": True, "jid": "1234@s.whatsapp.net", "qr": json.loads(body)["qr"]}
        return 400, {"ok": False, "error": "unknown"}


async def http_request(
    port: int, method: str, target: str, body: bytes = b""
) -> tuple[h11.Response, bytes]:
    """One HTTP/1.1 request with h11; returns the response head and the whole body."""
    http = h11.Connection(h11.CLIENT)
    headers = [("Host", f"127.0.0.1:{port}"), ("Content-Length", str(len(body)))]
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(http.send(h11.Request(method=method, target=target, headers=headers)))
        await stream.send((http.send(h11.Data(data=body)) or b"") + http.send(h11.EndOfMessage()))
        return await read_response(stream, http)


async def read_response(
    stream: anyio.abc.ByteStream, http: h11.Connection
) -> tuple[h11.Response, bytes]:
    response: h11.Response | None = None
    body = bytearray()
    while True:
        event = http.next_event()
        if event is h11.NEED_DATA:
            try:
                http.receive_data(await stream.receive())
            except anyio.EndOfStream:
                http.receive_data(b"")
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            return response, bytes(body)
        else:
            raise AssertionError(f"unexpected {event!r}")


def header(response: h11.Response, name: bytes) -> bytes | None:
    return next((value for key, value in response.headers if key == name), None)


# plain HTTP


async def test_phone_route_answers_json() -> None:
    phone = Phone()
    async with serve(echo, phone) as server:
        assert server.http_url == f"http://127.0.0.1:{server.port}/phone"
        body = json.dumps({"qr": "2@abc,def"}).encode()
        response, raw = await http_request(server.port, "POST", "/phone/scan-qr", body)
    assert response.status_code == 200
    assert json.loads(raw) == {"ok": True, "jid": "1234@s.whatsapp.net", "qr": "2@abc,def"}
    assert header(response, b"content-type") == b"application/json"
    assert header(response, b"content-length") == str(len(raw)).encode()
    assert header(response, b"connection") == b"close"
    assert phone.calls == [("POST", "/phone/scan-qr", body)]


async def test_handler_status_is_passed_through() -> None:
    async with serve(echo, Phone()) as server:
        response, raw = await http_request(server.port, "POST", "/phone/pairing-code", b"{}")
    assert (response.status_code, json.loads(raw)) == (400, {"ok": False, "error": "unknown"})


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/"), ("POST", "/phonebook"), ("GET", "/ws/chat"), ("GET", "/other/scan-qr")],
)
async def test_other_routes_are_404(method: str, target: str) -> None:
    phone = Phone()
    async with serve(echo, phone) as server:
        response, raw = await http_request(server.port, method, target)
    assert response.status_code == 404
    assert json.loads(raw)["ok"] is False
    assert phone.calls == []


async def test_without_an_http_handler_everything_plain_is_404() -> None:
    async with serve(echo) as server:
        response, _ = await http_request(server.port, "POST", "/phone/scan-qr", b"{}")
    assert response.status_code == 404


async def test_unparsable_request_gets_400() -> None:
    async with serve(echo, Phone()) as server:
        stream = await anyio.connect_tcp("127.0.0.1", server.port)
        async with stream:
            await stream.send(b"NOT HTTP AT ALL\r\n\r\n")
            http = h11.Connection(h11.CLIENT)
            http.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
            response, _ = await read_response(stream, http)
    assert response.status_code == 400


async def test_a_crashing_http_handler_answers_500_and_fails_loudly() -> None:
    async def broken(method: str, path: str, body: bytes) -> tuple[int, Mapping[str, Any]]:
        raise RuntimeError("bug in the test double")

    statuses: list[int] = []
    with pytest.raises(BaseExceptionGroup) as caught:
        async with serve(echo, broken) as server:
            response, _ = await http_request(server.port, "POST", "/phone/x")
            statuses.append(response.status_code)
            await anyio.sleep(5)  # cancelled by the crash
    assert statuses == [500]
    assert caught.group_contains(RuntimeError, match="bug in the test double")


# WebSocket routing and handshake


async def test_websocket_on_its_path_and_http_on_the_same_port() -> None:
    phone = Phone()
    async with serve(echo, phone) as server:
        assert server.url == f"ws://127.0.0.1:{server.port}/ws/chat"
        conn = await connect_websocket(server.url)
        await conn.send(b"one port")
        response, _ = await http_request(server.port, "POST", "/phone/scan-qr", b'{"qr": "q"}')
        assert await conn.receive() == b"one port"
        assert response.status_code == 200
        await conn.aclose()


async def test_upgrade_elsewhere_is_rejected_404() -> None:
    async with serve(echo, Phone(), websocket_path="/ws/other") as server:
        with pytest.raises(HandshakeRejectedError) as caught:
            await connect_websocket(f"ws://127.0.0.1:{server.port}/ws/chat")
        conn = await connect_websocket(server.url)
        await conn.aclose()
    assert caught.value.status == 404
    assert server.url.endswith("/ws/other")


async def test_offered_permessage_deflate_is_not_accepted() -> None:
    async with serve(echo) as server:
        ws = WSConnection(ConnectionType.CLIENT)
        offer = Request(host="127.0.0.1", target="/ws/chat", extensions=[PerMessageDeflate()])
        async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
            await stream.send(ws.send(offer))
            accepted = None
            while accepted is None:
                ws.receive_data(await stream.receive())
                accepted = next((e for e in ws.events() if isinstance(e, AcceptConnection)), None)
    assert accepted.extensions == []


async def test_upgrade_without_a_key_gets_400() -> None:
    request = (
        b"GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
    async with serve(echo) as server:
        stream = await anyio.connect_tcp("127.0.0.1", server.port)
        async with stream:
            await stream.send(request)
            http = h11.Connection(h11.CLIENT)
            http.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
            response, _ = await read_response(stream, http)
    assert response.status_code == 400


async def test_unanswered_upgrade_fault_gives_a_connect_timeout() -> None:
    async with serve(echo) as server:
        server.answer_upgrade = False
        with pytest.raises(ConnectTimeoutError):
            await connect_websocket(server.url, connect_timeout=0.3)
        server.answer_upgrade = True
        conn = await connect_websocket(server.url)
        await conn.aclose()


# faults


async def test_slow_reads_delay_every_read() -> None:
    async with serve(echo) as server:
        server.read_delay = 0.1
        conn = await connect_websocket(server.url)
        started = time.monotonic()
        for message in (b"a", b"b", b"c"):
            await conn.send(message)
            assert await conn.receive() == message
        assert time.monotonic() - started >= 0.3
        await conn.aclose()


async def test_wss_server(tmp_path: Path) -> None:
    cert = make_self_signed(tmp_path)
    async with serve(echo, Phone(), ssl_context=cert.server_context()) as server:
        assert server.http_url.startswith("https://")
        conn = await connect_websocket(server.url, ssl_context=cert.client_context())
        await conn.send(b"secret")
        assert await conn.receive() == b"secret"
        await conn.aclose()


async def test_everything_is_closed_when_serve_exits() -> None:
    baseline = open_fds()

    async def hold(conn: ServerWebSocket) -> None:
        await conn.silence()

    async with serve(hold, Phone()) as server:
        conns = [await connect_websocket(server.url) for _ in range(3)]
        idle = await anyio.connect_tcp("127.0.0.1", server.port)  # never sends a request
        await anyio.sleep(0.05)
        assert server.active_connections == 4
    # the server side is gone: each client sees its connection end without a close frame
    for conn in conns:
        with anyio.fail_after(5), pytest.raises(Exception, match="without a WebSocket close"):
            await conn.receive()
        await conn.aclose()
    await idle.aclose()
    assert server.active_connections == 0
    await assert_fds_back_to(baseline)


async def test_stalled_request_is_dropped_after_the_request_timeout() -> None:
    async with serve(echo, request_timeout=0.2) as server:
        async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
            await stream.send(b"GET /phone/x HTTP/1.1\r\n")  # never finished
            with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
                await stream.receive()
        with anyio.fail_after(5):
            await server.wait_idle()


async def test_an_error_of_the_block_leaves_as_itself() -> None:
    # not wrapped in an ExceptionGroup: `except LoggedOutError` around an emulator must work
    with pytest.raises(LookupError, match="the block's"):
        async with serve(echo):
            raise LookupError("the block's own error")
    from walink.io.errors import LoggedOutError
    from walink.testing.emulator import Emulator

    with pytest.raises(LoggedOutError):
        async with Emulator():
            raise LoggedOutError("refused")
