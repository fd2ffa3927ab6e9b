"""Our Noise responder against Baileys' makeNoiseHandler as the initiator
(docs/protocol/peer.md#baileys-against-emulator).

Baileys' handler keeps its keys to itself, so the proof is behavioural: it accepts our ServerHello
(with its certificate check made strict against our test root,
docs/protocol/peer.md#certificate-checks), we accept its ClientFinish, and after the split every
frame either side encrypts the other decrypts, in order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peer_bridge import PeerBridge, PeerError
from walink.protocol.certs import make_cert_chain, make_test_root
from walink.protocol.keys import KeyPair
from walink.protocol.noise import WA_PROLOGUE, NoiseResponder, TransportCipher

pytestmark = pytest.mark.peer

CLIENT_PAYLOAD = b"\x08\x01stand-in ClientPayload bytes"
SERVER_STATIC = KeyPair.generate()
TEST_ROOT = make_test_root()
# Baileys checks no validity times; a wide window keeps the chain good whatever the clock says.
CERT_CHAIN = make_cert_chain(TEST_ROOT, SERVER_STATIC.public, not_before=0, not_after=2**40)


@pytest.fixture(scope="module")
def bridge(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "noise-bridge.mjs") as running:
        yield running


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + payload


def _unframe(wire: bytes) -> bytes:
    length = int.from_bytes(wire[:3], "big")
    assert len(wire) == 3 + length, "exactly one whole frame"
    return wire[3:]


def _node(index: int) -> dict[str, Any]:
    content = os.urandom(index * 37 % 300)
    return {
        "tag": "iq",
        "attrs": {"id": f"frame-{index}", "type": "get", "xmlns": "w:p"},
        "content": {"hex": content.hex()},
    }


def _handshake(bridge: PeerBridge, cert_chain: bytes, strict_root: bytes | None) -> TransportCipher:
    """Run Baileys' initiator against our responder; return our server-side transport cipher."""
    started = bridge.call("start", strict_root=strict_root.hex() if strict_root else None)
    first = bytes.fromhex(started["wire"])
    assert first.startswith(WA_PROLOGUE)
    responder = NoiseResponder(static=SERVER_STATIC, rng=os.urandom)
    responder.receive_client_hello(_unframe(first[len(WA_PROLOGUE) :]))
    server_hello = responder.server_hello(cert_chain)
    finished = bridge.call(
        "server_hello", wire=_frame(server_hello).hex(), payload=CLIENT_PAYLOAD.hex()
    )
    result = responder.receive_client_finish(_unframe(bytes.fromhex(finished["wire"])))
    assert result.client_static.hex() == started["static"]
    assert result.payload == CLIENT_PAYLOAD
    return responder.transport


def _exchange_frames(bridge: PeerBridge, server: TransportCipher) -> None:
    """Frames both ways, interleaved, one at a time and several per delivery."""
    for index in range(6):
        node = _node(index)
        # Server → Baileys: we encrypt the plaintext Baileys' own codec makes for the node.
        plaintext = bytes.fromhex(bridge.call("encode_node", node=node)["plaintext"])
        received = bridge.call("receive", wire=_frame(server.encrypt(plaintext)).hex())
        assert received["nodes"] == [node]
        # Baileys → server.
        sent = bridge.call("send_node", node=node)
        frame = _unframe(bytes.fromhex(sent["wire"]))
        assert server.decrypt(frame) == bytes.fromhex(sent["plaintext"])

    batch = [_node(index) for index in range(10, 13)]
    wire = b""
    for node in batch:
        plaintext = bytes.fromhex(bridge.call("encode_node", node=node)["plaintext"])
        wire += _frame(server.encrypt(plaintext))
    assert bridge.call("receive", wire=wire.hex())["nodes"] == batch
    assert (server.encrypt_counter, server.decrypt_counter) == (9, 6)


def test_strict_baileys_completes_the_handshake_and_frames_flow_both_ways(
    bridge: PeerBridge,
) -> None:
    server = _handshake(bridge, CERT_CHAIN, strict_root=TEST_ROOT.key_pair.public)
    _exchange_frames(bridge, server)


def test_repeated_handshakes_each_get_fresh_keys(bridge: PeerBridge) -> None:
    ciphers = [_handshake(bridge, CERT_CHAIN, strict_root=TEST_ROOT.key_pair.public)]
    ciphers.append(_handshake(bridge, CERT_CHAIN, strict_root=TEST_ROOT.key_pair.public))
    # The bridge now holds the second handshake: only the second cipher's frames decrypt there.
    node = _node(1)
    plaintext = bytes.fromhex(bridge.call("encode_node", node=node)["plaintext"])
    assert ciphers[0].encrypt(plaintext) != ciphers[1].encrypt(plaintext)
    sent = bridge.call("send_node", node=node)
    assert ciphers[1].decrypt(_unframe(bytes.fromhex(sent["wire"]))) == plaintext


def test_strict_baileys_rejects_a_chain_from_another_root(bridge: PeerBridge) -> None:
    # The negative control: the strict patch is really in force, so the test above means something.
    other_root = make_test_root()
    with pytest.raises(PeerError, match="intermediate certificate signature invalid"):
        _handshake(bridge, CERT_CHAIN, strict_root=other_root.key_pair.public)
