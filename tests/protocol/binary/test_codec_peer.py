"""Differential tests against Baileys 7.0.0-rc14 (tests/peer/codec-bridge.mjs), both ways.

Also: the vendored token tables equal the peer's, and every deliberate difference from
Baileys (walink.protocol.binary's docstring) is pinned here with what each side does.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.peer_bridge import PeerBridge, PeerError
from tests.protocol.binary import strategies
from tests.protocol.binary.strategies import node_from_json, node_to_json
from walink.protocol.binary._tokens import DOUBLE_BYTE_TOKENS, SINGLE_BYTE_TOKENS
from walink.protocol.errors import RemoteProtocolError

pytestmark = [pytest.mark.peer, pytest.mark.filterwarnings("ignore:Generating overly large repr")]


def test_token_tables_equal_the_peers(codec_peer: PeerBridge) -> None:
    tables = codec_peer.call("tokens")
    assert tables["single"] == list(SINGLE_BYTE_TOKENS)
    assert tables["double"] == [list(page) for page in DOUBLE_BYTE_TOKENS]


@given(node=strategies.nodes())
def test_walink_encodes_what_baileys_encodes_and_decodes(
    codec: ModuleType, codec_peer: PeerBridge, node: Any
) -> None:
    """walink → Baileys: the same bytes, and Baileys decodes them back to the node."""
    node = rebuild(codec, node)
    ours = codec.encode_node(node).hex()
    assert ours == codec_peer.call("encode", node=node_to_json(node))["hex"]
    assert node_from_json(codec_peer.call("decode", hex=ours)["node"], codec.Node) == node


@given(node=strategies.nodes())
def test_walink_decodes_what_baileys_encodes(
    codec: ModuleType, codec_peer: PeerBridge, node: Any
) -> None:
    """Baileys → walink: whatever Baileys encodes from a lossless node decodes to that node."""
    theirs = codec_peer.call("encode", node=node_to_json(node))["hex"]
    assert codec.decode_node(bytes.fromhex(theirs)) == rebuild(codec, node)


@given(
    node=strategies.nodes(),
    position=st.integers(min_value=1),
    value=st.integers(0, 255),
    trailing=st.booleans(),
)
def test_decoders_agree_on_mutated_input(
    codec: ModuleType, codec_peer: PeerBridge, node: Any, position: int, value: int, trailing: bool
) -> None:
    """On a corrupted encoding both decoders fail, or both give the same node.

    A disagreement must be one of the documented differences: trailing bytes and a nibble 15
    inside a packed string (walink rejects both), an INTEROP_JID without server (Baileys
    defaults it), a BINARY_32 length of 2^31 or more (Baileys reads backwards), an AD_JID
    agent (walink keeps it).
    """
    data = bytearray(codec.encode_node(rebuild(codec, node)))
    data[position % len(data)] = value
    if trailing:
        data += b"\x00"
    error = ""
    try:
        ours = codec.decode_node(bytes(data))
    except RemoteProtocolError as exc:
        ours, error = None, str(exc)
    try:
        theirs = node_from_json(codec_peer.call("decode", hex=data.hex())["node"], codec.Node)
    except PeerError:
        theirs = None
    if ours == theirs:
        return
    explained = (
        "trailing" in error
        or "nibble" in error
        or INTEROP_JID in data
        or BINARY_32 in data
        or (ours is not None and theirs is not None and AD_JID in data)
    )
    assert explained, (bytes(data).hex(), error, ours, theirs)


INTEROP_JID, AD_JID, BINARY_32 = 0xF5, 0xF7, 0xFE


def rebuild(codec: ModuleType, node: Any) -> Any:
    content = node.content
    if isinstance(content, list):
        content = [rebuild(codec, child) for child in content]
    return codec.Node(node.tag, dict(node.attrs), content)


def encode_both(codec: ModuleType, peer: PeerBridge, node: Any) -> tuple[str, str]:
    return codec.encode_node(node).hex(), peer.call("encode", node=node_to_json(node))["hex"]


def decode_peer(codec: ModuleType, peer: PeerBridge, hex_data: str) -> Any:
    return node_from_json(peer.call("decode", hex=hex_data)["node"], codec.Node)


# --- pinned differences: encoder ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "baileys_reads_back"),
    [
        ("user_5@s.whatsapp.net", "user@s.whatsapp.net"),  # agent without device
        ("user:0@s.whatsapp.net", "user@s.whatsapp.net"),  # device 0
        ("user:3@g.us", "user:3@s.whatsapp.net"),  # a server AD_JID cannot carry
        ("user:03@s.whatsapp.net", "user:3@s.whatsapp.net"),  # non-canonical device
        ("user:1:2@s.whatsapp.net", "user:1@s.whatsapp.net"),  # a third part
        ("user_1:2@s.whatsapp.net", "user:2@lid"),  # agent 1 is the lid domain
        ("user_7:2@lid", "user:2@lid"),  # the lid server wins over the agent
    ],
)
def test_lossy_jid_strings_are_sent_raw(
    codec: ModuleType, codec_peer: PeerBridge, value: str, baileys_reads_back: str
) -> None:
    node = codec.Node("x", {"v": value})
    ours, theirs = encode_both(codec, codec_peer, node)
    assert ours != theirs
    assert codec.decode_node(bytes.fromhex(ours)).attrs["v"] == value
    assert decode_peer(codec, codec_peer, ours).attrs["v"] == value  # Baileys reads ours right
    assert decode_peer(codec, codec_peer, theirs).attrs["v"] == baileys_reads_back


def test_empty_server_is_sent_raw(codec: ModuleType, codec_peer: PeerBridge) -> None:
    node = codec.Node("x", {"v": "user@"})
    ours, theirs = encode_both(codec, codec_peer, node)
    assert codec.decode_node(bytes.fromhex(ours)).attrs["v"] == "user@"
    with pytest.raises(PeerError, match="invalid jid pair"):
        decode_peer(codec, codec_peer, theirs)  # Baileys cannot read its own encoding
    with pytest.raises(RemoteProtocolError, match="empty server"):
        codec.decode_node(bytes.fromhex(theirs))


def test_second_at_sign_is_sent_raw(codec: ModuleType, codec_peer: PeerBridge) -> None:
    """Baileys nests JID_PAIRs for ``a@b@c``; walink sends such strings raw (bounded depth)."""
    ours, theirs = encode_both(codec, codec_peer, codec.Node("x", {"v": "a@b@c"}))
    assert theirs == "00f803fc017851" + "fafc0161" + "fafc0162ee25"  # "c" is a token
    assert ours == "00f803fc017851" + "fc05" + b"a@b@c".hex()
    assert codec.decode_node(bytes.fromhex(theirs)).attrs["v"] == "a@b@c"
    assert decode_peer(codec, codec_peer, ours).attrs["v"] == "a@b@c"
    many = "a@" * 5000 + "b"
    assert codec.decode_node(codec.encode_node(codec.Node("x", {"v": many}))).attrs["v"] == many


@pytest.mark.parametrize(
    ("value", "tag_byte"), [("1234:7@msgr", 0xF6), ("5-1234:7@interop", 0xF5), ("u:0@msgr", 0xF6)]
)
def test_messenger_and_interop_jids(
    codec: ModuleType, codec_peer: PeerBridge, value: str, tag_byte: int
) -> None:
    """FB_JID and INTEROP_JID, as whatsmeow sends them; Baileys reads them the same way."""
    ours, theirs = encode_both(codec, codec_peer, codec.Node("x", {"v": value}))
    assert bytes.fromhex(ours)[7] == tag_byte and ours != theirs
    assert codec.decode_node(bytes.fromhex(ours)).attrs["v"] == value
    assert decode_peer(codec, codec_peer, ours).attrs["v"] == value


@pytest.mark.parametrize("name", sorted(strategies.JS_PROTOTYPE_NAMES))
def test_object_prototype_names(codec: ModuleType, codec_peer: PeerBridge, name: str) -> None:
    ours, theirs = encode_both(codec, codec_peer, codec.Node("x", {"v": name}))
    assert theirs == "00f803fc01785100"  # Baileys: a lone 00, read back as ""
    assert codec.decode_node(bytes.fromhex(ours)).attrs["v"] == name
    assert decode_peer(codec, codec_peer, ours).attrs["v"] == name


# --- pinned differences: decoder ------------------------------------------------------------


def test_trailing_bytes(codec: ModuleType, codec_peer: PeerBridge) -> None:
    data = "00f801190000"
    assert decode_peer(codec, codec_peer, data) == codec.Node("iq")
    with pytest.raises(RemoteProtocolError, match="trailing"):
        codec.decode_node(bytes.fromhex(data))


def test_ad_jid_agent_is_kept(codec: ModuleType, codec_peer: PeerBridge) -> None:
    data = "00f80319" + "51" + "f70702" + "0e"  # <iq v=AD_JID(agent 7, device 2, "user")>
    assert decode_peer(codec, codec_peer, data).attrs["v"] == "user:2@s.whatsapp.net"
    assert codec.decode_node(bytes.fromhex(data)).attrs["v"] == "user_7:2@s.whatsapp.net"
    # and walink encodes that string back to the same bytes, as Baileys does
    node = codec.Node("iq", {"v": "user_7:2@s.whatsapp.net"})
    assert encode_both(codec, codec_peer, node) == (data, data)


def test_nibble_15_inside_a_packed_string(codec: ModuleType, codec_peer: PeerBridge) -> None:
    data = "00f80319" + "51" + "ff02f112"  # nibbles 15, 1, 1, 2
    assert decode_peer(codec, codec_peer, data).attrs["v"] == "\0" + "112"
    with pytest.raises(RemoteProtocolError, match="invalid nibble"):
        codec.decode_node(bytes.fromhex(data))


def test_interop_jid_without_server(codec: ModuleType, codec_peer: PeerBridge) -> None:
    data = "00f80319" + "51" + "f50e00070005"  # user, device 7, integrator 5, no server
    assert decode_peer(codec, codec_peer, data).attrs["v"] == "5-user:7@interop"
    with pytest.raises(RemoteProtocolError):
        codec.decode_node(bytes.fromhex(data))


def test_compressed_plaintext_like_baileys(codec: ModuleType, codec_peer: PeerBridge) -> None:
    node = codec.Node("ib", {}, [codec.Node("offline_batch", {"count": "100"})])
    data = (b"\x02" + zlib.compress(codec.encode_node(node)[1:])).hex()
    assert decode_peer(codec, codec_peer, data) == node == codec.decode_node(bytes.fromhex(data))
