"""The nodes the client session builds and the small readers it needs (docs/protocol/lifecycle.md,
docs/protocol/pairing.md).

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
    "history_receipt",
    "iq_result",
    "parse_int",
    "pre_key_upload",
    "receipt",
    "retry_keys",
    "retry_receipt",
    "unified_session_id",
]

SERVER = "s.whatsapp.net"
"""The server's JID as whatsmeow writes replies (the emulator accepts both forms:
docs/protocol/server.md#registration)."""
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


def ack(stanza: Node, me: str | None, *, error: int | None = None) -> Node:
    """The ``<ack>`` Baileys sends for a stanza (``buildAckStanza``,
    docs/protocol/lifecycle.md#offline); ``error``: a nack (Baileys nacks with 500 a message it
    could not decrypt)."""
    attrs = {
        "id": stanza.attr("id", "") or "",
        "to": stanza.attr("from", SERVER) or SERVER,
        "class": stanza.tag,
    }
    if error is not None:
        attrs["error"] = str(error)
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
    """The pre-key upload iq of docs/protocol/lifecycle.md#after-success, step 2 (public halves
    only)."""
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


def receipt(message: Node, kind: str | None) -> Node:
    """The receipt for a processed ``message``: ``kind`` ``"peer_msg"`` (a peer message from our
    own phone), ``"sender"`` (our own message echoed from another of our devices: addressed to
    that device, about the chat in ``recipient``), or None for a delivery receipt."""
    attrs = {"id": message.attr("id", "") or "", "to": message.attr("from", SERVER) or SERVER}
    recipient = message.attr("recipient")
    if kind == "sender" and recipient:
        attrs["recipient"] = recipient
    participant = message.attr("participant")
    if participant:
        attrs["participant"] = participant
    if kind is not None:
        attrs["type"] = kind
    return Node("receipt", attrs)


def history_receipt(message: Node, own_user_jid: str) -> Node:
    """``hist_sync``: the phone's history notification was taken (or it keeps re-uploading)."""
    return Node(
        "receipt", {"id": message.attr("id", "") or "", "to": own_user_jid, "type": "hist_sync"}
    )


def retry_receipt(
    message: Node, *, count: int, registration_id: int, keys: Node | None = None
) -> Node:
    """Ask the sender to encrypt ``message`` again (it could not be decrypted): Baileys' shape,
    with ``keys`` (a fresh pre-key bundle) from the second retry on."""
    attrs = {
        "id": message.attr("id", "") or "",
        "type": "retry",
        "to": message.attr("from", SERVER) or SERVER,
    }
    for name in ("recipient", "participant"):
        value = message.attr(name)
        if value:
            attrs[name] = value
    if message.attr("category") == "peer":
        attrs["category"] = "peer"
    retry = {"count": str(count), "id": message.attr("id", "") or ""}
    stamp = message.attr("t")
    if stamp:
        retry["t"] = stamp
    retry |= {"v": "1", "error": "0"}
    children = [
        Node("retry", retry),
        Node("registration", {}, registration_id.to_bytes(4, "big")),
    ]
    if keys is not None:
        children.append(keys)
    return Node("receipt", attrs, children)


def retry_keys(
    *,
    identity: KeyPair,
    pre_key: tuple[int, KeyPair],
    signed_pre_key: SignedKeyPair,
    device_identity: bytes,
) -> Node:
    """The ``<keys>`` of a retry receipt: what the sender needs to start a new session."""
    key_id, key = pre_key
    return Node(
        "keys",
        {},
        [
            Node("type", {}, KEY_BUNDLE_TYPE),
            Node("identity", {}, identity.public),
            Node(
                "key",
                {},
                [Node("id", {}, key_id.to_bytes(3, "big")), Node("value", {}, key.public)],
            ),
            Node(
                "skey",
                {},
                [
                    Node("id", {}, pre_key_id(signed_pre_key.key_id).to_bytes(3, "big")),
                    Node("value", {}, signed_pre_key.key_pair.public),
                    Node("signature", {}, signed_pre_key.signature),
                ],
            ),
            Node("device-identity", {}, device_identity),
        ],
    )
