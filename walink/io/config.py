"""``ClientConfig``: everything a ``Client`` needs besides its credential store.

The defaults are Baileys' socket defaults except ``mark_online_on_connect`` (False here, see its
docstring). ``ClientConfig.session_config()`` derives the sans-IO ``SessionConfig``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from walink._session.config import HistoryGate, SessionConfig
from walink.fsm.policy import PolicyConfig
from walink.io._support import node_tracer
from walink.io.browsers import Browser
from walink.io.proxy import Proxy
from walink.io.websocket import DEFAULT_MAX_MESSAGE_SIZE, WHATSAPP_WEB_ORIGIN
from walink.protocol.certs import WHATSAPP_ROOT, TrustRoot
from walink.protocol.history import DEFAULT_MAX_HISTORY_SIZE
from walink.protocol.payload import DEFAULT_BROWSER, DEFAULT_VERSION, PayloadOptions

__all__ = ["DEFAULT_URL", "ClientConfig", "check_headers", "check_url"]

DEFAULT_URL = "wss://web.whatsapp.com/ws/chat"
"""WhatsApp Web's WebSocket endpoint (Baileys ``DEFAULT_CONNECTION_CONFIG.waWebSocketUrl``)."""


# what an HTTP/1.1 request line and header may carry (RFC 9110 token, field value without
# control characters): anything else would be refused by the HTTP layer deep inside a dial
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_URL_CHARS = re.compile(r"[!-~]+")


def check_url(url: str) -> str:
    """``url`` if it is a ``ws://`` or ``wss://`` URL a WebSocket upgrade can carry, else
    ``ValueError`` saying what is wrong (no host, a bad port, a space, a control or non-ASCII
    character: percent-encode those). ``ClientConfig`` and ``walink connect --url`` both use it.
    """
    if not isinstance(url, str):
        raise ValueError(f"a URL is a string, not {type(url).__name__}")
    if not _URL_CHARS.fullmatch(url):
        raise ValueError(
            f"not a usable URL: {url!r} (spaces, control and non-ASCII characters must be "
            "percent-encoded)"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - evaluated for its check: a port that is not a number raises
    except ValueError as exc:
        raise ValueError(f"not a usable URL: {url!r} ({exc})") from None
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"the URL has no host: {url!r}")
    return url


