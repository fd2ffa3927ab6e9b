"""The binary node codec (WABinary, dictionary version 3): ``Node``, encoder, decoder, renderer.

One typed source for two builds: setup.py compiles this module with mypyc where a C compiler
exists, and it runs as plain Python elsewhere. Keep it mypyc-friendly: concrete types, no
dynamic tricks, module-level ``Final`` constants. Bytes are built in ``librt.strings.BytesWriter``
(mypyc's runtime library, an ordinary extension module when this runs as plain Python), whose
``append`` and ``truncate`` compile to inline C; ``i64`` positions stay machine integers.

Encoding follows Baileys 7.0.0-rc14's ``encodeBinaryNode`` byte for byte whenever Baileys is
lossless. Where Baileys is lossy this module follows the protocol instead (see the package
docstring for the list, and tests/protocol/binary/test_differences.py for the pinned cases).
"""

from __future__ import annotations

import binascii
import zlib
from typing import Final

from librt.strings import BytesWriter
from mypy_extensions import i64, u8

from walink.protocol.binary._tokens import DOUBLE_BYTE_TOKENS, SINGLE_BYTE_TOKENS
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError

# tag bytes (docs/protocol/binary.md#tags)
LIST_EMPTY: Final = 0
DICTIONARY_0: Final = 236
DICTIONARY_3: Final = 239
INTEROP_JID: Final = 245
FB_JID: Final = 246
AD_JID: Final = 247
LIST_8: Final = 248
LIST_16: Final = 249
JID_PAIR: Final = 250
HEX_8: Final = 251
BINARY_8: Final = 252
BINARY_20: Final = 253
BINARY_32: Final = 254
NIBBLE_8: Final = 255
PACKED_MAX: Final = 127
SINGLE_BYTE_COUNT: Final = 236

# Decoder limits: nodes from WhatsApp nest a handful of levels deep and JIDs nest once at most;
# the limits keep hostile input from exhausting the C stack or memory.
MAX_NODE_DEPTH: Final = 64
MAX_STRING_DEPTH: Final = 8
MAX_INFLATED_SIZE: Final = (1 << 24) - 1
COMPRESSED_FLAG: Final = 0x02

# AD_JID domain types (B: WAJIDDomains); other values are a numeric agent on s.whatsapp.net
DOMAIN_WHATSAPP: Final = 0
DOMAIN_LID: Final = 1
DOMAIN_HOSTED: Final = 128
DOMAIN_HOSTED_LID: Final = 129
_DOMAIN_OF_SERVER: Final[dict[str, int]] = {
    "s.whatsapp.net": DOMAIN_WHATSAPP,
    "lid": DOMAIN_LID,
    "hosted": DOMAIN_HOSTED,
    "hosted.lid": DOMAIN_HOSTED_LID,
}

# Final copies: mypyc keeps Final module attributes in C statics, other globals in a dict
_SINGLE: Final[tuple[str, ...]] = SINGLE_BYTE_TOKENS
_DOUBLE: Final[tuple[tuple[str, ...], ...]] = DOUBLE_BYTE_TOKENS


# Compiled, a loop over characters is a few machine instructions each; as plain Python it is
# an interpreted loop, and C-implemented bytes methods (translate, hexlify) win by far. Each
# build takes the path that is fast for it; the tests run both builds, so both paths.
_COMPILED: Final = not __file__.endswith(".py")
_NIBBLE_CHARS: Final = b"0123456789-."
_HEX_CHARS: Final = b"0123456789ABCDEF"
# nibble text <-> the hex digits binascii packs: '-' is nibble 10 ('a'), '.' is 11 ('b')
_NIBBLE_TO_HEX: Final = bytes.maketrans(b"-.", b"ab")
_HEX_TO_NIBBLE: Final = bytes.maketrans(b"ab", b"-.")
_LOWER_TO_UPPER_HEX: Final = bytes.maketrans(b"abcdef", b"ABCDEF")
_VALID_NIBBLE_HEX: Final = b"0123456789ab"


