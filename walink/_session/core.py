"""``ClientSession``: the whole client lifecycle without I/O (see ``walink.session``'s docstring).

This module holds the public surface and the lifecycle: attempts (start, close, timers), the
transport, the save barrier, the reconnection policy, and the one table that dispatches each node
to the part that handles it. The parts (login, QR pairing, pairing code, keepalive, presence,
offline delivery, account notices, the message pipeline) each live in their own module, own
their state, and reach the session only through the ``PartContext`` this module gives them
(``walink._session.context``).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Literal

from statemachine.exceptions import TransitionNotAllowed

from walink._session.attempt import Attempt, NodeTransport
from walink._session.config import SessionConfig
from walink._session.context import AttemptView, Deferred, Handler, OnAnswer, PartContext
from walink._session.ending import logged_out_creds
from walink._session.events import (
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    NodeReceived,
    SaveRequest,
    SessionEvent,
)
from walink._session.flows import client_payload, usable_routing_info
from walink._session.history import HistorySync
from walink._session.keepalive import Keepalive
from walink._session.login import Login
from walink._session.messages import MessagePipeline, ProcessedMessage
from walink._session.nodes import ACK_TAGS, ack
from walink._session.notices import AccountNotices
from walink._session.offline import Offline
from walink._session.opening import OpenGate, Origin, Publication
from walink._session.outbox import Outbox
from walink._session.pairing_code import PairingCodeLogin
from walink._session.presence import Presence
from walink._session.qr_pairing import QrPairing
from walink._session.queries import QueryTable
from walink.auth.errors import LeaseLostError
from walink.auth.model import Creds
from walink.auth.store import KeyUpdates
from walink.fsm.policy import ReconnectHistory, ReconnectPolicy
from walink.fsm.reasons import (
    CloseReason,
    Disconnect,
    UpgradeRejected,
    WebSocketClosed,
    classify,
)
from walink.fsm.shared import SharedMachine
from walink.protocol.binary import Node
from walink.protocol.connection import ClientConnection
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.events import ConnectionClosed, ServerAuthenticated
from walink.protocol.events import NodeReceived as TransportNode
from walink.protocol.proto import e2e_pb2

__all__ = [
    "ABORT_REASONS",
    "LOGGED_OUT_MESSAGE",
    "ClientSession",
    "Direction",
    "NodeTap",
    "NodeTransport",
    "TransportCause",
]

TransportCause = BaseException | WebSocketClosed | UpgradeRejected | None
"""What ended the transport: an exception, a WebSocket close, a refused upgrade, or None (EOF)."""

Direction = Literal["in", "out"]
"""A node's way: received from the server (``"in"``) or sent to it (``"out"``)."""
NodeTap = Callable[[Direction, Node], None]
"""Called with every protocol node the session handles, decrypted: see ``ClientSession(tap=)``."""

LOGGED_OUT_MESSAGE = (
    "these credentials were logged out by the server (the device was removed): "
    "link the device again with a new store"
)
"""Why ``start`` refuses creds marked ``logged_out`` (the I/O layer and the CLI show it too)."""

ABORT_REASONS: frozenset[CloseReason] = frozenset(
    {
        CloseReason.NETWORK_ERROR,
        CloseReason.CONNECT_TIMEOUT,
        CloseReason.KEEPALIVE_TIMEOUT,
        CloseReason.SERVER_CLOSED,
        CloseReason.PROTOCOL_ERROR,
        CloseReason.SLOW_CONSUMER,
        CloseReason.PROXY_ERROR,
        CloseReason.INTERNAL_ERROR,
    }
)
"""The local causes ``ClientSession.abort`` takes: those an I/O layer can detect. The others have
their own input, which does more than end the attempt (``close``: requested and final;
``logout``: tells the server; ``save_failed``: ``STORE_ERROR``; the QR and pairing timers are the
session's own), or come only from the server (classify its node)."""


