"""The I/O adapter: walink's sans-IO core on real sockets, with anyio (asyncio or trio).

``walink.io.websocket`` is the generic WebSocket client transport (anyio + wsproto): no WhatsApp
logic, only framing, TLS, a SOCKS5 or HTTP CONNECT proxy (settings in ``walink.io.proxy``), the
upgrade, Ping/Close answers, a message size limit and a bounded close. ``walink.io.client`` is
``Client``, the session driven over that transport; ``walink.io.media`` downloads media (history
blobs) over httpx. ``Client`` is wired from private modules with one job each: ``_support``
(store access, error mapping, per-attempt state), ``_jobs`` (the workers that run the session's
message and history jobs in order and report their outcomes), ``_lease`` (a shared store's device
lease) and ``_taskgroup``. Import the names from here: the WebSocket names load eagerly and stay
light (no session or protocol imports); the client's names load on first use (PEP 562), so the
emulator, which only needs the transport, never imports the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from walink.io.proxy import Proxy, ProxyURLError
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
    ProxyAuthError,
    ProxyError,
    ProxyProtocolError,
    ProxyRefusedError,
    ProxyUnreachableError,
    TLSError,
    WebSocketClosed,
    WebSocketConnection,
    WebSocketError,
    WebSocketProtocolError,
    connect_websocket,
    open_stream,
)

# public name -> module that defines it (loaded on first access)
_LAZY: dict[str, str] = {
    "Client": "walink.io.client",
    "ChatState": "walink.io.client",
    "PresenceKind": "walink.io.client",
    "open_store": "walink.io.client",
    "ClientConfig": "walink.io.config",
    "DEFAULT_URL": "walink.io.config",
    "Browsers": "walink.io.browsers",
    "Health": "walink.io.health",
    "ClientEvent": "walink.io.events",
    "EventName": "walink.io.events",
    "Handler": "walink.io.events",
    "ClientError": "walink.io.errors",
    "ClientClosedError": "walink.io.errors",
    "NotConnectedError": "walink.io.errors",
    "InvalidNodeError": "walink.io.errors",
    "NoPushNameError": "walink.io.errors",
    "LoggedOutError": "walink.io.errors",
    "QueryFailedError": "walink.io.errors",
    "QueryServerError": "walink.io.errors",
    "QueryTimeoutError": "walink.io.errors",
    "QueryClosedError": "walink.io.errors",
    "PairingCodeError": "walink.io.errors",
    "PairingInputError": "walink.io.errors",
    "PairingCode": "walink.io.events",
    "Downloader": "walink.io.media",
    "HttpDownloader": "walink.io.media",
    "MediaDownloadError": "walink.io.media",
    "MediaGoneError": "walink.io.media",
    "MediaForbiddenError": "walink.io.media",
    "MediaTooLargeError": "walink.io.media",
    "MediaUnavailableError": "walink.io.media",
    "download_history": "walink.io.media",
    "Fleet": "walink.io.fleet",
    "FleetConfig": "walink.io.fleet",
    "FleetEvent": "walink.io.fleet",
    "ConnectLimiter": "walink.io.fleet",
    "DeviceEvent": "walink.io.fleet",
    "DeviceHandler": "walink.io.fleet",
    "DeviceClaimed": "walink.io.fleet",
    "DeviceReleased": "walink.io.fleet",
    "LeaseGroup": "walink.io._lease",
    "LeaseKeeper": "walink.io._lease",
}

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
    "Proxy",
    "ProxyAuthError",
    "ProxyError",
    "ProxyProtocolError",
    "ProxyRefusedError",
    "ProxyURLError",
    "ProxyUnreachableError",
    "TLSError",
    "WebSocketClosed",
    "WebSocketConnection",
    "WebSocketError",
    "WebSocketProtocolError",
    "connect_websocket",
    "open_stream",
    *sorted(_LAZY),
]

if TYPE_CHECKING:
    from walink.io._lease import LeaseGroup as LeaseGroup
    from walink.io._lease import LeaseKeeper as LeaseKeeper
    from walink.io.browsers import Browsers as Browsers
    from walink.io.client import ChatState as ChatState
    from walink.io.client import Client as Client
    from walink.io.client import PresenceKind as PresenceKind
    from walink.io.client import open_store as open_store
    from walink.io.config import DEFAULT_URL as DEFAULT_URL
    from walink.io.config import ClientConfig as ClientConfig
    from walink.io.errors import ClientClosedError as ClientClosedError
    from walink.io.errors import ClientError as ClientError
    from walink.io.errors import InvalidNodeError as InvalidNodeError
    from walink.io.errors import LoggedOutError as LoggedOutError
    from walink.io.errors import NoPushNameError as NoPushNameError
    from walink.io.errors import NotConnectedError as NotConnectedError
    from walink.io.errors import PairingCodeError as PairingCodeError
    from walink.io.errors import PairingInputError as PairingInputError
    from walink.io.errors import QueryClosedError as QueryClosedError
    from walink.io.errors import QueryFailedError as QueryFailedError
    from walink.io.errors import QueryServerError as QueryServerError
    from walink.io.errors import QueryTimeoutError as QueryTimeoutError
    from walink.io.events import ClientEvent as ClientEvent
    from walink.io.events import EventName as EventName
    from walink.io.events import Handler as Handler
    from walink.io.events import PairingCode as PairingCode
    from walink.io.fleet import ConnectLimiter as ConnectLimiter
    from walink.io.fleet import DeviceClaimed as DeviceClaimed
    from walink.io.fleet import DeviceEvent as DeviceEvent
    from walink.io.fleet import DeviceHandler as DeviceHandler
    from walink.io.fleet import DeviceReleased as DeviceReleased
    from walink.io.fleet import Fleet as Fleet
    from walink.io.fleet import FleetConfig as FleetConfig
    from walink.io.fleet import FleetEvent as FleetEvent
    from walink.io.health import Health as Health
    from walink.io.media import Downloader as Downloader
    from walink.io.media import HttpDownloader as HttpDownloader
    from walink.io.media import MediaDownloadError as MediaDownloadError
    from walink.io.media import MediaForbiddenError as MediaForbiddenError
    from walink.io.media import MediaGoneError as MediaGoneError
    from walink.io.media import MediaTooLargeError as MediaTooLargeError
    from walink.io.media import MediaUnavailableError as MediaUnavailableError
    from walink.io.media import download_history as download_history


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'walink.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
