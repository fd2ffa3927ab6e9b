"""The WhatsApp server role as sans-IO objects: one ``ServerSession`` per connection, one ``Hub``.

Theory of operation (docs/protocol/server.md). The ``Hub`` holds what outlives a connection: the
test trust root and the server's certificate chain, the device registry, the simulated phone, the
refs handed out (so the phone can find the connection that was given a ref), pending pairing-code
pairings, offline stanzas, and the faults scripted for the next connections. ``Hub.connect(now=)``
makes a ``ServerSession``, which the socket layer (or a test) drives like the client side:

- ``receive_data(data, now=)`` with the bytes of the client (None when it closed);
- ``data_to_send()`` for the bytes to write, and ``close_requested`` for how to end the
  connection (a WebSocket close 1000, or an abort without goodbye);
- ``next_deadline()`` and ``handle_timeout(now)`` for the server's own pings.

Nothing reads a clock: every entry point takes ``now`` (unix seconds). The registration path
sends pair-device with 6 refs, then pair-success when the phone is handed the QR (or the code),
checks pair-device-sign, registers the device and ends with a 515; the login path answers
``<success>`` or ``<failure reason="401">``, delivers offline stanzas (a backlog larger than
``OFFLINE_PUSHED`` is previewed, pushed in part, then served per ``offline_batch`` request until
``<offline>``, as the real server pulls it; message stanzas a connection sent and the device
neither acked nor receipted are queued again at its end, as the real server redelivers them)
and answers the queries of docs/protocol/server.md#login and
docs/protocol/server.md#while-open. Faults (``walink.testing.faults``) replace or follow the
answer at their step.
"""

from __future__ import annotations

import base64
import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walink.protocol.binary import Node, content_bytes
from walink.protocol.connection import ServerConnection
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.events import (
    ClientAuthenticated,
    ClientHelloReceived,
    ConnectionClosed,
    NodeReceived,
)
from walink.protocol.pairing import verify_device_signature
from walink.protocol.proto import wa_pb2
from walink.testing.contacts import NoBundleError, UnknownDeviceError
from walink.testing.faults import (
    Drop,
    Failure,
    Fault,
    Garbage,
    Silence,
    SlowReads,
    Step,
    StreamError,
    TruncatedFrame,
)
from walink.testing.phone import ExpiredRefError, PendingCodePairing
from walink.testing.registry import Device, Phone, SignedPreKey

if TYPE_CHECKING:
    from walink.testing.hub import Hub

__all__ = [
    "OFFLINE_PUSHED",
    "REF_COUNT",
    "SERVER_JID",
    "CloseRequest",
    "ServerSession",
    "empty_app_state_sync",
    "media_conn_answer",
]

SERVER_JID = "s.whatsapp.net"
REF_COUNT = 6
OFFLINE_PUSHED = 3
"""Backlog stanzas pushed right after the preview; the rest waits for ``offline_batch``."""
_STREAM_ERROR = "stream:error"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRequest:
    """How the server wants the connection ended, for the socket layer to carry out."""

    abort: bool
    """True: drop the connection without a WebSocket close frame (a fault, a broken stream)."""
    code: int = 1000
    """The WebSocket close code when not aborting."""
    reason: str = ""
    """Why, for logs."""


@dataclass(slots=True, kw_only=True)
class _IssuedIdentity:
    """A pair-success sent and waiting for its pair-device-sign."""

    iq_id: str
    phone: Phone
    device: int
    key_index: int
    companion_identity: bytes
    details: bytes


def _preview_counts(stanzas: list[Node]) -> dict[str, str]:
    """``<offline_preview>``'s attributes: the total and the count of each kind of stanza."""
    kinds = {"message": 0, "notification": 0, "receipt": 0, "call": 0}
    for stanza in stanzas:
        if stanza.tag in kinds:
            kinds[stanza.tag] += 1
    counts = {"count": str(len(stanzas))}
    counts.update({kind: str(number) for kind, number in kinds.items()})
    counts["appdata"] = "0"
    return counts


