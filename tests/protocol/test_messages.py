"""walink.protocol.messages: keys, messages from history and from the pipeline, text, unwrap."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.messages import (
    MessageKey,
    WebMessage,
    message_text,
    normalize_content,
    parse_message,
    stanza_key,
    unwrap,
)
from walink.protocol.proto import e2e_pb2

Message = e2e_pb2.Message
CHAT = "15550002222@s.whatsapp.net"


def test_key_round_trip_and_missing_fields() -> None:
    key = MessageKey(CHAT, True, "ABC", "15550003333@s.whatsapp.net")
    assert MessageKey.from_proto(key.to_proto()) == key
    plain = MessageKey(CHAT, False, "ID")
    assert not plain.to_proto().HasField("participant")
    assert MessageKey.from_proto(plain.to_proto()) == plain
    with pytest.raises(RemoteProtocolError):
        MessageKey.from_proto(e2e_pb2.MessageKey(remote_jid=CHAT))
    with pytest.raises(RemoteProtocolError):
        MessageKey.from_proto(e2e_pb2.MessageKey(id="X"))
    # a history message's key may leave the chat to its conversation
    assert MessageKey.from_proto(e2e_pb2.MessageKey(id="X"), CHAT) == MessageKey(CHAT, False, "X")
    assert MessageKey.from_proto(plain.to_proto(), "other@s.whatsapp.net") == plain


def test_from_info_and_back() -> None:
    info = e2e_pb2.WebMessageInfo(
        key=e2e_pb2.MessageKey(remote_jid=CHAT, from_me=False, id="M1"),
        message=Message(conversation="hello"),
        message_timestamp=1700000000,
        push_name="Ann",
        status=e2e_pb2.WebMessageInfo.READ,
    )
    message = WebMessage.from_info(info)
    assert message.key == MessageKey(CHAT, False, "M1")
    assert message.text == "hello"
    assert message.timestamp == 1700000000
    assert message.push_name == "Ann"
    assert message.status == e2e_pb2.WebMessageInfo.READ
    assert message.decrypt_error is None
    assert message.to_info() == info
    with pytest.raises(RemoteProtocolError):
        WebMessage.from_info(e2e_pb2.WebMessageInfo(message_timestamp=1))


def test_decrypt_failure_is_a_ciphertext_stub() -> None:
    stub = WebMessage.decrypt_failure(MessageKey(CHAT, False, "M2"), 5, "Bad MAC", "Bob")
    assert stub.message is None and stub.text is None
    assert stub.decrypt_error == "Bad MAC"
    info = stub.to_info()
    assert info.message_stub_type == e2e_pb2.WebMessageInfo.CIPHERTEXT
    assert list(info.message_stub_parameters) == ["Bad MAC"]
    assert WebMessage.from_info(info) == stub


def test_text_of_each_kind() -> None:
    assert message_text(Message(conversation="a")) == "a"
    extended = Message(extended_text_message=Message.ExtendedTextMessage(text="b"))
    assert message_text(extended) == "b"
    ephemeral = Message(ephemeral_message=Message.FutureProofMessage(message=extended))
    assert message_text(ephemeral) == "b"
    image = Message(image_message=Message.ImageMessage(caption="c"))
    assert message_text(image) is None
    assert message_text(None) is None
    assert message_text(Message(extended_text_message=Message.ExtendedTextMessage())) is None


def test_unwrap_device_sent() -> None:
    inner = Message(conversation="sent from my phone")
    wrapped = Message(
        device_sent_message=Message.DeviceSentMessage(destination_jid=CHAT, message=inner),
        message_context_info=e2e_pb2.MessageContextInfo(message_secret=b"s"),
    )
    assert unwrap(wrapped) == inner
    plain = Message(conversation="x")
    assert unwrap(plain) is plain
    # a deviceSentMessage without content leaves the message as it was
    empty = Message(device_sent_message=Message.DeviceSentMessage(destination_jid=CHAT))
    assert unwrap(empty) is empty


def test_wrappers_nest_at_most_five_deep() -> None:
    message = Message(conversation="deep")
    for _ in range(6):
        message = Message(view_once_message=Message.FutureProofMessage(message=message))
    # after five unwraps the sixth wrapper is what is left: no text, and no endless loop
    assert normalize_content(message) != Message(conversation="deep")
    assert message_text(message) is None


def test_parse_message_round_trip() -> None:
    message = Message(conversation="hi", message_context_info=e2e_pb2.MessageContextInfo())
    assert parse_message(message.SerializeToString()) == message
    with pytest.raises(RemoteProtocolError):
        parse_message(b"\x0a\x05ab")  # a string field longer than the data


@given(st.binary(max_size=300))
def test_parse_message_parses_or_raises_remote(data: bytes) -> None:
    try:
        message = parse_message(data)
    except RemoteProtocolError:
        return
    message_text(message)
    unwrap(message)


OWN = "15550001111:7@s.whatsapp.net"
OWN_LID = "100000000000009:7@lid"


def _stanza(**attrs: str) -> Node:
    return Node("message", {"id": "ID1", "t": "1700000000", **attrs})


def test_stanza_keys_as_baileys_derives_them() -> None:
    def key(**attrs: str) -> MessageKey:
        return stanza_key(_stanza(**attrs), own_jid=OWN, own_lid=OWN_LID)

    # a contact's device writes to us: the chat is the contact, without device
    assert key(**{"from": "15550002222:3@s.whatsapp.net"}) == MessageKey(CHAT, False, "ID1")
    # our phone's peer message (history): from us, no recipient
    assert key(**{"from": "15550001111@s.whatsapp.net"}) == MessageKey(
        "15550001111@s.whatsapp.net", True, "ID1"
    )
    assert key(**{"from": "100000000000009@lid"}).from_me
    # our own message sent from another device: the chat is the recipient
    sent = key(**{"from": "15550001111:2@s.whatsapp.net", "recipient": CHAT})
    assert sent == MessageKey(CHAT, True, "ID1")
    with pytest.raises(RemoteProtocolError):
        key(**{"from": "15550003333@s.whatsapp.net", "recipient": CHAT})
    group = key(
        **{"from": "120363000000000001@g.us", "participant": "15550003333:1@s.whatsapp.net"}
    )
    assert group == MessageKey(
        "120363000000000001@g.us", False, "ID1", "15550003333@s.whatsapp.net"
    )
    assert key(**{"from": "120363000000000001@g.us", "participant": "100000000000009@lid"}).from_me
    hosted = key(**{"from": "15550004444:99@hosted"})
    assert hosted.remote_jid == "15550004444@s.whatsapp.net"
    for bad in (
        {"from": "120363000000000001@g.us"},
        {"from": "status@broadcast"},
        {"from": "x@call"},
    ):
        with pytest.raises(RemoteProtocolError):
            key(**bad)
    with pytest.raises(RemoteProtocolError):
        stanza_key(Node("message", {"from": CHAT}), own_jid=OWN)


def test_from_stanza() -> None:
    message = Message(conversation="hello")
    stanza = _stanza(**{"from": "15550002222@s.whatsapp.net", "notify": "Ann"})
    web = WebMessage.from_stanza(stanza, message, own_jid=OWN)
    assert (web.text, web.timestamp, web.push_name, web.status) == (
        "hello",
        1700000000,
        "Ann",
        None,
    )
    own = WebMessage.from_stanza(
        _stanza(**{"from": "15550001111@s.whatsapp.net"}), message, own_jid=OWN
    )
    assert own.key.from_me and own.status == e2e_pb2.WebMessageInfo.SERVER_ACK
    with pytest.raises(RemoteProtocolError):
        WebMessage.from_stanza(
            Node("message", {"id": "X", "from": CHAT, "t": "soon"}), message, own_jid=OWN
        )


@given(
    st.dictionaries(
        st.sampled_from(["id", "from", "participant", "recipient", "t", "notify"]),
        st.one_of(
            st.text(max_size=12),
            st.sampled_from(
                [CHAT, "1@g.us", "15550001111:1@s.whatsapp.net", "x@lid", "a@b@c", "@", ":@lid"]
            ),
        ),
    )
)
def test_stanza_parsers_parse_or_raise_remote(attrs: dict[str, str]) -> None:
    with contextlib.suppress(RemoteProtocolError):
        WebMessage.from_stanza(Node("message", attrs), None, own_jid=OWN, own_lid=OWN_LID)
