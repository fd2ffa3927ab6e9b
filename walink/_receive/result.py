"""What the receive pipeline hands the session for one ``<message>``, and its committed form.

``ReceivedMessage`` is ``ProcessedMessage.result`` for every message ``SignalProcessor``
decrypted: the ``WebMessage`` users see (one per stanza: every ``<enc>`` of it merged into one
``Message``, as Baileys merges them), the decrypted ``Message`` of each ``<enc>`` in stanza
order (before any unwrapping: what a history or app-state consumer needs), and the identity
changes the message revealed.

The committed form (the ``walink-message`` key value) is plain BufferJSON data: the
``WebMessageInfo`` bytes, each decrypted ``Message``'s bytes, the message timestamp (to prune
by) and the history flag; enough to rebuild the same ``ReceivedMessage`` for a redelivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from walink.auth.bufferjson import JSONValue
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.messages import WebMessage
from walink.protocol.proto import e2e_pb2

__all__ = ["IdentityChange", "ReceivedMessage", "decode_entry", "encode_entry", "entry_timestamp"]


@dataclass(frozen=True, slots=True)
class IdentityChange:
    """A sender's identity key differs from the one we trusted: its old sessions were replaced."""

    jid: str
    """The sender's device JID."""
    address: str
    """Its Signal address (``user[_domain].device``)."""
    old_identity: bytes
    new_identity: bytes


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """``ProcessedMessage.result`` for a message the Signal processor committed."""

    messages: tuple[WebMessage, ...]
    """What users see (``messages.upsert``): one message per stanza."""
    decrypted: tuple[e2e_pb2.Message, ...]
    """The parsed ``Message`` of each ``<enc>``, in stanza order, not unwrapped."""
    history_sync: bool = False
    """A peer message from our own account carrying a history sync notification."""
    identity_changes: tuple[IdentityChange, ...] = ()
    """Senders whose identity changed (empty for a redelivery: it was reported the first time)."""


def encode_entry(result: ReceivedMessage) -> JSONValue:
    """The ``walink-message`` value that rebuilds ``result`` (without identity changes)."""
    timestamp = max((m.timestamp for m in result.messages), default=0)
    return {
        "v": 1,
        "t": timestamp,
        "history": result.history_sync,
        "infos": [m.to_info().SerializeToString() for m in result.messages],
        "decrypted": [m.SerializeToString() for m in result.decrypted],
    }


def entry_timestamp(value: object) -> int | None:
    """The message timestamp of a stored entry (None when it is not one of ours)."""
    if isinstance(value, dict):
        t = value.get("t")
        if isinstance(t, int) and not isinstance(t, bool):
            return t
    return None


def decode_entry(value: object) -> ReceivedMessage | None:
    """The result a stored entry holds; None for a damaged or foreign entry (decrypt anew)."""
    if not isinstance(value, dict) or value.get("v") != 1:
        return None
    infos, decrypted = value.get("infos"), value.get("decrypted")
    if not isinstance(infos, list) or not isinstance(decrypted, list):
        return None
    try:
        messages = tuple(
            WebMessage.from_info(e2e_pb2.WebMessageInfo.FromString(_bytes(b))) for b in infos
        )
        parsed = tuple(e2e_pb2.Message.FromString(_bytes(b)) for b in decrypted)
    except (DecodeError, ValueError, RecursionError, RemoteProtocolError):
        return None
    return ReceivedMessage(
        messages=messages, decrypted=parsed, history_sync=value.get("history") is True
    )


def _bytes(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("not bytes")
    return value
