"""The sans-IO transport: a client and a server Connection wired together in memory."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol.binary import Node
from walink.protocol.certs import TestRoot, make_cert_chain, make_test_root
from walink.protocol.connection import ClientConnection, ServerConnection
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.events import (
    ClientAuthenticated,
    ClientHelloReceived,
    ConnectionClosed,
    Event,
    NodeReceived,
    ServerAuthenticated,
)
from walink.protocol.keys import KeyPair
from walink.protocol.proto import wa_pb2

NOW = 1_780_000_000.0
LOGIN_PAYLOAD = wa_pb2.ClientPayload(username=15551234567, device=3, passive=True)


def _rng(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


class Keys:
    """Deterministic keys of one client/server pair."""

    def __init__(self, seed: int = 7) -> None:
        rng = _rng(seed)
        self.root: TestRoot = make_test_root(rng)
        self.server_static = KeyPair.generate(rng)
        self.client_static = KeyPair.generate(rng)
        self.chain = make_cert_chain(
            self.root,
            self.server_static.public,
            not_before=int(NOW) - 3600,
            not_after=int(NOW) + 3600,
            rng=rng,
        )
        self.rng = rng


def make_pair(
    keys: Keys | None = None,
    *,
    routing_info: bytes | None = None,
    payload: bytes | None = None,
) -> tuple[ClientConnection, ServerConnection]:
    keys = keys or Keys()
    client = ClientConnection(
        noise_key=keys.client_static,
        client_payload=payload if payload is not None else LOGIN_PAYLOAD.SerializeToString(),
        trust_root=keys.root.trust_root,
        now=NOW,
        routing_info=routing_info,
        rng=keys.rng,
    )
    server = ServerConnection(static=keys.server_static, cert_chain=keys.chain, rng=keys.rng)
    return client, server


def exchange(client: ClientConnection, server: ServerConnection) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until both sides are quiet; the events each side saw."""
    client_events: list[Event] = []
    server_events: list[Event] = []
    while True:
        to_server = client.data_to_send()
        if to_server:
            server.receive_data(to_server)
        server_events += server.events()
        to_client = server.data_to_send()
        if to_client:
            client.receive_data(to_client)
        client_events += client.events()
        if not to_server and not to_client:
            return client_events, server_events


def test_handshake_and_nodes_both_ways() -> None:
    keys = Keys()
    client, server = make_pair(keys)
    assert not client.handshake_complete
    client_events, server_events = exchange(client, server)
    assert server_events[0] == ClientHelloReceived(routing_info=None)
    authenticated = server_events[1]
    assert isinstance(authenticated, ClientAuthenticated)
    assert authenticated.client_static_key == keys.client_static.public
    assert authenticated.payload == LOGIN_PAYLOAD
    assert authenticated.payload_bytes == LOGIN_PAYLOAD.SerializeToString()
    assert client_events == [
        ServerAuthenticated(server_static_key=keys.server_static.public, cert_chain=keys.chain)
    ]
    assert client.handshake_complete and server.handshake_complete

    success = Node("success", {"t": "1780000000", "lid": "123:3@lid"})
    server.send_node(success)
    ping = Node("iq", {"id": "1", "type": "get", "xmlns": "w:p", "to": "s.whatsapp.net"})
    client.send_node(ping)
    client_events, server_events = exchange(client, server)
    assert client_events == [NodeReceived(node=success)]
    assert server_events == [NodeReceived(node=ping)]


def test_client_starts_with_intro_and_client_hello() -> None:
    client, _ = make_pair()
    wire = client.data_to_send()
    # WA 06 03, a 3-byte length of 36, then HandshakeMessage{clientHello{ephemeral: 32 B}}
    assert wire[:4] == b"WA\x06\x03"
    assert wire[4:7] == b"\x00\x00\x24"
    assert wire[7:11] == b"\x12\x22\x0a\x20"
    assert len(wire) == 7 + 36
    assert client.data_to_send() == b""


def test_routing_info_intro_is_reported_by_the_server() -> None:
    client, server = make_pair(routing_info=b"\x08\x02\x10\x05")
    wire = client.data_to_send()
    assert wire[:7] == b"ED\x00\x01\x00\x00\x04"
    assert wire[7:11] == b"\x08\x02\x10\x05"
    assert wire[11:15] == b"WA\x06\x03"
    server.receive_data(wire)
    assert list(server.events()) == [ClientHelloReceived(routing_info=b"\x08\x02\x10\x05")]


