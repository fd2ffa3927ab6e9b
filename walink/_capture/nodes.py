"""Nodes as JSON that round-trips exactly, and the redaction of secrets inside them.

A node is ``{"tag": str, "attrs": {name: value, ...}}`` plus at most one content key:
``"text"`` (a str), ``"b64"`` (bytes, standard base64), ``"children"`` (a list of nodes) or
``"redacted"`` (``{"what": rule, "type": "bytes"|"text", "len": n}``: the content was removed).
No content key means no content. Attribute order is the JSON object's order, which Python's
``json`` keeps both ways, so ``decode_node(encode_node(n)) == n`` with the same attrs order.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from walink.protocol.binary import Node

__all__ = [
    "REDACTION_RULES",
    "NodeFormatError",
    "decode_node",
    "encode_node",
    "is_redacted",
    "redaction_of",
]

_MAX_DEPTH = 64

# Tags whose content is a secret (or a key that identifies the device) wherever they occur.
_SECRET_TAGS: Mapping[str, str] = {
    "device-identity": "device-identity",  # ADV blob: HMAC, account and device signatures
    "ref": "qr-ref",  # pair-device refs: live pairing tokens, half of the QR
    "identity": "identity-key",  # pre-key upload: the identity public key
    "value": "pre-key-value",  # pre-key upload: every pre-key and the signed pre-key
    "signature": "signature",  # the signed pre-key's signature (and any other)
    "registration": "registration-id",
}
# Every child of these carries pairing-code material (wrapped keys, nonces, refs).
_SECRET_PARENTS: Mapping[str, str] = {"link_code_companion_reg": "pairing-code"}

REDACTION_RULES: tuple[str, ...] = (*dict.fromkeys(_SECRET_TAGS.values()), "pairing-code")
"""The names a redacted capture lists in its header and marks on each redacted node."""


class NodeFormatError(ValueError):
    """A JSON value is not a node in the capture's encoding."""


def redaction_of(node: Node, parent: Node | None) -> str | None:
    """The rule that redacts ``node``'s content, or None when it is kept."""
    if node.content is None or isinstance(node.content, list):
        return None
    if parent is not None and parent.tag in _SECRET_PARENTS:
        return _SECRET_PARENTS[parent.tag]
    return _SECRET_TAGS.get(node.tag)


def encode_node(node: Node, *, redact: bool, parent: Node | None = None) -> dict[str, Any]:
    """``node`` as JSON-ready data; with ``redact``, secret contents become markers."""
    out: dict[str, Any] = {"tag": node.tag, "attrs": dict(node.attrs)}
    content = node.content
    rule = redaction_of(node, parent) if redact else None
    if rule is not None:
        assert isinstance(content, (bytes, str))
        kind = "bytes" if isinstance(content, bytes) else "text"
        out["redacted"] = {"what": rule, "type": kind, "len": len(content)}
    elif isinstance(content, bytes):
        out["b64"] = base64.b64encode(content).decode("ascii")
    elif isinstance(content, str):
        out["text"] = content
    elif isinstance(content, list):
        out["children"] = [encode_node(child, redact=redact, parent=node) for child in content]
    return out


def is_redacted(data: Mapping[str, Any]) -> bool:
    """Whether this encoded node (not its children) had its content redacted."""
    return "redacted" in data


def decode_node(data: object, *, depth: int = 0) -> Node:
    """The node ``data`` encodes; redacted content comes back as a placeholder of its length
    (``b"\\0" * len`` or ``"x" * len``) so that the session reads a node of the same shape."""
    if depth > _MAX_DEPTH:
        raise NodeFormatError("nodes nested too deep")
    if not isinstance(data, dict):
        raise NodeFormatError("a node is a JSON object")
    tag = data.get("tag")
    attrs = data.get("attrs", {})
    if not isinstance(tag, str) or not tag:
        raise NodeFormatError("a node needs a non-empty string 'tag'")
    if not isinstance(attrs, dict) or not all(isinstance(v, str) for v in attrs.values()):
        raise NodeFormatError(f"<{tag}>: 'attrs' must map names to strings")
    present = [key for key in ("text", "b64", "children", "redacted") if key in data]
    unknown = set(data) - {"tag", "attrs", "text", "b64", "children", "redacted"}
    if unknown:
        raise NodeFormatError(f"<{tag}>: unknown keys {sorted(unknown)}")
    if len(present) > 1:
        raise NodeFormatError(f"<{tag}>: more than one content key {present}")
    content: bytes | str | list[Node] | None = None
    if "text" in data:
        if not isinstance(data["text"], str):
            raise NodeFormatError(f"<{tag}>: 'text' must be a string")
        content = data["text"]
    elif "b64" in data:
        content = _b64(tag, data["b64"])
    elif "children" in data:
        children = data["children"]
        if not isinstance(children, list):
            raise NodeFormatError(f"<{tag}>: 'children' must be a list")
        content = [decode_node(child, depth=depth + 1) for child in children]
    elif "redacted" in data:
        content = _placeholder(tag, data["redacted"])
    return Node(tag, dict(attrs), content)


def _b64(tag: str, text: object) -> bytes:
    if not isinstance(text, str):
        raise NodeFormatError(f"<{tag}>: 'b64' must be a string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NodeFormatError(f"<{tag}>: 'b64' is not valid base64") from None


def _placeholder(tag: str, marker: object) -> bytes | str:
    if not isinstance(marker, dict):
        raise NodeFormatError(f"<{tag}>: 'redacted' must be an object")
    length, kind = marker.get("len"), marker.get("type")
    if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= 1 << 24:
        raise NodeFormatError(f"<{tag}>: 'redacted.len' must be a length")
    if kind == "bytes":
        return b"\0" * length
    if kind == "text":
        return "x" * length
    raise NodeFormatError(f"<{tag}>: 'redacted.type' is 'bytes' or 'text'")
