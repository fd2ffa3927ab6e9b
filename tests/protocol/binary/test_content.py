"""content_bytes: a child's content as bytes, whichever form the decoder gave it."""

from __future__ import annotations

from walink.protocol.binary import Node, content_bytes, decode_node, encode_node


def test_bytes_text_children_and_none() -> None:
    assert content_bytes(Node("ref", {}, b"\x00\xff")) == b"\x00\xff"
    assert content_bytes(Node("ref", {}, "héllo")) == "héllo".encode()
    assert content_bytes(Node("ref", {}, [Node("x")])) == b""
    assert content_bytes(Node("ref")) == b""
    assert content_bytes(None) == b""


def test_a_token_and_a_raw_string_read_the_same_after_decoding() -> None:
    # "result" is a token (decodes as text), "hi there" is raw (decodes as bytes)
    for text in ("result", "hi there", "12345"):
        decoded = decode_node(encode_node(Node("x", {}, text)))
        assert content_bytes(decoded) == text.encode()
