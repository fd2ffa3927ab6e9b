"""Messages as users see them: a ``MessageKey`` and a ``WebMessage`` (Baileys' ``WebMessageInfo``).

Theory of operation. Messages reach a linked device two ways: live, as a ``<message>`` stanza
whose Signal envelope decrypts to a ``Message`` protobuf, and in history chunks, as
``WebMessageInfo`` protobufs the phone assembled. Both become the same frozen ``WebMessage``:
the receive pipeline builds one from the stanza's attributes and the decrypted protobuf (after
``unwrap``) with ``WebMessage.from_stanza``, history builds one with ``WebMessage.from_info``.
A message that could not be decrypted still becomes a ``WebMessage``: a stub
(``WebMessage.decrypt_failure``) that carries the error, so an application sees that something
arrived, as Baileys' CIPHERTEXT stubs do.

The ``message`` field is the protobuf itself (``walink.protocol.proto.e2e_pb2.Message``): a
bot reads any field it needs from it. Treat it as read-only; ``text`` covers the common case.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.proto import e2e_pb2

__all__ = [
    "MessageKey",
    "WebMessage",
    "message_text",
    "normalize_content",
    "normalized_user_jid",
    "parse_message",
    "stanza_key",
    "unwrap",
]

#: Baileys' CIPHERTEXT stub type: a message that arrived but could not be decrypted.
STUB_CIPHERTEXT = e2e_pb2.WebMessageInfo.CIPHERTEXT

# How deep wrappers nest before we stop looking (Baileys stops after 5 as well): a crafted
# message could nest wrappers thousands deep.
_MAX_WRAPPERS = 5


@dataclass(frozen=True, slots=True)
class MessageKey:
    """What identifies a message: the chat, who sent it (us or not), its id, and in a group the
    participant who sent it. Baileys dedups history by chat, id and sender, as this key does."""

    remote_jid: str
    from_me: bool
    id: str
    participant: str | None = None

    @classmethod
    def from_proto(cls, key: e2e_pb2.MessageKey, chat: str | None = None) -> MessageKey:
        """A key from its protobuf; ``chat`` stands in for a missing ``remoteJid`` (a history
        conversation's id). ``RemoteProtocolError`` when the chat or the id is missing."""
        remote_jid = key.remote_jid or chat
        message_id = key.id
        if not remote_jid or not message_id:
            raise RemoteProtocolError("message key without a chat or an id")
        return cls(
            remote_jid=remote_jid,
            from_me=key.from_me,
            id=message_id,
            participant=key.participant or None,
        )

    def to_proto(self) -> e2e_pb2.MessageKey:
        """The protobuf form, as a ``WebMessageInfo.key``."""
        key = e2e_pb2.MessageKey(remote_jid=self.remote_jid, from_me=self.from_me, id=self.id)
        if self.participant is not None:
            key.participant = self.participant
        return key


@dataclass(frozen=True, slots=True)
class WebMessage:
    """One message, live or from history (Baileys' ``WebMessageInfo``).

    ``message`` is the decrypted content (None for a stub); ``timestamp`` is in seconds since
    the epoch; ``stub_type`` is a ``WebMessageInfo.StubType`` value when this is a stub and
    ``stub_parameters`` its details (for a decrypt failure, the error).
    """

    key: MessageKey
    message: e2e_pb2.Message | None
    timestamp: int
    push_name: str | None = None
    status: int | None = None
    stub_type: int | None = None
    stub_parameters: tuple[str, ...] = ()

    def __hash__(self) -> int:  # the protobuf is unhashable; the key identifies the message
        return hash(self.key)

    @property
    def text(self) -> str | None:
        """The text of a plain or extended text message (behind any wrapper), else None."""
        return message_text(self.message)

    @property
    def decrypt_error(self) -> str | None:
        """For a stub made by ``decrypt_failure``, the error it carries; else None."""
        if self.stub_type == STUB_CIPHERTEXT and self.stub_parameters:
            return self.stub_parameters[0]
        return None

    @classmethod
    def from_info(cls, info: e2e_pb2.WebMessageInfo, chat: str | None = None) -> WebMessage:
        """A message from a history chunk's ``WebMessageInfo`` (``chat``: the conversation it is
        in, for a key without ``remoteJid``); ``RemoteProtocolError`` without a usable key."""
        if not info.HasField("key"):
            raise RemoteProtocolError("history message without a key")
        # each field read of a parsed protobuf costs: read each once, test presence only where
        # a default value means something (status 0 is ERROR, stub type 0 is UNKNOWN)
        stub_type = info.message_stub_type if info.HasField("message_stub_type") else None
        return cls(
            key=MessageKey.from_proto(info.key, chat),
            message=info.message if info.HasField("message") else None,
            timestamp=info.message_timestamp,
            push_name=info.push_name or None,
            status=info.status if info.HasField("status") else None,
            stub_type=stub_type,
            stub_parameters=tuple(info.message_stub_parameters) if stub_type is not None else (),
        )

    @classmethod
    def from_stanza(
        cls,
        stanza: Node,
        message: e2e_pb2.Message | None,
        *,
        own_jid: str,
        own_lid: str | None = None,
    ) -> WebMessage:
        """A message from a ``<message>`` stanza and its decrypted content (already ``unwrap``-ed;
        None for a stub), keyed as Baileys keys it: see ``stanza_key``."""
        key = stanza_key(stanza, own_jid=own_jid, own_lid=own_lid)
        t = stanza.attr("t") or ""
        if not (t.isascii() and t.isdigit()):
            raise RemoteProtocolError(f"message stanza with a bad timestamp: {t[:20]!r}")
        return cls(
            key=key,
            message=message,
            timestamp=int(t),
            push_name=stanza.attr("notify") or None,
            status=e2e_pb2.WebMessageInfo.SERVER_ACK if key.from_me else None,
        )

    @classmethod
    def decrypt_failure(
        cls, key: MessageKey, timestamp: int, error: str, push_name: str | None = None
    ) -> WebMessage:
        """The stub the pipeline publishes for a message it could not decrypt."""
        return cls(
            key=key,
            message=None,
            timestamp=timestamp,
            push_name=push_name,
            stub_type=STUB_CIPHERTEXT,
            stub_parameters=(error,),
        )

    def to_info(self) -> e2e_pb2.WebMessageInfo:
        """The ``WebMessageInfo`` protobuf (what a history chunk or a Baileys store holds)."""
        info = e2e_pb2.WebMessageInfo(key=self.key.to_proto(), message_timestamp=self.timestamp)
        if self.message is not None:
            info.message.CopyFrom(self.message)
        if self.push_name is not None:
            info.push_name = self.push_name
        if self.status is not None:
            info.status = self.status  # type: ignore[assignment]  # an enum value as int
        if self.stub_type is not None:
            info.message_stub_type = self.stub_type  # type: ignore[assignment]
        info.message_stub_parameters.extend(self.stub_parameters)
        return info


def _user(jid: str) -> str:
    """The user part of a JID, without agent or device (``"1555:3@s.whatsapp.net"`` → 1555)."""
    return jid.partition("@")[0].split(":", 1)[0].split("_", 1)[0]


def normalized_user_jid(jid: str) -> str:
    """A JID without agent or device, hosted servers folded (Baileys' ``cleanMessage``)."""
    server = jid.partition("@")[2]
    server = {"hosted": "s.whatsapp.net", "hosted.lid": "lid", "c.us": "s.whatsapp.net"}.get(
        server, server
    )
    return f"{_user(jid)}@{server}"


def stanza_key(stanza: Node, *, own_jid: str, own_lid: str | None = None) -> MessageKey:
    """The key of a ``<message>`` stanza, as Baileys derives it.

    1:1 (a user, LID or hosted ``from``): the chat is ``recipient`` when present (our own
    message sent from another of our devices: ``from`` must then be us), else ``from``; a group
    or broadcast needs a ``participant``, the sender; a newsletter is its own chat. ``from_me``
    when the sender is our account (by phone number or LID; in a broadcast by number only).
    Chat and participant lose their device part. ``RemoteProtocolError`` for a stanza none of
    these fit.
    """
    message_id = stanza.attr("id")
    sender = stanza.attr("from")
    if not message_id or not sender:
        raise RemoteProtocolError("message stanza without an id or a from")
    participant = stanza.attr("participant")
    recipient = stanza.attr("recipient")
    own_users = {_user(own_jid)} | ({_user(own_lid)} if own_lid else set())

    def is_me(jid: str | None, users: set[str] = own_users) -> bool:
        return jid is not None and "@" in jid and _user(jid) in users

    server = sender.partition("@")[2]
    if server in ("s.whatsapp.net", "lid", "hosted", "hosted.lid"):
        if recipient and not recipient.endswith("@bot"):
            if not is_me(sender):
                raise RemoteProtocolError("message with a recipient that is not from us")
            chat = recipient
        else:
            chat = sender
        from_me = is_me(sender)
    elif server in ("g.us", "broadcast"):
        if not participant:
            raise RemoteProtocolError("group or broadcast message without a participant")
        chat = sender
        # a broadcast (status) sender is us only by phone number, as Baileys compares it
        from_me = is_me(participant, own_users if server == "g.us" else {_user(own_jid)})
    elif server == "newsletter":
        chat = sender
        from_me = is_me(sender)
    else:
        raise RemoteProtocolError(f"message from an unknown kind of chat: {server[:20]!r}")
    return MessageKey(
        remote_jid=normalized_user_jid(chat),
        from_me=from_me,
        id=message_id,
        participant=normalized_user_jid(participant) if participant else None,
    )


def parse_message(plaintext: bytes) -> e2e_pb2.Message:
    """Parse a decrypted (unpadded) ``Message``; ``RemoteProtocolError`` for malformed bytes."""
    try:
        return e2e_pb2.Message.FromString(plaintext)
    except (DecodeError, RecursionError) as error:
        raise RemoteProtocolError(f"malformed Message protobuf: {error}") from None


def unwrap(message: e2e_pb2.Message) -> e2e_pb2.Message:
    """Our own message echoed from another of our devices arrives as ``deviceSentMessage``: its
    ``message`` is the content, as Baileys reads it. Anything else is returned as is."""
    if message.HasField("device_sent_message") and message.device_sent_message.HasField("message"):
        return message.device_sent_message.message
    return message


def normalize_content(message: e2e_pb2.Message | None) -> e2e_pb2.Message | None:
    """The content behind the future-proof wrappers (ephemeral, view once, document with
    caption, edited), as Baileys' ``normalizeMessageContent`` finds it."""
    for _ in range(_MAX_WRAPPERS):
        if message is None:
            return None
        inner = _future_proof(message)
        if inner is None:
            break
        message = inner.message
    return message


def _future_proof(message: e2e_pb2.Message) -> e2e_pb2.Message.FutureProofMessage | None:
    for name in (
        "ephemeral_message",
        "view_once_message",
        "document_with_caption_message",
        "view_once_message_v2",
        "edited_message",
    ):
        if message.HasField(name):
            wrapper: e2e_pb2.Message.FutureProofMessage = getattr(message, name)
            return wrapper
    return None


def message_text(message: e2e_pb2.Message | None) -> str | None:
    """``conversation`` or ``extendedTextMessage.text`` of a message (behind any wrapper)."""
    content = normalize_content(message)
    if content is None:
        return None
    if content.HasField("conversation"):
        return content.conversation
    if content.HasField("extended_text_message") and content.extended_text_message.HasField("text"):
        return content.extended_text_message.text
    return None