def _usync_answer(query: Node) -> Node:
    """The queried users echoed back with nothing known about them (no LID, no devices).

    Enough for a client that asks for a sender's LID before decrypting: it then decrypts under
    the phone-number address, which is how the emulator's contacts address their messages.
    """
    usync = query.child("usync")
    users = usync.child("list") if usync is not None else None
    echoed = [
        Node("user", {"jid": user.attr("jid") or ""})
        for user in (users.children("user") if users is not None else [])
        if user.attr("jid")
    ]
    attrs = {k: v for k, v in (usync.attrs if usync is not None else {}).items() if k == "sid"}
    return Node("usync", attrs, [Node("list", {}, echoed)])


def stream_error_node(code: int) -> Node:
    """The ``<stream:error>`` the emulator sends for ``code`` (tests classify the same node)."""
    # The shapes of docs/protocol/lifecycle.md#server-endings that make Baileys derive exactly
    # ``code``.
    if code == 401:
        return Node(_STREAM_ERROR, {"code": "401"}, [Node("conflict", {"type": "device_removed"})])
    if code == 440:
        return Node(_STREAM_ERROR, {}, [Node("conflict", {"type": "replaced"})])
    return Node(_STREAM_ERROR, {"code": str(code)})


def media_conn_answer(hosts: tuple[str, ...]) -> Node:
    """The ``<media_conn>`` of a ``w:m`` answer: the media hosts in order (downloads send no
    token; the auth is for uploads, which the emulator does not take)."""
    attrs = {"auth": "emulator", "ttl": "300", "auth_ttl": "21600", "max_buckets": "12"}
    return Node("media_conn", attrs, [Node("host", {"hostname": host}) for host in hosts])


def empty_app_state_sync(query: Node) -> Node:
    """The ``<sync>`` answer of a fresh account: each requested collection, empty, at the
    version asked (no patches, no snapshot, nothing more to fetch)."""
    sync = query.child("sync")
    collections = [
        Node(
            "collection",
            {"name": name, "version": collection.attr("version") or "0"},
        )
        for collection in (sync.children("collection") if sync is not None else [])
        if (name := collection.attr("name"))
    ]
    return Node("sync", {}, collections)


def _receipt_ids(receipt: Node) -> list[str]:
    """The message ids a receipt names: its ``id``, and a ``<list><item id=…/>`` for more."""
    ids = [receipt.attr("id") or ""]
    listed = receipt.child("list")
    if listed is not None:
        ids.extend(item.attr("id") or "" for item in listed.children("item"))
    return [i for i in ids if i]


