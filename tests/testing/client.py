"""A small scripted client for driving the server role in memory (not walink.session).

Built from the client role of ``walink.protocol.connection`` plus ``payload`` and ``pairing``:
it answers what a client must answer (pair-device, pair-success, server pings, offline acks)
so the server's tests can read like the lifecycle they check. Everything is deterministic: the
caller passes the rng and the time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from walink.protocol.binary import Node
from walink.protocol.connection import ClientConnection
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.events import Event, NodeReceived
from walink.protocol.keys import KeyPair, SignedKeyPair, generate_signed_pre_key
from walink.protocol.pairing import qr_string, verify_pair_success
from walink.protocol.payload import login_payload, registration_payload
from walink.testing.hub import Hub
from walink.testing.server import ServerSession

Rng = Callable[[int], bytes]
T0 = 1_780_000_000.0


def seeded(seed: int) -> Rng:
    return random.Random(seed).randbytes


@dataclass
class Creds:
    """The part of a companion's credentials the connection layer needs."""

    noise_key: KeyPair
    identity: KeyPair
    signed_pre_key: SignedKeyPair
    registration_id: int
    adv_secret: bytes
    me: str | None = None
    lid: str | None = None
    routing_info: bytes | None = None

    @classmethod
    def fresh(cls, rng: Rng) -> Creds:
        identity = KeyPair.generate(rng)
        return cls(
            noise_key=KeyPair.generate(rng),
            identity=identity,
            signed_pre_key=generate_signed_pre_key(identity, 1, rng),
            registration_id=1234,
            adv_secret=rng(32),
        )

    @property
    def user_and_device(self) -> tuple[int, int]:
        assert self.me is not None
        user, _, rest = self.me.partition(":")
        return int(user), int(rest.split("@")[0])


def client_payload(creds: Creds) -> bytes:
    """The login payload once ``me`` is known, the registration payload before."""
    if creds.me is not None:
        user, device = creds.user_and_device
        return login_payload(username=user, device=device).SerializeToString()
    return registration_payload(
        registration_id=creds.registration_id,
        identity_public=creds.identity.public,
        signed_pre_key_id=creds.signed_pre_key.key_id,
        signed_pre_key_public=creds.signed_pre_key.key_pair.public,
        signed_pre_key_signature=creds.signed_pre_key.signature,
    ).SerializeToString()


@dataclass
class ScriptedClient:
    """One client connection wired to one server session."""

    hub: Hub
    creds: Creds
    now: float
    rng: Rng
    answer_pings: bool = True
    tamper_device_signature: bool = False
    offline_batch: int | None = 100
    """The batch size asked for after an ``offline_preview`` (None: do not pull)."""
    conn: ClientConnection = field(init=False)
    session: ServerSession = field(init=False)
    nodes: list[Node] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    error: RemoteProtocolError | None = None
    refs: list[str] = field(default_factory=list)
    paired_jid: str | None = None
    _ids: int = 0

    def __post_init__(self) -> None:
        payload = client_payload(self.creds)
        self.session = self.hub.connect(now=self.now)
        self.conn = ClientConnection(
            noise_key=self.creds.noise_key,
            client_payload=payload,
            trust_root=self.hub.client_trust_root,
            now=self.now,
            routing_info=self.creds.routing_info,
            rng=self.rng,
        )

    def pump(self) -> None:
        """Move bytes both ways until nothing moves (or the client's transport broke)."""
        while self.error is None:
            to_server = self.conn.data_to_send()
            if to_server:
                self.session.receive_data(to_server, now=self.now)
            to_client = self.session.data_to_send()
            if to_client:
                received: list[Event] = []
                try:
                    self.conn.receive_data(to_client)
                    received.extend(self.conn.events())  # extend keeps what came before an error
                except RemoteProtocolError as exc:
                    self.error = exc
                for event in received:
                    self.events.append(event)
                    if isinstance(event, NodeReceived):
                        self.nodes.append(event.node)
                        self._react(event.node)
                if self.error is not None:
                    return
            if not to_server and not to_client:
                return

    def advance(self, seconds: float) -> None:
        """Let time pass: the server's timers run, then bytes move."""
        self.now += seconds
        deadline = self.session.next_deadline()
        if deadline is not None and deadline <= self.now:
            self.session.handle_timeout(self.now)
        self.pump()

    def pull_offline(self, count: int) -> None:
        """Ask for the next ``count`` stanzas of the offline backlog."""
        self.send(Node("ib", {}, [Node("offline_batch", {"count": str(count)})]))

    def send(self, node: Node) -> None:
        self.conn.send_node(node)
        self.pump()

    def query(self, node: Node) -> Node:
        """Send an iq with a fresh id; the server's answer with that id."""
        self._ids += 1
        iq_id = f"q{self._ids}"
        node.attrs["id"] = iq_id
        self.send(node)
        answers = [n for n in self.nodes if n.tag == "iq" and n.attr("id") == iq_id]
        assert len(answers) == 1, answers
        return answers[0]

    def qr(self, index: int = 0) -> str:
        return qr_string(
            self.refs[index],
            self.creds.noise_key.public,
            self.creds.identity.public,
            self.creds.adv_secret,
            "1",
        )

    def _react(self, node: Node) -> None:
        if node.tag == "iq" and node.attr("type") == "set" and node.child("pair-device"):
            pair_device = node.child("pair-device")
            assert pair_device is not None
            self.refs = [_text(ref) for ref in pair_device.children("ref")]
            self.conn.send_node(_result(node))
        elif node.tag == "iq" and node.child("pair-success") is not None:
            self._on_pair_success(node)
        elif node.tag == "iq" and node.attr("xmlns") == "urn:xmpp:ping" and self.answer_pings:
            self.conn.send_node(_result(node))
        elif node.tag == "ib" and node.child("offline_preview") is not None:
            # As Baileys and walink do: pull the backlog, one batch of 100.
            if self.offline_batch is not None:
                batch = Node("offline_batch", {"count": str(self.offline_batch)})
                self.conn.send_node(Node("ib", {}, [batch]))
        elif node.attr("offline") is not None:
            ack = {"id": node.attr("id") or "", "to": node.attr("from") or "", "class": node.tag}
            self.conn.send_node(Node("ack", ack))

    def _on_pair_success(self, node: Node) -> None:
        success = node.child("pair-success")
        assert success is not None
        identity = success.child("device-identity")
        device = success.child("device")
        assert identity is not None and device is not None
        result = verify_pair_success(
            _bytes(identity), self.creds.adv_secret, self.creds.identity, rng=self.rng
        )
        reply = result.reply_device_identity
        if self.tamper_device_signature:  # flip one bit of the device signature
            reply = reply[:-1] + bytes([reply[-1] ^ 1])
        self.creds.me = device.attr("jid")
        self.creds.lid = device.attr("lid")
        self.paired_jid = self.creds.me
        sign = Node(
            "pair-device-sign",
            {},
            [Node("device-identity", {"key-index": str(result.key_index)}, reply)],
        )
        attrs = {"to": "s.whatsapp.net", "type": "result", "id": node.attr("id") or ""}
        self.conn.send_node(Node("iq", attrs, [sign]))


def _result(node: Node) -> Node:
    return Node("iq", {"to": "s.whatsapp.net", "type": "result", "id": node.attr("id") or ""})


def _bytes(node: Node) -> bytes:
    content = node.content
    if isinstance(content, bytes):
        return content
    assert isinstance(content, str)
    return content.encode()


def _text(node: Node) -> str:
    return _bytes(node).decode()
