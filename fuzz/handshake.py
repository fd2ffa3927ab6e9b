"""Fuzz target: handshake parsing, Noise roles and the sans-IO connections of both roles.

Invariant (docs/protocol/architecture.md#sans-io): arbitrary bytes are parsed or raise
``RemoteProtocolError``; nothing else escapes, and after an error the object is broken for good
(a later call raises, a connection's with ``LocalProtocolError``). Keys and ephemerals are fixed,
so every valid message is reproducible and the fuzzer can mutate real transcripts.

Input: byte 0 picks the mode (modulo their number), the rest is the body:

==  ===================  ==========================================================================
0   client hello         ``NoiseResponder.receive_client_hello(body)``
1   server hello         ``NoiseInitiator.receive_server_hello(body)``, chain checked
2   client finish        ``NoiseResponder.receive_client_finish(body)`` after a real hello
3   server stream        ``ServerConnection.receive_data`` (intro + frames), whole and split, EOF
4   client stream        ``ClientConnection.receive_data`` after its ClientHello, whole and split
5   certificate chain    a real server presents ``body`` as its CertChain to a ``ClientConnection``
6   client payload       a real client sends ``body`` as its ClientPayload to a ``ServerConnection``
7   node to the client   ``body`` encrypted as a transport frame to an authenticated client
8   node to the server   the same towards an authenticated server
==  ===================  ==========================================================================

Modes 5 to 8 get past the AEAD tags with real keys, so the fuzzer reaches the certificate, the
ClientPayload and the node parsers through the connection.

Run: ``python fuzz/handshake.py -max_total_time=60`` (atheris; see fuzz/README.md).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial

from _atheris import fuzz, instrumented

with instrumented(__name__):
    from walink.protocol.binary import Node, encode_node
    from walink.protocol.certs import TrustRoot, make_cert_chain, make_test_root, verify_cert_chain
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
    from walink.protocol.frames import encode_frame, intro_header
    from walink.protocol.keys import KeyPair
    from walink.protocol.noise import NoiseInitiator, NoiseResponder
    from walink.protocol.proto import wa_pb2

NOW = 1_780_000_000
BYTE_BY_BYTE_LIMIT = 2048
"""Longer streams are fed byte by byte only up to here (the rest in one piece), to stay fast."""
MODES = 9


@dataclass(frozen=True, slots=True)
class _Keys:
    """Fixed key material: one deterministic client and server."""

    trust_root: TrustRoot
    chain: bytes
    server_static: KeyPair
    server_ephemeral: KeyPair
    client_static: KeyPair
    client_ephemeral: KeyPair
    payload: bytes


@cache
def _keys() -> _Keys:
    rng = random.Random(20261124).randbytes
    root = make_test_root(rng)
    server_static = KeyPair.generate(rng)
    chain = make_cert_chain(
        root, server_static.public, not_before=NOW - 3600, not_after=NOW + 3600, rng=rng
    )
    payload = wa_pb2.ClientPayload(username=15551234567, device=3, passive=True)
    return _Keys(
        trust_root=root.trust_root,
        chain=chain,
        server_static=server_static,
        server_ephemeral=KeyPair.generate(rng),
        client_static=KeyPair.generate(rng),
        client_ephemeral=KeyPair.generate(rng),
        payload=payload.SerializeToString(),
    )


def _verify_chain(chain: bytes, server_static: bytes) -> None:
    verify_cert_chain(chain, server_static=server_static, now=NOW, trust_root=_keys().trust_root)


def _initiator() -> NoiseInitiator:
    keys = _keys()
    return NoiseInitiator(
        static=keys.client_static, ephemeral=keys.client_ephemeral, verify_server=_verify_chain
    )


def _responder() -> NoiseResponder:
    keys = _keys()
    return NoiseResponder(static=keys.server_static, ephemeral=keys.server_ephemeral)


def _client(payload: bytes | None = None) -> ClientConnection:
    keys = _keys()
    return ClientConnection(
        noise_key=keys.client_static,
        client_payload=keys.payload if payload is None else payload,
        verify_server=_verify_chain,
        ephemeral=keys.client_ephemeral,
    )


def _server(chain: bytes | None = None) -> ServerConnection:
    keys = _keys()
    return ServerConnection(
        static=keys.server_static,
        cert_chain=keys.chain if chain is None else chain,
        ephemeral=keys.server_ephemeral,
    )


def _refused(step: Callable[[], object]) -> bool:
    """Run one parsing step: False if it parsed, True for ``RemoteProtocolError``."""
    try:
        step()
    except RemoteProtocolError:
        return True
    return False


def _assert_broken(step: Callable[[], object], error: type[Exception]) -> None:
    try:
        step()
    except error:
        return
    raise AssertionError(f"a call after a failure did not raise {error.__name__}")


# --- the Noise roles, one message each ----------------------------------------------------------


def _client_hello(body: bytes) -> None:
    responder = _responder()
    if _refused(lambda: responder.receive_client_hello(body)):
        assert responder.failed
        _assert_broken(lambda: responder.server_hello(_keys().chain), LocalProtocolError)
        return
    responder.server_hello(_keys().chain)


def _server_hello(body: bytes) -> None:
    initiator = _initiator()
    initiator.client_hello()
    if _refused(lambda: initiator.receive_server_hello(body)):
        assert initiator.failed
        _assert_broken(lambda: initiator.client_finish(b""), LocalProtocolError)
        return
    initiator.client_finish(_keys().payload)


def _client_finish(body: bytes) -> None:
    responder = _responder()
    responder.receive_client_hello(_initiator().client_hello())
    responder.server_hello(_keys().chain)
    if _refused(lambda: responder.receive_client_finish(body)):
        assert responder.failed
        _assert_broken(lambda: responder.transport, LocalProtocolError)
        return
    assert len(responder.transport.encrypt(b"x")) == 17


# --- the connections ----------------------------------------------------------------------------

Connection = ClientConnection | ServerConnection


def _split_ways(stream: bytes) -> Iterator[list[bytes]]:
    yield [stream]
    head = stream[:BYTE_BY_BYTE_LIMIT]
    yield [head[index : index + 1] for index in range(len(head))] + [stream[len(head) :]]


def _run_stream(make: Callable[[], Connection], chunks: list[bytes]) -> tuple[list[Event], bool]:
    """Feed ``chunks`` then EOF; the events seen and whether the peer's bytes were refused."""
    connection = make()
    connection.data_to_send()
    events: list[Event] = []

    def step(chunk: bytes | None) -> None:
        connection.receive_data(chunk)
        events.extend(connection.events())  # a peer error may follow the events before it

    for chunk in [*chunks, None]:
        if _refused(partial(step, chunk)):
            _assert_broken(lambda: connection.receive_data(b""), LocalProtocolError)
            _assert_broken(connection.data_to_send, LocalProtocolError)
            return events, True
    assert isinstance(events[-1], ConnectionClosed), "EOF did not close the connection"
    return events, False