class ClientSession:
    """The sans-IO client lifecycle. See ``walink.session`` for the caller protocol."""

    def __init__(
        self,
        *,
        creds: Creds,
        rng: random.Random,
        config: SessionConfig | None = None,
        history: ReconnectHistory | None = None,
        tap: NodeTap | None = None,
    ) -> None:
        """``creds``: loaded from the store, or ``Creds.new(rng.randbytes)`` for a new device.
        Creds marked ``logged_out`` are accepted here (to be inspected) but ``start`` refuses them.

        ``rng`` is the session's only randomness (message ids, pre-keys, nonces, the ADV secret
        of a refresh, the policy's jitter): seed it and the whole run is reproducible.
        ``history`` carries the policy's memory over from an earlier session object.
        ``tap`` sees every node: ``("in", node)`` as it arrives, before the session acts on it
        (``receive_data`` and ``receive_node`` alike), ``("out", node)`` as it is sent, whatever
        the transport (a capture records through it). Like ``config.trace``, which it precedes.
        Neither may raise: the exception would leave the node half handled.
        """
        self.config = config if config is not None else SessionConfig()
        self._rng = rng
        self._creds = creds
        self._policy = ReconnectPolicy(self.config.policy)
        self._history = history if history is not None else ReconnectHistory()
        # the lifecycle's state only; its events run on a machine shared by the thread's sessions
        self._machine = SharedMachine()
        self._events: deque[SessionEvent] = deque()
        self._outbox = Outbox()
        self._attempt: Attempt | None = None
        self._attempts = 0
        self._next_token = 1
        self._unconfirmed: set[int] = set()
        self._reconnect_at: float | None = None
        self._server_offset = 0.0
        self._last_update: ConnectionUpdate | None = None
        self._node_tap = tap
        # what an attempt delivered is published only once that attempt is open
        self._gate = OpenGate()
        # the parts, each with its own state; they see the session only through this context
        ctx = _Context(self)
        self._presence = Presence(ctx)
        self._keepalive = Keepalive(ctx)
        self._qr = QrPairing(ctx, unified_session=self._presence.send_unified_session)
        self._pairing_code = PairingCodeLogin(ctx, qr=self._qr)
        self._login = Login(ctx, presence=self._presence)
        self._notices = AccountNotices(ctx)
        self._messages = MessagePipeline(ctx)
        # no further backlog batch while jobs wait for their outcome, or events for the open
        self._offline = Offline(
            ctx, busy=lambda: bool(self._messages.pending) or self._gate.holding
        )
        self._history_sync = HistorySync(ctx)
        # the dispatch table: the handlers of a tag are tried in order until one consumes it
        self._handlers: dict[str, tuple[Handler, ...]] = {
            "iq": (self._keepalive.on_iq, self._on_pairing_iq),
            "success": (self._login.on_success,),
            "message": (self._messages.on_message,),
            "ib": (self._on_ib,),
            "notification": (self._qr.on_companion_reg_refresh, self._pairing_code.on_notification),
        }
        self._ib_handlers: dict[str, Handler] = {
            "offline": self._offline.on_offline,
            "offline_preview": self._offline.on_preview,
            "edge_routing": self._notices.on_edge_routing,
            "dirty": self._notices.on_dirty,
        }

    # -- state -------------------------------------------------------------------------------

    @property
    def creds(self) -> Creds:
        """The current credentials (what the last ``SaveRequest`` carried, or the initial)."""
        return self._creds

    @property
    def state(self) -> str:
        """The lifecycle state (``"awaiting_qr"``, ``"open"``, ``"backing_off"``...)."""
        return self._machine.state_id

    @property
    def connection(self) -> str:
        """Baileys' ``connection`` value: ``"connecting"``, ``"open"`` or ``"close"``."""
        return self._machine.connection

    @property
    def attempt_alive(self) -> bool:
        """Between ``start`` and this attempt's ``Closed`` event."""
        return self._attempt is not None

    @property
    def finished(self) -> bool:
        """The lifecycle reached a final state: ``start`` is refused from now on."""
        return self._machine.finished

    @property
    def reconnect_at(self) -> float | None:
        """When the policy wants the next ``start`` (None while an attempt runs, or final)."""
        return self._reconnect_at

    @property
    def last_disconnect(self) -> Disconnect | None:
        """The latest close (including a 515 restart)."""
        return self._machine.last_disconnect

    @property
    def server_time_offset(self) -> float:
        """Server time minus the caller's clock, in seconds, from ``<success t>``/pair-success."""
        return self._server_offset

    @property
    def history(self) -> ReconnectHistory:
        """The policy's memory (to carry over to a new session object)."""
        return self._history

    @property
    def last_received_at(self) -> float | None:
        """When bytes last arrived on the current attempt."""
        attempt = self._attempt
        return self._keepalive.last_received if attempt is not None and attempt.conn else None

    @property
    def is_online(self) -> bool:
        """Whether this client last announced ``available`` presence."""
        return self._presence.is_online

    @property
    def saves_pending(self) -> frozenset[int]:
        """Tokens of ``SaveRequest`` events not confirmed yet."""
        return frozenset(self._unconfirmed)

    @property
    def jobs_pending(self) -> frozenset[int]:
        """Tokens of ``ProcessMessage`` jobs whose outcome was not reported yet."""
        return self._messages.pending

    # -- events and output -------------------------------------------------------------------

    def next_event(self) -> SessionEvent | None:
        """The oldest event not yet returned, or None."""
        return self._events.popleft() if self._events else None

    def events(self) -> Iterator[SessionEvent]:
        """Every queued event, oldest first."""
        while (event := self.next_event()) is not None:
            yield event

    def data_to_send(self) -> bytes:
        """Bytes to write to the socket now (held output is not included until its save)."""
        return self._outbox.take()

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` has work next; None when no attempt runs."""
        attempt = self._attempt
        if attempt is None:
            return None
        candidates = [
            attempt.connect_deadline,
            self._qr.deadline,
            self._pairing_code.next_deadline(),
            attempt.logout_deadline,
            self._keepalive.ping_at(),
            self._keepalive.dead_at(),
            attempt.queries.next_deadline(),
            self._offline.next_deadline(),
            self._history_sync.next_deadline(),
        ]
        present = [deadline for deadline in candidates if deadline is not None]
        return min(present) if present else None

    # -- the caller's inputs -----------------------------------------------------------------

    def start(self, *, now: float) -> None:
        """Begin a connection attempt: the caller then opens the socket.

        Refused (``LocalProtocolError``) once the lifecycle ended, and for creds marked
        ``logged_out``: those can never log in again, so no socket is opened for them.
        """
        if self._attempt is not None:
            raise LocalProtocolError("an attempt is already running")
        if self._machine.finished:
            raise LocalProtocolError(f"the lifecycle ended ({self.state}): no more attempts")
        if self._creds.logged_out:
            # dialing would only earn another 401 (marked creds never reconnect:
            # docs/protocol/architecture.md#reasons-and-policy)
            raise LocalProtocolError(LOGGED_OUT_MESSAGE)
        self._machine.dial()
        self._forget_machine_changes()
        last = self._machine.last_disconnect
        restart = last is not None and last.reason is CloseReason.RESTART_REQUIRED
        self._qr.attempt_started(restart=restart)
        self._pairing_code.attempt_started()
        self._login.attempt_started()
        self._keepalive.attempt_started(now)
        self._offline.attempt_started()
        self._history_sync.attempt_started()
        self._presence.attempt_started()
        self._reconnect_at = None
        self._outbox.discard()
        self._attempts += 1
        self._gate.attempt_started(self._attempts, login=self._creds.me is not None)
        self._attempt = Attempt(
            number=self._attempts,
            started_at=now,
            login=self._creds.me is not None,
            connect_deadline=now + self.config.connect_timeout,
            queries=QueryTable(self._emit),
        )
        self._emit_update(force=True)

    def connection_made(self, *, now: float, transport: NodeTransport | None = None) -> None:
        """The socket (WebSocket) is open: the intro and ClientHello are queued.

        ``transport`` replaces the Noise transport (replay feeds decoded nodes through
        ``receive_node`` and records what is sent); by default it is a ``ClientConnection``.
        """
        attempt = self._require_attempt()
        if attempt.conn is not None:
            raise LocalProtocolError("connection_made was already called for this attempt")
        self._fire("transport_open")
        self._keepalive.attempt_started(now)
        if transport is None:
            transport = ClientConnection(
                noise_key=self._creds.noise_key,
                client_payload=client_payload(self._creds, self.config.payload),
                trust_root=None if self.config.verify_server else self.config.trust_root,
                now=None if self.config.verify_server else now,
                verify_server=self.config.verify_server,
                routing_info=usable_routing_info(self._creds.routing_info),
                rng=self._rng.randbytes,
            )
        # the ephemeral key is drawn before the id prefix: the shipped captures (tests/data)
        # were recorded in this order, and a seeded run must keep giving the same ids
        attempt.seed_ids(self._rng)
        attempt.conn = transport
        self._flush(attempt)

    def _forget_machine_changes(self) -> None:
        # The session emits its own ConnectionUpdate events; the machine's change log is for
        # other drivers, and left unread it would grow by two entries every connection.
        self._machine.drain_changes()

    def receive_data(self, data: bytes | None, *, now: float) -> None:
        """Bytes from the socket; None means the peer closed (same as ``connection_lost``)."""
        if data is None:
            self.connection_lost(None, now=now)
            return
        attempt = self._attempt
        if attempt is None:
            return  # the attempt ended: late bytes are not ours to read
        if attempt.conn is None:
            raise LocalProtocolError("receive_data before connection_made")
        if not data:
            return
        self._keepalive.traffic(now)
        try:
            attempt.conn.receive_data(data)
            for event in attempt.conn.events():
                if isinstance(event, ServerAuthenticated):
                    self._on_authenticated(attempt)
                elif isinstance(event, TransportNode):
                    self._on_node(attempt, event.node, now)
                elif isinstance(event, ConnectionClosed):  # pragma: no cover - EOF is not data
                    self._end(classify(WebSocketClosed(), at=now))
                if self._attempt is not attempt:
                    return
            self._flush(attempt)
        except RemoteProtocolError as error:
            # the transport is broken for good: it has nothing more to send
            self._end(classify(error, at=now))

    def receive_node(self, node: Node, *, now: float) -> None:
        """A node that arrived decrypted (replay of a capture, which starts after the handshake).

        The first node completes the handshake implicitly; then it is handled exactly as if it
        had come in through ``receive_data``.
        """
        attempt = self._attempt
        if attempt is None:
            return
        if attempt.conn is None:
            raise LocalProtocolError("receive_node before connection_made")
        self._keepalive.traffic(now)
        if not attempt.authenticated:
            self._on_authenticated(attempt)
        self._on_node(attempt, node, now)
        if self._attempt is attempt:
            self._flush(attempt)

    def connection_lost(self, cause: TransportCause = None, *, now: float) -> None:
        """The transport ended (EOF, a close frame, an error); ignored after ``Closed``."""
        if self._attempt is None:
            return
        if cause is None:
            cause = WebSocketClosed()
        self._end(classify(cause, at=now))

    def abort(self, reason: CloseReason, *, now: float, message: str | None = None) -> None:
        """End the attempt for a local cause the I/O layer detected (one of ``ABORT_REASONS``:
        ``SLOW_CONSUMER`` when the application stopped draining events, a timeout of its own...).

        Exactly a transport loss, but typed: ``classify(reason)`` (``message`` overrides the
        text), failed queries, the policy's decision and a ``Closed`` event. Raises
        ``LocalProtocolError`` when no attempt is alive or for another reason.
        """
        if reason not in ABORT_REASONS:
            raise LocalProtocolError(f"abort does not take {reason.name}: see ABORT_REASONS")
        self._require_attempt()
        self._end(classify(reason, at=now, message=message))

    def handle_timeout(self, *, now: float) -> None:
        """Run every timer due at ``now`` (calling it early or twice is harmless)."""
        attempt = self._attempt
        if attempt is None:
            return
        if attempt.connect_deadline is not None and now >= attempt.connect_deadline:
            self._end(classify(CloseReason.CONNECT_TIMEOUT, at=now))
            return
        if attempt.logout_deadline is not None and now >= attempt.logout_deadline:
            self._end(classify(CloseReason.LOCAL_LOGOUT, at=now), requested=True)
            return
        if self._keepalive.check_dead(now):
            return
        self._pairing_code.handle_timeout(now)
        if self._attempt is not attempt:
            return
        self._qr.handle_timeout(now)
        if self._attempt is not attempt:
            return
        for query in attempt.queries.due(now):
            if attempt.queries.waiting(query):
                attempt.queries.fail(query, None, now)
                if self._attempt is not attempt:
                    return
        self._offline.handle_timeout(now)
        self._history_sync.handle_timeout(now)
        if self._attempt is not attempt:
            return
        if attempt.authenticated:
            self._keepalive.maybe_ping(now)
        self._flush(attempt)

    def confirm_saved(self, token: int) -> None:
        """The ``SaveRequest`` with ``token`` is persisted: release what waited for it."""
        if token not in self._unconfirmed:
            raise LocalProtocolError(f"no save request {token} is waiting")
        self._unconfirmed.discard(token)
        self._outbox.confirm(token)
        if self._attempt is not None:
            self._flush(self._attempt)

    def save_failed(self, token: int, error: BaseException | str, *, now: float) -> None:
        """Persisting ``token`` failed: nothing that depended on it is sent; the session stops
        (``STORE_ERROR``, final whatever the policy says: the store no longer holds its state;
        ``LEASE_LOST`` when the error is a ``LeaseLostError``: another process runs the device)."""
        if token not in self._unconfirmed:
            raise LocalProtocolError(f"no save request {token} is waiting")
        self._unconfirmed.discard(token)
        self._store_failed(error, f"saving credentials failed: {error}", now)

    def message_processed(self, token: int, processed: ProcessedMessage, *, now: float) -> None:
        """Job ``token`` (a ``ProcessMessage``) is committed: ``MessageProcessed`` is published;
        its receipt and ack wait for ``message_handled(token)``."""
        node = self._messages.node_of(token)
        # history first: what it saves holds the receipts and the ack back until it is on disk
        self._history_sync.on_processed(node, processed, now, self._messages.origin_of(token))
        self._messages.processed(token, processed)
        if self._attempt is not None:
            self._flush(self._attempt)

    @property
    def messages_unhandled(self) -> frozenset[int]:
        """Tokens of published ``MessageProcessed`` events not reported handled yet."""
        return self._messages.unhandled

    def message_handled(self, token: int, *, now: float) -> None:
        """The application handled ``MessageProcessed(token=token)`` (every event made of it):
        its receipt and ack are sent now, for each delivery of it on the current connection (a
        delivery on an ended connection is left to the server's redelivery).
        ``LocalProtocolError`` for a token that is not waiting."""
        self._messages.handled(token)
        if self._attempt is not None:
            self._flush(self._attempt)

    @property
    def history_unhandled(self) -> frozenset[int]:
        """Tokens of published ``HistoryReceived`` events not reported handled yet."""
        return self._history_sync.unhandled

    def history_handled(self, token: int, *, now: float) -> None:
        """The application handled ``HistoryReceived(token=token)``: the chunk is recorded as
        processed in the creds (a ``SaveRequest``); until then a restart publishes it again.
        ``LocalProtocolError`` for a token that is not waiting."""
        self._history_sync.handled(token)
        if self._attempt is not None:
            self._flush(self._attempt)

    @property
    def history_downloads_pending(self) -> frozenset[int]:
        """Tokens of ``DownloadHistory`` jobs whose outcome was not reported yet."""
        return self._history_sync.downloads_pending

    def history_downloaded(self, token: int, sync: e2e_pb2.HistorySync, *, now: float) -> None:
        """Job ``token`` (a ``DownloadHistory``) has its verified, inflated, parsed chunk: it is
        recorded in the creds, then published (``HistoryReceived``) once that save is confirmed.
        A job of an earlier connection is ignored (the next login resumes it); an unknown token
        is a ``LocalProtocolError``."""
        self._history_sync.downloaded(token, sync, now)
        if self._attempt is not None:
            self._flush(self._attempt)

    def history_download_failed(
        self, token: int, error: Exception, *, reupload: bool, now: float
    ) -> None:
        """Job ``token`` failed. ``reupload``: the blob is gone (404/410) or failed a check, so
        the phone is asked to upload it again (a ``server-error`` receipt) and the download is
        tried again later; otherwise the notification waits for the next login. Either way a
        ``HistoryFailed`` event reports it."""
        self._history_sync.download_failed(token, error, reupload=reupload, now=now)
        if self._attempt is not None:
            self._flush(self._attempt)

    def message_failed(self, token: int, error: BaseException, *, now: float) -> None:
        """Job ``token`` failed.

        A ``RemoteProtocolError`` (the message cannot be decrypted; nothing was committed):
        ``MessageFailed`` is published and a retry receipt asks for the message again (until
        the retries are spent), then a nack. Any other error is the store's: nothing was
        committed, nothing is acked (the server delivers the message again later), and the
        session stops with ``STORE_ERROR`` (final), as for a failed save, or ``LEASE_LOST``
        for a ``LeaseLostError``.
        """
        node = self._messages.node_of(token)
        if isinstance(error, RemoteProtocolError):
            self._messages.failed(token, error)
            if self._attempt is not None:
                self._flush(self._attempt)
            return
        self._messages.forget(token)
        self._store_failed(error, f"committing message {node.attr('id')!r} failed: {error}", now)

    def lease_lost(self, *, now: float, message: str | None = None) -> None:
        """The device's lease in a shared store is gone (a renewal or a write was refused):
        the session stops (``LEASE_LOST``, final), whether an attempt runs or not."""
        self._stop_for_store(classify(CloseReason.LEASE_LOST, at=now, message=message))

    def _store_failed(self, error: BaseException | str, message: str, now: float) -> None:
        # the store no longer holds the session's state: stop, whatever the policy says
        if isinstance(error, LeaseLostError):
            self.lease_lost(now=now, message=str(error))
            return
        self._stop_for_store(classify(CloseReason.STORE_ERROR, at=now, message=message))

    def _stop_for_store(self, disconnect: Disconnect) -> None:
        if self._attempt is not None:
            self._end(disconnect, stop=True)
        elif not self._machine.finished:
            self._stop_lifecycle(disconnect, requested=False)

    # -- the application's commands ----------------------------------------------------------

    def send_node(self, node: Node) -> None:
        """Send one node as is (after any pending save)."""
        attempt = self._require_transport()
        self._send(attempt, node)

    def ack(self, stanza: Node) -> None:
        """Send the ``<ack>`` a stanza needs (with ``SessionConfig.auto_ack`` off)."""
        self._send_ack(self._require_transport(), stanza)

    def query(self, node: Node, *, now: float, timeout: float | None = None) -> str:
        """Send ``node`` with an id (its own, or a new one) and report its answer as an event.

        ``QueryResult`` for ``<iq type=result>``, ``QueryError`` for an error reply, a timeout
        (``timeout`` seconds, default ``config.query_timeout``; ``math.inf``: never) or the close.
        Returns the id.
        """
        attempt = self._require_transport()
        if timeout is None:
            timeout = self.config.query_timeout
        deadline = None if timeout is None or math.isinf(timeout) else now + timeout
        return self._query(attempt, node, deadline, None)

    def cancel_query(self, query_id: str) -> None:
        """Forget the application query ``query_id``: its caller stopped waiting. No event
        follows; an answer that still comes is an ordinary ``NodeReceived``. A no-op when no
        such query waits (answered, failed, or the attempt ended)."""
        attempt = self._attempt
        if attempt is not None:
            attempt.queries.cancel(query_id)

    def send_presence_update(self, kind: str, *, now: float) -> None:
        """``"available"`` or ``"unavailable"``: sets ``is_online``.

        ``LocalProtocolError`` without a push name (``creds.me.name`` or
        ``config.payload.push_name``): nothing is sent then."""
        if kind not in ("available", "unavailable"):
            raise LocalProtocolError("presence is 'available' or 'unavailable'")
        attempt = self._require_transport()
        if not self._presence.push_name():
            # both reference clients refuse: a presence names the account's display name
            raise LocalProtocolError("no push name: a presence update cannot be sent without one")
        self._presence.send_presence(kind, now)
        self._flush(attempt)

    def logout(self, *, now: float) -> None:
        """Remove this device from the account; the attempt ends with ``LOCAL_LOGOUT`` (final).

        It ends when the server confirms (result, its 401 stream error or its close), or after
        ``config.logout_timeout``.
        """
        attempt = self._require_transport()
        me = self._creds.me
        if me is None or not attempt.login:
            raise LocalProtocolError("logout needs a logged-in connection")
        if attempt.logging_out:
            return
        attempt.logging_out = True
        attempt.logout_deadline = now + self.config.logout_timeout
        request = Node(
            "iq",
            {"to": "s.whatsapp.net", "type": "set", "xmlns": "md"},
            [Node("remove-companion-device", {"jid": me.id, "reason": "user_initiated"})],
        )
        self._query(attempt, request, None, self._logout_answered)

    def request_pairing_code(
        self, phone_number: str, *, now: float, custom_code: str | None = None
    ) -> int:
        """Link by pairing code instead of QR (docs/protocol/pairing.md#pairing-code); returns the
        request's number.

        ``phone_number``: the account's number with country code (``+``, spaces and dashes
        allowed); ``custom_code``: 8 symbols of ``PAIRING_CODE_ALPHABET`` (default: random).
        Allowed on a new device's attempt, before pair-device (the request then waits for it,
        ``config.pairing_ready_timeout``) or after, one request in flight at a time. From the
        first request on, this attempt shows no QR and ends with ``PAIRING_TIMEOUT`` unless
        paired within ``config.pairing_code_timeout`` of the latest request. The outcome is an
        event with the returned number: ``PairingCode`` (show the code) or ``PairingCodeError``
        (a 429 has ``retry``). Bad input or a wrong moment raises ``LocalProtocolError``.
        """
        return self._pairing_code.request(
            phone_number=phone_number, now=now, custom_code=custom_code
        )

    def _requested_pairing_code(self, request: int) -> str | None:
        # for a capture (a subclass): the code of the request just made, which it records
        return self._pairing_code.requested_code(request)

    def close(self, *, now: float) -> None:
        """End the lifecycle (``LOCAL_CLOSE``): the attempt, or the wait for the next one."""
        disconnect = classify(CloseReason.LOCAL_CLOSE, at=now)
        if self._attempt is not None:
            self._end(disconnect, requested=True, stop=True)
        elif not self._machine.finished:
            self._stop_lifecycle(disconnect, requested=True)

    # -- shared machinery (the parts reach it through their context) --------------------------

    def _fire(self, event: str) -> None:
        """Send a lifecycle event to the machine (events of the compound state by name)."""
        self._machine.send(event)
        self._forget_machine_changes()

    def _require_attempt(self) -> Attempt:
        if self._attempt is None:
            raise LocalProtocolError("no connection attempt is running (call start)")
        return self._attempt

    def _require_transport(self) -> Attempt:
        attempt = self._require_attempt()
        if not attempt.authenticated:
            raise LocalProtocolError("the handshake is not complete: nothing can be sent yet")
        return attempt

    def _flush(self, attempt: Attempt) -> None:
        if attempt.conn is not None and self._attempt is attempt:
            self._outbox.write(attempt.conn.data_to_send())

    def _send(self, attempt: Attempt, node: Node) -> None:
        assert attempt.conn is not None
        self._observe("out", node)
        attempt.conn.send_node(node)
        self._flush(attempt)

    def _query(
        self,
        attempt: Attempt,
        node: Node,
        deadline: float | None,
        on_answer: OnAnswer | None,
    ) -> str:
        iq_id = node.attr("id") or attempt.new_id()
        attempt.queries.add(iq_id, deadline, on_answer)
        sent = Node(node.tag, {**node.attrs, "id": iq_id}, node.content)
        self._send(attempt, sent)
        return iq_id

    def _send_ack(self, attempt: Attempt, stanza: Node, error: int | None = None) -> None:
        me = self._creds.me
        self._send(attempt, ack(stanza, me.id if me is not None else None, error=error))

    def _emit(self, event: SessionEvent) -> None:
        self._events.append(event)

    def _defer(self, action: Deferred) -> None:
        self._outbox.defer(action)

    def _set_creds(self, creds: Creds, why: str, keys: KeyUpdates | None = None) -> None:
        """Adopt new creds: ``CredsUpdate``, then a ``SaveRequest`` that holds later output."""
        self._creds = creds
        self._emit(CredsUpdate(creds=creds))
        self._request_save(creds=creds, keys=keys, why=why)

    def _request_save(self, *, creds: Creds | None, keys: KeyUpdates | None, why: str) -> None:
        token = self._next_token
        self._next_token += 1
        self._unconfirmed.add(token)
        self._outbox.barrier(token)
        self._emit(SaveRequest(token=token, creds=creds, keys=keys, why=why))

    def _snapshot(self) -> ConnectionUpdate:
        connection = self._machine.connection
        return ConnectionUpdate(
            connection=connection,
            qr=self._qr.qr,
            is_new_login=self._qr.is_new_login,
            received_pending_notifications=self._offline.received_pending,
            is_online=self._presence.is_online,
            last_disconnect=self._machine.last_disconnect,
        )

    def _emit_update(self, *, force: bool = False) -> None:
        update = self._snapshot()
        if force or update != self._last_update:
            self._last_update = update
            self._emit(update)

    def _logout_answered(self, reply: Node | None, now: float) -> None:
        node = reply if reply is not None and reply.attr("type") == "result" else None
        self._end(self._logout_disconnect(now, node), requested=True)

    def _logout_disconnect(self, now: float, node: Node | None) -> Disconnect:
        return replace(classify(CloseReason.LOCAL_LOGOUT, at=now), node=node)

    def _opened(self, now: float) -> None:
        self._fire("login_success")
        self._history = self._policy.opened(self._history, at=now)
        self._emit_update()
        # right after the open update: what arrived while logging in, in arrival order (the
        # chunks it publishes are then known as waiting, so the resumption skips them)
        self._gate.opened()
        self._history_sync.opened(now)

    # -- ending an attempt -------------------------------------------------------------------

    def _end(self, disconnect: Disconnect, *, requested: bool = False, stop: bool = False) -> None:
        """Close the attempt: fail its queries, ask the policy, move the machine, report.

        ``stop``: end the lifecycle whatever the policy says (the application's close, a failed
        save). Nothing happens when no attempt is alive.
        """
        attempt = self._attempt
        if attempt is None:
            return
        if attempt.logging_out and disconnect.reason is not CloseReason.LOCAL_LOGOUT:
            # whatever the server does after a logout we asked for is the logout's normal end
            node = disconnect.node if disconnect.reason is CloseReason.LOGGED_OUT else None
            disconnect = self._logout_disconnect(disconnect.at, node)
            requested = True
        self._attempt = None
        # what it delivered and never published is dropped unacked: the server delivers it again
        self._gate.attempt_ended()
        self._flush_released(attempt)
        attempt.queries.fail_on_close(disconnect)
        self._pairing_code.attempt_ended(disconnect)
        decision = self._policy.decide(disconnect, self._history, self._rng)
        if stop and decision.reconnect:
            # the application's close always stops, whatever a custom policy says
            decision = replace(decision, reconnect=False, restart=False, delay=0.0)
        self._history = decision.history
        machine = self._machine
        try:
            machine.close(disconnect=disconnect, decision=decision)
            self._forget_machine_changes()
        except TransitionNotAllowed as error:  # pragma: no cover - every live state declares it
            raise LocalProtocolError(f"close refused in {self.state}: {error}") from None
        self._qr.attempt_ended()
        self._presence.attempt_ended()
        self._reconnect_at = disconnect.at + decision.delay if decision.reconnect else None
        marked = logged_out_creds(self._creds, disconnect, final=machine.finished)
        if marked is not None:
            # The save's barrier holds nothing (the attempt's bytes were released above and no
            # attempt follows); the I/O layer still performs the save before it stops.
            self._set_creds(marked, why=f"logged out ({disconnect.reason.name})")
        if machine.connection == "close":
            self._emit_update()
        self._emit(
            Closed(
                disconnect=disconnect,
                decision=decision,
                reconnect_at=self._reconnect_at,
                final=machine.finished,
                requested=requested,
            )
        )

    def _flush_released(self, attempt: Attempt) -> None:
        # Bytes already released stay for the caller to write (an error reply before the close);
        # bytes still held behind a save are dropped with the connection they were meant for.
        outbox = self._outbox
        if attempt.conn is not None:
            # a transport that failed earlier has nothing left to give
            with contextlib.suppress(LocalProtocolError):
                outbox.write(attempt.conn.data_to_send())
        released = outbox.take()
        outbox.discard()
        outbox.write(released)

    def _stop_lifecycle(self, disconnect: Disconnect, *, requested: bool) -> None:
        """End the lifecycle between attempts (``backing_off``/``restarting``/``idle``)."""
        decision = self._policy.decide(disconnect, self._history, self._rng)
        decision = replace(decision, reconnect=False, restart=False, delay=0.0)
        self._history = decision.history
        self._machine.stop(disconnect=disconnect)
        self._forget_machine_changes()
        self._reconnect_at = None
        self._emit_update()
        self._emit(
            Closed(
                disconnect=disconnect,
                decision=decision,
                reconnect_at=None,
                final=True,
                requested=requested,
            )
        )

    # -- inbound -----------------------------------------------------------------------------

    def _on_authenticated(self, attempt: Attempt) -> None:
        attempt.authenticated = True
        if attempt.login:
            self._fire("authenticate")

    def _observe(self, direction: Direction, node: Node) -> None:
        # the one place every protocol node passes, both ways: the tap and the trace see the
        # same nodes in the same order, and nothing else (no bytes, no events)
        if self._node_tap is not None:
            self._node_tap(direction, node)
        trace = self.config.trace
        if trace is not None:
            trace(direction, node)

    def _on_node(self, attempt: Attempt, node: Node, now: float) -> None:
        self._observe("in", node)
        if attempt.connect_deadline is not None:
            # the first node: the connect timeout is over, keepalive takes the watch
            attempt.connect_deadline = None
            self._keepalive.arm()
        self._offline.observe(node, now)
        tag = node.tag
        if (
            tag == "iq"
            and node.attr("type") in ("result", "error")
            and attempt.queries.answer(node, now)
        ):
            return
        if tag in ("stream:error", "failure", "xmlstreamend"):
            self._end(classify(node, at=now))
            return
        for handler in self._handlers.get(tag, ()):
            if handler(node, now):
                return
        # a raw node waits for the open like every event, and its ack with it (an ack of a node
        # that was never published would lose it if the connection ended before opening)
        self._gate.publish(self._gate.current, lambda: self._publish_node(attempt, node))

    def _publish_node(self, attempt: Attempt, node: Node) -> None:
        self._emit(NodeReceived(node=node))
        if (
            self.config.auto_ack
            and self._attempt is attempt
            and node.tag in ACK_TAGS
            and node.attr("id")
        ):
            self._send_ack(attempt, node)

    def _on_pairing_iq(self, node: Node, now: float) -> bool:
        # pair-device lets a waiting pairing-code request go; pair-success ends that mode
        if self._qr.on_iq(node, now):
            self._pairing_code.after_pairing_iq(now)
            return True
        return False

    def _on_ib(self, node: Node, now: float) -> bool:
        """Every child of ``<ib>`` to its part (whatsmeow's way); False when one is not ours."""
        if node.child("downgrade_webclient") is not None:
            self._end(classify(node, at=now))
            return True
        consumed = True
        for child in node.children():
            handler = self._ib_handlers.get(child.tag)
            if handler is None or not handler(child, now):
                consumed = False
        return consumed and bool(node.children())


class _Context(PartContext):
    """The parts' view of the session: the ``PartContext`` the core implements for them."""

    def __init__(self, session: ClientSession) -> None:
        self._session = session

    @property
    def config(self) -> SessionConfig:
        return self._session.config

    @property
    def rng(self) -> random.Random:
        return self._session._rng

    @property
    def creds(self) -> Creds:
        return self._session._creds

    @property
    def state(self) -> str:
        return self._session.state

    @property
    def attempt_number(self) -> int:
        attempt = self._session._attempt
        return attempt.number if attempt is not None else 0

    @property
    def origin(self) -> Origin | None:
        return self._session._gate.current

    @property
    def server_offset(self) -> float:
        return self._session._server_offset

    def set_server_time(self, server_t: int, now: float) -> None:
        self._session._server_offset = server_t - now

    def require_attempt(self) -> AttemptView:
        return self._session._require_attempt()

    def new_id(self) -> str:
        return self._session._require_attempt().new_id()

    def send(self, node: Node) -> None:
        session = self._session
        session._send(session._require_attempt(), node)

    def ack(self, stanza: Node, *, error: int | None = None) -> None:
        session = self._session
        session._send_ack(session._require_attempt(), stanza, error)

    def query(self, node: Node, deadline: float | None, on_answer: OnAnswer) -> str:
        session = self._session
        return session._query(session._require_attempt(), node, deadline, on_answer)

    def ask(self, node: Node, now: float, then: OnAnswer) -> str:
        session = self._session
        attempt = session._require_attempt()

        def answered(reply: Node | None, at: float) -> None:
            if session._attempt is attempt:
                then(reply, at)

        timeout = session.config.query_timeout
        deadline = None if timeout is None else now + timeout
        return session._query(attempt, node, deadline, answered)

    def save_creds(self, creds: Creds, why: str, keys: KeyUpdates | None = None) -> None:
        self._session._set_creds(creds, why, keys)

    def emit(self, event: SessionEvent) -> None:
        self._session._emit(event)

    def publish(self, origin: Origin | None, action: Publication) -> None:
        self._session._gate.publish(origin, action)

    def after_held(self, action: Publication) -> None:
        self._session._gate.after_held(action)

    def changed(self) -> None:
        self._session._emit_update()

    def defer(self, action: Deferred) -> None:
        self._session._defer(action)

    def fire(self, event: str) -> None:
        self._session._fire(event)

    def end(self, disconnect: Disconnect) -> None:
        self._session._end(disconnect)

    def opened(self, now: float) -> None:
        self._session._opened(now)
