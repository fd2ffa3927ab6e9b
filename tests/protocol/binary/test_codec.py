"""The node codec: byte-exact vectors, round trips, the Node API, rendering, decoder limits.

Every test takes the ``codec`` fixture, so it runs on the compiled module and on the source.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocol.binary import strategies
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError

# Hypothesis describes the recursive node strategy at length; the description is not needed
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

# (tag, attrs, content) -> hex. docs/protocol/peer.md#codec-vectors, captured from Baileys
# 7.0.0-rc14. Content: None, str, bytes, or a list of (tag, attrs, content) triples.
PEER_VECTORS: list[tuple[Any, str]] = [
    (("iq", {"id": "1", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"},
      [("ping", {}, None)]),
     "00f80a190855110304291657f801f80156"),
    (("message", {"to": "user@s.whatsapp.net"}, None), "00f8031311fa0e03"),
    (("message", {"to": "1234567890@s.whatsapp.net", "type": "text"}, None),
     "00f8051311faff051234567890030438"),
    (("iq", {"to": "@s.whatsapp.net"}, None), "00f8031911fa0003"),
    (("receipt", {"from": "user:3@s.whatsapp.net"}, None), "00f8030706f700030e"),
    (("receipt", {"from": "1234567890:3@s.whatsapp.net"}, None), "00f8030706f70003ff051234567890"),
    (("receipt", {"from": "987654321:2@lid"}, None), "00f8030706f70102ff85987654321f"),
    (("message", {"to": "123456-7890@g.us"}, None), "00f8031311faff86123456a7890f1c"),
    (("iq", {"id": "12345"}, None), "00f8031908ff8312345f"),
    (("iq", {"id": "1234"}, None), "00f8031908ff021234"),
    (("iq", {"id": "1.2-3"}, None), "00f8031908ff831b2a3f"),
    (("iq", {"id": "ABCDEF"}, None), "00f8031908fb03abcdef"),
    (("iq", {"id": "ABC"}, None), "00f8031908fb82abcf"),
    (("iq", {"id": "abcdef"}, None), "00f8031908fc06616263646566"),
    (("iq", {"id": "hello world"}, None), "00f8031908fc0b68656c6c6f20776f726c64"),
    (("iq", {"id": ""}, None), "00f8031908fc00"),
    (("enc", {"v": "2", "type": "msg"}, bytes.fromhex("00010203feff")),
     "00f8061d5145044dfc0600010203feff"),
    (("body", {}, "result"), "00f802ed7514"),
    (("x", {}, "12345"), "00f802fc0178ff8312345f"),
    (("iq", {"xmlns": "w:profile:picture"}, None), "00f803191642"),
    (("iq", {"type": "read-self"}, None), "00f8031904ec00"),
    (("iq", {"type": "reaction"}, None), "00f8031904ec04"),
    (("iq", {"type": "9"}, None), "00f8031904ed05"),
    (("x", {"email": "a@b"}, None), "00f803fc0178ec27fafc0161fc0162"),
    (("x", {"n": "héllo ✓"}, None), "00f803fc0178fc016efc0a68c3a96c6c6f20e29c93"),
    (("media", {}, b"\x41" * 300), "00f80237fd00012c" + "41" * 300),
    (("list", {}, []), "00f8027100"),
    (("message", {"to": "1234567890@s.whatsapp.net", "id": "3EB0ABCDEF012345", "type": "text",
                  "t": "1700000000"},
      [("enc", {"v": "2", "type": "pkmsg"}, bytes.fromhex("00112233")),
       ("device-identity", {}, bytes.fromhex("0909"))]),
     "00f80a1311faff0512345678900308fb083eb0abcdef01234504381aff051700000000f802f8061d51450453"
     "fc0400112233f802e6fc020909"),
    # docs/protocol/binary.md#worked-encodings (derived by hand, checked here against the peer's
    # rules)
    (("iq", {"id": "12345.678-1", "to": "@s.whatsapp.net", "type": "get", "xmlns": "w:p"},
      [("ping", {}, None)]),
     "00f80a1908ff8612345b678a1f11fa000304291657f801f80156"),
    (("presence", {"name": "Bob", "type": "available"}, None), "00f8051f89fc03426f620488"),
    (("ib", {}, [("offline_batch", {"count": "100"}, None)]), "00f802fc026962f801f803ed0841ec33"),
]  # fmt: skip

# string values as attribute values of <x>: docs/protocol/binary.md#worked-encodings single values
STRING_VECTORS = [
    ("@s.whatsapp.net", "fa0003"),
    ("123456789:5@s.whatsapp.net", "f70005ff85123456789f"),
    ("15:2@lid", "f70102ecfa"),
    ("1234567890@s.whatsapp.net", "faff05123456789003"),
    ("status@broadcast", "fa0b0d"),
    ("3EB0ABCDEF0123", "fb073eb0abcdef0123"),
    ("ib", "fc026962"),
    ("0", "2d"),
    ("12345.678-1", "ff8612345b678a1f"),
]


def build(codec: ModuleType, spec: Any) -> Any:
    tag, attrs, content = spec
    if isinstance(content, list):
        content = [build(codec, child) for child in content]
    return codec.Node(tag, attrs, content)


@pytest.mark.parametrize(("spec", "expected"), PEER_VECTORS)
def test_vectors_encode_byte_exact(codec: ModuleType, spec: Any, expected: str) -> None:
    assert codec.encode_node(build(codec, spec)).hex() == expected


@pytest.mark.parametrize(("spec", "expected"), PEER_VECTORS)
def test_vectors_decode(codec: ModuleType, spec: Any, expected: str) -> None:
    assert codec.decode_node(bytes.fromhex(expected)) == build(codec, spec)
    assert codec.decode_node(memoryview(bytearray.fromhex(expected))) == build(codec, spec)


@pytest.mark.parametrize(
    "word",
    ["ib", "md", "pair-success", "pair-device-sign", "link_code_companion_reg", "unified_session",
     "digest", "device_removed", "c.us", "newsletter", "hosted", "hosted.lid", "bot", "interop"],
)  # fmt: skip
def test_words_that_are_not_tokens(codec: ModuleType, word: str) -> None:
    # docs/protocol/binary.md#tokens: sent as raw strings
    raw = word.encode()
    assert codec.encode_node(codec.Node(word)) == b"\x00\xf8\x01\xfc" + bytes([len(raw)]) + raw


@pytest.mark.parametrize(("value", "expected"), STRING_VECTORS)
def test_string_vectors(codec: ModuleType, value: str, expected: str) -> None:
    encoded = codec.encode_node(codec.Node("x", {"v": value}))
    assert encoded.hex() == "00f803fc017851" + expected  # <x v=...>: "v" is token 0x51
    assert codec.decode_node(encoded).attrs["v"] == value


def test_raw_string_content_decodes_as_bytes(codec: ModuleType) -> None:
    # docs/protocol/peer.md#codec-vectors, quirk 3, shared by Baileys and whatsmeow: BINARY_*
    # content is bytes
    encoded = codec.encode_node(codec.Node("body", {}, "hi there"))
    assert encoded.hex() == "00f802ed75fc086869207468657265"
    assert codec.decode_node(encoded).content == b"hi there"


@pytest.mark.parametrize(
    ("length", "header"),
    [(255, "fcff"), (256, "fd000100"), ((1 << 20) - 1, "fd0fffff"), (1 << 20, "fe00100000")],
)
def test_binary_length_classes(codec: ModuleType, length: int, header: str) -> None:
    payload = bytes(range(256)) * (length // 256) + bytes(length % 256)
    encoded = codec.encode_node(codec.Node("media", {}, payload))
    assert encoded[:3].hex() == "00f802" and encoded[3:4].hex() == "37"
    assert encoded[4 : 4 + len(header) // 2].hex() == header
    assert codec.decode_node(encoded).content == payload


def test_packed_length_limit(codec: ModuleType) -> None:
    # 127 characters pack; 128 fall through to raw (docs/protocol/peer.md#codec-vectors, quirk 2)
    assert codec.encode_node(codec.Node("x", {"v": "1" * 127}))[7] == 0xFF
    assert codec.encode_node(codec.Node("x", {"v": "1" * 128}))[7] == 0xFC
    assert codec.encode_node(codec.Node("x", {"v": "A" * 128}))[7] == 0xFC


def test_list_16(codec: ModuleType) -> None:
    children = [codec.Node("item", {"id": str(i)}) for i in range(300)]
    encoded = codec.encode_node(codec.Node("list", {}, children))
    assert encoded[3:7].hex() == "71f9012c"
    assert codec.decode_node(encoded).content == children
    many_attrs = {f"k{i}": "v" for i in range(200)}
    encoded = codec.encode_node(codec.Node("x", many_attrs))
    assert encoded[1:4].hex() == "f90191"  # 1 + 2 * 200 = 401
    assert codec.decode_node(encoded).attrs == many_attrs


@given(
    node=strategies.nodes(
        st.one_of(strategies.peer_jids, strategies.agent_jids, strategies.wide_jids)
    )
)
def test_round_trip(codec: ModuleType, node: Any) -> None:
    node = rebuild(codec, node)
    assert codec.decode_node(codec.encode_node(node)) == node


@given(
    value=strategies.strings(
        st.one_of(strategies.peer_jids, strategies.agent_jids, strategies.wide_jids)
    )
)
def test_string_round_trip(codec: ModuleType, value: str) -> None:
    node = codec.Node("x", {"v": value}, value if "@" in value else None)
    decoded = codec.decode_node(codec.encode_node(node))
    assert decoded.attrs["v"] == value


_JIDISH = st.text(
    alphabet=st.sampled_from("0123456789@:_-.ab") | st.characters(codec="utf-8"),
    max_size=20,
)


@given(text=st.builds(lambda user, server: f"{user}@{server}", _JIDISH, _JIDISH))
def test_any_string_with_at_survives(codec: ModuleType, text: str) -> None:
    # JID-looking strings are JIDs only when lossless, raw otherwise: never altered
    assert codec.decode_node(codec.encode_node(codec.Node("x", {"v": text}))).attrs["v"] == text


def rebuild(codec: ModuleType, node: Any) -> Any:
    """The same tree built from ``codec``'s Node class (strategies use the loaded one)."""
    content = node.content
    if isinstance(content, list):
        content = [rebuild(codec, child) for child in content]
    return codec.Node(node.tag, dict(node.attrs), content)


