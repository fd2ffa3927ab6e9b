"""walink._session.nodes: the exact shapes of the nodes the session builds."""

from __future__ import annotations

import random

import pytest

from walink._session.flows import user_and_device
from walink._session.nodes import (
    ack,
    error_reply,
    iq_result,
    parse_int,
    pre_key_id,
    pre_key_upload,
    unified_session_id,
)
from walink.protocol.binary import Node, decode_node, encode_node
from walink.protocol.keys import KeyPair, generate_signed_pre_key


def test_ack_follows_baileys_build_ack_stanza() -> None:
    message = Node(
        "message", {"id": "1", "from": "a@g.us", "participant": "b@s.whatsapp.net", "type": "text"}
    )
    assert ack(message, "me:1@s.whatsapp.net").attrs == {
        "id": "1",
        "to": "a@g.us",
        "class": "message",
        "participant": "b@s.whatsapp.net",
        "from": "me:1@s.whatsapp.net",
    }
    unavailable = Node(
        "message", {"id": "2", "from": "a@s.whatsapp.net", "type": "text"}, [Node("unavailable")]
    )
    assert ack(unavailable, None).attrs["type"] == "text"
    receipt = Node(
        "receipt", {"id": "3", "from": "c@s.whatsapp.net", "recipient": "d", "type": "read"}
    )
    assert ack(receipt, "me").attrs == {
        "id": "3",
        "to": "c@s.whatsapp.net",
        "class": "receipt",
        "recipient": "d",
        "type": "read",
    }


def test_replies() -> None:
    request = Node("iq", {"id": "9", "type": "set"})
    assert iq_result(request) == Node("iq", {"to": "s.whatsapp.net", "type": "result", "id": "9"})
    assert error_reply(request, 401, "hmac-mismatch") == Node(
        "iq",
        {"to": "s.whatsapp.net", "type": "error", "id": "9"},
        [Node("error", {"code": "401", "text": "hmac-mismatch"})],
    )


def test_unified_session_id_formula() -> None:
    # ((now_ms + offset_ms) + 3 days) mod 7 days
    assert unified_session_id(0.0, 0.0) == str(3 * 86_400_000)
    assert unified_session_id(1_780_000_000.5, -0.5) == str(
        (1_780_000_000_000 + 3 * 86_400_000) % (7 * 86_400_000)
    )


def test_parse_int_and_ids() -> None:
    assert parse_int("42") == 42
    assert [parse_int(x) for x in (None, "", "-1", " 1", "1e3", "٣")] == [None] * 6
    assert pre_key_id(1) == 1 and pre_key_id(0xFFFFFF) == 0xFFFFFF and pre_key_id(0x1000000) == 1
    assert user_and_device("15551234567:3@s.whatsapp.net") == (15551234567, 3)
    assert user_and_device("15551234567@s.whatsapp.net") == (15551234567, None)
    with pytest.raises(ValueError):
        user_and_device("abc@lid")


def test_pre_key_upload_layout() -> None:
    rng = random.Random(1).randbytes
    identity = KeyPair.generate(rng)
    signed = generate_signed_pre_key(identity, 1, rng)
    keys = [(5, KeyPair.generate(rng)), (6, KeyPair.generate(rng))]
    node = pre_key_upload(
        iq_id="a.b-1", registration_id=300, identity=identity, signed_pre_key=signed, pre_keys=keys
    )
    assert node.attrs == {"xmlns": "encrypt", "type": "set", "to": "@s.whatsapp.net", "id": "a.b-1"}
    assert [c.tag for c in node.children()] == ["registration", "type", "identity", "list", "skey"]
    assert node.child("registration").content == (300).to_bytes(4, "big")  # type: ignore[union-attr]
    assert node.child("type").content == b"\x05"  # type: ignore[union-attr]
    listed = node.child("list").children()  # type: ignore[union-attr]
    assert listed[1].child("id").content == b"\x00\x00\x06"  # type: ignore[union-attr]
    assert listed[1].child("value").content == keys[1][1].public  # type: ignore[union-attr]
    skey = node.child("skey")
    assert skey is not None and skey.child("signature").content == signed.signature  # type: ignore[union-attr]
    # no private key material anywhere in the encoded node
    wire = encode_node(node)
    assert all(key.private not in wire for _, key in keys)
    assert decode_node(wire) == node
