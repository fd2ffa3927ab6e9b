"""The events a ``ClientSession`` reports, one per fact, never a callback.

Every event is a frozen, keyword-only, slotted dataclass (the h11/wsproto style): it can be
compared, logged and replayed. Reprs never show secrets: ``Creds`` hides its own, and key values
are reprs of ``KeyPair`` (public half only).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from walink.fsm.policy import Decision
from walink.fsm.reasons import Disconnect

if TYPE_CHECKING:
    from walink.auth.model import Creds
    from walink.auth.store import KeyUpdates
    from walink.protocol.binary import Node
    from walink.protocol.history import HistoryDownload, HistorySet, HistoryStatus
    from walink.protocol.proto import e2e_pb2

__all__ = [
    "Closed",
    "ConnectionUpdate",
    "CredsUpdate",
    "DownloadHistory",
    "HistoryFailed",
    "HistoryReceived",
    "HistoryStatusChanged",
    "MessageFailed",
    "MessageProcessed",
    "NodeReceived",
    "PairingCode",
    "PairingCodeError",
    "ProcessMessage",
    "QueryError",
    "QueryFailure",
    "QueryResult",
    "SaveRequest",
    "SessionEvent",
]

ConnectionState = Literal["connecting", "open", "close"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionUpdate:
    """Baileys' ``connection.update``, as a full snapshot (never a delta), on every change."""

    connection: ConnectionState
    """``"connecting"`` from ``start`` until open, ``"open"``, or ``"close"`` after a close."""
    qr: str | None = field(repr=False)
    """The QR string to show while a QR login waits for its scan; None otherwise. It carries the
    ADV secret, so it is left out of reprs: show it as a QR, never in a log line."""
    is_new_login: bool
    """True from pair-success until the end of the connection that follows the 515 restart."""
    received_pending_notifications: bool
    """True once the server said the offline delivery is over (``<ib><offline/></ib>``)."""
    is_online: bool
    """Whether this client last announced itself as available (``send_presence_update``)."""
    last_disconnect: Disconnect | None
    """The latest close (its reason, status, message and node); None before the first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CredsUpdate:
    """Baileys' ``creds.update``: the credentials changed (a ``SaveRequest`` follows at once)."""

    creds: Creds
    """The whole new credentials (immutable)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveRequest:
    """Persist this, then call ``confirm_saved(token)`` (or ``save_failed(token, ...)``).

    Everything the session queues after this request (bytes and the QR it would show) is held
    back until the save is confirmed, so nothing that depends on it can reach the server first.
    """

    token: int
    """The number to confirm; tokens increase by one per request."""
    creds: Creds | None
    """Credentials to ``store.save`` (None: only keys)."""
    keys: KeyUpdates | None = field(default=None, repr=False)
    """Keys to ``store.set_keys`` first (pre-keys before their upload); None: only creds."""
    why: str
    """What depends on it, for logs (``"pre-keys before their upload"``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeReceived:
    """A node the session does not consume itself (messages, receipts, notifications...)."""

    node: Node
    """The decoded node; the session has already queued its ack when it needs one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryResult:
    """The answer to ``query(node)``: an ``<iq type="result">`` with the same id."""

    id: str
    """The id ``query`` returned."""
    node: Node
    """The server's reply."""


class QueryFailure(enum.Enum):
    """Why a query has no result."""

    SERVER_ERROR = "server_error"
    """The server answered ``<iq type="error"><error code= text=/></iq>``."""
    TIMEOUT = "timeout"
    """No answer before the query's deadline (Baileys: 408 "Timed Out")."""
    CLOSED = "closed"
    """The connection ended while the query waited (Baileys: 428 "Connection Closed")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryError:
    """A ``query(node)`` that failed, typed by ``failure``."""

    id: str
    """The id ``query`` returned."""
    failure: QueryFailure
    """Server error, timeout, or close."""
    code: int | None
    """The ``<error code>`` for a server error; 408 for a timeout; the close's status."""
    text: str
    """The ``<error text>``, or a short explanation."""
    node: Node | None = None
    """The server's error reply, when there is one."""
    disconnect: Disconnect | None = None
    """For ``CLOSED``: the close that failed it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    """This connection attempt is over: close the socket (after writing ``data_to_send()``).

    Emitted exactly once per attempt, including the 515 restart (``decision.restart``), whose
    ``ConnectionUpdate`` stays ``"connecting"``; every other close also emits one
    ``ConnectionUpdate`` with ``connection == "close"`` just before this event.
    """

    disconnect: Disconnect
    """Why: reason, Baileys status, message, the server node if any."""
    decision: Decision
    """The reconnection policy's decision for this close."""
    reconnect_at: float | None
    """When to call ``start`` again (``disconnect.at + decision.delay``); None: never."""
    final: bool
    """True when the lifecycle ended for good (a final state: no more ``start``)."""
    requested: bool
    """True when the application asked for this end (``close`` or ``logout``): exit code 0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingCode:
    """The server accepted companion_hello: show ``code`` to the user, who types it on the phone.

    The attempt then waits for the phone until ``expires_at`` and ends with ``PAIRING_TIMEOUT``
    if pairing is not done by then (a wrong code typed on the phone ends the same way).
    """

    request: int
    """The number ``request_pairing_code`` returned."""
    code: str = field(repr=False)
    """The 8 symbols to type on the phone. Kept out of reprs: show it to the user, never log it."""
    phone: str
    """The phone number (digits) the code is for."""
    expires_at: float
    """When the attempt gives up waiting for the phone (``SessionConfig.pairing_code_timeout``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingCodeError:
    """A ``request_pairing_code`` that produced no code; the connection stays up unless closed.

    ``retry`` says whether asking again later may work: a 429 ``rate-overlimit``, a 5xx, a timeout
    or a close that the policy will recover from. A 4xx other than 429 or a final close will not.
    """

    request: int
    """The number ``request_pairing_code`` returned."""
    failure: QueryFailure
    """Server error, timeout (no pair-device, or no answer to companion_hello), or the close."""
    code: int | None
    """The ``<error code>`` (429 when rate limited), 408 for a timeout, the close's status."""
    text: str
    """The ``<error text>`` (``"rate-overlimit"``) or a short explanation."""
    retry: bool
    """Whether a new request later may succeed."""
    node: Node | None = None
    """The server's error reply, when there is one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessMessage:
    """A job: run the message processor on ``node`` (decrypt, then commit the new Signal state
    and the decrypted message together), then call ``message_processed(token, processed)``, or
    ``message_failed(token, error)``. Jobs run one at a time, in the order of their tokens.

    Only with ``SessionConfig.process_messages``; nothing about the message (event, receipt,
    ack) leaves the session before its outcome is reported.
    """

    token: int
    """The number to report back with; tokens increase by one per job."""
    node: Node
    """The ``<message>`` stanza, as received."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageProcessed:
    """A ``<message>`` was processed and committed; its receipt and ack follow once the I/O layer
    reports it handled (``ClientSession.message_handled(token)``)."""

    token: int
    """What ``message_handled`` takes once the application handled this message."""
    node: Node
    """The stanza."""
    result: object
    """What the message processor returned for it (``ProcessedMessage.result``): the decrypted
    message(s), in whatever form the processor gives them."""
    offline: bool
    """It came with the offline backlog (Baileys' upsert type ``"append"``; else ``"notify"``)."""
    redelivered: bool
    """The server delivered it before and the processor answered from its committed result (the
    process stopped between that commit and the ack): an application that keeps what it saw may
    find it there already."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFailed:
    """A ``<message>`` that could not be processed: a stub, so that the application sees that
    something arrived (Baileys' ``CIPHERTEXT`` stub). A retry receipt asked the sender to send it
    again, unless ``gave_up``."""

    node: Node
    """The stanza."""
    error: Exception
    """Why (a ``RemoteProtocolError``: bad MAC, no session, invalid message...)."""
    retry_count: int
    """The retry receipts sent for this message so far, this one included."""
    gave_up: bool
    """The retries are spent: no retry receipt was sent this time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadHistory:
    """A job for the I/O layer: fetch the history blob ``request`` names (trying ``hosts``, the
    server's ``media_conn`` hosts, in order), verify and decrypt it, inflate it (no more than
    ``max_size`` bytes) and parse the ``HistorySync``; then call
    ``history_downloaded(token, sync)``, or ``history_download_failed(token, error, reupload=)``
    with ``reupload=True`` when the blob is gone (404/410) or failed a check. The session never
    fetches anything itself."""

    token: int
    request: HistoryDownload
    hosts: tuple[str, ...]
    max_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryReceived:
    """One history chunk from our phone (Baileys' ``messaging-history.set``). Recorded as
    processed in the creds only once the I/O layer reports it handled
    (``ClientSession.history_handled(token)``): until then a restart publishes it again."""

    token: int
    """What ``history_handled`` takes once the application handled this chunk."""
    history: HistorySet
    message_id: str
    """The id of the notification that carried it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryStatusChanged:
    """A kind of history sync is complete, or paused (Baileys' ``messaging-history.status``)."""

    status: HistoryStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryFailed:
    """A history chunk could not be had: its blob is gone or failed a check (``reupload``: a
    ``server-error`` receipt asked the phone to upload it again, and the download is tried again
    after ``SessionConfig.history_reupload_wait``), or it is malformed. ``final``: the session
    gave up on it (it will not be published)."""

    message_id: str
    sync_type: str
    error: Exception
    reupload: bool
    final: bool
    notification: e2e_pb2.Message.HistorySyncNotification | None = field(default=None, repr=False)


SessionEvent = (
    ConnectionUpdate
    | CredsUpdate
    | SaveRequest
    | ProcessMessage
    | MessageProcessed
    | MessageFailed
    | DownloadHistory
    | HistoryReceived
    | HistoryStatusChanged
    | HistoryFailed
    | NodeReceived
    | QueryResult
    | QueryError
    | PairingCode
    | PairingCodeError
    | Closed
)
"""Everything ``ClientSession.next_event()`` can return."""
