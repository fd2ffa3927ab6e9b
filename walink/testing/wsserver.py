"""The emulator's socket side: WebSocket and plain HTTP (JSON) on one port, with anyio.

Theory of operation. ``serve(handle_websocket, handle_http)`` listens (127.0.0.1, a free port by
default) and reads each connection's HTTP request with h11, which is how the one port carries two
things (docs/protocol/server.md#phone-endpoint):

- a WebSocket upgrade on ``websocket_path`` (``/ws/chat``) is replayed into wsproto (server role),
  accepted without extensions, and handed to ``handle_websocket(conn)``, where ``conn`` is a
  ``ServerWebSocket``: the client's ``send``/``receive``/``aclose`` surface plus the faults the
  emulator scripts (abort, silence, raw garbage on the socket, slow reads);
- a plain request under ``http_prefix`` (``/phone``) goes to
  ``handle_http(method, path, body) -> (status, json-able dict)`` and is answered as JSON with h11
  (Content-Length, ``Connection: close``);
- a GET under ``blob_prefix`` (``/mms``, media blobs) goes to ``handle_blob(target) -> (status,
  body, content_length)`` and is answered with those bytes as they are (a ``content_length``
  larger than the body makes a truncated response, for the emulator's faults);
- anything else gets a 404.

Every connection runs in the server's task group; leaving ``serve`` cancels them and closes every
socket. A handler that raises anything but a ``WebSocketError`` is a bug in the test double and
is not swallowed: it ends ``serve`` with the error (after a 500 for HTTP).
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import anyio
import anyio.abc
import h11
import wsproto.utilities
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSStream
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from walink.io.websocket import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    WebSocketConnection,
    WebSocketError,
)

__all__ = [
    "BlobHandler",
    "HttpHandler",
    "ServerWebSocket",
    "WebSocketHandler",
    "WebSocketServer",
    "serve",
]

logger = logging.getLogger(__name__)

_READ_SIZE = 65536
_MAX_BODY = 1 << 20
"""Largest plain HTTP body accepted (the phone endpoint takes a few hundred bytes)."""


class ServerWebSocket(WebSocketConnection):
    """The server's end of one WebSocket, with the request it came with and fault helpers."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        ws: WSConnection,
        *,
        path: str,
        request_headers: list[tuple[str, str]],
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        super().__init__(stream, ws, max_message_size=max_message_size, close_timeout=close_timeout)
        self.path = path
        """The request target of the upgrade (path and query)."""
        self.request_headers = request_headers
        """The upgrade request's headers, names lower-cased, in order."""

    def header(self, name: str) -> str | None:
        """The first value of request header ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.request_headers if key == wanted), None)

    async def send_raw(self, data: bytes) -> None:
        """Fault: write ``data`` straight onto the socket, outside any WebSocket frame."""
        async with self._send_lock:
            await self._write(data)

    async def silence(self) -> NoReturn:
        """Fault: stop reading and answering (no Pong, no Close) until the server shuts down."""
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover


WebSocketHandler = Callable[[ServerWebSocket], Awaitable[None]]
HttpHandler = Callable[[str, str, bytes], Awaitable[tuple[int, Mapping[str, Any]]]]
BlobHandler = Callable[[str], Awaitable[tuple[int, bytes, int | None]]]


class WebSocketServer:
    """A running server: where it listens, and the knobs its faults turn."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        secure: bool,
        websocket_path: str,
        http_prefix: str,
    ) -> None:
        self.host = host
        self.port = port
        self.secure = secure
        self.websocket_path = websocket_path
        self.http_prefix = http_prefix
        self.answer_upgrade = True
        """False: read upgrade requests but never answer them (a server stuck in the upgrade)."""
        self.read_delay = 0.0
        """Seconds each new WebSocket waits before every socket read ("slow reads")."""
        self.connections_accepted = 0
        self.active_connections = 0

    @property
    def url(self) -> str:
        """The WebSocket URL, e.g. ``ws://127.0.0.1:PORT/ws/chat``."""
        scheme = "wss" if self.secure else "ws"
        return f"{scheme}://{self._authority}{self.websocket_path}"

    @property
    def http_url(self) -> str:
        """The plain HTTP endpoint, e.g. ``http://127.0.0.1:PORT/phone``."""
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self._authority}{self.http_prefix}"

    @property
    def _authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def wait_idle(self) -> None:
        """Return once no connection is open (bound it with ``anyio.fail_after``)."""
        while self.active_connections:
            await anyio.sleep(0.005)