def test_compressed_plaintext(codec: ModuleType) -> None:
    node = codec.Node("ib", {}, [codec.Node("offline_batch", {"count": "100"})])
    body = codec.encode_node(node)[1:]
    assert codec.decode_node(b"\x02" + zlib.compress(body)) == node
    with pytest.raises(RemoteProtocolError, match="inflates beyond"):
        codec.decode_node(b"\x02" + zlib.compress(b"\xf8\x02\x37\xfe" + b"\0" * 100_000), 50_000)
    with pytest.raises(RemoteProtocolError, match="truncated"):
        codec.decode_node(b"\x02" + zlib.compress(body)[:-3])
    with pytest.raises(RemoteProtocolError, match="zlib"):
        codec.decode_node(b"\x02not zlib")
    with pytest.raises(RemoteProtocolError, match="trailing"):
        codec.decode_node(b"\x02" + zlib.compress(body) + b"x")


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("", "no flags byte"),
        ("00", "ends in the middle"),
        ("0000", "empty list header"),
        ("00f80100", "empty tag"),
        ("00f801f0", "invalid string tag"),
        ("00f80319", "ends in the middle"),
        ("00f8011900", "trailing"),
        ("00f80219ff0212c4", "invalid nibble"),
        ("00f80219ff01f1", "invalid nibble"),  # 15 in the middle (Baileys: "\0")
        ("00f80219ff810c", "padding"),
        ("00f8021af8", "ends in the middle"),
        ("00f80319fa0000", "empty server"),
        ("00f80219fefffffff0", "ends in the middle"),
    ],
)
def test_decoder_rejects(codec: ModuleType, hex_data: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        codec.decode_node(bytes.fromhex(hex_data))


def test_nesting_limits(codec: ModuleType) -> None:
    deep = b"\x00" + b"\xf8\x02\x19\xf8\x01" * 200 + b"\xf8\x01\x19"
    with pytest.raises(RemoteProtocolError, match="nested deeper"):
        codec.decode_node(deep)
    deep_jid = b"\x00\xf8\x03\x19\x08" + b"\xfa\x00" * 50 + b"\x03"
    with pytest.raises(RemoteProtocolError, match="JIDs nested deeper"):
        codec.decode_node(deep_jid)
    shallow_jid = b"\x00\xf8\x03\x19\x08" + b"\xfa\x0e" * 3 + b"\x03"
    assert codec.decode_node(shallow_jid).attrs["id"] == "user@user@user@s.whatsapp.net"
    node = codec.Node("x")
    for _ in range(100):
        node = codec.Node("x", {}, [node])
    with pytest.raises(LocalProtocolError, match="deeper"):
        codec.encode_node(node)


def test_encoder_rejects_bad_nodes(codec: ModuleType) -> None:
    node_type = codec.Node
    bad: list[Any] = [
        node_type(""),
        node_type("x", {}, ["child"]),
        node_type("x", {"a": "\ud800"}),
        node_type("x", {}, [node_type("y")] * 65536),
        node_type("x", {"a": 1}),  # the compiled encoder checks value types as it reads them
    ]
    for node in bad:
        with pytest.raises(LocalProtocolError):
            codec.encode_node(node)
    # content of the wrong type: the compiled Node refuses it already, the source at encoding
    with pytest.raises((TypeError, LocalProtocolError)):
        codec.encode_node(node_type("x", {}, 3))


def test_node_api(codec: ModuleType) -> None:
    ping = codec.Node("ping")
    iq = codec.Node(tag="iq", attrs={"id": "1", "type": "get"}, content=[ping, codec.Node("x")])
    assert ping.attrs == {} and ping.content is None
    assert iq.child("ping") == ping and iq.child("nope") is None
    assert iq.children() == [ping, codec.Node("x")] and iq.children("x") == [codec.Node("x")]
    assert codec.Node("x", {}, b"1").children() == [] and codec.Node("x").child("y") is None
    assert iq.attr("id") == "1" and iq.attr("nope") is None and iq.attr("nope", "d") == "d"
    assert iq == codec.Node("iq", {"id": "1", "type": "get"}, [codec.Node("ping"), codec.Node("x")])
    assert iq != codec.Node("iq", {"id": "2", "type": "get"}, [ping, codec.Node("x")])
    assert iq != "iq"
    assert (iq == "iq") is False
    with pytest.raises(TypeError):
        hash(iq)


def test_render(codec: ModuleType) -> None:
    node = codec.Node(
        "iq",
        {"id": "1", "q": 'a"<b>&'},
        [codec.Node("ping"), codec.Node("enc", {}, bytes(range(40))), codec.Node("t", {}, "x<y")],
    )
    expected = (
        '<iq id="1" q="a&quot;&lt;b&gt;&amp;"><ping/>'
        f"<enc>[40 bytes: {bytes(range(32)).hex()}…]</enc><t>x&lt;y</t></iq>"
    )
    assert codec.render_node(node) == expected == repr(node)
    assert codec.render_node(codec.Node("b", {}, b"\x01\x02"), 1) == "<b>[2 bytes: 01…]</b>"


def assert_parses_or_rejects(codec: ModuleType, data: bytes) -> None:
    """The parser invariant: a Node or RemoteProtocolError, never any other exception."""
    try:
        result = codec.decode_node(data)
    except RemoteProtocolError:
        return
    assert isinstance(result, codec.Node)


@given(data=st.binary(max_size=300), trailing=st.binary(min_size=1, max_size=8))
def test_decoder_invariant_on_arbitrary_bytes(
    codec: ModuleType, data: bytes, trailing: bytes
) -> None:
    for candidate in (data, data + trailing, b"\x00" + data, b"\x00\xf8" + data):
        assert_parses_or_rejects(codec, candidate)
    assert_parses_or_rejects(codec, b"\x02" + zlib.compress(b"\xf8" + data))


@given(
    node=strategies.nodes(
        st.one_of(strategies.peer_jids, strategies.agent_jids, strategies.wide_jids)
    ),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    cut=st.integers(min_value=0),
    trailing=st.binary(max_size=4),
)
def test_decoder_invariant_on_mutated_nodes(
    codec: ModuleType, node: Any, edits: list[tuple[int, int]], cut: int, trailing: bytes
) -> None:
    data = bytearray(codec.encode_node(rebuild(codec, node)))
    for position, value in edits:
        data[position % len(data)] = value
    assert_parses_or_rejects(codec, bytes(data))
    assert_parses_or_rejects(codec, bytes(data[: cut % (len(data) + 1)]))
    assert_parses_or_rejects(codec, bytes(data) + trailing)
    assert_parses_or_rejects(codec, b"\x02" + zlib.compress(bytes(data[1:])))