class ServerSession:
    """The server side of one client connection (see the module docstring)."""

    def __init__(self, hub: Hub, *, number: int, faults: tuple[Fault, ...]) -> None:
        self.hub = hub
        self.number = number
        """This connection's number within the hub (1, 2, …)."""
        self.faults = faults
        self._conn = ServerConnection(static=hub.server_key, cert_chain=hub.cert_chain, rng=hub.rng)
        self._out = bytearray()
        self._broken = False
        self._silent = False
        self._ids = itertools.count(1)
        self.close_requested: CloseRequest | None = None
        """Set once the server wants the connection ended; no more bytes follow it."""
        self.closed_by_client = False
        self.routing_info: bytes | None = None
        """The edge-routing bytes of the client's ``ED`` intro (None for a plain intro)."""
        self.client_static_key: bytes | None = None
        self.payload: wa_pb2.ClientPayload | None = None
        self.refs: list[str] = []
        self.awaiting_pairing = False
        self.device: Device | None = None
        """The registered device this connection logged in as."""
        # a ring: a long run must not grow without bound (Hub.received_limit)
        self._received: deque[Node] = deque(maxlen=max(1, hub.received_limit))
        self.received_count = 0
        """How many nodes the client sent on this connection, all told."""
        self.presence: str | None = None
        self.pings_sent: list[str] = []
        self.pongs: list[str] = []
        self.pair_device_acked = False
        """Whether the client answered pair-device with its ``result``."""
        self._pair_device_id: str | None = None
        self._issued: _IssuedIdentity | None = None
        self._next_ping_at: float | None = None
        self._backlog: list[Node] = []
        self._backlog_sent = 0
        self._unacked: dict[str, Node] = {}
        """Message stanzas sent and not acked yet, by id, in the order sent."""
        self.offline_batches: list[int] = []
        """The ``count`` of every ``offline_batch`` request the client made."""
        self._apply_faults(Step.CONNECTED)

    # -- public surface ----------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """Whether the connection is over (closed by the client, or a close was requested)."""
        return self.closed_by_client or self.close_requested is not None

    @property
    def slow_reads(self) -> float | None:
        """The per-read delay the socket layer should apply (a ``SlowReads`` fault), or None."""
        for fault in self.faults:
            if isinstance(fault, SlowReads):
                return fault.delay
        return None

    def go_silent(self) -> None:
        """Stop answering and pinging from now on, while the socket stays up.

        What a dead route looks like to the client: its keepalive must notice (a test double
        for the Silence fault at an arbitrary moment rather than at a scripted step).
        """
        self._silent = True
        self._next_ping_at = None

    def receive_data(self, data: bytes | None, *, now: float) -> None:
        """Feed what the client sent (None: it closed); answers go to ``data_to_send()``."""
        self.hub.now = max(self.hub.now, now)
        if data is None:
            self.closed_by_client = True
            self.hub._forget(self)
        if self.close_requested is not None or self._silent:
            return
        try:
            self._conn.receive_data(data)
            for event in self._conn.events():
                self._handle(event, now)
                if self.ended or self._silent:
                    break
        except RemoteProtocolError as exc:
            self._broken = True
            self.hub.log(f"connection {self.number}: bad bytes from the client: {exc}")
            self._close(abort=True, reason=f"protocol error: {exc}")
        self._flush()

    def data_to_send(self) -> bytes:
        """Take the bytes to write to the client."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` next has work (a server ping), or None."""
        if self.ended or self._silent:
            return None
        return self._next_ping_at

    def handle_timeout(self, now: float) -> None:
        """Do what is due at ``now``: send the server's ping when its time has come."""
        self.hub.now = max(self.hub.now, now)
        if self.ended or self._silent or self._next_ping_at is None or now < self._next_ping_at:
            return
        ping_id = self._new_id()
        self.pings_sent.append(ping_id)
        self._send(
            Node("iq", {"from": SERVER_JID, "type": "get", "xmlns": "urn:xmpp:ping", "id": ping_id})
        )
        assert self.hub.ping_interval is not None
        self._next_ping_at = now + self.hub.ping_interval
        self._flush()

    def send_node(self, node: Node) -> None:
        """Send any node to this client now (notifications a test scripts, for instance)."""
        if self.ended or self._silent:
            return
        self._send(node)
        self._flush()

    def send_companion_reg_refresh(self) -> None:
        """Tell an unpaired client to make a new ADV secret and show a new QR
        (docs/protocol/server.md#while-open)."""
        self.send_node(
            Node(
                "notification",
                {"type": "companion_reg_refresh", "id": self._new_id(), "from": SERVER_JID},
                [Node("companion_reg_refresh")],
            )
        )

    def send_edge_routing(self, routing_info: bytes) -> None:
        """Send ``<ib><edge_routing>``: the client uses it in its next intro."""
        self.send_node(
            Node("ib", {}, [Node("edge_routing", {}, [Node("routing_info", {}, routing_info)])])
        )

    # -- called by the phone -----------------------------------------------------------------

    def send_pair_success(
        self,
        *,
        container: bytes,
        phone: Phone,
        device: int,
        key_index: int,
        companion_identity: bytes,
        now: float,
    ) -> str:
        """Send pair-success carrying the phone's signed ``container``; returns the device JID."""
        if self.ended:
            raise ExpiredRefError("the connection ended")
        signed = wa_pb2.ADVSignedDeviceIdentityHMAC.FromString(container).details
        details = wa_pb2.ADVSignedDeviceIdentity.FromString(signed).details
        iq_id = self._new_id()
        self._issued = _IssuedIdentity(
            iq_id=iq_id,
            phone=phone,
            device=device,
            key_index=key_index,
            companion_identity=companion_identity,
            details=details,
        )
        self.awaiting_pairing = False
        jid = f"{phone.number}:{device}@{SERVER_JID}"
        pair_success = Node(
            "pair-success",
            {},
            [
                Node("device-identity", {"key-index": str(key_index)}, container),
                Node("platform", {"name": "android"}),
                Node("device", {"jid": jid, "lid": f"{phone.lid}:{device}@lid"}),
            ],
        )
        self.send_node(
            Node(
                "iq",
                {"from": SERVER_JID, "type": "set", "id": iq_id, "t": str(int(now))},
                [pair_success],
            )
        )
        return jid

    def send_primary_hello(
        self, *, ref: bytes, phone_identity_public: bytes, wrapped_primary_ephemeral: bytes
    ) -> None:
        """Send the pairing code's primary_hello notification (docs/protocol/server.md#pairing-code,
        step 2)."""
        stage = Node(
            "link_code_companion_reg",
            {"stage": "primary_hello"},
            [
                Node("link_code_pairing_ref", {}, ref),
                Node("primary_identity_pub", {}, phone_identity_public),
                Node(
                    "link_code_pairing_wrapped_primary_ephemeral_pub", {}, wrapped_primary_ephemeral
                ),
            ],
        )
        self.send_node(
            Node(
                "notification",
                {"type": "link_code_companion_reg", "id": self._new_id(), "from": SERVER_JID},
                [stage],
            )
        )

    # -- machinery ---------------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self.number}.{next(self._ids)}"

    def _send(self, node: Node) -> None:
        if node.tag == "message" and self.device is not None and "id" in node.attrs:
            # kept without its backlog position: a redelivery gets a new one
            attrs = {k: v for k, v in node.attrs.items() if k != "offline"}
            self._unacked[node.attrs["id"]] = Node(node.tag, attrs, node.content)
        self._conn.send_node(node)

    def _flush(self) -> None:
        if self._broken:
            return
        pending = self._conn.data_to_send()
        # After a silence or an abort, nothing more reaches the wire.
        aborted = self.close_requested is not None and self.close_requested.abort
        if not (self._silent or aborted):
            self._out += pending

    def _close(self, *, abort: bool, reason: str) -> None:
        if self.close_requested is None:
            self.close_requested = CloseRequest(abort=abort, reason=reason)
            self.hub._forget(self)
            self._next_ping_at = None

    def _end_with_stream_error(self, code: int, reason: str) -> None:
        self._send(stream_error_node(code))
        self._flush()
        self._close(abort=False, reason=reason)

    def _fault_at(self, step: Step) -> Fault | None:
        for fault in self.faults:
            if not isinstance(fault, SlowReads | Failure) and fault.at is step:
                return fault
        return None

    def _apply_faults(self, step: Step) -> bool:
        """Apply the fault scripted for ``step`` to what is queued; True when there was one."""
        fault = self._fault_at(step)
        if fault is None:
            return False
        pending = b"" if step is Step.CONNECTED else self._conn.data_to_send()
        if isinstance(fault, Drop):
            self._close(abort=True, reason=f"fault: drop at {step.value}")
        elif isinstance(fault, Silence):
            self._silent = True
            self._next_ping_at = None
        elif isinstance(fault, Garbage):
            self._out += fault.data
            self._silent = True
            self._next_ping_at = None
        elif isinstance(fault, TruncatedFrame):
            if not pending and step is Step.OPEN:
                self._send(Node("ib"))  # a real frame to cut; the abort follows at once
                pending = self._conn.data_to_send()
            if not pending:  # before the handshake: announce 16 bytes, send 8
                pending = b"\x00\x00\x10" + bytes(16)
            self._out += pending[: max(1, len(pending) // 2)]
            self._close(abort=True, reason=f"fault: truncated frame at {step.value}")
        elif isinstance(fault, StreamError):
            self._end_with_stream_error(fault.code, f"fault: stream error {fault.code}")
        return True

    @property
    def received(self) -> list[Node]:
        """The newest nodes the client sent, oldest first: every one of them until
        ``Hub.received_limit`` (1000 by default) were sent, then the last that many (for tests
        and logs; ``received_count`` counts them all)."""
        return list(self._received)

    @property
    def unacked_messages(self) -> int:
        """How many message stanzas this connection sent that the device has neither acked nor
        receipted yet (what the hub queues again if the connection ends now)."""
        return len(self._unacked)

    def _handle(self, event: object, now: float) -> None:
        if isinstance(event, ClientHelloReceived):
            self.routing_info = event.routing_info
            self._apply_faults(Step.CLIENT_HELLO)
        elif isinstance(event, ClientAuthenticated):
            self._on_authenticated(event, now)
        elif isinstance(event, NodeReceived):
            self._received.append(event.node)
            self.received_count += 1
            self._on_node(event.node, now)
        elif isinstance(event, ConnectionClosed):
            self.closed_by_client = True

    def _on_authenticated(self, event: ClientAuthenticated, now: float) -> None:
        self.client_static_key = event.client_static_key
        self.payload = payload = event.payload
        # A fault that replaces the first node must strike before that node is encrypted: a
        # discarded frame would still have used a nonce, and the client could not decrypt on.
        replacing = self._fault_at(Step.CLIENT_FINISH)
        if replacing is not None and not isinstance(replacing, TruncatedFrame):
            self._apply_faults(Step.CLIENT_FINISH)
            return
        if payload.HasField("username"):
            self._login(payload, now)
        elif payload.HasField("device_pairing_data"):
            self._register(payload, now)
        else:
            self._send(Node("failure", {"reason": "400"}))
            self._flush()
            self._close(abort=False, reason="payload neither login nor registration")
        if self.ended or self._apply_faults(Step.CLIENT_FINISH):
            return
        self._flush()
        self._apply_faults(Step.OPEN)

    def _register(self, payload: wa_pb2.ClientPayload, now: float) -> None:
        self.refs = [
            "2@" + base64.b64encode(self.hub.rng(33)).decode("ascii") for _ in range(REF_COUNT)
        ]
        self.hub._grant_refs(self, self.refs, now)
        self.awaiting_pairing = True
        self._pair_device_id = self._new_id()
        refs = [Node("ref", {}, ref.encode("utf-8")) for ref in self.refs]
        self._send(
            Node(
                "iq",
                {"from": SERVER_JID, "type": "set", "id": self._pair_device_id, "xmlns": "md"},
                [Node("pair-device", {}, refs)],
            )
        )

    def _login(self, payload: wa_pb2.ClientPayload, now: float) -> None:
        for fault in self.faults:
            if isinstance(fault, Failure):
                self._send(Node("failure", {"reason": str(fault.reason), **fault.attrs}))
                self._flush()
                self._close(abort=False, reason=f"fault: failure {fault.reason}")
                return
        device = self.hub.registry.device(str(payload.username), payload.device)
        if device is None or device.noise_key != self.client_static_key:
            why = "unknown device" if device is None else "wrong noise key"
            self.hub.log(f"connection {self.number}: login refused: {why}")
            self._send(Node("failure", {"reason": "401"}))
            self._flush()
            self._close(abort=False, reason=f"login refused: {why}")
            return
        self.device = device
        self._replace_older_logins(device)
        self._send(
            Node(
                "success",
                {"t": str(int(now)), "lid": device.lid_jid, "props": "1", "location": "emu"},
            )
        )
        self._start_offline(self.hub._take_offline(device.jid))
        if self.hub.edge_routing is not None:
            self.send_edge_routing(self.hub.edge_routing)
        if self.hub.ping_interval is not None:
            self._next_ping_at = now + self.hub.ping_interval

    # -- the offline backlog ---------------------------------------------------------------------

    def _start_offline(self, backlog: list[Node]) -> None:
        # A backlog is previewed, OFFLINE_PUSHED of it is pushed, and the rest waits for the
        # client's offline_batch requests; an empty one is just <offline count="0">.
        self._backlog, self._backlog_sent = backlog, 0
        if backlog:
            self._send(Node("ib", {}, [Node("offline_preview", _preview_counts(backlog))]))
            self._serve_offline(OFFLINE_PUSHED)
        else:
            self._serve_offline(0)

    def _serve_offline(self, count: int) -> None:
        """Send up to ``count`` more backlog stanzas; ``<offline>`` once none is left."""
        if self._backlog_sent > len(self._backlog):
            return  # <offline> went out already: a late request has nothing to serve
        end = min(len(self._backlog), self._backlog_sent + count)
        for position in range(self._backlog_sent + 1, end + 1):
            stanza = self._backlog[position - 1]
            self._send(Node(stanza.tag, {**stanza.attrs, "offline": str(position)}, stanza.content))
        self._backlog_sent = end
        if end == len(self._backlog):
            self._backlog_sent += 1  # past the end: the backlog is over
            self._send(Node("ib", {}, [Node("offline", {"count": str(len(self._backlog))})]))

    def _on_offline_batch(self, node: Node) -> None:
        batch = node.child("offline_batch")
        count = batch.attr("count") if batch is not None else None
        if count is None or not count.isdigit():
            return
        self.offline_batches.append(int(count))
        self._serve_offline(int(count))

    # -- nodes -------------------------------------------------------------------------------

    def _on_node(self, node: Node, now: float) -> None:
        if node.tag == "ib" and node.child("offline_batch") is not None:
            self._on_offline_batch(node)
        elif node.tag == "iq":
            self._on_iq(node, now)
        elif node.tag == "presence":
            self.presence = node.attr("type")
        elif node.tag == "ack" and node.attr("class") == "message":
            # acked or nacked, the device is done with it: the server never sends it again
            self._unacked.pop(node.attr("id") or "", None)
        elif node.tag == "receipt":
            if node.attr("type") == "server-error":
                self.hub.blobs.on_server_error_receipt(node)  # the phone uploads that blob again
            elif node.attr("type") != "retry":
                # A receipt says the device has the message, as an ack does: Baileys sends only
                # the receipt for a message it decrypted (a retry receipt asks for it again).
                for message_id in _receipt_ids(node):
                    self._unacked.pop(message_id, None)
        # acks, ib (unified_session): nothing to answer

    def _on_iq(self, node: Node, now: float) -> None:
        kind = node.attr("type")
        iq_id = node.attr("id") or ""
        if kind in ("result", "error"):
            self._on_client_answer(node, kind, iq_id)
            return
        if kind not in ("get", "set"):
            return
        xmlns = node.attr("xmlns")
        children = node.children()
        first = children[0].tag if children else None
        if xmlns == "w:p" and kind == "get":
            self._result(iq_id)
        elif xmlns == "encrypt" and kind == "get" and first == "count":
            count = self.device.pre_key_count if self.device is not None else 0
            self._result(iq_id, [Node("count", {"value": str(count)})])
        elif xmlns == "encrypt" and kind == "set" and node.child("list") is not None:
            first_upload = self.device is not None and self.device.signed_pre_key is None
            self._store_pre_keys(node)
            self._result(iq_id)
            if first_upload and self.device is not None and self.device.signed_pre_key is not None:
                self._send_history(now)
        elif xmlns == "encrypt" and kind == "get" and first == "digest":
            self._result(iq_id, [self._digest()])
        elif xmlns == "usync" and kind == "get":
            self._result(iq_id, [_usync_answer(node)])
        elif xmlns == "passive" and kind == "set":
            self._result(iq_id)
        elif xmlns == "abt":
            self._result(iq_id, [Node("props", {"protocol": "1"})])
        elif xmlns == "blocklist":
            self._result(iq_id, [Node("list")])
        elif xmlns == "privacy":
            self._result(iq_id, [Node("privacy")])
        elif xmlns == "md" and first == "remove-companion-device":
            self._logout(iq_id)
        elif xmlns == "md" and first == "link_code_companion_reg":
            self._on_link_code(node, iq_id, now)
        elif xmlns == "w:m" and first == "media_conn":
            self._result(iq_id, [media_conn_answer(self.hub.media_hosts)])
        elif xmlns == "w:sync:app:state" and first == "sync":
            self._result(iq_id, [empty_app_state_sync(node)])
        else:
            self._error(iq_id, 501, "feature-not-implemented")

    def _send_history(self, now: float) -> None:
        # A new login: the phone now has the device's keys and sends it the history. Keys the
        # phone cannot start a Signal session on (a test's placeholder upload) mean no history.
        assert self.device is not None
        try:
            stanzas = self.hub.history_stanzas(self.device, now=now)
        except (NoBundleError, UnknownDeviceError, RemoteProtocolError, ValueError) as exc:
            self.hub.log(f"connection {self.number}: no history sent: {exc!r}")
            return
        for stanza in stanzas:
            self._send(stanza)

    def take_unacked_messages(self) -> list[Node]:
        """The message stanzas this connection sent that the device never acked, in the order
        sent (the hub queues them again at its end: the real server redelivers them)."""
        unacked = list(self._unacked.values())
        self._unacked.clear()
        return unacked

    def take_unsent_backlog(self) -> list[Node]:
        """The queued stanzas this connection never sent (the hub requeues them at its end)."""
        if self._backlog_sent > len(self._backlog):
            return []  # <offline> went out: everything was sent
        unsent = self._backlog[self._backlog_sent :]
        self._backlog, self._backlog_sent = [], 0
        return unsent

    def _result(self, iq_id: str, children: list[Node] | None = None) -> None:
        self._send(Node("iq", {"from": SERVER_JID, "type": "result", "id": iq_id}, children))

    def _error(self, iq_id: str, code: int, text: str) -> None:
        error = Node("error", {"code": str(code), "text": text})
        self._send(Node("iq", {"from": SERVER_JID, "type": "error", "id": iq_id}, [error]))

    def _on_client_answer(self, node: Node, kind: str, iq_id: str) -> None:
        if iq_id in self.pings_sent:
            self.pongs.append(iq_id)
        if iq_id == self._pair_device_id and kind == "result":
            self.pair_device_acked = True
        issued = self._issued
        if issued is None or iq_id != issued.iq_id:
            return
        self._issued = None
        if kind == "error":
            error = node.child("error")
            self.hub.log(f"connection {self.number}: pair-success refused: {error!r}")
            return
        sign = node.child("pair-device-sign")
        reply = content_bytes(sign.child("device-identity") if sign is not None else None)
        try:
            verify_device_signature(
                reply,
                issued.companion_identity,
                issued.phone.identity.public,
                expected_details=issued.details,
            )
        except RemoteProtocolError as exc:
            self.hub.log(f"connection {self.number}: device signature invalid: {exc}")
            self._end_with_stream_error(401, "device signature invalid")
            return
        assert self.client_static_key is not None
        self.hub.registry.add_device(
            issued.phone,
            device=issued.device,
            key_index=issued.key_index,
            noise_key=self.client_static_key,
            identity_key=issued.companion_identity,
        )
        self._end_with_stream_error(515, "paired: restart required")

    def _store_pre_keys(self, node: Node) -> None:
        keys: dict[int, bytes] = {}
        list_node = node.child("list")
        for key in list_node.children("key") if list_node is not None else []:
            key_id = int.from_bytes(content_bytes(key.child("id")), "big")
            keys[key_id] = content_bytes(key.child("value"))
        if self.device is not None:
            self.hub.registry.store_pre_keys(self.device, keys)
            self.hub._uploads[self.device.jid] = node
            self._store_bundle(node)

    def _store_bundle(self, node: Node) -> None:
        # The rest of the upload, which the server hands to senders with a one-time pre-key.
        registration = content_bytes(node.child("registration"))
        skey = node.child("skey")
        if self.device is None or skey is None or len(registration) != 4:
            return
        signed = SignedPreKey(
            key_id=int.from_bytes(content_bytes(skey.child("id")), "big"),
            public=content_bytes(skey.child("value")),
            signature=content_bytes(skey.child("signature")),
        )
        self.hub.registry.store_bundle(
            self.device, registration_id=int.from_bytes(registration, "big"), signed_pre_key=signed
        )

    def _digest(self) -> Node:
        upload = self.hub._uploads.get(self.device.jid) if self.device is not None else None
        if upload is None:
            return Node("digest")
        echoed = [
            c for c in upload.children() if c.tag in ("registration", "type", "identity", "skey")
        ]
        return Node("digest", {}, echoed)

    def _logout(self, iq_id: str) -> None:
        self._result(iq_id)
        self.remove_device(reason="logged out: device removed")

    def _replace_older_logins(self, device: Device) -> None:
        """One connection per device, as on the real server: a new login of a device that is
        already connected ends the older connection with ``<conflict type="replaced"/>`` (440)."""
        for other in self.hub.sessions():
            if other is not self and other.device is not None and other.device.jid == device.jid:
                self.hub.replaced += 1
                self.hub.log(f"connection {other.number}: replaced by connection {self.number}")
                other._end_with_stream_error(440, f"replaced by connection {self.number}")

    def remove_device(self, *, reason: str = "the phone removed the device") -> None:
        """The device leaves the registry and this connection ends with a 401 device_removed.

        What a person unlinking the device on the phone (Linked devices > Log out) looks like to
        the client: a server-side logout, as opposed to the client's own remove-companion-device.
        """
        if self.device is not None:
            self.hub.registry.remove_device(self.device.phone, self.device.device)
        self._end_with_stream_error(401, reason)

    def _on_link_code(self, node: Node, iq_id: str, now: float) -> None:
        reg = node.child("link_code_companion_reg")
        assert reg is not None
        stage = reg.attr("stage")
        if stage == "companion_hello":
            if self.hub.pairing_code_rate_limited:
                self._error(iq_id, 429, "rate-overlimit")
                return
            wrapped = content_bytes(reg.child("link_code_pairing_wrapped_companion_ephemeral_pub"))
            phone = (reg.attr("jid") or "").split("@")[0]
            if len(wrapped) < 80 or not phone.isdigit():
                self._error(iq_id, 400, "bad-request")
                return
            ref = ("2@" + base64.b64encode(self.hub.rng(24)).decode("ascii")).encode("ascii")
            self.hub._add_pending_code(
                PendingCodePairing(
                    session=self,
                    ref=ref,
                    phone=phone,
                    wrapped_companion_ephemeral=wrapped,
                    created_at=now,
                )
            )
            self.awaiting_pairing = True
            answer = Node("link_code_companion_reg", {}, [Node("link_code_pairing_ref", {}, ref)])
            self._result(iq_id, [answer])
        elif stage == "companion_finish":
            ref = content_bytes(reg.child("link_code_pairing_ref"))
            pending = next(
                (p for p in self.hub.pending_code_pairings() if p.session is self and p.ref == ref),
                None,
            )
            self._result(iq_id)
            if pending is None:
                self.hub.log(f"connection {self.number}: companion_finish for an unknown ref")
                return
            self._flush()
            bundle = content_bytes(reg.child("link_code_pairing_wrapped_key_bundle"))
            self.hub.phone.finish_code_pairing(pending, wrapped_key_bundle=bundle, now=now)
        else:
            self._error(iq_id, 400, "bad-request")
