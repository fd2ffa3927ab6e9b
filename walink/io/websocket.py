"""A WebSocket client transport on anyio + wsproto, and the connection object both roles share.

Theory of operation. ``connect_websocket(url)`` dials TCP, directly or through a SOCKS5 or HTTP
CONNECT proxy (``proxy=``, see ``walink.io.proxy``), then TLS for ``wss://`` end to end with the
server (through the tunnel when there is one), verifying the certificate against the default trust
store or a given ``ssl.SSLContext``; then it sends the HTTP upgrade
with the Origin header WhatsApp Web sends, offers no extension (no permessage-deflate: the payload
is already encrypted, so compression only costs CPU and opens compression side channels), and
waits for the 101; all of it under one connect timeout. The result is a ``WebSocketConnection``:

- ``send(data)`` writes one binary message;
- ``receive()`` returns the next binary message. Before every read from the socket it drains the
  events wsproto already parsed, answers Ping with Pong and Close with Close itself, and enforces
  the message size limit while a message is still being assembled (so a peer cannot make it
  buffer more than the limit);
- ``aclose()`` is a bounded close: send Close, wait for the peer's Close for at most a timeout,
  then abort the stream. It is shielded from cancellation for that bounded time, so a closing
  task group still says goodbye, and it never hangs.

Errors are named by cause (``WebSocketError`` and subclasses): a timeout, a rejected upgrade (with
its HTTP status), a close by the peer (with its code and reason), a message over the limit, a
connection lost without a close frame, a protocol violation, and for a proxy (``ProxyError``) one
that cannot be reached, that refuses (its credentials, its rules, or the server behind it) or that
does not speak the protocol its URL names. Each ``ProxyError`` says whether trying again later can
help (``retryable``); none carries the proxy's credentials. Nothing here calls asyncio or trio
directly, so the same code runs on both.
"""

from __future__ import annotations

import contextlib
import copy
import math
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import wsproto
import wsproto.utilities
from anyio.streams.tls import TLSStream
from python_socks import ProxyConnectionError as _SocksConnectionError
from python_socks import ProxyError as _SocksReplyError
from python_socks import ProxyTimeoutError as _SocksTimeoutError
from python_socks._errors import IncompleteReadError as _SocksIncompleteRead
from python_socks.async_.anyio import Proxy as _SocksProxy
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)

from walink.io.proxy import Proxy

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "WHATSAPP_WEB_ORIGIN",
    "CertificateVerifyError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionLostError",
    "HandshakeRejectedError",
    "MessageTooBigError",
    "ProxyAuthError",
    "ProxyError",
    "ProxyProtocolError",
    "ProxyRefusedError",
    "ProxyUnreachableError",
    "TLSError",
    "WebSocketClosed",
    "WebSocketConnection",
    "WebSocketError",
    "WebSocketProtocolError",
    "connect_websocket",
    "open_stream",
]

WHATSAPP_WEB_ORIGIN = "https://web.whatsapp.com"
"""The Origin header WhatsApp Web (and Baileys) send with the upgrade."""

DEFAULT_MAX_MESSAGE_SIZE = 1 << 25
"""32 MiB: above the largest Noise frame (a 3-byte length, so under 16 MiB) plus its headers."""

DEFAULT_CLOSE_TIMEOUT = 5.0
"""Seconds ``aclose()`` waits for the peer's Close before it aborts the stream."""

_READ_SIZE = 65536
"""Bytes asked from the socket per read; wsproto buffers partial frames between reads."""

# RFC 6455 close codes used here
_CLOSE_NORMAL = 1000
_CLOSE_UNSUPPORTED_DATA = 1003
_CLOSE_ABNORMAL = 1006
_CLOSE_TOO_BIG = 1009


class WebSocketError(Exception):
    """Base class of every error this transport raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # a connection raises a fresh copy of its close error on every later call; the default
        # reduce would call __init__ with the message as first argument, so copy state instead
        return (_rebuild_error, (type(self), self.args, self.__dict__))


def _rebuild_error(
    cls: type[WebSocketError], args: tuple[Any, ...], state: dict[str, Any]
) -> WebSocketError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConnectError(WebSocketError):
    """The TCP connection could not be made (refused, unreachable, name not resolved)."""


class TLSError(ConnectError):
    """The TLS handshake failed."""


class CertificateVerifyError(TLSError):
    """The server's certificate was not trusted (or not valid for the host name)."""


