"""The I/O adapter: walink's sans-IO core on real sockets, with anyio (asyncio or trio).

``walink.io.websocket`` is the generic WebSocket client transport (anyio + wsproto): no WhatsApp
logic, only framing, TLS, the upgrade, Ping/Close answers, a message size limit and a bounded
close. Import the names from here; the module stays light (no session or protocol imports).
"""

from __future__ import annotations

from walink.io.websocket import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    WHATSAPP_WEB_ORIGIN,
    CertificateVerifyError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    HandshakeRejectedError,
    MessageTooBigError,
    TLSError,
    WebSocketClosed,
    WebSocketConnection,
    WebSocketError,
    WebSocketProtocolError,
    connect_websocket,
)

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
    "TLSError",
    "WebSocketClosed",
    "WebSocketConnection",
    "WebSocketError",
    "WebSocketProtocolError",
    "connect_websocket",
]
