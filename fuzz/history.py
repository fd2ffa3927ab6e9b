"""Fuzz target: history sync's parsers, from a decrypted ``Message`` to the ``HistorySet``.

Invariant (docs/protocol/architecture.md#sans-io): arbitrary bytes are parsed or raise
``RemoteProtocolError``; nothing else escapes. Byte 0 chooses what the rest is:

- 0: a compressed chunk: ``decode_history`` (zlib with a small cap, then ``HistorySync``) and
  ``history_set``; what inflates must stay within the cap;
- 1: a ``Message`` from our own account: ``parse_message``, then the notification, its source
  (inline payload or download request) and the app-state key shares;
- 2: a downloaded blob for a fixed notification: the four media checks (``HistoryDownload.verify``).

Run: ``python fuzz/history.py -max_total_time=60`` (atheris; see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import zlib

from _atheris import fuzz, instrumented

with instrumented(__name__):
    from walink.protocol.errors import RemoteProtocolError
    from walink.protocol.history import (
        app_state_key_shares,
        decode_history,
        history_notification,
        history_set,
        history_source,
    )
    from walink.protocol.messages import parse_message
    from walink.protocol.proto import e2e_pb2
    from walink.testing.history import encrypted_blob

CAP = 64 * 1024
"""The inflate cap of the target: small, so that bombs hit it fast."""
_MEDIA_KEY = bytes(range(32))


def _sample_sync() -> bytes:
    sync = e2e_pb2.HistorySync(
        sync_type=e2e_pb2.HistorySync.RECENT,
        progress=50,
        conversations=[
            e2e_pb2.Conversation(
                id="15550002222@s.whatsapp.net",
                name="Alice",
                messages=[
                    e2e_pb2.HistorySyncMsg(
                        message=e2e_pb2.WebMessageInfo(
                            key=e2e_pb2.MessageKey(
                                remote_jid="15550002222@s.whatsapp.net", id="M1"
                            ),
                            message=e2e_pb2.Message(conversation="hi"),
                            message_timestamp=1,
                        )
                    )
                ],
            )
        ],
        pushnames=[e2e_pb2.Pushname(id="15550002222@s.whatsapp.net", pushname="A")],
    )
    return sync.SerializeToString()


_REQUEST, _BLOB = encrypted_blob(
    zlib.compress(_sample_sync()), _MEDIA_KEY, message_id="N1", direct_path="/v/x.enc"
)


def _chunk(data: bytes) -> None:
    try:
        sync = decode_history(data, max_size=CAP)
    except RemoteProtocolError:
        return
    assert sync.ByteSize() <= CAP
    notification = e2e_pb2.Message.HistorySyncNotification()
    notification.sync_type = int(sync.sync_type)  # type: ignore[assignment]  # same numbers
    try:
        history_set(sync, notification, is_latest=True)
    except RemoteProtocolError:
        return


def _message(data: bytes) -> None:
    try:
        message = parse_message(data)
    except RemoteProtocolError:
        return
    notification = history_notification(message, from_me=True)
    if notification is not None:
        with contextlib.suppress(RemoteProtocolError):
            history_source(notification, "ID")
    try:
        app_state_key_shares(message, from_me=True)
    except RemoteProtocolError:
        return


def _blob(data: bytes) -> None:
    # the hash check alone would stop almost everything: let the fuzzer past it half the time
    request = _REQUEST
    if data[:1] == b"\x01":
        data = data[1:]
        request = dataclasses.replace(_REQUEST, file_enc_sha256=hashlib.sha256(data).digest())
    try:
        request.verify(data)
    except RemoteProtocolError:
        return


def target(data: bytes) -> None:
    """One input: byte 0 picks the parser (see the module docstring)."""
    if not data:
        return
    mode, rest = data[0] % 3, data[1:]
    (_chunk, _message, _blob)[mode](rest)


def seeds() -> list[bytes]:
    """Valid inputs of each mode."""
    notification = e2e_pb2.Message.HistorySyncNotification(
        sync_type=e2e_pb2.Message.RECENT,
        direct_path="/v/x.enc",
        media_key=_MEDIA_KEY,
        file_enc_sha256=_REQUEST.file_enc_sha256,
        file_sha256=_REQUEST.file_sha256,
    )
    message = e2e_pb2.Message(
        protocol_message=e2e_pb2.Message.ProtocolMessage(
            type=e2e_pb2.Message.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
            history_sync_notification=notification,
        )
    )
    return [
        b"\x00" + zlib.compress(_sample_sync()),
        b"\x01" + message.SerializeToString(),
        b"\x02" + _BLOB,
        b"\x02\x01" + _BLOB,
    ]


if __name__ == "__main__":
    fuzz("history", target, seeds)