class ProxyError(ConnectError):
    """The tunnel through the proxy could not be opened. ``proxy`` is the proxy's URL with the
    credentials masked; ``retryable`` says whether trying again later can help (the proxy or
    the server behind it was down) or not (the proxy refuses these settings: they must change).
    """

    def __init__(
        self, message: str, *, proxy: str, retryable: bool, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.proxy = proxy
        self.retryable = retryable
        self.code = code
        """The proxy's answer: an HTTP status or a SOCKS5 reply code, when it gave one."""


class ProxyUnreachableError(ProxyError):
    """No TCP connection to the proxy itself (refused, unreachable): a network error."""


class ProxyRefusedError(ProxyError):
    """The proxy answered with a refusal, or closed without one. Retryable when the refusal is
    about the server behind it (unreachable, refused, a 5xx gateway error) or when the proxy hung
    up without a word; not retryable when the proxy forbids the connection (its rules, a 4xx)."""


class ProxyAuthError(ProxyRefusedError):
    """The proxy wants credentials, or refused the ones given (HTTP 407, SOCKS5 authentication):
    never retryable, the same credentials would be refused again."""


class ProxyProtocolError(ProxyError):
    """The proxy's answer is not the protocol its URL names (an ``http://`` URL pointing at a
    SOCKS port, or not a proxy at all): never retryable, the URL is wrong."""


class ConnectTimeoutError(WebSocketError):
    """TCP, TLS and the upgrade did not complete within the connect timeout."""


class HandshakeRejectedError(WebSocketError):
    """The server answered the upgrade with an HTTP status other than 101."""

    def __init__(self, status: int, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        # Baileys reports "Unexpected server response: NNN" and maps it to the status NNN
        super().__init__(f"Unexpected server response: {status}")
        self.status = status
        self.headers = list(headers)


class WebSocketClosed(WebSocketError):
    """The WebSocket is closed: by the peer's Close frame (``by_peer``) or by this side."""

    def __init__(self, code: int, reason: str = "", *, by_peer: bool = True) -> None:
        who = "peer" if by_peer else "local side"
        super().__init__(f"WebSocket closed by the {who}: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason
        self.by_peer = by_peer


class MessageTooBigError(WebSocketError):
    """The peer sent a message over the size limit; the connection was closed with 1009."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"message over the {limit} byte limit")
        self.limit = limit


class ConnectionLostError(WebSocketError):
    """The byte stream ended or broke without a WebSocket close handshake."""


class WebSocketProtocolError(WebSocketError):
    """The peer broke the WebSocket or HTTP rules (a bad frame, a text message, a bad upgrade)."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


class WebSocketConnection:
    """One open WebSocket over an anyio byte stream, client or server role.

    Made by ``connect_websocket`` (client) or by ``walink.testing.wsserver`` (server); both hand
    over a wsproto ``WSConnection`` whose handshake is done. One task may receive while others
    send; sends are serialised by a lock so frames never interleave on the stream.
    """

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        ws: WSConnection,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        self._stream = stream
        self._ws = ws
        self.max_message_size = max_message_size
        self.close_timeout = close_timeout
        self.read_delay = 0.0
        """Seconds to wait before each socket read (the emulator's "slow reads" fault)."""
        self.pongs_received = 0
        self.last_pong: bytes | None = None
        self._send_lock = anyio.Lock()
        self._messages: deque[bytes] = deque()
        self._partial = bytearray()
        self._error: WebSocketError | None = None
        self._input_done = anyio.Event()  # set once no more input will be processed
        self._receiving = False
        self._receiver_left = anyio.Event()
        self._aborted = False

    @property
    def closed(self) -> bool:
        """True once the connection can no longer send (closed, closing or lost)."""
        return self._error is not None or self._ws.state is not ConnectionState.OPEN

    @property
    def close_error(self) -> WebSocketError | None:
        """Why the connection ended (``WebSocketClosed``, ``ConnectionLostError``…), if it has."""
        return self._error

    async def send(self, data: bytes) -> None:
        """Send ``data`` as one binary message."""
        if self._error is not None:
            raise copy.copy(self._error)
        await self._send_event(BytesMessage(data=bytes(data)))

    async def send_ping(self, payload: bytes = b"") -> None:
        """Send a WebSocket Ping; the Pong is counted in ``pongs_received`` by ``receive()``."""
        if self._error is not None:
            raise copy.copy(self._error)
        await self._send_event(Ping(payload=payload))

    async def receive(self) -> bytes:
        """Return the next binary message; raise why the connection ended once it has.

        Messages that arrived before the peer's Close are still returned, then the close error.
        """
        if self._receiving:
            raise anyio.BusyResourceError("receiving from")
        self._receiving = True
        self._receiver_left = anyio.Event()
        try:
            while True:
                await self._drain_events()
                if self._closing_locally:
                    # after our Close only the peer's Close matters; its messages are dropped
                    self._messages.clear()
                elif self._messages:
                    return self._messages.popleft()
                if self._input_done.is_set():
                    assert self._error is not None
                    raise copy.copy(self._error)
                await self._read_once()
        finally:
            self._receiving = False
            self._receiver_left.set()

    async def aclose(
        self, code: int = _CLOSE_NORMAL, reason: str = "", *, timeout: float | None = None
    ) -> None:
        """Close: send Close, wait up to ``timeout`` for the peer's Close, then abort the stream.

        Shielded from outer cancellation for at most ``timeout`` seconds, so the goodbye is said
        even from a cancelled task group; idempotent.
        """
        if self._aborted:
            return
        bound = self.close_timeout if timeout is None else timeout
        with anyio.move_on_after(bound, shield=True):
            try:
                if self._ws.state is ConnectionState.OPEN and self._error is None:
                    self._error = WebSocketClosed(code, reason, by_peer=False)
                    await self._send_event(CloseConnection(code=code, reason=reason))
                while not self._input_finished:
                    if self._receiving:
                        # another task is inside receive(): it will see the peer's Close, or
                        # leave (cancelled), and then this task reads on
                        await self._wait_input_or_receiver()
                    else:
                        await self._drain_events()
                        if not self._input_finished:
                            await self._read_once()
            except WebSocketError:
                pass  # the stream is gone already: nothing left to wait for
        await self._abort()

    async def abort(self) -> None:
        """Drop the stream at once, without a close frame."""
        await self._abort()

    # internals

    @property
    def _input_finished(self) -> bool:
        # wsproto's CLOSED: both Close frames were exchanged, nothing more can come
        return self._input_done.is_set() or self._ws.state is ConnectionState.CLOSED

    async def _wait_input_or_receiver(self) -> None:
        left = self._receiver_left
        async with anyio.create_task_group() as task_group:

            async def wait_then_stop(event: anyio.Event) -> None:
                await event.wait()
                task_group.cancel_scope.cancel()

            task_group.start_soon(wait_then_stop, self._input_done)
            task_group.start_soon(wait_then_stop, left)

    @property
    def _closing_locally(self) -> bool:
        return isinstance(self._error, WebSocketClosed) and not self._error.by_peer

    async def _abort(self) -> None:
        if self._error is None:
            self._error = WebSocketClosed(_CLOSE_ABNORMAL, "aborted", by_peer=False)
        self._aborted = True
        self._input_done.set()
        await anyio.aclose_forcefully(self._stream)

    async def _send_event(self, event: Event) -> None:
        async with self._send_lock:
            # wsproto state and bytes are produced under the lock, so frames keep their order
            try:
                data = self._ws.send(event)
            except wsproto.utilities.LocalProtocolError as exc:
                # the state forbids sending: the connection is closing or closed
                error = self._error or ConnectionLostError(f"cannot send: {exc}")
                raise copy.copy(error) from exc
            await self._write(data)

    async def _write(self, data: bytes) -> None:
        try:
            await self._stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            error = self._lost(f"send failed: {exc!r}")
            raise copy.copy(error) from exc

    def _lost(self, why: str) -> WebSocketError:
        if self._error is None:
            self._error = ConnectionLostError(why)
        self._input_done.set()
        return self._error

    async def _read_once(self) -> None:
        if self.read_delay > 0:
            await anyio.sleep(self.read_delay)
        try:
            data = await self._stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            self._lost("the peer ended the stream without a WebSocket close")
            return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            self._lost(f"receive failed: {exc!r}")
            return
        self._ws.receive_data(data)

    async def _drain_events(self) -> None:
        if self._input_done.is_set():
            return
        for event in self._ws.events():
            if isinstance(event, BytesMessage):
                if len(self._partial) + len(event.data) > self.max_message_size:
                    await self._fail(_CLOSE_TOO_BIG, MessageTooBigError(self.max_message_size))
                    return
                self._partial += event.data
                if event.message_finished:
                    self._messages.append(bytes(self._partial))
                    self._partial = bytearray()
            elif isinstance(event, TextMessage):
                error = WebSocketProtocolError("text message on a binary-only connection", 1003)
                await self._fail(_CLOSE_UNSUPPORTED_DATA, error)
                return
            elif isinstance(event, Ping):
                await self._answer(event.response())
            elif isinstance(event, Pong):
                self.pongs_received += 1
                self.last_pong = bytes(event.payload)
            elif isinstance(event, CloseConnection):
                await self._on_close(event)
                return

    async def _on_close(self, event: CloseConnection) -> None:
        state = self._ws.state
        if state in (ConnectionState.OPEN, ConnectionState.LOCAL_CLOSING):
            # wsproto reports a frame it could not parse as a CloseConnection without a state
            # change: that is a violation by the peer, not the peer's goodbye
            reason = event.reason or "invalid frame"
            await self._fail(event.code, WebSocketProtocolError(reason, event.code))
            return
        # Recorded before the answer: if this task is cancelled while answering, every other
        # waiter (aclose, send) still learns that the input is over, instead of waiting for it
        # for the whole close_timeout.
        if self._error is None:
            self._error = WebSocketClosed(event.code, event.reason or "", by_peer=True)
        self._input_done.set()
        if state is ConnectionState.REMOTE_CLOSING:
            with anyio.move_on_after(self.close_timeout, shield=True):
                await self._answer(event.response())
        await self._abort()

    async def _answer(self, event: Event) -> None:
        # a failed answer means the peer is gone; the read side reports how
        with contextlib.suppress(WebSocketError):
            await self._send_event(event)

    async def _fail(self, code: int, error: WebSocketError) -> None:
        self._error = error
        self._input_done.set()
        if self._ws.state is ConnectionState.OPEN:
            with anyio.move_on_after(self.close_timeout, shield=True):
                await self._answer(CloseConnection(code=code, reason=str(error)[:120]))
        await self._abort()


async def connect_websocket(
    url: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    headers: Sequence[tuple[str, str]] = (),
    origin: str | None = WHATSAPP_WEB_ORIGIN,
    connect_timeout: float = 20.0,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    proxy: Proxy | str | None = None,
) -> WebSocketConnection:
    """Open a WebSocket to ``url`` (``ws://`` or ``wss://``) and return the open connection.

    ``connect_timeout`` covers the proxy, TCP, TLS and the upgrade together. For ``wss://`` the
    certificate is verified with ``ssl_context`` (default: ``ssl.create_default_context()``), with
    SNI and the host name check on the URL's host, also through a proxy: TLS runs end to end with
    the server inside the tunnel. ``proxy`` is a ``Proxy`` or its URL (``socks5://…``,
    ``http://…``); a URL walink cannot use raises ``ProxyURLError`` (a ``ValueError``) before
    anything dials.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    via = Proxy.parse(proxy) if isinstance(proxy, str) else proxy
    secure = parts.scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_name = f"[{host}]" if ":" in host else host
    host_header = (
        host_name if parts.port in (None, 443 if secure else 80) else f"{host_name}:{port}"
    )
    extra = [(b"Origin", origin.encode())] if origin is not None else []
    extra += [(name.encode(), value.encode()) for name, value in headers]
    request = Request(host=host_header, target=target, extra_headers=extra, extensions=[])

    stream: anyio.abc.ByteStream | None = None
    phase = _Phase()
    done = False
    try:
        with anyio.move_on_after(connect_timeout) as scope:
            context = (ssl_context or ssl.create_default_context()) if secure else None
            stream = await _open_stream(host, port, via, context, phase)
            phase.now = "waiting for the answer to the WebSocket upgrade"
            ws = WSConnection(ConnectionType.CLIENT)
            await stream.send(ws.send(request))
            await _await_upgrade(stream, ws)
            done = True
        if scope.cancelled_caught and not done:
            raise ConnectTimeoutError(
                f"no WebSocket to {url} within {connect_timeout} s (stalled {phase.now})"
            )
        assert stream is not None
        return WebSocketConnection(
            stream, ws, max_message_size=max_message_size, close_timeout=close_timeout
        )
    finally:
        if not done and stream is not None:
            await anyio.aclose_forcefully(stream)


async def open_stream(
    host: str,
    port: int,
    *,
    proxy: Proxy | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 20.0,
) -> anyio.abc.ByteStream:
    """A byte stream to ``host:port``: TCP, through ``proxy`` when given, then TLS with
    ``ssl_context`` when given (SNI and the certificate's host name checked on ``host``).

    The building block under ``connect_websocket``, for other connections that must take the
    same way out (media downloads). ``timeout`` bounds all of it (``ConnectTimeoutError``); the
    other failures are ``ConnectError`` and its subclasses (``ProxyError``, ``TLSError``...).
    """
    phase = _Phase()
    with anyio.move_on_after(timeout):
        return await _open_stream(host, port, proxy, ssl_context, phase)
    raise ConnectTimeoutError(f"no connection to {host}:{port} within {timeout} s ({phase.now})")


class _Phase:
    """Where a dial is, so that a timeout can say what stalled (a proxy that never answers...)."""

    def __init__(self) -> None:
        self.now = "connecting"


async def _open_stream(
    host: str,
    port: int,
    proxy: Proxy | None,
    ssl_context: ssl.SSLContext | None,
    phase: _Phase,
) -> anyio.abc.ByteStream:
    if proxy is None:
        phase.now = f"connecting to {host}:{port}"
        try:
            tcp: anyio.abc.SocketStream = await anyio.connect_tcp(host, port)
        except OSError as exc:
            raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
    else:
        tcp = await _open_tunnel(host, port, proxy, phase)
    if ssl_context is None:
        return tcp
    phase.now = f"in the TLS handshake with {host}"
    try:
        # standard_compatible=False: WebSocket framing is self-delimiting, so a peer that drops
        # TCP without a TLS close_notify is an ordinary end of stream, not a truncation attack
        return await TLSStream.wrap(
            tcp, hostname=host, ssl_context=ssl_context, standard_compatible=False
        )
    except ssl.SSLCertVerificationError as exc:
        await anyio.aclose_forcefully(tcp)
        raise CertificateVerifyError(f"certificate of {host} not trusted: {exc}") from exc
    except ssl.SSLError as exc:
        await anyio.aclose_forcefully(tcp)
        raise TLSError(f"TLS handshake with {host} failed: {exc}") from exc
    except (anyio.BrokenResourceError, anyio.EndOfStream, OSError) as exc:
        await anyio.aclose_forcefully(tcp)
        raise TLSError(f"TLS handshake with {host} failed: {exc!r}") from exc
    except BaseException:
        # cancelled (the connect timeout): the socket must not outlive the attempt
        await anyio.aclose_forcefully(tcp)
        raise


# SOCKS5 reply codes (RFC 1928) that say the server behind the proxy could not be reached, as
# opposed to the proxy refusing the request itself (2 not allowed, 7 and 8 not supported)
_SOCKS5_TARGET_FAILURES = frozenset({1, 3, 4, 5, 6})
# python-socks reports the SOCKS5 authentication outcomes without a code, only as these texts
_SOCKS5_AUTH_TEXTS = ("no acceptable authentication methods", "authentication failure")


async def _open_tunnel(host: str, port: int, proxy: Proxy, phase: _Phase) -> anyio.abc.SocketStream:
    """TCP to ``host:port`` through ``proxy`` (python-socks' anyio backend does the handshake)."""
    phase.now = f"in the {proxy.scheme} proxy handshake with {proxy}"
    socks = _SocksProxy.from_url(proxy.url, rdns=True)
    try:
        # no timeout of its own: the caller's bound covers the whole dial
        return await socks.connect(host, port, timeout=math.inf)
    except _SocksConnectionError as exc:
        why = exc.__cause__ if exc.__cause__ is not None else exc
        raise ProxyUnreachableError(
            f"cannot connect to the proxy {proxy}: {_printable(str(why))}",
            proxy=proxy.redacted,
            retryable=True,
        ) from None
    except _SocksTimeoutError:  # pragma: no cover - no timeout is given to python-socks
        raise ConnectTimeoutError(f"the proxy {proxy} did not answer in time") from None
    except _SocksReplyError as exc:
        raise _refusal(proxy, host, port, exc) from None
    except (_SocksIncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError, OSError):
        raise ProxyRefusedError(
            f"the proxy {proxy} closed the connection during its handshake",
            proxy=proxy.redacted,
            retryable=True,
        ) from None


def _refusal(proxy: Proxy, host: str, port: int, exc: _SocksReplyError) -> ProxyError:
    # `from None` above and the texts here: python-socks' own exceptions and messages never
    # reach the caller, since they may hold what the proxy sent back, unescaped
    code = exc.error_code
    text = _printable(str(exc))
    shown = proxy.redacted
    if proxy.scheme == "http":
        if code == 407:
            return ProxyAuthError(
                f"the proxy {proxy} refused the credentials ({text})"
                if proxy.has_credentials
                else f"the proxy {proxy} requires credentials ({text})",
                proxy=shown,
                retryable=False,
                code=code,
            )
        if code is not None and code >= 500:
            return ProxyRefusedError(
                f"the proxy {proxy} could not reach {host}:{port} ({text})",
                proxy=shown,
                retryable=True,
                code=code,
            )
        if code is not None:
            return ProxyRefusedError(
                f"the proxy {proxy} refused the tunnel to {host}:{port} ({text})",
                proxy=shown,
                retryable=False,
                code=code,
            )
        if text.lower().startswith("invalid proxy response"):
            # python-socks' words for an empty answer: the proxy hung up
            return ProxyRefusedError(
                f"the proxy {proxy} closed the connection without an answer",
                proxy=shown,
                retryable=True,
            )
        return ProxyProtocolError(
            f"the proxy {proxy} does not answer as an HTTP proxy ({text})",
            proxy=shown,
            retryable=False,
        )
    if code is not None:
        if code in _SOCKS5_TARGET_FAILURES:
            return ProxyRefusedError(
                f"the proxy {proxy} could not reach {host}:{port} ({text})",
                proxy=shown,
                retryable=True,
                code=code,
            )
        return ProxyRefusedError(
            f"the proxy {proxy} refused the tunnel to {host}:{port} ({text})",
            proxy=shown,
            retryable=False,
            code=code,
        )
    if any(words in text.lower() for words in _SOCKS5_AUTH_TEXTS):
        return ProxyAuthError(
            f"the proxy {proxy} refused the credentials ({text})"
            if proxy.has_credentials
            else f"the proxy {proxy} requires credentials ({text})",
            proxy=shown,
            retryable=False,
        )
    return ProxyProtocolError(
        f"the proxy {proxy} does not answer as a SOCKS5 proxy ({text})",
        proxy=shown,
        retryable=False,
    )


def _printable(text: str, limit: int = 200) -> str:
    """``text`` safe for a log line or a JSON string: bytes the peer sent may not be UTF-8."""
    text = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    text = "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in text)
    return text if len(text) <= limit else text[:limit] + "..."


async def _await_upgrade(stream: anyio.abc.ByteStream, ws: WSConnection) -> None:
    """Read until the server accepts (101) or rejects the upgrade."""
    while True:
        try:
            data = await stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            raise ConnectionLostError("the server closed before answering the upgrade") from None
        except (anyio.BrokenResourceError, OSError) as exc:
            raise ConnectionLostError(f"lost during the upgrade: {exc!r}") from exc
        try:
            ws.receive_data(data)
            # stop at the answer: frames that came in the same read stay queued in wsproto
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    return
                if isinstance(event, RejectConnection):
                    raise HandshakeRejectedError(event.status_code, event.headers)
        except wsproto.utilities.RemoteProtocolError as exc:
            raise WebSocketProtocolError(f"bad upgrade response: {exc}") from exc
