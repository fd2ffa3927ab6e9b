"""Fuzz target: the binary node decoder, ``decode_node`` (frame plaintext: flags byte, then a node).

Invariant (docs/protocol/architecture.md#sans-io): arbitrary bytes are parsed or raise
``RemoteProtocolError``; nothing else escapes. The input is the plaintext whole; on top of that:

- the codec that ``walink.protocol.binary`` loaded (mypyc-compiled when ``COMPILED``) and the
  pure-Python source agree: the same node, or both refuse;
- a decoded node is well-typed (str tag and attributes; None, bytes, str or a list of nodes),
  nests at most ``MAX_NODE_DEPTH`` deep, and can be encoded again; re-encoding is a fixed point
  (encode, decode, encode gives the same bytes);
- trailing data after an accepted node is refused, and so is the node cut short by one byte.

Input: the frame plaintext, no prefix (bit 0x02 of the first byte: zlib-compressed).

Run: ``python fuzz/node_decoder.py -max_total_time=60`` (atheris; see fuzz/README.md).
"""

from __future__ import annotations

import importlib.machinery
import sys
import zlib
from collections.abc import Callable
from types import ModuleType

from _atheris import fuzz, instrumented

with instrumented(__name__):
    from walink.protocol.binary import COMPILED, Node, decode_node, encode_node
    from walink.protocol.binary._codec import MAX_NODE_DEPTH
    from walink.protocol.binary._loader import load_source
    from walink.protocol.errors import RemoteProtocolError

Shape = tuple[str, tuple[tuple[str, str], ...], object]
"""A node as plain data, comparable across the two codec modules (their Node classes differ)."""


def _pure_codec() -> ModuleType | None:
    """The pure-Python codec when the compiled one is loaded (else the loaded one is the source)."""
    return load_source() if COMPILED else None


_PURE = _pure_codec()


def _shape(node: object, depth: int = 0) -> Shape:
    """Check the node's types and depth, and return it as plain data."""
    assert depth <= MAX_NODE_DEPTH, f"a decoded node nests {depth} deep"
    tag = getattr(node, "tag", None)
    attrs = getattr(node, "attrs", None)
    content = getattr(node, "content", None)
    assert type(tag) is str and tag, f"tag {tag!r}"
    assert type(attrs) is dict, f"attrs {attrs!r}"
    for key, value in attrs.items():
        assert type(key) is str and type(value) is str, f"attribute {key!r}={value!r}"
    shaped: object
    if type(content) is list:
        shaped = tuple(_shape(child, depth + 1) for child in content)
    else:
        assert content is None or type(content) in (bytes, str), f"content {content!r}"
        shaped = content
    return tag, tuple(attrs.items()), shaped


def _decode(decode: Callable[[bytes], object], data: bytes) -> Shape | None:
    """The decoded node as plain data, or None for a ``RemoteProtocolError``."""
    try:
        return _shape(decode(data))
    except RemoteProtocolError:
        return None


def target(data: bytes) -> None:
    """Decode ``data`` with every codec build; check agreement, re-encoding and the edges."""
    shape = _decode(decode_node, data)
    if _PURE is not None:
        pure_shape = _decode(_PURE.decode_node, data)
        assert pure_shape == shape, f"compiled {shape!r} != pure {pure_shape!r}"
    if shape is None:
        return
    assert _decode(decode_node, data + b"\x00") is None, "trailing data was accepted"
    assert _decode(decode_node, data[:-1]) is None, "a truncated node was accepted"
    encoded = encode_node(decode_node(data))
    again = decode_node(encoded)
    assert encode_node(again) == encoded, "re-encoding a decoded node is not a fixed point"


def seeds() -> list[bytes]:
    """Encoded nodes touching every tag kind, plain and compressed (the seed corpus)."""
    nodes = [
        Node("iq", {"id": "1", "type": "get", "xmlns": "w:p", "to": "s.whatsapp.net"}),
        Node(
            "success",
            {"t": "1780000000", "lid": "123:3@lid", "abprops": "0123456789ABCDEF"},
            [Node("props", {}, []), Node("a", {"x": "y"}, b"\x00\x01" * 200)],
        ),
        Node(
            "message",
            {
                "from": "15551234567:2@s.whatsapp.net",
                "participant": "1555_7:3@s.whatsapp.net",
                "to": "12-34:5@interop",
                "msgr": "77:9@msgr",
                "g": "123-456@g.us",
                "n": "3.14-15",
            },
            "text content",
        ),
        Node("blob", {}, bytes(70_000)),
    ]
    encoded = [encode_node(node) for node in nodes]
    compressed = [b"\x02" + zlib.compress(plain[1:]) for plain in encoded[:2]]
    return [*encoded, *compressed, encoded[0][:-1], encoded[1] + b"\x00"]


def _codecs_hidden_from_atheris() -> list[ModuleType]:
    """Pure-Python codec modules ``_loader`` executed from their path, past atheris's import hook.

    That is the twin beside a compiled codec, and the codec itself under ``WALINK_PURE_PYTHON``
    or when the compiled one is stale. Without instrumenting them function by function the
    fuzzer would get no coverage from them (a compiled codec is machine code it cannot see).
    """
    candidates = (sys.modules[decode_node.__module__], _PURE)
    return [
        module
        for module in candidates
        if module is not None and type(module.__loader__) is importlib.machinery.SourceFileLoader
    ]


def main() -> None:
    """The atheris entry point: ``python fuzz/node_decoder.py [libFuzzer flags] [corpus dirs]``."""
    import atheris

    for codec in _codecs_hidden_from_atheris():
        for value in vars(codec).values():
            methods = vars(value).values() if isinstance(value, type) else (value,)
            for function in methods:
                code = getattr(function, "__code__", None)
                if code is not None and code.co_filename == codec.__file__:
                    atheris.instrument_func(function)
    fuzz("node", target, seeds)


if __name__ == "__main__":
    main()
