"""The nodes the client session builds and the small readers it needs (PROTOCOL.md §5-§6).

Pure functions of their arguments: no state, no clock, no randomness (ids and keys come in).
"""

from __future__ import annotations

from walink.protocol.binary import Node
from walink.protocol.keys import KEY_BUNDLE_TYPE, KeyPair, SignedKeyPair

__all__ = [
    "ACK_TAGS",
    "SERVER",
    "SERVER_JID",
    "ack",
    "error_reply",
    "iq_result",
    "parse_int",
    "pre_key_upload",
    "unified_session_id",
]

SERVER = "s.whatsapp.net"
"""The server's JID as whatsmeow writes replies (SERVER.md accepts both forms)."""
SERVER_JID = "@s.whatsapp.net"
"""Baileys' ``S_WHATSAPP_NET``, the ``to`` of its own queries."""
ACK_TAGS = frozenset({"message", "receipt", "notification", "call"})
"""Stanzas that need an ``<ack>`` (Baileys' stanza-ack.ts)."""

_WEEK_MS = 7 * 86_400_000
_THREE_DAYS_MS = 3 * 86_400_000
_MAX_PRE_KEY_ID = 0xFFFFFF


def parse_int(text: str | None) -> int | None:
    """A decimal ASCII number, or None for anything else (never raises)."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


def iq_result(request: Node) -> Node:
    """``<iq to=s.whatsapp.net type=result id=…/>``, the empty answer to a server iq."""
    return Node("iq", {"to": SERVER, "type": "result", "id": request.attr("id", "") or ""})


def error_reply(request: Node, code: int, text: str) -> Node:
    """``<iq type=error id=…><error code text/></iq>`` (whatsmeow's pairing refusals)."""
    attrs = {"to": SERVER, "type": "error", "id": request.attr("id", "") or ""}
    return Node("iq", attrs, [Node("error", {"code": str(code), "text": text})])


def ack(stanza: Node, me: str | None) -> Node:
    """The ``<ack>`` Baileys sends for a stanza (``buildAckStanza``, PROTOCOL.md §5.8)."""
    attrs = {
        "id": stanza.attr("id", "") or "",
        "to": stanza.attr("from", SERVER) or SERVER,
        "class": stanza.tag,
    }
    for name in ("participant", "recipient"):
        value = stanza.attr(name)
        if value:
            attrs[name] = value
    kind = stanza.attr("type")
    # Baileys leaves a message's type out of its ack unless the message is "unavailable"
    if kind and (stanza.tag != "message" or stanza.child("unavailable") is not None):
        attrs["type"] = kind
    if stanza.tag == "message" and me:
        attrs["from"] = me
    return Node("ack", attrs)


def unified_session_id(now: float, server_offset: float) -> str:
    """``((now_ms + offset_ms) + 3 days) mod 1 week``, as Baileys and whatsmeow compute it."""
    server_ms = round((now + server_offset) * 1000)
    return str((server_ms + _THREE_DAYS_MS) % _WEEK_MS)


def pre_key_id(key_id: int) -> int:
    """Pre-key ids are 3 bytes on the wire: wrap past 2^24 - 1, skipping 0."""
    return (key_id - 1) % _MAX_PRE_KEY_ID + 1


def pre_key_upload(
    *,
    iq_id: str,
    registration_id: int,
    identity: KeyPair,
    signed_pre_key: SignedKeyPair,
    pre_keys: list[tuple[int, KeyPair]],
) -> Node:
    """The pre-key upload iq of PROTOCOL.md §5.6 step 2 (public halves only)."""
    keys = [
        Node(
            "key",
            {},
            [
                Node("id", {}, key_id.to_bytes(3, "big")),
                Node("value", {}, key.public),
            ],
        )
        for key_id, key in pre_keys
    ]
    skey = Node(
        "skey",
        {},
        [
            Node("id", {}, pre_key_id(signed_pre_key.key_id).to_bytes(3, "big")),
            Node("value", {}, signed_pre_key.key_pair.public),
            Node("signature", {}, signed_pre_key.signature),
        ],
    )
    return Node(
        "iq",
        {"xmlns": "encrypt", "type": "set", "to": SERVER_JID, "id": iq_id},
        [
            Node("registration", {}, registration_id.to_bytes(4, "big")),
            Node("type", {}, KEY_BUNDLE_TYPE),
            Node("identity", {}, identity.public),
            Node("list", {}, keys),
            skey,
        ],
    )
