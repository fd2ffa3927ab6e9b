"""The job workers' outcomes as capture data: what a ``message_processed``,
``message_failed``, ``history_downloaded`` or ``history_download_failed`` command line holds,
and the values replay hands the session back.

Theory of operation
-------------------
The session reads little of an outcome: of a processed message, the two flags and, for a peer
message from our own phone, the decrypted ``Message`` of each ``<enc>`` (its history sync
notification and app-state key shares); of a downloaded chunk, the ``HistorySync`` it turns into
a ``HistoryReceived``; of an error, whether it is the remote side's (``RemoteProtocolError``: a
stub and a retry receipt), a lost device lease, or anything else (the store's: the session
stops), and its text. So that is what a capture keeps.

Unredacted, the decrypted messages and the chunk are kept whole (serialized protobuf, base64):
replay gets exactly the live values. Redacted (the default), message plaintext and keys never
reach the file; a placeholder of the same shape stands in for each, so the session takes the
same decisions and publishes events that encode the same:

- of a decrypted ``Message`` only its protocol message's history sync notification and app-state
  key shares are kept (nothing a user wrote): a notification's media key becomes zero bytes of
  the same length, its inline payload the redacted chunk (re-compressed); a shared key's data
  zero bytes of the same length (its id, fingerprint and timestamp stay);
- of a ``HistorySync`` the type, order, progress, every JID (conversation ids, phone numbers and
  LIDs, push-name ids, the PN/LID mappings) and every message's key and timestamp are kept; names,
  message contents and the rest are dropped. The counts a ``HistoryReceived`` reports and the LID
  mappings it saves are therefore the same.

What depended on a redacted secret cannot be reproduced: a ``server-error`` receipt is encrypted
with the media key (replay's is encrypted with the placeholder), an inline chunk the session
could not read is replaced by zero bytes (refused at replay too, perhaps for another reason),
and a processor result is replayed as a ``ReplayedResult`` (the decrypted messages only), never
as the live object.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from walink._capture.format import CaptureFormatError, exception_from_json
from walink.auth.errors import LeaseLostError
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.history import DEFAULT_MAX_HISTORY_SIZE, decode_history
from walink.protocol.messages import normalize_content
from walink.protocol.proto import e2e_pb2
from walink.session import ProcessedMessage

__all__ = [
    "ReplayedError",
    "ReplayedResult",
    "decode_error",
    "decode_processed",
    "decode_sync",
    "encode_error",
    "encode_processed",
    "encode_sync",
    "redact_message",
    "redact_sync",
]

_Message = e2e_pb2.Message
_M = TypeVar("_M", bound=ProtoMessage)


@runtime_checkable
class _Decrypted(Protocol):
    """A processor result that carries the decrypted ``Message`` of each ``<enc>`` (the Signal
    processor's ``ReceivedMessage``): what the session's history part reads."""

    @property
    def decrypted(self) -> tuple[e2e_pb2.Message, ...] | list[e2e_pb2.Message]: ...


@dataclass(frozen=True, slots=True)
class ReplayedResult:
    """What replay hands the session as a processed message's result: the decrypted messages the
    capture kept (placeholders in a redacted capture), or None when the live result had none."""

    decrypted: tuple[e2e_pb2.Message, ...]


class ReplayedError(Exception):
    """A job's error of a class replay cannot rebuild: the same text, its class's name kept."""

    def __init__(self, recorded_class: str, text: str) -> None:
        super().__init__(text)
        self.recorded_class = recorded_class


# -- errors ------------------------------------------------------------------------------------


def encode_error(error: BaseException | str) -> dict[str, Any]:
    """A job's error: its class, text, and who is to blame as the session tells them apart
    (``"remote"``: the message's or the blob's; ``"lease"``: the device lease is lost;
    ``"local"``: anything else, the store's)."""
    if isinstance(error, str):
        return {"blame": "local", "class": "str", "text": error}
    if isinstance(error, RemoteProtocolError):
        blame = "remote"
    elif isinstance(error, LeaseLostError):
        blame = "lease"
    else:
        blame = "local"
    return {"blame": blame, "class": type(error).__name__, "text": str(error)}


def decode_error(data: object, line: int) -> Exception:
    """The error ``encode_error`` wrote, of a class the session classifies the same way."""
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise CaptureFormatError(f"line {line}: 'error' must be an object with a 'text'")
    blame, text = data.get("blame"), data["text"]
    if blame == "remote":
        return RemoteProtocolError(text)
    if blame == "lease":
        return LeaseLostError(text)
    if blame == "local":
        name = str(data.get("class", ""))
        rebuilt = exception_from_json(name, text)
        # the same class when replay can make it, never the remote side's by accident (the
        # live session took it for the store's), and always the same text (events show it)
        if (
            type(rebuilt).__name__ == name
            and str(rebuilt) == text  # KeyError quotes its argument: not the same text
            and not isinstance(rebuilt, RemoteProtocolError)
        ):
            return rebuilt
        return ReplayedError(name, text)
    raise CaptureFormatError(f"line {line}: unknown error blame {blame!r}")


# -- processed messages ------------------------------------------------------------------------


def encode_processed(
    processed: ProcessedMessage, *, redact: bool, max_size: int = DEFAULT_MAX_HISTORY_SIZE
) -> dict[str, Any]:
    """The ``message_processed`` command's fields (but its token); ``max_size``: the session's
    cap on an inflated history chunk (``redact_message``)."""
    result = processed.result
    decrypted: list[str] | None = None
    if isinstance(result, _Decrypted):
        messages = [redact_message(m, max_size) if redact else m for m in result.decrypted]
        decrypted = [_b64(m) for m in messages]
    return {
        "redelivered": processed.redelivered,
        "history_sync": processed.history_sync,
        "decrypted": decrypted,
    }


def decode_processed(data: Mapping[str, Any], line: int) -> ProcessedMessage:
    """The ``ProcessedMessage`` replay reports for a ``message_processed`` line."""
    redelivered, history_sync = data.get("redelivered"), data.get("history_sync")
    if not isinstance(redelivered, bool) or not isinstance(history_sync, bool):
        raise CaptureFormatError(
            f"line {line}: 'redelivered' and 'history_sync' must be true or false"
        )
    raw = data.get("decrypted")
    decrypted: tuple[e2e_pb2.Message, ...] | None = None
    if raw is not None:
        if not isinstance(raw, list):
            raise CaptureFormatError(f"line {line}: 'decrypted' must be a list or null")
        decrypted = tuple(_parse(_Message, item, line) for item in raw)
    result = None if decrypted is None else ReplayedResult(decrypted)
    return ProcessedMessage(result=result, redelivered=redelivered, history_sync=history_sync)


# -- history chunks ----------------------------------------------------------------------------


def encode_sync(sync: e2e_pb2.HistorySync, *, redact: bool) -> str:
    """A downloaded chunk (redacted: ``redact_sync``), serialized, base64."""
    return _b64(redact_sync(sync) if redact else sync)


def decode_sync(data: object, line: int) -> e2e_pb2.HistorySync:
    return _parse(e2e_pb2.HistorySync, data, line)


def redact_sync(sync: e2e_pb2.HistorySync) -> e2e_pb2.HistorySync:
    """``sync`` without names or message contents: its type, order, progress, JIDs, and each
    message's key and timestamp (see the module's docstring)."""
    out = e2e_pb2.HistorySync(sync_type=sync.sync_type)
    for name in ("chunk_order", "progress"):
        if sync.HasField(name):
            setattr(out, name, getattr(sync, name))
    for mapping in sync.phone_number_to_lid_mappings:
        out.phone_number_to_lid_mappings.add().CopyFrom(mapping)
    for conversation in sync.conversations:
        kept = out.conversations.add()
        for name in ("id", "pn_jid", "lid_jid"):
            if conversation.HasField(name):
                setattr(kept, name, getattr(conversation, name))
        for item in conversation.messages:
            message = kept.messages.add()
            if item.HasField("message"):
                info = item.message
                message.message.SetInParent()
                if info.HasField("key"):
                    message.message.key.CopyFrom(info.key)
                if info.HasField("message_timestamp"):
                    message.message.message_timestamp = info.message_timestamp
    for pushname in sync.pushnames:
        entry = out.pushnames.add()
        if pushname.HasField("id"):
            entry.id = pushname.id
    return out


def redact_message(
    message: e2e_pb2.Message, max_size: int = DEFAULT_MAX_HISTORY_SIZE
) -> e2e_pb2.Message:
    """Only what the session reads of a decrypted ``Message`` (see the module's docstring). An
    inline chunk is redacted if it can be read within ``max_size`` (the session's cap); one the
    session cannot read either becomes zero bytes of the same length, which replay's session
    refuses too (the refusal's text may differ: the event then differs from the recording)."""
    content = normalize_content(message)
    out = _Message()
    if content is None or not content.HasField("protocol_message"):
        return out
    protocol = content.protocol_message
    kept = out.protocol_message
    if protocol.HasField("type"):
        kept.type = protocol.type
    if protocol.HasField("history_sync_notification"):
        notification = kept.history_sync_notification
        notification.CopyFrom(protocol.history_sync_notification)
        if notification.HasField("media_key"):
            notification.media_key = bytes(len(notification.media_key))
        if notification.HasField("initial_hist_bootstrap_inline_payload"):
            notification.initial_hist_bootstrap_inline_payload = _redact_payload(
                notification.initial_hist_bootstrap_inline_payload, max_size
            )
    if protocol.HasField("app_state_sync_key_share"):
        share = kept.app_state_sync_key_share
        share.CopyFrom(protocol.app_state_sync_key_share)
        for key in share.keys:
            if key.key_data.HasField("key_data"):
                key.key_data.key_data = bytes(len(key.key_data.key_data))
    return out


def _redact_payload(payload: bytes, max_size: int) -> bytes:
    try:
        sync = decode_history(payload, max_size=max_size)
    except RemoteProtocolError:
        # not a chunk the session could read either (malformed, or past the cap): it is refused
        # at replay too, though perhaps with another reason than the live one
        return bytes(len(payload))
    return zlib.compress(redact_sync(sync).SerializeToString())


# -- helpers -----------------------------------------------------------------------------------


def _b64(message: ProtoMessage) -> str:
    return base64.b64encode(message.SerializeToString()).decode("ascii")


def _parse(kind: type[_M], data: object, line: int) -> _M:
    if not isinstance(data, str):
        raise CaptureFormatError(f"line {line}: a {kind.__name__} must be a base64 string")
    try:
        return kind.FromString(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError, DecodeError, RecursionError):
        raise CaptureFormatError(f"line {line}: not a valid {kind.__name__}") from None
