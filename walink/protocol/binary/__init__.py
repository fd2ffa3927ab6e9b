"""The WhatsApp binary node codec (WABinary, dictionary version 3). docs/protocol/binary.md.

``encode_node(node)`` gives the frame plaintext (flags byte 00, then the node) byte for byte
as Baileys 7.0.0-rc14's ``encodeBinaryNode`` does, for every node Baileys encodes losslessly.
``decode_node(data)`` reverses it and raises ``RemoteProtocolError`` for anything malformed.

Where walink deliberately differs from Baileys (each pinned in tests/protocol/binary):

Encoder (strings are written as token, nibble, hex, JID, raw UTF-8, in Baileys' order):
- A string with ``@`` becomes a JID tag only if the JID decodes back to exactly that string
  (see ``Jid`` for the canonical form); otherwise it is sent as a raw string. Baileys would
  drop an agent without a device, ``:0``, the server of ``user:1@g.us``, non-canonical numbers
  (``:01``), a third ``:`` part, and would write undecodable ``user@`` (empty server).
- A string with a second ``@`` is raw (Baileys nests a JID in the server part).
- ``user:device@msgr`` is FB_JID and ``integrator-user:device@interop`` is INTEROP_JID (as
  whatsmeow sends them); Baileys writes a lossy AD_JID.
- Strings that name ``Object.prototype`` members (``constructor``, ``__proto__`` …) are
  encoded like any other string; Baileys writes a lone 00 byte.
- Attribute values must be ``str`` (Baileys corrupts non-strings); content must be None,
  bytes, str or a list of Node. Violations raise ``LocalProtocolError``.

Decoder:
- Trailing bytes after the node are an error (Baileys ignores them; whatsmeow rejects them).
- An AD_JID whose domain type is not 0, 1, 128 or 129 keeps its agent: ``user_7:2@s.whatsapp.net``
  (Baileys drops it).
- The nibble 15 is valid only as the padding of an odd-length packed string (Baileys decodes
  it as ``"\\0"`` anywhere).
- INTEROP_JID needs its server string (Baileys defaults to ``interop`` when it is missing).
- Nodes nest at most 64 deep and JIDs 8 deep; compressed plaintext inflates to at most
  2^24-1 bytes by default, and must be one complete zlib stream.
- Invalid UTF-8 in strings decodes with U+FFFD, as Baileys does; at the content position a
  BINARY_* value is always bytes and anything else a string (so raw-string content comes
  back as bytes), as in both Baileys and whatsmeow.

``COMPILED`` is True when the mypyc-compiled codec is loaded (see ``_loader``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walink.protocol.binary._loader import load_codec
from walink.protocol.binary.content import content_bytes
from walink.protocol.binary.jid import Jid

_codec_module, COMPILED = load_codec()

if TYPE_CHECKING:
    from walink.protocol.binary._codec import Node, decode_node, encode_node, render_node
else:
    Node = _codec_module.Node
    encode_node = _codec_module.encode_node
    decode_node = _codec_module.decode_node
    render_node = _codec_module.render_node

__all__ = ["COMPILED", "Jid", "Node", "content_bytes", "decode_node", "encode_node", "render_node"]