def check_headers(headers: Sequence[tuple[str, str]]) -> None:
    """``ValueError`` unless every ``(name, value)`` can go in an HTTP/1.1 request: a name made
    of token characters, a value without CR, LF or another control character (a CRLF in a value
    would inject headers) and without spaces or tabs at either end (HTTP strips them, so the
    server would read another value; h11 refuses to send one)."""
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"a header is a (name, value) pair of strings, not {item!r}")
        name, value = item
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"not a valid HTTP header name: {name!r}")
        if not isinstance(value, str) or _CONTROL.search(value):
            raise ValueError(
                f"the value of header {name!r} must be a string without CR, LF or control "
                f"characters: {value!r}"
            )
        if value != value.strip(" \t"):
            raise ValueError(
                f"the value of header {name!r} must not start or end with a space or tab: {value!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Options of a ``Client``. Times are in seconds.

    ``ClientConfig(browser=Browsers.ubuntu("My App"), print_qr_in_terminal=True)``.
    """

    url: str = DEFAULT_URL
    """The server's WebSocket URL (``ws://`` or ``wss://``); the emulator's ``url`` in tests."""
    trust_root: TrustRoot = WHATSAPP_ROOT
    """The key the server's Noise certificate chain must lead to (``emulator.trust_root``)."""
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    """TLS settings for ``wss://`` (default: the system trust store, host name checked)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra HTTP headers of the WebSocket upgrade (checked: ``check_headers``)."""
    origin: str | None = WHATSAPP_WEB_ORIGIN
    """The upgrade's Origin header (WhatsApp Web's own)."""
    proxy: str | Proxy | None = field(default=None, repr=False)
    """Tunnel the WebSocket through this proxy: ``"socks5://[user:password@]host:port"``,
    ``"http://[user:password@]host:port"`` (HTTP CONNECT) or a ``Proxy``; ``wss://`` keeps TLS
    end to end with the server inside the tunnel. Checked here (``ProxyURLError``); left out of
    ``repr()``, since it may hold credentials (``proxy_settings()`` shows them masked). A proxy
    that refuses (its credentials, its rules) closes with ``PROXY_ERROR``, which stops by
    default; one that is down, or cannot reach the server, is a ``NETWORK_ERROR``, retried with
    backoff; one that never answers, a ``CONNECT_TIMEOUT``."""
    browser: Browser = DEFAULT_BROWSER
    """How the device shows on the phone: ``Browsers.ubuntu("My App")``, ``Browsers.macos``…"""
    version: tuple[int, int, int] = DEFAULT_VERSION
    """The WhatsApp Web build announced in the ClientPayload."""
    country_code: str = "US"
    """The user agent's country (ISO 3166-1 alpha-2)."""
    push_name: str | None = None
    """The account's display name, when the application knows it (WhatsApp sends it to a new
    device only through app state sync): presence updates need one, and it goes in the login
    payload as whatsmeow sends it. None: the name the server gave (``creds.me.name``), if any."""
    process_messages: bool = True
    """Decrypt every ``<message>`` with walink's Signal processor (``messages.upsert`` events,
    acked only after the commit); False: report them raw (``NodeReceived``), acked as they are
    published (on arrival, or right after the open for those that came during the login). A
    ``processor`` given to the ``Client`` is used either way."""
    sync_full_history: bool = True
    """Ask the phone for the full history at registration (DeviceProps.requireFullSync)."""
    should_sync_history: HistoryGate | None = field(default=None, repr=False, compare=False)
    """Baileys' ``shouldSyncHistoryMessage``: which history notifications are processed (None:
    every type but FULL, and FULL too with ``sync_full_history``). The phone gets its
    ``hist_sync`` receipt either way."""
    max_history_size: int = DEFAULT_MAX_HISTORY_SIZE
    """Largest inflated history chunk accepted (bytes); a larger one is reported failed."""
    history_reupload_wait: float = 2.0
    """After asking the phone to upload a gone or corrupt history blob again, wait this long
    before downloading it again."""
    connect_timeout: float = 20.0
    """From dialing until the server's first node (Baileys ``connectTimeoutMs``)."""
    keepalive_interval: float = 30.0
    """A ping goes out after this long without receiving anything (``keepAliveIntervalMs``)."""
    keepalive_timeout: float = 10.0
    """Then, this long more in silence closes with ``KEEPALIVE_TIMEOUT``."""
    qr_timeout: float | None = None
    """How long each QR is shown (Baileys ``qrTimeout``); None: 60 s for the first, 20 s after."""
    query_timeout: float | None = 60.0
    """Default deadline of ``Client.query`` (Baileys ``defaultQueryTimeoutMs``); None: none."""
    pairing_code_timeout: float = 180.0
    """After ``request_pairing_code``, how long the phone has to enter the code: then the
    connection ends with ``PAIRING_TIMEOUT`` (the code was not typed, or was wrong)."""
    logout_timeout: float = 5.0
    """How long ``logout`` waits for the server's confirmation before closing anyway."""
    close_timeout: float = 5.0
    """Bound on a WebSocket close (our Close frame, the peer's answer, then abort)."""
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    """Largest WebSocket message accepted; a bigger one closes the connection."""
    mark_online_on_connect: bool = False
    """Announce ``available`` presence at every open. Baileys defaults to True; walink does not,
    because a linked device that is "online" makes the phone stop showing notifications and makes
    the contacts' read receipts and "online" status follow the bot rather than the person. Call
    ``send_presence_update("available")`` when the application really is in front of a user."""
    fire_init_queries: bool = True
    """At open, ask for abt props, the block list and privacy settings (as Baileys does)."""
    max_pending_events: int = 1024
    """Bound of the event queue. When the application lets more events than this pile up, the
    connection closes with ``SLOW_CONSUMER`` (no event is dropped; the server redelivers what
    was not acked after the reconnect). It is checked after each batch the connection hands
    over (what one read carried), so the backlog can pass it by one batch before the close."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """The reconnection policy's numbers and rules (``PolicyConfig.baileys_compatible()``…)."""
    logger: logging.Logger | None = field(default=None, repr=False)
    """Where the client logs (default ``logging.getLogger("walink.client")``). Every node in and
    out is traced at DEBUG (``in <iq ...>``, ``out <iq ...>``) with the contents of key,
    signature, identity, ref and pairing-code nodes masked; secrets are never logged."""
    print_qr_in_terminal: bool = False
    """Draw every new QR on stderr with segno (Baileys ``printQRInTerminal``)."""
    rng: random.Random | None = field(default=None, repr=False)
    """The session's only randomness (ids, keys, jitter); seed it for reproducible runs."""
    capture: str | os.PathLike[str] | None = None
    """Write every node in and out (decrypted), the timers and the events to this JSON Lines
    file (``walink.capture``'s format; ``walink replay FILE`` plays it back)."""
    capture_redact: bool = True
    """Redact the capture's secrets (keys, signatures, refs, pairing material). Even when False,
    private keys and the ADV secret never reach a capture: they are in no node."""

    def __post_init__(self) -> None:
        if self.qr_timeout is not None and not self.qr_timeout > 0:
            raise ValueError("qr_timeout must be positive or None")
        for name in ("close_timeout",):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_pending_events < 1:
            raise ValueError("max_pending_events must be at least 1")
        check_url(self.url)
        check_headers(self.headers)
        if self.origin is not None:
            check_headers((("Origin", self.origin),))
        self.proxy_settings()  # a proxy URL walink cannot use fails here, not at the first dial
        self.session_config()  # the session's own checks (positive timers...) fail early

    @property
    def log(self) -> logging.Logger:
        """The logger in use."""
        return self.logger if self.logger is not None else logging.getLogger("walink.client")

    def proxy_settings(self) -> Proxy | None:
        """``proxy`` parsed (its ``str()`` masks the credentials), or None without a proxy."""
        if self.proxy is None or isinstance(self.proxy, Proxy):
            return self.proxy
        return Proxy.parse(self.proxy)

    def payload_options(self) -> PayloadOptions:
        """The ClientPayload options (browser, version, country, full-history flag)."""
        return PayloadOptions(
            version=self.version,
            browser=self.browser,
            country_code=self.country_code,
            push_name=self.push_name,
            sync_full_history=self.sync_full_history,
        )

    def session_config(self) -> SessionConfig:
        """The sans-IO session's configuration derived from this one."""
        qr_first = 60.0 if self.qr_timeout is None else self.qr_timeout
        qr_next = 20.0 if self.qr_timeout is None else self.qr_timeout
        return SessionConfig(
            payload=self.payload_options(),
            trust_root=self.trust_root,
            connect_timeout=self.connect_timeout,
            keepalive_interval=self.keepalive_interval,
            keepalive_timeout=self.keepalive_timeout,
            query_timeout=self.query_timeout,
            qr_first_timeout=qr_first,
            qr_next_timeout=qr_next,
            pairing_code_timeout=self.pairing_code_timeout,
            logout_timeout=self.logout_timeout,
            mark_online_on_connect=self.mark_online_on_connect,
            fire_init_queries=self.fire_init_queries,
            auto_ack=True,
            policy=self.policy,
            trace=node_tracer(self.log),
            should_sync_history=self.should_sync_history,
            max_history_size=self.max_history_size,
            history_reupload_wait=self.history_reupload_wait,
        )