def _stream(make: Callable[[], Connection], stream: bytes) -> None:
    outcomes = [_run_stream(make, chunks) for chunks in _split_ways(stream)]
    whole_events, whole_refused = outcomes[0]
    for events, refused in outcomes[1:]:
        assert refused == whole_refused, "the verdict depends on how the bytes were split"
        # events decoded before bad bytes are delivered before the error, whatever the split
        assert events == whole_events, "the events depend on how the bytes were split"


def _pump(
    client: ClientConnection, server: ServerConnection
) -> tuple[bool, bool, list[Event], list[Event]]:
    """Move bytes both ways until quiet: whether the (client, server) refused the other's bytes,
    and the events each read (a peer error may surface from ``events()``, after earlier events).
    """
    client_events: list[Event] = []
    server_events: list[Event] = []

    def feed(
        connection: ClientConnection | ServerConnection, data: bytes, into: list[Event]
    ) -> None:
        connection.receive_data(data)
        into.extend(connection.events())

    while True:
        to_server = client.data_to_send()
        if to_server and _refused(partial(feed, server, to_server, server_events)):
            return False, True, client_events, server_events
        to_client = server.data_to_send()
        if to_client and _refused(partial(feed, client, to_client, client_events)):
            return True, False, client_events, server_events
        if not to_server and not to_client:
            return False, False, client_events, server_events