class Node:
    """One binary node: a tag, string attributes, and no content, bytes, a string or children."""

    __slots__ = ("attrs", "content", "tag")

    tag: str
    attrs: dict[str, str]
    content: bytes | str | list[Node] | None

    def __init__(
        self,
        tag: str,
        attrs: dict[str, str] | None = None,
        content: bytes | str | list[Node] | None = None,
    ) -> None:
        self.tag = tag
        self.attrs = {} if attrs is None else attrs
        self.content = content

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return self.tag == other.tag and self.attrs == other.attrs and self.content == other.content

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return not (
            self.tag == other.tag and self.attrs == other.attrs and self.content == other.content
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return render_node(self)

    def attr(self, name: str, default: str | None = None) -> str | None:
        """The value of attribute ``name``, or ``default`` when it is absent."""
        return self.attrs.get(name, default)

    def children(self, tag: str | None = None) -> list[Node]:
        """The child nodes (all of them, or those named ``tag``); [] unless content is a list."""
        content = self.content
        if not isinstance(content, list):
            return []
        if tag is None:
            return list(content)
        return [child for child in content if child.tag == tag]

    def child(self, tag: str) -> Node | None:
        """The first child named ``tag``, or None."""
        content = self.content
        if isinstance(content, list):
            for child in content:
                if child.tag == tag:
                    return child
        return None


# ---------------------------------------------------------------------------------------------
# encoder
#
# The output grows in a librt ``BytesWriter``: compiled, its ``append`` is a few inlined C
# statements where ``bytearray.append`` is a Python method call. Tokens map to int codes, packed
# strings are classified and packed one character at a time (``ord(value[i])`` compiles to a
# direct read of the string's buffer), so the common strings cost no allocation at all.


def _build_token_codes() -> dict[str, int]:
    """Token -> code: the single byte (1..235), or ``(DICTIONARY_n << 8) | index`` (> 255)."""
    table: dict[str, int] = {}
    for index in range(1, len(SINGLE_BYTE_TOKENS)):
        table[SINGLE_BYTE_TOKENS[index]] = index
    for page in range(len(DOUBLE_BYTE_TOKENS)):
        tokens = DOUBLE_BYTE_TOKENS[page]
        for index in range(len(tokens)):
            table[tokens[index]] = ((DICTIONARY_0 + page) << 8) | index
    return table


_TOKEN_CODES: Final = _build_token_codes()


def encode_node(node: Node) -> bytes:
    """The frame plaintext of ``node``: the flags byte 00, then the encoded node.

    Raises ``LocalProtocolError`` for a node that cannot be encoded (empty tag, a value of the
    wrong type, a string that is not valid Unicode, more than 65535 attributes or children).
    """
    out = BytesWriter()
    out.append(0)
    try:
        _write_node(out, node, 0)
    except (TypeError, UnicodeEncodeError, AttributeError) as exc:
        raise LocalProtocolError(f"cannot encode node: {exc}") from exc
    return out.getvalue()


def _write_node(out: BytesWriter, node: Node, depth: int) -> None:
    if depth > MAX_NODE_DEPTH:
        raise LocalProtocolError(f"node nesting deeper than {MAX_NODE_DEPTH}")
    tag = node.tag
    if not tag:
        raise LocalProtocolError("node tag must be a non-empty string")
    attrs = node.attrs
    content = node.content
    size = 1 + 2 * len(attrs)
    if content is not None:
        size += 1
    _write_list_start(out, size)
    _write_string(out, tag)
    for key, value in attrs.items():
        _write_string(out, key)
        _write_string(out, value)
    if content is None:
        return
    if isinstance(content, list):
        _write_list_start(out, len(content))
        for child in content:
            if not isinstance(child, Node):
                raise LocalProtocolError(f"child of <{tag}> is not a Node: {type(child).__name__}")
            _write_node(out, child, depth + 1)
    elif isinstance(content, bytes):
        _write_byte_length(out, len(content))
        out.write(content)
    elif isinstance(content, str):
        _write_string(out, content)
    else:
        raise LocalProtocolError(
            f"content of <{tag}> has unsupported type {type(content).__name__}"
        )


def _write_list_start(out: BytesWriter, size: int) -> None:
    if size == 0:
        out.append(LIST_EMPTY)
    elif size < 256:
        out.append(LIST_8)
        out.append(size)
    elif size < 65536:
        out.append(LIST_16)
        out.append(size >> 8)
        out.append(size & 0xFF)
    else:
        raise LocalProtocolError(f"list of {size} items does not fit LIST_16")


def _write_byte_length(out: BytesWriter, length: int) -> None:
    if length < 256:
        out.append(BINARY_8)
        out.append(length)
    elif length < 1 << 20:
        out.append(BINARY_20)
        out.append((length >> 16) & 0x0F)
        out.append((length >> 8) & 0xFF)
        out.append(length & 0xFF)
    elif length < 1 << 32:
        out.append(BINARY_32)
        out.append(length >> 24)
        out.append((length >> 16) & 0xFF)
        out.append((length >> 8) & 0xFF)
        out.append(length & 0xFF)
    else:
        raise LocalProtocolError(f"{length} bytes do not fit BINARY_32")


def _write_string(out: BytesWriter, value: str) -> None:
    # B's order: token, nibble, hex, JID, raw. A string with '@' is never nibble or hex, so
    # testing for '@' first picks the same encoding and skips the scan for JIDs.
    code = _TOKEN_CODES.get(value, -1)
    if code >= 0:
        if code > 0xFF:
            out.append(code >> 8)
        out.append(code & 0xFF)
        return
    if "@" in value:
        if not _write_jid(out, value):
            _write_raw(out, value.encode())
        return
    length: i64 = len(value)
    # nibble and hex characters are ASCII, so the length in characters is the length in bytes
    # that B compares with the limit
    if 0 < length <= PACKED_MAX:
        if _COMPILED:
            if _write_packed(out, value, length):
                return
        elif _write_packed_by_translation(out, value):
            return
    _write_raw(out, value.encode())


def _write_packed_by_translation(out: BytesWriter, value: str) -> bool:
    """``_write_packed`` for plain Python: C-implemented bytes methods instead of a loop."""
    if not value.isascii():
        return False
    raw = value.encode()
    if not raw.translate(None, _NIBBLE_CHARS):
        tag, digits, pad = NIBBLE_8, raw.translate(_NIBBLE_TO_HEX), b"f"
    elif not raw.translate(None, _HEX_CHARS):
        tag, digits, pad = HEX_8, raw, b"F"
    else:
        return False
    length = len(digits)
    out.append(tag)
    if length & 1:
        out.append(((length + 1) >> 1) | 0x80)
        out.write(binascii.unhexlify(digits + pad))
    else:
        out.append(length >> 1)
        out.write(binascii.unhexlify(digits))
    return True


def _write_packed(out: BytesWriter, value: str, length: i64) -> bool:
    """Write ``value`` NIBBLE_8-packed if every character is in ``0-9 - .``, else HEX_8-packed
    if every character is in ``0-9 A-F``, and return True; otherwise write nothing, return False.

    One pass: digits pack the same in both alphabets, so the string is packed while it is
    classified, the tag byte is fixed at the end, and a misfit truncates what was written.
    """
    start = len(out)
    out.append(NIBBLE_8)
    out.append(u8(((length + 1) >> 1) | ((length & 1) << 7)))  # odd: bit 7 flags the pad
    kind: i64 = 0  # 0: digits only so far, 1: '-' or '.' seen (nibble), 2: 'A'..'F' seen (hex)
    high: i64 = -1  # the first nibble of a pair, while the second is pending
    for index in range(length):
        char: i64 = ord(value[index])
        nibble: i64
        if 48 <= char <= 57:  # 0-9: both alphabets
            nibble = char - 48
        elif char == 45 or char == 46:  # '-' is 10, '.' is 11
            if kind == 2:
                out.truncate(start)
                return False
            kind = 1
            nibble = char - 35
        elif 65 <= char <= 70:  # 'A'..'F' are 10..15
            if kind == 1:
                out.truncate(start)
                return False
            kind = 2
            nibble = char - 55
        else:
            out.truncate(start)
            return False
        if high < 0:
            high = nibble
        else:
            out.append(u8((high << 4) | nibble))
            high = -1
    if high >= 0:
        out.append(u8((high << 4) | 0x0F))  # the pad nibble is 15
    if kind == 2:
        out[start] = u8(HEX_8)
    return True


def _write_raw(out: BytesWriter, raw: bytes) -> None:
    _write_byte_length(out, len(raw))
    out.write(raw)


def _decimal(text: str, maximum: int) -> int:
    """A canonical decimal (ASCII digits, no sign, no leading zero) up to ``maximum``, else -1."""
    length = len(text)
    if length == 0 or length > 5:
        return -1
    if length > 1 and ord(text[0]) == 48:
        return -1
    number = 0
    for index in range(length):
        char = ord(text[index])
        if not 48 <= char <= 57:
            return -1
        number = number * 10 + (char - 48)
    return number if number <= maximum else -1


def _write_jid(out: BytesWriter, text: str) -> bool:
    """Write ``text`` as a JID tag if that encoding decodes back to exactly ``text``.

    Returns False (nothing written) for strings that only look like JIDs: Baileys would encode
    those lossily, walink sends them as raw strings.
    """
    at = text.find("@")
    user_part = text[:at]
    server = text[at + 1 :]
    if not server or "@" in server:
        return False  # no server, or JIDs nested in the server (Baileys nests them): raw
    colon = user_part.find(":")
    if colon < 0:
        if "_" in user_part:
            return False  # B drops an agent that has no device
        out.append(JID_PAIR)
        if user_part:
            _write_string(out, user_part)
        else:
            out.append(LIST_EMPTY)
        _write_string(out, server)
        return True
    user = user_part[:colon]
    if server == "msgr" or server == "interop":
        return _write_wide_jid(out, user, _decimal(user_part[colon + 1 :], 65535), server)
    device = _decimal(user_part[colon + 1 :], 255)
    if device < 1:
        return False  # ":0" and non-canonical devices do not survive the round trip
    underscore = user.find("_")
    if underscore >= 0:
        if server != "s.whatsapp.net":
            return False  # the server's domain type would replace the agent
        domain = _decimal(user[underscore + 1 :], 255)
        if domain < 2 or domain in (DOMAIN_HOSTED, DOMAIN_HOSTED_LID):
            return False  # these agents would decode as another server
        user = user[:underscore]
    else:
        domain = _DOMAIN_OF_SERVER.get(server, -1)
        if domain < 0:
            return False  # AD_JID cannot carry this server
    out.append(AD_JID)
    out.append(domain)
    out.append(device)
    _write_string(out, user)
    return True


def _write_wide_jid(out: BytesWriter, user: str, device: int, server: str) -> bool:
    """FB_JID (``user:device@msgr``) or INTEROP_JID (``integrator-user:device@interop``)."""
    if device < 0 or "_" in user:
        return False
    if server == "msgr":
        out.append(FB_JID)
        _write_string(out, user)
        out.append(device >> 8)
        out.append(device & 0xFF)
        _write_string(out, server)
        return True
    dash = user.find("-")
    integrator = _decimal(user[:dash], 65535) if dash >= 0 else -1
    if integrator < 0:
        return False
    out.append(INTEROP_JID)
    _write_string(out, user[dash + 1 :])
    out.append(device >> 8)
    out.append(device & 0xFF)
    out.append(integrator >> 8)
    out.append(integrator & 0xFF)
    _write_string(out, server)
    return True


# ---------------------------------------------------------------------------------------------
# decoder


def decode_node(
    data: bytes | bytearray | memoryview, max_inflated_size: int = MAX_INFLATED_SIZE
) -> Node:
    """Decode a frame plaintext (flags byte, then one node) or raise ``RemoteProtocolError``.

    ``flags & 0x02`` means the rest is zlib-compressed; it is inflated up to
    ``max_inflated_size`` bytes. Trailing bytes after the node are an error.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    if not data:
        raise RemoteProtocolError("empty node plaintext: no flags byte")
    if data[0] & COMPRESSED_FLAG:
        reader = _Reader(_inflate(data[1:], max_inflated_size), 0)
    else:
        reader = _Reader(data, 1)
    node = reader.read_node(0)
    if reader.pos != reader.end:
        raise RemoteProtocolError(f"{reader.end - reader.pos} trailing bytes after the node")
    return node


def _inflate(compressed: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise RemoteProtocolError(f"bad zlib data: {exc}") from exc
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise RemoteProtocolError(f"compressed node inflates beyond {limit} bytes")
    if not inflater.eof:
        raise RemoteProtocolError("truncated zlib data")
    if inflater.unused_data:
        raise RemoteProtocolError("trailing bytes after the zlib stream")
    return inflated


def _end_of_data() -> RemoteProtocolError:
    return RemoteProtocolError("node data ends in the middle of a value")


class _Reader:
    """A cursor over the node bytes; every read checks the bounds first.

    Positions and byte values are ``i64``: compiled, they stay machine integers rather than
    tagged Python ints. Loops count with ``i64`` variables too (a ``for _ in range(n)`` loop
    variable would be boxed into a Python int on every pass). Packed strings are built in
    ``scratch``, one writer reused for every packed string of the node, and JIDs by one f-string
    (one concatenation rather than one per part).
    """

    data: bytes
    pos: i64
    end: i64
    scratch: BytesWriter

    def __init__(self, data: bytes, pos: i64) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data)
        self.scratch = BytesWriter()

    def byte(self) -> i64:
        pos = self.pos
        if pos >= self.end:
            raise _end_of_data()
        self.pos = pos + 1
        return self.data[pos]

    def take(self, length: i64) -> bytes:
        start = self.pos
        stop = start + length
        if stop > self.end:
            raise _end_of_data()
        self.pos = stop
        return self.data[start:stop]

    def uint(self, width: i64) -> i64:
        start = self.pos
        stop = start + width
        if stop > self.end:
            raise _end_of_data()
        self.pos = stop
        data = self.data
        value: i64 = 0
        index: i64 = start
        while index < stop:
            value = (value << 8) | data[index]
            index += 1
        return value

    def string(self, depth: int) -> str:
        """The next string: its tag byte, then the value; a token without a second call."""
        pos = self.pos
        if pos >= self.end:
            raise _end_of_data()
        self.pos = pos + 1
        tag: i64 = self.data[pos]
        if 0 < tag < SINGLE_BYTE_COUNT:
            return _SINGLE[tag]
        return self.read_string(tag, depth)

    def list_size(self, tag: i64) -> i64:
        if tag == LIST_8:
            return self.byte()
        if tag == LIST_16:
            return self.uint(2)
        if tag == LIST_EMPTY:
            return 0
        raise RemoteProtocolError(f"expected a list tag, got 0x{tag:02x}")

    def binary_length(self, tag: i64) -> i64:
        if tag == BINARY_8:
            return self.byte()
        if tag == BINARY_20:
            return self.uint(3) & 0xFFFFF
        return self.uint(4)

    def read_node(self, depth: int) -> Node:
        if depth > MAX_NODE_DEPTH:
            raise RemoteProtocolError(f"nodes nested deeper than {MAX_NODE_DEPTH}")
        size = self.list_size(self.byte())
        if size == 0:
            raise RemoteProtocolError("invalid node: empty list header")
        tag = self.string(0)
        if not tag:
            raise RemoteProtocolError("invalid node: empty tag")
        attrs: dict[str, str] = {}
        remaining: i64 = (size - 1) >> 1
        while remaining > 0:
            key = self.string(0)
            attrs[key] = self.string(0)
            remaining -= 1
        if size & 1:
            return Node(tag, attrs, None)
        kind = self.byte()
        content: bytes | str | list[Node] | None
        if kind in (LIST_8, LIST_16):
            count = self.list_size(kind)
            children: list[Node] = []
            while count > 0:
                children.append(self.read_node(depth + 1))
                count -= 1
            content = children
        elif kind == LIST_EMPTY:
            content = []
        elif kind in (BINARY_8, BINARY_20, BINARY_32):
            content = self.take(self.binary_length(kind))
        else:
            content = self.read_string(kind, 0)
        return Node(tag, attrs, content)

    def read_string(self, tag: i64, depth: int) -> str:
        if 0 < tag < SINGLE_BYTE_COUNT:
            return _SINGLE[tag]
        if DICTIONARY_0 <= tag <= DICTIONARY_3:
            return _DOUBLE[tag - DICTIONARY_0][self.byte()]
        if tag in (NIBBLE_8, HEX_8):
            return self.read_packed(tag)
        if tag == LIST_EMPTY:
            return ""
        if tag in (BINARY_8, BINARY_20, BINARY_32):
            # B decodes with Buffer.toString: invalid UTF-8 becomes U+FFFD, as here
            return self.take(self.binary_length(tag)).decode("utf-8", "replace")
        if depth >= MAX_STRING_DEPTH:
            raise RemoteProtocolError(f"JIDs nested deeper than {MAX_STRING_DEPTH}")
        if tag == JID_PAIR:
            user = self.string(depth + 1)
            server = self.string(depth + 1)
            if not server:
                raise RemoteProtocolError("invalid JID_PAIR: empty server")
            return f"{user}@{server}"
        if tag == AD_JID:
            return self.read_ad_jid(depth)
        if tag == FB_JID:
            user = self.string(depth + 1)
            device = self.uint(2)
            server = self.string(depth + 1)
            return f"{user}:{device}@{server}"
        if tag == INTEROP_JID:
            user = self.string(depth + 1)
            device = self.uint(2)
            integrator = self.uint(2)
            server = self.string(depth + 1)
            return f"{integrator}-{user}:{device}@{server}"
        raise RemoteProtocolError(f"invalid string tag 0x{tag:02x}")

    def read_ad_jid(self, depth: int) -> str:
        domain = self.byte()
        device = self.byte()
        user = self.string(depth + 1)
        if domain == DOMAIN_WHATSAPP:
            tail = "@s.whatsapp.net"
        elif domain == DOMAIN_LID:
            tail = "@lid"
        elif domain == DOMAIN_HOSTED:
            tail = "@hosted"
        elif domain == DOMAIN_HOSTED_LID:
            tail = "@hosted.lid"
        else:
            # any other domain type is a numeric agent on s.whatsapp.net; B drops it, we keep it
            if device:
                return f"{user}_{domain}:{device}@s.whatsapp.net"
            return f"{user}_{domain}@s.whatsapp.net"
        if device:
            return f"{user}:{device}{tail}"
        return f"{user}{tail}"

    def read_packed(self, tag: i64) -> str:
        if not _COMPILED:
            return self.read_packed_by_translation(tag)
        header = self.byte()
        size: i64 = header & 0x7F
        start = self.pos
        stop = start + size
        if stop > self.end:
            raise _end_of_data()
        self.pos = stop
        data = self.data
        # an odd length's final nibble is padding: dropped unread, like B (which rejects only
        # the nibble values 12..14 there)
        odd = size > 0 and header & 0x80 != 0
        last = stop - 1 if odd else stop
        out = self.scratch
        out.truncate(0)
        index: i64 = start
        if tag == HEX_8:
            # every nibble is a hex digit: 0-9 are '0'..'9', 10..15 are 'A'..'F'
            while index < last:
                byte: i64 = data[index]
                high: i64 = byte >> 4
                low: i64 = byte & 0x0F
                out.append(u8(high + 48 if high < 10 else high + 55))
                out.append(u8(low + 48 if low < 10 else low + 55))
                index += 1
            if odd:
                high = data[last] >> 4
                out.append(u8(high + 48 if high < 10 else high + 55))
            return out.getvalue().decode("ascii")
        # nibbles: 0-9 are '0'..'9', 10 is '-', 11 is '.'; 12..15 are no character (15 is
        # padding only, where B would decode "\0")
        if odd and 12 <= (data[last] & 0x0F) <= 14:
            raise RemoteProtocolError("invalid nibble padding")
        while index < last:
            byte = data[index]
            high = byte >> 4
            low = byte & 0x0F
            if high > 11 or low > 11:
                raise RemoteProtocolError("invalid nibble in packed string")
            out.append(u8(high + 48 if high < 10 else high + 35))
            out.append(u8(low + 48 if low < 10 else low + 35))
            index += 1
        if odd:
            high = data[last] >> 4
            if high > 11:
                raise RemoteProtocolError("invalid nibble in packed string")
            out.append(u8(high + 48 if high < 10 else high + 35))
        return out.getvalue().decode("ascii")

    def read_packed_by_translation(self, tag: i64) -> str:
        """``read_packed`` for plain Python: C-implemented bytes methods instead of a loop."""
        header = self.byte()
        digits = binascii.hexlify(self.take(header & 0x7F))
        if header & 0x80 and digits:
            pad = digits[-1]
            digits = digits[:-1]
            if tag == NIBBLE_8 and pad in b"cde":
                raise RemoteProtocolError("invalid nibble padding")
        if tag == HEX_8:
            return digits.translate(_LOWER_TO_UPPER_HEX).decode("ascii")
        if digits.translate(None, _VALID_NIBBLE_HEX):
            raise RemoteProtocolError("invalid nibble in packed string")
        return digits.translate(_HEX_TO_NIBBLE).decode("ascii")


# ---------------------------------------------------------------------------------------------
# rendering for logs

RENDER_BYTES_LIMIT: Final = 32


def render_node(node: Node, bytes_limit: int = RENDER_BYTES_LIMIT) -> str:
    """An XML-like one-line rendering for logs; bytes content shows as hex, cut at a limit.

    It hides nothing: callers must not render nodes that carry secrets.
    """
    parts: list[str] = []
    _render(node, parts, bytes_limit)
    return "".join(parts)


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _render(node: Node, parts: list[str], bytes_limit: int) -> None:
    parts.append("<" + _escape(node.tag))
    for key, value in node.attrs.items():
        parts.append(f' {_escape(key)}="{_escape(value)}"')
    content = node.content
    if content is None:
        parts.append("/>")
        return
    parts.append(">")
    if isinstance(content, list):
        for child in content:
            _render(child, parts, bytes_limit)
    elif isinstance(content, bytes):
        shown = content[:bytes_limit].hex()
        more = "…" if len(content) > bytes_limit else ""
        parts.append(f"[{len(content)} bytes: {shown}{more}]")
    else:
        parts.append(_escape(content))
    parts.append("</" + _escape(node.tag) + ">")
