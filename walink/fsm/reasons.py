"""Why a connection ended: Baileys' ``DisconnectReason`` codes and walink's finer ``CloseReason``.

Theory of operation
-------------------
Every end of a connection, whatever caused it, becomes exactly one :class:`Disconnect` value
through one function, :func:`classify`. Its input is whatever the layer below saw:

- a server :class:`~walink.protocol.binary.Node`: ``<stream:error>``, ``<failure>``,
  ``<xmlstreamend/>`` or an ``<ib>`` carrying ``<downgrade_webclient/>``;
- a :class:`WebSocketClosed` (close frame or EOF) or an :class:`UpgradeRejected` (HTTP status);
- an exception from the transport (``OSError``, ``TimeoutError``) or the protocol core
  (``RemoteProtocolError``; a rejected server certificate chain, a ``CertificateError``, gets its
  own reason, ``CERTIFICATE_REJECTED``, and ``Disconnect.certificate_defect`` says what is wrong);
- a :class:`CloseReason` for causes detected locally (timers, the user, the event queue, the
  credential store).

Users never parse message strings: ``Disconnect.reason`` is precise, ``Disconnect.status`` is
the Baileys-compatible number (``lastDisconnect.error.output.statusCode``), ``Disconnect.node``
is the raw server node when there is one. ``terminal`` says whether reconnecting can never cure
the cause; whether walink actually reconnects is the policy's decision (``walink.fsm.policy``).

The status table mirrors Baileys (``getErrorCodeFromStreamError``): for ``<stream:error>`` the
numeric ``code`` attribute wins, then a first child ``<conflict>`` gives 440, otherwise 500.
walink refines the reason, never the number, except ``<conflict type="device_removed"/>`` without
a code, which whatsmeow treats as a logout and walink reports as 401.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walink.protocol.certs import CertificateDefect, CertificateError
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError

if TYPE_CHECKING:
    from walink.protocol.binary import Node

__all__ = [
    "CloseReason",
    "Disconnect",
    "DisconnectReason",
    "UpgradeRejected",
    "WebSocketClosed",
    "classify",
]


class DisconnectReason(enum.IntEnum):
    """Baileys' ``DisconnectReason`` codes, under Baileys' own names so that migrating code reads
    the same (``DisconnectReason.loggedOut``).

    ``timedOut`` is an alias: it has the same value as ``connectionLost`` (408), so Python makes
    it the *same member*. ``DisconnectReason.timedOut is DisconnectReason.connectionLost``, its
    ``name`` is ``"connectionLost"``, ``DisconnectReason(408)`` returns ``connectionLost`` and
    iterating the enum lists 408 once. Baileys cannot tell the two apart either (only by message
    text); in walink use ``Disconnect.reason`` (``KEEPALIVE_TIMEOUT``, ``CONNECT_TIMEOUT``, ...).
    """

    connectionClosed = 428
    connectionLost = 408
    connectionReplaced = 440
    timedOut = 408  # alias of connectionLost, see the class docstring
    loggedOut = 401
    badSession = 500
    restartRequired = 515
    multideviceMismatch = 411
    forbidden = 403
    unavailableService = 503


class CloseReason(enum.Enum):
    """The precise cause of a close. Each member carries its default Baileys-compatible status
    code (``status``) and whether reconnecting can never help (``terminal``)."""

    # written as (status, terminal); `.value` is only an ordinal (see __new__): logs and
    # `--json` output use `.name`
    NETWORK_ERROR = (408, False)
    """The transport failed: DNS, refused, reset, TLS (Baileys maps "E..." errors to 408)."""
    CONNECT_TIMEOUT = (408, False)
    """The WebSocket opening, the server hello or the login answer did not come in time."""
    KEEPALIVE_TIMEOUT = (408, False)
    """Nothing was received for too long while open (Baileys ``connectionLost``)."""
    SERVER_CLOSED = (428, False)
    """The server closed the WebSocket or sent ``<xmlstreamend/>``."""
    STREAM_ERROR = (500, False)
    """A ``<stream:error>`` walink has no finer name for (the status is its code, else 500)."""
    BAD_SESSION = (500, False)
    """``<failure>`` with reason 500 or without a reason (Baileys ``badSession``)."""
    SERVICE_UNAVAILABLE = (503, False)
    """The server said 503; whatsmeow reconnects."""
    PROTOCOL_ERROR = (500, False)
    """The server sent bytes the protocol does not allow (``RemoteProtocolError``)."""
    CERTIFICATE_REJECTED = (500, False)
    """The server's Noise certificate chain failed verification: a wrong trust root, an expired
    or not yet valid chain, a bad signature, a leaf that does not match the server's static key.
    ``Disconnect.certificate_defect`` names the defect. Not terminal in itself (a server may fix
    its certificate, a wrong local clock may be corrected), but the default policy stops on it:
    retrying a server that cannot prove who it is only repeats the risk. A policy whose
    ``stop_reasons`` leaves it out retries with backoff."""
    INTERNAL_ERROR = (500, False)
    """walink itself failed while handling the connection (a bug): the attempt ends cleanly
    instead of the error escaping, and the policy decides as for any failure."""
    LOGIN_FAILED = (400, False)
    """A ``<failure>`` reason with no finer name (the status is the reason code)."""
    RESTART_REQUIRED = (515, False)
    """The server asks for a new connection (always right after pairing)."""
    REPLACED = (440, False)
    """Another client took this session over. Not terminal (it may go away), but the default
    policy stops, because reconnecting would take the session back and both would flap."""
    TEMP_BANNED = (402, False)
    """A temporary ban; ``Disconnect.expire`` is its duration in seconds when the server gave it."""
    RATE_LIMITED = (429, False)
    """Too many attempts; the policy applies a penalty that survives a counter reset."""
    SLOW_CONSUMER = (428, False)
    """walink closed because the application did not drain its event queue."""
    LOGGED_OUT = (401, True)
    """The server ended this device's session (failure or stream:error 401, device removed)."""
    FORBIDDEN = (403, True)
    """403: the main device is gone or the account is locked (whatsmeow deletes its store)."""
    BANNED = (406, True)
    """406: logged out for an unknown reason, or banned (whatsmeow deletes its store)."""
    CLIENT_OUTDATED = (405, True)
    """The server refuses this client version."""
    BAD_USER_AGENT = (409, True)
    """The server refuses this user agent; the same one would be refused again."""
    MULTIDEVICE_MISMATCH = (411, True)
    """``<ib><downgrade_webclient/>``: the phone does not support multi-device for this client."""
    QR_EXHAUSTED = (408, True)
    """Every QR ref expired without a scan (Baileys reports 408 ``timedOut``)."""
    PAIRING_TIMEOUT = (408, True)
    """The pairing code was not entered (or was wrong) before the pairing deadline."""
    LOCAL_CLOSE = (428, True)
    """The application closed the connection."""
    LOCAL_LOGOUT = (401, True)
    """The application logged this device out (Baileys' ``logout()`` also ends with 401)."""
    STORE_ERROR = (500, True)
    """Saving the credentials failed (``ClientSession.save_failed``): the session stops before
    anything that depended on them is sent. Baileys has no code for it (a failed ``saveCreds``
    is only an unhandled rejection there); 500 is its status for an internal error with no
    finer code (Boom's default), and unlike 428 it does not read as a benign close. Terminal:
    reconnecting with credentials the store does not hold would risk losing the device."""
    LEASE_LOST = (440, True)
    """This process no longer holds the device's lease in a shared device store (it lapsed
    while the process was paused or cut off, or another process took the device over): the
    device runs elsewhere now. Terminal, and never reconnected: two processes on one device is
    exactly the server's 440 "replaced" loop, so it shares 440 (Baileys' ``connectionReplaced``)."""

    PROXY_ERROR = (500, True)
    """The proxy in ``ClientConfig.proxy`` refused these settings: credentials missing or
    refused, the connection forbidden by its rules, or an answer that is not the protocol its
    URL names. ``Disconnect.message`` says which, with the credentials masked. Terminal: the same
    settings would be refused again, so retrying cannot help until they change (a proxy that is
    down, or that cannot reach the server, is a ``NETWORK_ERROR`` instead, and retried). 500 is
    what Baileys reports for a failing proxy agent (a WebSocket error without a socket code)."""

    def __init__(self, status: int, terminal: bool) -> None:
        self.status = status
        self.terminal = terminal

    def __new__(cls, status: int, terminal: bool) -> CloseReason:
        # members share (status, terminal) pairs; a per-member value keeps them distinct
        member = object.__new__(cls)
        member._value_ = len(cls.__members__) + 1
        return member


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnect:
    """One end of one connection, as every later layer sees it."""

    reason: CloseReason
    """The precise cause."""
    status: int
    """Baileys-compatible status code (``lastDisconnect.error.output.statusCode``)."""
    message: str
    """Human-readable text for logs; never parse it, use ``reason``."""
    terminal: bool
    """True when reconnecting can never help (the reason's own flag)."""
    at: float
    """When it happened, on the caller's clock (seconds)."""
    node: Node | None = None
    """The raw server node that caused it, if any."""
    expire: float | None = None
    """For ``TEMP_BANNED``: the ban's remaining duration in seconds, when the server sent it."""
    certificate_defect: CertificateDefect | None = None
    """For ``CERTIFICATE_REJECTED``: what is wrong with the server's certificate chain."""

    @property
    def disconnect_reason(self) -> DisconnectReason | None:
        """The Baileys ``DisconnectReason`` with this status, or None for unnamed codes (402...)."""
        try:
            return DisconnectReason(self.status)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketClosed:
    """The WebSocket ended: a close frame (``code`` set) or a plain EOF (``code`` None)."""

    code: int | None = None
    """The WebSocket close code, if a close frame arrived."""
    reason: str = ""
    """The close frame's reason text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UpgradeRejected:
    """The server answered the WebSocket upgrade with an HTTP status other than 101."""

    status: int
    """The HTTP status (Baileys: "Unexpected server response: NNN" gives NNN)."""


# numeric codes from <failure reason=N> and <stream:error code=N>, refined
_BY_STATUS: dict[int, CloseReason] = {
    401: CloseReason.LOGGED_OUT,
    402: CloseReason.TEMP_BANNED,
    403: CloseReason.FORBIDDEN,
    405: CloseReason.CLIENT_OUTDATED,
    406: CloseReason.BANNED,
    409: CloseReason.BAD_USER_AGENT,
    411: CloseReason.MULTIDEVICE_MISMATCH,
    429: CloseReason.RATE_LIMITED,
    440: CloseReason.REPLACED,
    500: CloseReason.BAD_SESSION,
    503: CloseReason.SERVICE_UNAVAILABLE,
    515: CloseReason.RESTART_REQUIRED,
}

_DIGITS = re.compile(r"[0-9]{1,9}")

_LOCAL_MESSAGES: dict[CloseReason, str] = {
    CloseReason.NETWORK_ERROR: "network error",
    CloseReason.CONNECT_TIMEOUT: "timed out while connecting",
    CloseReason.KEEPALIVE_TIMEOUT: "connection was lost (keepalive timeout)",
    CloseReason.SERVER_CLOSED: "connection terminated by server",
    CloseReason.PROTOCOL_ERROR: "server broke the protocol",
    CloseReason.INTERNAL_ERROR: "internal error in walink",
    CloseReason.SLOW_CONSUMER: "event consumer too slow: queue overflowed",
    CloseReason.QR_EXHAUSTED: "QR refs attempts ended",
    CloseReason.PAIRING_TIMEOUT: "pairing code was not confirmed in time",
    CloseReason.LOCAL_CLOSE: "connection closed by the application",
    CloseReason.LOCAL_LOGOUT: "logged out by the application",
    CloseReason.STORE_ERROR: "saving credentials failed",
    CloseReason.PROXY_ERROR: "the proxy refused the connection",
    CloseReason.LEASE_LOST: "the device's lease was lost: it runs in another process now",
}


def classify(
    cause: Node | CloseReason | WebSocketClosed | UpgradeRejected | BaseException,
    *,
    at: float,
    message: str | None = None,
) -> Disconnect:
    """Map anything that ends a connection to its :class:`Disconnect`.

    ``at`` is the time on the caller's clock; ``message`` overrides the default text. A node that
    does not end a connection, or a ``CloseReason`` that only a server node can carry, is caller
    misuse and raises ``LocalProtocolError``.
    """
    if isinstance(cause, CloseReason):
        if cause not in _LOCAL_MESSAGES:
            raise LocalProtocolError(f"{cause.name} comes from a server node: classify the node")
        return _make(cause, cause.status, message or _LOCAL_MESSAGES[cause], at)
    if isinstance(cause, WebSocketClosed):
        text = f"websocket closed ({cause.code}{': ' + cause.reason if cause.reason else ''})"
        if cause.code is None:
            text = "connection terminated (EOF)"
        return _make(CloseReason.SERVER_CLOSED, 428, message or text, at)
    if isinstance(cause, UpgradeRejected):
        reason = CloseReason.RATE_LIMITED if cause.status == 429 else CloseReason.NETWORK_ERROR
        # Baileys keeps the HTTP status only when it is an error status
        status = cause.status if cause.status >= 400 else 500
        text = message or f"unexpected server response: {cause.status}"
        return _make(reason, status, text, at)
    if isinstance(cause, BaseException):
        return _classify_exception(cause, at, message)
    return _classify_node(cause, at, message)


def _classify_exception(error: BaseException, at: float, message: str | None) -> Disconnect:
    text = message or f"{type(error).__name__}: {error}"
    if isinstance(error, CertificateError):
        text = message or f"server certificate rejected ({error.defect.value}): {error}"
        return _make(
            CloseReason.CERTIFICATE_REJECTED, 500, text, at, certificate_defect=error.defect
        )
    if isinstance(error, RemoteProtocolError):
        return _make(CloseReason.PROTOCOL_ERROR, 500, text, at)
    # TimeoutError is an OSError: test it first
    if isinstance(error, TimeoutError):
        return _make(CloseReason.CONNECT_TIMEOUT, 408, text, at)
    if isinstance(error, OSError):
        return _make(CloseReason.NETWORK_ERROR, 408, text, at)
    # anything else reaching here is a transport failure we do not know (Baileys: 500)
    return _make(CloseReason.NETWORK_ERROR, 500, text, at)


def _classify_node(node: Node, at: float, message: str | None) -> Disconnect:
    if node.tag == "stream:error":
        return _classify_stream_error(node, at, message)
    if node.tag == "failure":
        return _classify_failure(node, at, message)
    if node.tag == "xmlstreamend":
        text = message or "connection terminated by server (xmlstreamend)"
        return _make(CloseReason.SERVER_CLOSED, 428, text, at, node=node)
    if node.tag == "ib" and node.child("downgrade_webclient") is not None:
        # whatsmeow looks at every child of <ib>, not only the first: so do we
        text = message or "multi-device mismatch (downgrade_webclient)"
        return _make(CloseReason.MULTIDEVICE_MISMATCH, 411, text, at, node=node)
    raise LocalProtocolError(f"<{node.tag}> does not end a connection")


def _first_child(node: Node) -> Node | None:
    # Baileys dispatches stream errors on the first child only
    content = node.content
    if isinstance(content, list) and content:
        return content[0]
    return None


def _parse_int(value: str | None) -> int | None:
    # ASCII digits only: int() would also take "-5", " 5", "1_0" and non-ASCII digits
    if value is None or not _DIGITS.fullmatch(value):
        return None
    return int(value)


def _classify_stream_error(node: Node, at: float, message: str | None) -> Disconnect:
    child = _first_child(node)
    child_text = child.tag if child is not None else "unknown"
    if child is not None and child.tag == "conflict":
        child_text = f"conflict ({child.attr('type', '')})"
    code = _parse_int(node.attr("code", None))
    if code is not None:
        reason = _BY_STATUS.get(code, CloseReason.STREAM_ERROR)
        text = "restart required" if code == 515 else f"stream error {code}: {child_text}"
        return _make(reason, code, message or text, at, node=node)
    if child is not None and child.tag == "conflict":
        if child.attr("type", "") == "device_removed":
            return _make(CloseReason.LOGGED_OUT, 401, message or "device removed", at, node=node)
        return _make(CloseReason.REPLACED, 440, message or "connection replaced", at, node=node)
    return _make(
        CloseReason.STREAM_ERROR, 500, message or f"stream error: {child_text}", at, node=node
    )


def _classify_failure(node: Node, at: float, message: str | None) -> Disconnect:
    code = _parse_int(node.attr("reason", None))
    text = message or node.attr("message", "") or f"login failure {code}"
    if code is None:
        return _make(CloseReason.BAD_SESSION, 500, text, at, node=node)
    reason = _BY_STATUS.get(code, CloseReason.LOGIN_FAILED)
    expire: float | None = None
    if reason is CloseReason.TEMP_BANNED:
        # whatsmeow reads `expire` as a duration in seconds, not a timestamp
        seconds = _parse_int(node.attr("expire", None))
        expire = float(seconds) if seconds is not None and seconds >= 0 else None
    return _make(reason, code, text, at, node=node, expire=expire)


def _make(
    reason: CloseReason,
    status: int,
    message: str,
    at: float,
    *,
    node: Node | None = None,
    expire: float | None = None,
    certificate_defect: CertificateDefect | None = None,
) -> Disconnect:
    return Disconnect(
        reason=reason,
        status=status,
        message=message,
        terminal=reason.terminal,
        at=at,
        node=node,
        expire=expire,
        certificate_defect=certificate_defect,
    )
