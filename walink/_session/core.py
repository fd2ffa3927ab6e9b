"""``ClientSession``: the whole client lifecycle without I/O (see ``walink.session``'s docstring).

This module holds the public surface, the attempt lifecycle (start, close, timers) and the node
dispatch; ``walink._session.flows`` holds what the nodes start (pairing, login, keepalive).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Literal

from walink._session import ending, flows, pairing_code, queries
from walink._session.attempt import Attempt, NodeTransport, OnAnswer, PendingQuery
from walink._session.config import SessionConfig
from walink._session.events import (
    ConnectionUpdate,
    CredsUpdate,
    NodeReceived,
    SaveRequest,
    SessionEvent,
)
from walink._session.outbox import Deferred, Outbox
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
        self._next_token = 1
        self._unconfirmed: set[int] = set()
        self._reconnect_at: float | None = None
        self._server_offset = 0.0
        self._qr: str | None = None
        self._is_new_login = False
        self._pending_notifications = False
        self._is_online = False
        self._last_update: ConnectionUpdate | None = None
        self._pairing_requests = 0
        self._node_tap = tap

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
        return attempt.last_received if attempt is not None and attempt.conn else None

    @property
    def is_online(self) -> bool:
        return self._is_online

    @property
    def saves_pending(self) -> frozenset[int]:
        """Tokens of ``SaveRequest`` events not confirmed yet."""
        return frozenset(self._unconfirmed)

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
        return attempt.next_deadline(self.config.keepalive_interval, self.config.keepalive_timeout)

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
            # dialing would only earn another 401 (DESIGN.md: marked creds never reconnect)
            raise LocalProtocolError(LOGGED_OUT_MESSAGE)
        self._machine.dial()
        self._forget_machine_changes()
        last = self._machine.last_disconnect
        if last is None or last.reason is not CloseReason.RESTART_REQUIRED:
            self._is_new_login = False
        self._qr = None
        self._pending_notifications = False
        self._is_online = False
        self._reconnect_at = None
        self._outbox.discard()
        self._attempt = Attempt(
            started_at=now,
            login=self._creds.me is not None,
            connect_deadline=now + self.config.connect_timeout,
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
        attempt.last_received = now
        if transport is None:
            transport = ClientConnection(
                noise_key=self._creds.noise_key,
                client_payload=flows.client_payload(self._creds, self.config.payload),
                trust_root=None if self.config.verify_server else self.config.trust_root,
                now=None if self.config.verify_server else now,
                verify_server=self.config.verify_server,
                routing_info=flows.usable_routing_info(self._creds.routing_info),
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
        attempt.last_received = now
        attempt.ping_outstanding = False
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
        attempt.last_received = now
        attempt.ping_outstanding = False
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
        config = self.config
        if attempt.connect_deadline is not None and now >= attempt.connect_deadline:
            self._end(classify(CloseReason.CONNECT_TIMEOUT, at=now))
            return
        if attempt.logout_deadline is not None and now >= attempt.logout_deadline:
            self._end(classify(CloseReason.LOCAL_LOGOUT, at=now), requested=True)
            return
        dead_at = attempt.dead_at(config.keepalive_interval, config.keepalive_timeout)
        if dead_at is not None and now >= dead_at:
            silence = now - attempt.last_received
            message = f"connection was lost (nothing received for {silence:g} s)"
            self._end(classify(CloseReason.KEEPALIVE_TIMEOUT, at=now, message=message))
            return
        if attempt.pairing is not None:
            pairing_code.handle_timeout(self, attempt, now)
            if self._attempt is not attempt:
                return
        if attempt.qr_deadline is not None and now >= attempt.qr_deadline:
            flows.show_next_qr(self, attempt, now)
            if self._attempt is not attempt:
                return
        for query in list(attempt.queries.values()):
            if query.deadline is not None and now >= query.deadline:
                queries.fail_query(self, attempt, query, None, now)
                if self._attempt is not attempt:
                    return
        ping_at = attempt.ping_at(config.keepalive_interval)
        if ping_at is not None and now >= ping_at and attempt.authenticated:
            flows.send_ping(self, attempt, now)
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
        if isinstance(error, LeaseLostError):
            self.lease_lost(now=now, message=str(error))
            return
        message = f"saving credentials failed: {error}"
        self._stop_for_store(classify(CloseReason.STORE_ERROR, at=now, message=message))

    def lease_lost(self, *, now: float, message: str | None = None) -> None:
        """The device's lease in a shared store is gone (a renewal or a write was refused):
        the session stops (``LEASE_LOST``, final), whether an attempt runs or not."""
        self._stop_for_store(classify(CloseReason.LEASE_LOST, at=now, message=message))

    def _stop_for_store(self, disconnect: Disconnect) -> None:
        if self._attempt is not None:
            self._end(disconnect, stop=True)
        elif not self._machine.finished:
            ending.stop_lifecycle(self, disconnect, requested=False)

    # -- the application's commands ----------------------------------------------------------

    def send_node(self, node: Node) -> None:
        """Send one node as is (after any pending save)."""
        attempt = self._require_transport()
        self._send(attempt, node)

    def ack(self, stanza: Node) -> None:
        """Send the ``<ack>`` a stanza needs (with ``SessionConfig.auto_ack`` off)."""
        flows.send_ack(self, self._require_transport(), stanza)

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

    def send_presence_update(self, kind: str, *, now: float) -> None:
        """``"available"`` or ``"unavailable"``: sets ``is_online`` (PROTOCOL.md §5.7)."""
        if kind not in ("available", "unavailable"):
            raise LocalProtocolError("presence is 'available' or 'unavailable'")
        attempt = self._require_transport()
        flows.send_presence(self, attempt, kind, now)
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
        """Link by pairing code instead of QR (PROTOCOL.md §7); returns the request's number.

        ``phone_number``: the account's number with country code (``+``, spaces and dashes
        allowed); ``custom_code``: 8 symbols of ``PAIRING_CODE_ALPHABET`` (default: random).
        Allowed on a new device's attempt, before pair-device (the request then waits for it,
        ``config.pairing_ready_timeout``) or after, one request in flight at a time. From the
        first request on, this attempt shows no QR and ends with ``PAIRING_TIMEOUT`` unless
        paired within ``config.pairing_code_timeout`` of the latest request. The outcome is an
        event with the returned number: ``PairingCode`` (show the code) or ``PairingCodeError``
        (a 429 has ``retry``). Bad input or a wrong moment raises ``LocalProtocolError``.
        """
        return pairing_code.request(
            self, phone_number=phone_number, now=now, custom_code=custom_code
        )

    def close(self, *, now: float) -> None:
        """End the lifecycle (``LOCAL_CLOSE``): the attempt, or the wait for the next one."""
        disconnect = classify(CloseReason.LOCAL_CLOSE, at=now)
        if self._attempt is not None:
            self._end(disconnect, requested=True, stop=True)
        elif not self._machine.finished:
            ending.stop_lifecycle(self, disconnect, requested=True)

    # -- shared machinery (also used by flows) -----------------------------------------------

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
        if iq_id in attempt.queries:
            raise LocalProtocolError(f"a query with id {iq_id!r} is already waiting")
        sent = Node(node.tag, {**node.attrs, "id": iq_id}, node.content)
        attempt.queries[iq_id] = PendingQuery(id=iq_id, deadline=deadline, on_answer=on_answer)
        self._send(attempt, sent)
        return iq_id

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
            qr=self._qr,
            is_new_login=self._is_new_login,
            received_pending_notifications=self._pending_notifications,
            is_online=self._is_online,
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

    # -- ending an attempt -------------------------------------------------------------------

    def _end(self, disconnect: Disconnect, *, requested: bool = False, stop: bool = False) -> None:
        """Close the attempt: fail its queries, ask the policy, move the machine, report."""
        ending.end_attempt(self, disconnect, requested=requested, stop=stop)

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
            attempt.keepalive = True
        tag = node.tag
        if (
            tag == "iq"
            and node.attr("type") in ("result", "error")
            and queries.answer_query(self, attempt, node, now)
        ):
            return
        if tag in ("stream:error", "failure", "xmlstreamend"):
            self._end(classify(node, at=now))
            return
        if tag == "iq":
            if flows.on_server_iq(self, attempt, node, now):
                pairing_code.after_server_iq(self, attempt, now)
                return
        elif tag == "success":
            if flows.on_success(self, attempt, node, now):
                return
        elif tag == "ib":
            if flows.on_ib(self, attempt, node, now):
                return
        elif tag == "notification" and (
            (
                node.attr("type") == "companion_reg_refresh"
                and flows.on_companion_reg_refresh(self, attempt, node, now)
            )
            or (
                node.attr("type") == "link_code_companion_reg"
                and pairing_code.on_notification(self, attempt, node, now)
            )
        ):
            return
        self._emit(NodeReceived(node=node))
        if self.config.auto_ack and tag in flows.ACK_TAGS and node.attr("id"):
            flows.send_ack(self, attempt, node)