def test_byte_by_byte_delivery_gives_the_same_events() -> None:
    client, server = make_pair()
    for byte in client.data_to_send():
        server.receive_data(bytes([byte]))
    assert isinstance(server.next_event(), ClientHelloReceived)
    assert server.next_event() is None
    for byte in server.data_to_send():
        client.receive_data(bytes([byte]))
    assert isinstance(client.next_event(), ServerAuthenticated)
    for byte in client.data_to_send():
        server.receive_data(bytes([byte]))
    assert isinstance(server.next_event(), ClientAuthenticated)


def test_frames_after_server_hello_in_the_same_chunk_are_not_lost() -> None:
    client, server = make_pair()
    server.receive_data(client.data_to_send())
    hello = server.data_to_send()
    client.receive_data(hello)
    server.receive_data(client.data_to_send())
    server.send_node(Node("a"))
    server.send_node(Node("b"))
    both = server.data_to_send()
    client.receive_data(both[:5])
    client.receive_data(both[5:])
    nodes = [e.node.tag for e in client.events() if isinstance(e, NodeReceived)]
    assert nodes == ["a", "b"]


def test_injected_verifier_replaces_the_chain_check() -> None:
    keys = Keys()
    seen: list[tuple[bytes, bytes]] = []

    def verify(chain: bytes, static: bytes) -> None:
        seen.append((chain, static))

    client = ClientConnection(
        noise_key=keys.client_static,
        client_payload=b"",
        verify_server=verify,
        rng=keys.rng,
    )
    server = ServerConnection(static=keys.server_static, cert_chain=b"not a chain", rng=keys.rng)
    exchange(client, server)
    assert seen == [(b"not a chain", keys.server_static.public)]
    assert client.handshake_complete


def test_untrusted_server_is_a_remote_error_then_sticky() -> None:
    keys = Keys()
    other_root = make_test_root(_rng(99))
    client = ClientConnection(
        noise_key=keys.client_static,
        client_payload=b"",
        trust_root=other_root.trust_root,
        now=NOW,
        rng=keys.rng,
    )
    server = ServerConnection(static=keys.server_static, cert_chain=keys.chain, rng=keys.rng)
    server.receive_data(client.data_to_send())
    with pytest.raises(RemoteProtocolError):
        client.receive_data(server.data_to_send())
    for call in (
        lambda: client.receive_data(b""),
        lambda: client.receive_data(None),
        client.next_event,
        client.data_to_send,
        lambda: client.send_node(Node("x")),
    ):
        with pytest.raises(LocalProtocolError):
            call()


def test_expired_chain_is_rejected() -> None:
    keys = Keys()
    client = ClientConnection(
        noise_key=keys.client_static,
        client_payload=b"",
        trust_root=keys.root.trust_root,
        now=NOW + 7200,
        rng=keys.rng,
    )
    server = ServerConnection(static=keys.server_static, cert_chain=keys.chain, rng=keys.rng)
    server.receive_data(client.data_to_send())
    with pytest.raises(RemoteProtocolError):
        client.receive_data(server.data_to_send())


def test_undecodable_client_payload_is_a_remote_error() -> None:
    client, server = make_pair(payload=b"\xff\xff\xff")
    with pytest.raises(RemoteProtocolError, match="ClientPayload"):
        exchange(client, server)


def test_misuse_is_a_local_error() -> None:
    keys = Keys()
    with pytest.raises(LocalProtocolError):
        ClientConnection(noise_key=keys.client_static, client_payload=b"", rng=keys.rng)
    with pytest.raises(LocalProtocolError):
        ClientConnection(
            noise_key=keys.client_static,
            client_payload=b"",
            trust_root=keys.root.trust_root,
            rng=keys.rng,
        )
    _, server = make_pair(keys)
    with pytest.raises(LocalProtocolError):
        server.send_node(Node("early"))
    with pytest.raises(LocalProtocolError):  # sticky after a local error too
        server.data_to_send()