def _cert_chain(body: bytes) -> None:
    client, server = _client(), _server(chain=body)
    client_refused, server_refused, events, _ = _pump(client, server)
    assert not server_refused, "the server refused a valid client"
    assert client_refused or events == [
        ServerAuthenticated(server_static_key=_keys().server_static.public, cert_chain=body)
    ]


def _client_payload(body: bytes) -> None:
    client, server = _client(payload=body), _server()
    client_refused, server_refused, _, events = _pump(client, server)
    assert not client_refused, "the client refused a valid server"
    if not server_refused:
        kinds = [type(event) for event in events]
        assert kinds == [ClientHelloReceived, ClientAuthenticated], kinds


def _node_to_client(body: bytes) -> None:
    client, responder = _client(), _responder()
    wire = client.data_to_send()
    responder.receive_client_hello(wire[len(intro_header()) + 3 :])
    client.receive_data(encode_frame(responder.server_hello(_keys().chain)))
    responder.receive_client_finish(client.data_to_send()[3:])
    list(client.events())
    frame = encode_frame(responder.transport.encrypt(body))
    if _refused(lambda: client.receive_data(frame)):
        _assert_broken(lambda: client.receive_data(b""), LocalProtocolError)
        return
    assert [type(event) for event in client.events()] == [NodeReceived]


def _node_to_server(body: bytes) -> None:
    initiator, server = _initiator(), _server()
    server.receive_data(intro_header() + encode_frame(initiator.client_hello()))
    initiator.receive_server_hello(server.data_to_send()[3:])
    server.receive_data(encode_frame(initiator.client_finish(_keys().payload)))
    list(server.events())
    frame = encode_frame(initiator.transport.encrypt(body))
    if _refused(lambda: server.receive_data(frame)):
        _assert_broken(lambda: server.receive_data(b""), LocalProtocolError)
        return
    assert [type(event) for event in server.events()] == [NodeReceived]


_TARGETS: tuple[Callable[[bytes], None], ...] = (
    _client_hello,
    _server_hello,
    _client_finish,
    lambda body: _stream(_server, body),
    lambda body: _stream(_client, body),
    _cert_chain,
    _client_payload,
    _node_to_client,
    _node_to_server,
)


def target(data: bytes) -> None:
    """Run the mode ``data[0]`` picks on ``data[1:]``."""
    if data:
        _TARGETS[data[0] % MODES](data[1:])


# --- seeds: a real transcript, message by message -----------------------------------------------


def seeds() -> list[bytes]:
    """One valid input per mode, from a real in-memory handshake (the seed corpus)."""
    keys = _keys()
    initiator, responder = _initiator(), _responder()
    client_hello = initiator.client_hello()
    responder.receive_client_hello(client_hello)
    server_hello = responder.server_hello(keys.chain)
    initiator.receive_server_hello(server_hello)
    client_finish = initiator.client_finish(keys.payload)
    responder.receive_client_finish(client_finish)
    node = encode_node(Node("iq", {"id": "1", "type": "result", "from": "s.whatsapp.net"}))
    to_client = encode_frame(responder.transport.encrypt(node))
    to_server = encode_frame(initiator.transport.encrypt(node))
    server_stream = intro_header() + encode_frame(client_hello) + encode_frame(client_finish)
    bodies = [
        client_hello,
        server_hello,
        client_finish,
        server_stream + to_server,
        encode_frame(server_hello) + to_client,
        keys.chain,
        keys.payload,
        node,
        node,
    ]
    assert len(bodies) == MODES
    return [bytes((mode,)) + body for mode, body in enumerate(bodies)]


def main() -> None:
    """The atheris entry point: ``python fuzz/handshake.py [libFuzzer flags] [corpus dirs]``."""
    fuzz("handshake", target, seeds)


if __name__ == "__main__":
    main()
