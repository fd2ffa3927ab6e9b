"""walink._receive.events and walink._commands.messages: what users read about a message."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from walink._commands.messages import message_text_line, upsert_json
from walink._receive import IdentityChange, ReceivedMessage
from walink._receive.events import IdentityChanged, MessagesUpsert, derived_events
from walink.auth.model import Contact, Creds
from walink.protocol.binary import Node
from walink.protocol.messages import MessageKey, WebMessage
from walink.protocol.proto import e2e_pb2
from walink.protocol.signal import BadMacError
from walink.session import MessageFailed, MessageProcessed

CREDS = replace(Creds.new(), me=Contact(id="15550001111:3@s.whatsapp.net"))
STANZA = Node(
    "message",
    {"from": "15550002222@s.whatsapp.net", "id": "ID1", "t": "1780000000", "notify": "Alice"},
)


def web(text: str | None, *, from_me: bool = False, group: bool = False) -> WebMessage:
    key = MessageKey(
        remote_jid="120363@g.us" if group else "15550002222@s.whatsapp.net",
        from_me=from_me,
        id="ID1",
        participant="15550003333@s.whatsapp.net" if group else None,
    )
    message = e2e_pb2.Message(conversation=text) if text is not None else e2e_pb2.Message()
    return WebMessage(key=key, message=message, timestamp=1780000000, push_name="Alice")


def test_processed_becomes_identity_changes_then_the_upsert() -> None:
    change = IdentityChange("15550002222@s.whatsapp.net", "15550002222.0", b"\x05a", b"\x05b")
    result = ReceivedMessage(messages=(web("hi"),), decrypted=(), identity_changes=(change,))
    live = MessageProcessed(token=1, node=STANZA, result=result, offline=False, redelivered=False)
    assert derived_events(live, CREDS) == [
        IdentityChanged("15550002222@s.whatsapp.net", "15550002222.0", b"\x05a", b"\x05b"),
        MessagesUpsert((web("hi"),), "notify"),
    ]
    offline = replace(live, offline=True)
    assert derived_events(offline, CREDS)[-1] == MessagesUpsert((web("hi"),), "append")
    own = ReceivedMessage(messages=(web("hi", from_me=True),), decrypted=())
    assert derived_events(replace(live, result=own), CREDS)[-1].type == "append"  # type: ignore[union-attr]
    assert derived_events(replace(live, result="another processor's"), CREDS) == []


def test_a_failure_becomes_a_stub_carrying_the_error() -> None:
    failed = MessageFailed(node=STANZA, error=BadMacError("bad mac"), retry_count=1, gave_up=False)
    [upsert] = derived_events(failed, CREDS)
    assert isinstance(upsert, MessagesUpsert) and upsert.type == "notify"
    [stub] = upsert.messages
    assert stub.key.id == "ID1" and stub.message is None and stub.push_name == "Alice"
    assert stub.decrypt_error == "BadMacError: bad mac"
    assert message_text_line(stub) == (
        "message from 15550002222 (Alice): could not be decrypted: BadMacError: bad mac"
    )
    malformed = replace(failed, node=Node("message", {"id": "X"}))
    assert derived_events(malformed, CREDS) == []


def test_readable_lines() -> None:
    assert message_text_line(web("hello")) == "message from 15550002222 (Alice): hello"
    assert message_text_line(web("hi", group=True)) == (
        "message in 120363@g.us from 15550003333 (Alice): hi"
    )
    assert message_text_line(web("sent", from_me=True)) == "message from me: sent"
    assert message_text_line(web(None)) == (
        "message from 15550002222 (Alice): [a message without text]"
    )


@given(text=st.one_of(st.none(), st.text()), from_me=st.booleans(), group=st.booleans())
def test_the_json_line_has_exactly_the_documented_keys(
    text: str | None, from_me: bool, group: bool
) -> None:
    message = web(text, from_me=from_me, group=group)
    line = upsert_json(MessagesUpsert((message,), "append"))
    assert list(line) == ["event", "type", "messages"]
    assert line["event"] == "messages.upsert" and line["type"] == "append"
    [entry] = line["messages"]
    assert entry == {
        "id": "ID1",
        "remote_jid": message.key.remote_jid,
        "from_me": from_me,
        "participant": message.key.participant,
        "timestamp": 1780000000,
        "push_name": "Alice",
        "text": text,
    }