def test_clean_eof_and_eof_inside_a_frame() -> None:
    client, server = make_pair()
    exchange(client, server)
    server.receive_data(None)
    assert list(server.events()) == [ConnectionClosed()]
    assert server.closed
    server.receive_data(None)  # a second EOF is harmless
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"more")

    client, server = make_pair()
    exchange(client, server)
    server.send_node(Node("cut"))
    frame = server.data_to_send()
    client.receive_data(frame[: len(frame) - 1])
    with pytest.raises(RemoteProtocolError, match="middle of a frame"):
        client.receive_data(None)


def test_eof_inside_the_intro_is_a_remote_error() -> None:
    _, server = make_pair()
    server.receive_data(b"ED\x00")
    with pytest.raises(RemoteProtocolError):
        server.receive_data(None)


def test_tampered_transport_frame_is_a_remote_error() -> None:
    client, server = make_pair()
    exchange(client, server)
    server.send_node(Node("x"))
    frame = bytearray(server.data_to_send())
    frame[-1] ^= 1
    with pytest.raises(RemoteProtocolError):
        client.receive_data(bytes(frame))


def _feed(connection: ClientConnection | ServerConnection, chunks: list[bytes]) -> None:
    try:
        for chunk in chunks:
            connection.receive_data(chunk)
            list(connection.events())
        connection.receive_data(None)
    except RemoteProtocolError:
        pass


chunks_strategy = st.lists(st.binary(max_size=64), max_size=6)


@given(chunks=chunks_strategy, intro=st.booleans())
def test_server_parses_or_raises_remote_error(chunks: list[bytes], intro: bool) -> None:
    _, server = make_pair()
    if intro:  # past the intro, so the frame and handshake parsers get the bytes
        chunks = [b"WA\x06\x03", *chunks]
    _feed(server, chunks)


@given(chunks=chunks_strategy)
def test_client_parses_or_raises_remote_error(chunks: list[bytes]) -> None:
    client, _ = make_pair()
    _feed(client, chunks)


@given(chunks=chunks_strategy)
def test_transport_phase_parses_or_raises_remote_error(chunks: list[bytes]) -> None:
    client, server = make_pair()
    exchange(client, server)
    _feed(client, chunks)
    _feed(server, chunks)


@given(plaintext=st.binary(max_size=200))
def test_decrypted_plaintext_parses_or_raises_remote_error(plaintext: bytes) -> None:
    # Reaching the node decoder needs a frame that authenticates, so the server's own transport
    # cipher seals arbitrary plaintext (a white-box shortcut: no public call sends raw bytes).
    client, server = make_pair()
    exchange(client, server)
    assert server._transport is not None
    frame = server._transport.encrypt(plaintext)
    _feed(client, [len(frame).to_bytes(3, "big") + frame])


def _events_then_error(client: ClientConnection, data: bytes) -> tuple[list[Node], str | None]:
    """Feed ``data``; the nodes read before the peer's error, and that error's text (if any)."""
    nodes: list[Node] = []
    try:
        client.receive_data(data)
        for event in client.events():
            if isinstance(event, NodeReceived):
                nodes.append(event.node)
    except RemoteProtocolError as exc:
        return nodes, type(exc).__name__
    return nodes, None


@pytest.mark.parametrize("split", [False, True])
def test_nodes_before_bad_bytes_are_read_whatever_the_split(split: bool) -> None:
    # Found by fuzzing: a stream:error and a bad frame in one read used to lose the stream:error,
    # turning a final logout into a reconnectable protocol error.
    client, server = make_pair()
    exchange(client, server)
    server.send_node(Node("stream:error", {"code": "401"}))
    good = server.data_to_send()
    bad = b"\x00\x00\x01\x00"  # a one-byte frame: no room for an AEAD tag
    if split:
        nodes, error = _events_then_error(client, good)
        assert error is None
        more, error = _events_then_error(client, bad)
        nodes += more
    else:
        nodes, error = _events_then_error(client, good + bad)
    assert nodes == [Node("stream:error", {"code": "401"})]
    assert error is not None
    with pytest.raises(LocalProtocolError):
        client.receive_data(b"more")


def test_data_after_a_deferred_error_is_refused() -> None:
    client, server = make_pair()
    exchange(client, server)
    server.send_node(Node("x"))
    client.receive_data(server.data_to_send() + b"\x00\x00\x01\x00")
    with pytest.raises(LocalProtocolError, match="after a peer error"):
        client.receive_data(b"\x00")
