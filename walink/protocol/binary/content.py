"""Reading a node's content as bytes, the way both roles read binary children."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the loaded codec (compiled or pure) provides Node at run time
    from walink.protocol.binary._codec import Node

__all__ = ["content_bytes"]


def content_bytes(node: Node | None) -> bytes:
    """A node's content as bytes (text is UTF-8 encoded); empty for no node or for children.

    The decoder gives raw strings back as bytes but tokens and packed strings as text, so a
    binary child (a key, a ref) may arrive as either: callers read it through this.
    """
    if node is None:
        return b""
    if isinstance(node.content, bytes):
        return node.content
    if isinstance(node.content, str):
        return node.content.encode("utf-8")
    return b""