@asynccontextmanager
async def serve(
    handle_websocket: WebSocketHandler,
    handle_http: HttpHandler | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    websocket_path: str = "/ws/chat",
    http_prefix: str = "/phone",
    ssl_context: ssl.SSLContext | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    request_timeout: float = 10.0,
    handle_blob: BlobHandler | None = None,
    blob_prefix: str = "/mms",
) -> AsyncIterator[WebSocketServer]:
    """Listen on ``host:port`` (a free port when 0) until the block exits, then close it all."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    bound_port = listener.extra(SocketAttribute.local_port)
    server = WebSocketServer(
        host=host,
        port=bound_port,
        secure=ssl_context is not None,
        websocket_path=websocket_path,
        http_prefix=http_prefix.rstrip("/"),
    )
    dispatcher = _Dispatcher(
        server,
        handle_websocket,
        handle_http,
        ssl_context=ssl_context,
        max_message_size=max_message_size,
        close_timeout=close_timeout,
        request_timeout=request_timeout,
        handle_blob=handle_blob,
        blob_prefix=blob_prefix.rstrip("/"),
    )
    body_error: Exception | None = None
    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, dispatcher.handle_stream)
        try:
            yield server
        except Exception as error:
            # the block's own error leaves as itself: raised inside the task group, it would
            # come out wrapped in an ExceptionGroup that no `except LoggedOutError` catches
            body_error = error
        finally:
            task_group.cancel_scope.cancel()
    if body_error is not None:
        raise body_error


class _Dispatcher:
    """Reads one request per connection and routes it (WebSocket, JSON, 404)."""

    def __init__(
        self,
        server: WebSocketServer,
        handle_websocket: WebSocketHandler,
        handle_http: HttpHandler | None,
        *,
        ssl_context: ssl.SSLContext | None,
        max_message_size: int,
        close_timeout: float,
        request_timeout: float,
        handle_blob: BlobHandler | None = None,
        blob_prefix: str = "/mms",
    ) -> None:
        self._server = server
        self._handle_blob = handle_blob
        self._blob_prefix = blob_prefix
        self._handle_websocket = handle_websocket
        self._handle_http = handle_http
        self._ssl_context = ssl_context
        self._max_message_size = max_message_size
        self._close_timeout = close_timeout
        self._request_timeout = request_timeout

    async def handle_stream(self, tcp: anyio.abc.SocketStream) -> None:
        self._server.connections_accepted += 1
        self._server.active_connections += 1
        stream: anyio.abc.ByteStream = tcp
        request = None
        try:
            with anyio.move_on_after(self._request_timeout):
                # the TLS handshake runs here, in the connection's task, so that a slow
                # client never holds up the accept loop
                if self._ssl_context is not None:
                    stream = await self._wrap_tls(tcp, self._ssl_context)
                request = await self._read_request(stream)
            if request is not None:
                await self._route(stream, *request)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError):
            logger.debug("connection lost before it was routed")
        except ssl.SSLError as exc:
            logger.debug("TLS handshake failed: %s", exc)
        finally:
            # counted first: under cancellation the close below may re-raise at its checkpoint
            self._server.active_connections -= 1
            await anyio.aclose_forcefully(stream)

    @staticmethod
    async def _wrap_tls(tcp: anyio.abc.SocketStream, context: ssl.SSLContext) -> TLSStream:
        return await TLSStream.wrap(
            tcp, server_side=True, ssl_context=context, standard_compatible=False
        )

    async def _read_request(
        self, stream: anyio.abc.ByteStream
    ) -> tuple[h11.Connection, h11.Request, bytes] | None:
        """The parsed request line and headers, with every byte read so far (for wsproto)."""
        http = h11.Connection(h11.SERVER)
        raw = bytearray()
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                await _send_json(stream, http, exc.error_status_hint, {"error": str(exc)})
                return None
            if isinstance(event, h11.Request):
                return http, event, bytes(raw)
            if event is h11.NEED_DATA:
                try:
                    data = await stream.receive(_READ_SIZE)
                except anyio.EndOfStream:
                    data = b""
                raw += data
                http.receive_data(data)
            else:  # ConnectionClosed (or PAUSED): nothing to answer
                return None

    async def _route(
        self, stream: anyio.abc.ByteStream, http: h11.Connection, request: h11.Request, raw: bytes
    ) -> None:
        target = request.target.decode("ascii", "replace")
        path = target.split("?", 1)[0]
        headers = [
            (name.decode().lower(), value.decode("latin-1")) for name, value in request.headers
        ]
        upgrade = any(name == "upgrade" and "websocket" in value.lower() for name, value in headers)
        prefix = self._server.http_prefix
        if upgrade and path == self._server.websocket_path:
            await self._websocket(stream, target, headers, raw)
        elif (
            not upgrade and self._handle_http and (path == prefix or path.startswith(prefix + "/"))
        ):
            await self._http(stream, http, request, target)
        elif (
            not upgrade
            and self._handle_blob is not None
            and request.method == b"GET"
            and path.startswith(self._blob_prefix + "/")
        ):
            status, body, length = await self._handle_blob(target)
            await _send_raw(stream, status, body, length)
        else:
            await _send_json(stream, http, 404, {"ok": False, "error": f"no route for {path}"})

    async def _websocket(
        self,
        stream: anyio.abc.ByteStream,
        target: str,
        headers: list[tuple[str, str]],
        raw: bytes,
    ) -> None:
        if not self._server.answer_upgrade:
            await anyio.sleep_forever()
        ws = WSConnection(ConnectionType.SERVER)
        try:
            # wsproto parses the same bytes again, so it keeps anything sent after the headers
            ws.receive_data(raw)
            events = list(ws.events())
        except wsproto.utilities.RemoteProtocolError as exc:
            await stream.send(ws.send(exc.event_hint) if exc.event_hint else b"")
            return
        if not events or not isinstance(events[0], Request):
            return
        # no extensions accepted, whatever the client offered: the payload is already encrypted
        await stream.send(ws.send(AcceptConnection()))
        conn = ServerWebSocket(
            stream,
            ws,
            path=target,
            request_headers=headers,
            max_message_size=self._max_message_size,
            close_timeout=self._close_timeout,
        )
        conn.read_delay = self._server.read_delay
        try:
            await self._handle_websocket(conn)
        except WebSocketError as exc:
            logger.debug("WebSocket ended: %r", exc)
        except anyio.get_cancelled_exc_class():
            # the server is shutting down: drop at once rather than wait on every client
            await conn.abort()
            raise
        await conn.aclose()

    async def _http(
        self, stream: anyio.abc.ByteStream, http: h11.Connection, request: h11.Request, target: str
    ) -> None:
        assert self._handle_http is not None
        body = bytearray()
        event: Any = None
        with anyio.move_on_after(self._request_timeout):
            while True:
                event = http.next_event()
                if isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > _MAX_BODY:
                        await _send_json(stream, http, 413, {"ok": False, "error": "too large"})
                        return
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif event is h11.NEED_DATA:
                    try:
                        http.receive_data(await stream.receive(_READ_SIZE))
                    except anyio.EndOfStream:
                        http.receive_data(b"")
                else:
                    return  # the client went away mid-body
        if not isinstance(event, h11.EndOfMessage):
            return  # the body did not arrive in time
        method = request.method.decode("ascii", "replace")
        try:
            status, payload = await self._handle_http(method, target, bytes(body))
        except Exception:
            await _send_json(stream, http, 500, {"ok": False, "error": "internal error"})
            raise
        await _send_json(stream, http, status, payload)


async def _send_raw(
    stream: anyio.abc.ByteStream, status: int, body: bytes, content_length: int | None
) -> None:
    """Answer with ``body`` as bytes; a ``content_length`` above ``len(body)`` truncates it."""
    length = len(body) if content_length is None else content_length
    head = (
        f"HTTP/1.1 {status} {_reason(status)}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    )
    await stream.send(head.encode("ascii") + body)


def _reason(status: int) -> str:
    """The reason phrase of a status (any text is valid; clients read the number)."""
    return {200: "OK", 403: "Forbidden", 404: "Not Found", 410: "Gone"}.get(status, "Status")


async def _send_json(
    stream: anyio.abc.ByteStream, http: h11.Connection, status: int, payload: Mapping[str, Any]
) -> None:
    """Answer with ``payload`` as JSON and ``Connection: close``."""
    body = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    try:
        data = http.send(h11.Response(status_code=status, headers=headers))
        data = (data or b"") + (http.send(h11.Data(data=body)) or b"")
        data += http.send(h11.EndOfMessage()) or b""
    except h11.LocalProtocolError:
        return  # h11 cannot answer in this state (the request was unreadable)
    await stream.send(data)
