"""History sync, sans-IO: from the phone's notification to a typed ``HistorySet``.

Theory of operation. After a new login the phone sends the device its history as protocol
messages from our own account (``protocolMessage.historySyncNotification``); only a message
from our own account counts (the caller says ``from_me``), as both reference clients require.
The pipeline that decrypted the message hands it here:

1. ``history_notification(message, from_me=…)`` finds the notification (None otherwise);
   ``should_sync_history`` is the default gate (everything but FULL unless the user asked for
   full history) and ``is_processable`` the types a client processes at all. Whatever the gate
   says, the phone gets a ``hist_sync_receipt`` for every notification, or it uploads again.
2. ``history_source(notification, message_id)`` gives either the inline payload (the first
   chunk may travel inside the notification) or a ``HistoryDownload``: a request the I/O layer
   fulfils (this core never fetches). ``HistoryDownload.verify(data)`` runs the four media
   checks and decrypts (``walink.protocol.media``). A blob that cannot be had or fails its
   checks is answered with ``server_error_receipt``, which asks the phone to upload it again.
3. ``decode_history(compressed, max_size=…)`` inflates (zlib, streamed with a cap: more than
   ``max_size`` bytes is a ``RemoteProtocolError``, never an unbounded allocation) and parses the
   ``HistorySync``; ``history_set(sync, notification, is_latest=…)`` turns it into the event.
4. ``is_latest`` follows Baileys: True only for the first history notification ever processed
   on these credentials (``creds.processed_history_messages`` empty before it is recorded;
   ``record_processed`` appends the notification as Baileys does, except for ON_DEMAND).
5. ``HistoryStatusTracker`` is the completion logic as a pure object taking ``now``: complete on
   the first INITIAL_BOOTSTRAP chunk, on a RECENT notification with progress 100, or paused
   120 s after the last RECENT chunk.

App-state sync key shares travel the same way (``app_state_key_shares``). Every parser here
parses or raises ``RemoteProtocolError``.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError

from walink.protocol.binary import Jid, Node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.media import (
    HISTORY_KEYS_INFO,
    HISTORY_MMS_TYPE,
    MEDIA_KEY_SIZE,
    decrypt_media,
)
from walink.protocol.messages import MessageKey, WebMessage, normalize_content
from walink.protocol.proto import e2e_pb2

__all__ = [
    "DEFAULT_MAX_HISTORY_SIZE",
    "HISTORY_PAUSED_TIMEOUT",
    "MEDIA_RETRY_INFO",
    "AppStateKey",
    "HistoryChat",
    "HistoryContact",
    "HistoryDownload",
    "HistorySet",
    "HistoryStatus",
    "HistoryStatusTracker",
    "app_state_key_shares",
    "decode_history",
    "decrypt_server_error_receipt",
    "hist_sync_receipt",
    "history_notification",
    "history_set",
    "history_source",
    "inflate_history",
    "is_latest",
    "is_processable",
    "parse_history_sync",
    "record_processed",
    "server_error_receipt",
    "should_sync_history",
    "sync_type_name",
    "was_processed",
]

DEFAULT_MAX_HISTORY_SIZE: Final = 256 * 1024 * 1024
"""Largest inflated ``HistorySync`` accepted by default (bytes)."""
HISTORY_PAUSED_TIMEOUT: Final = 120.0
"""Seconds without a RECENT chunk after which the recent sync is reported paused."""
MEDIA_RETRY_INFO: Final = b"WhatsApp Media Retry Notification"
_INFLATE_STEP: Final = 64 * 1024
_SELF_ONLY_NOTE: Final = "only our own account may send it"

_Types = e2e_pb2.Message
# The types a client processes; the others (NO_HISTORY, MESSAGE_ACCESS_STATUS) are only acked.
_PROCESSABLE: Final = frozenset(
    {
        _Types.INITIAL_BOOTSTRAP,
        _Types.PUSH_NAME,
        _Types.RECENT,
        _Types.FULL,
        _Types.ON_DEMAND,
        _Types.NON_BLOCKING_DATA,
        _Types.INITIAL_STATUS_V3,
    }
)
# The types whose conversations become chats, contacts and messages (the others carry names or
# mappings only).
_WITH_CONVERSATIONS: Final = frozenset(
    {
        e2e_pb2.HistorySync.INITIAL_BOOTSTRAP,
        e2e_pb2.HistorySync.RECENT,
        e2e_pb2.HistorySync.FULL,
        e2e_pb2.HistorySync.ON_DEMAND,
    }
)


def sync_type_name(value: int) -> str:
    """The enum name of a history sync type (``"RECENT"``), or ``"UNKNOWN_<n>"``."""
    try:
        return e2e_pb2.Message.HistorySyncType.Name(value)
    except ValueError:
        return f"UNKNOWN_{value}"


# ---- finding the notification ---------------------------------------------------------------


def _protocol_message(
    message: e2e_pb2.Message | None, from_me: bool
) -> e2e_pb2.Message.ProtocolMessage | None:
    if not from_me:
        return None
    content = normalize_content(message)
    if content is None or not content.HasField("protocol_message"):
        return None
    return content.protocol_message


def history_notification(
    message: e2e_pb2.Message | None, *, from_me: bool
) -> e2e_pb2.Message.HistorySyncNotification | None:
    """The history notification a decrypted message carries, if any.

    ``from_me`` is whether the stanza came from our own account (the pipeline knows); from
    anyone else a notification is ignored (None): only our phone may send history.
    """
    protocol = _protocol_message(message, from_me)
    if protocol is None or not protocol.HasField("history_sync_notification"):
        return None
    return protocol.history_sync_notification


def should_sync_history(
    notification: e2e_pb2.Message.HistorySyncNotification, *, sync_full_history: bool = False
) -> bool:
    """The default gate: process every type but FULL, and FULL too with ``sync_full_history``."""
    return sync_full_history or notification.sync_type != e2e_pb2.Message.FULL


def is_processable(notification: e2e_pb2.Message.HistorySyncNotification) -> bool:
    """Whether a client processes this type at all (others are acked and nothing more)."""
    return notification.sync_type in _PROCESSABLE


# ---- where the chunk is ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryDownload:
    """A history blob to fetch from the media servers: the request the I/O layer fulfils."""

    message_id: str
    """The notification's message id (what a ``server_error_receipt`` names)."""
    direct_path: str
    media_key: bytes = field(repr=False)
    file_enc_sha256: bytes
    file_sha256: bytes
    file_length: int | None = None
    mms_type: str = HISTORY_MMS_TYPE

    def verify(self, data: bytes) -> bytes:
        """The four checks and the decryption of a downloaded blob: the compressed chunk.

        Raises a ``walink.protocol.media.MediaIntegrityError`` subclass naming the failed check.
        """
        return decrypt_media(
            data,
            media_key=self.media_key,
            file_enc_sha256=self.file_enc_sha256,
            file_sha256=self.file_sha256,
            info=HISTORY_KEYS_INFO,
        )


def history_source(
    notification: e2e_pb2.Message.HistorySyncNotification, message_id: str
) -> bytes | HistoryDownload:
    """The inline (compressed) payload when the notification has one, else what to download.

    ``RemoteProtocolError`` when it has neither a payload nor a complete blob reference.
    """
    if notification.initial_hist_bootstrap_inline_payload:
        return notification.initial_hist_bootstrap_inline_payload
    missing = [
        name
        for name in ("direct_path", "media_key", "file_enc_sha256", "file_sha256")
        if not getattr(notification, name)
    ]
    if missing:
        raise RemoteProtocolError(f"history notification without {', '.join(missing)}")
    for name in ("file_enc_sha256", "file_sha256"):
        if len(getattr(notification, name)) != 32:
            raise RemoteProtocolError(f"history notification {name} is not 32 bytes")
    if len(notification.media_key) != MEDIA_KEY_SIZE:
        raise RemoteProtocolError("history notification media key is not 32 bytes")
    return HistoryDownload(
        message_id=message_id,
        direct_path=notification.direct_path,
        media_key=notification.media_key,
        file_enc_sha256=notification.file_enc_sha256,
        file_sha256=notification.file_sha256,
        file_length=notification.file_length if notification.HasField("file_length") else None,
    )


# ---- inflate and parse ----------------------------------------------------------------------


def inflate_history(compressed: bytes, *, max_size: int = DEFAULT_MAX_HISTORY_SIZE) -> bytes:
    """Inflate one complete zlib stream, never to more than ``max_size`` bytes.

    The input is fed in slices, each inflated with zlib's ``max_length`` set to what the cap
    still allows (plus one byte to notice going over): a blob that would inflate past the cap
    is refused (``RemoteProtocolError``) without ever holding more than ``max_size`` + 1 bytes.
    """
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    size = 0
    view = memoryview(compressed)
    try:
        for start in range(0, len(view), _INFLATE_STEP):
            room = max_size - size
            chunk = inflater.decompress(view[start : start + _INFLATE_STEP], room + 1)
            size += len(chunk)
            # output stopped at max_length with input left over: more would have followed
            if size > max_size or inflater.unconsumed_tail:
                raise RemoteProtocolError(f"history chunk inflates past {max_size} bytes")
            parts.append(chunk)
            if inflater.eof:
                break
        tail = inflater.flush(max_size - size + 1)
        size += len(tail)
        if size > max_size:
            raise RemoteProtocolError(f"history chunk inflates past {max_size} bytes")
        parts.append(tail)
    except zlib.error as error:
        raise RemoteProtocolError(f"history chunk is not valid zlib: {error}") from None
    if not inflater.eof:
        raise RemoteProtocolError("history chunk ends before its zlib stream does")
    if inflater.unused_data:
        raise RemoteProtocolError("history chunk has bytes after its zlib stream")
    return b"".join(parts)


def parse_history_sync(data: bytes) -> e2e_pb2.HistorySync:
    """Parse an inflated ``HistorySync``; ``RemoteProtocolError`` for malformed bytes."""
    try:
        return e2e_pb2.HistorySync.FromString(data)
    except (DecodeError, RecursionError) as error:
        raise RemoteProtocolError(f"malformed HistorySync: {error}") from None


def decode_history(
    compressed: bytes, *, max_size: int = DEFAULT_MAX_HISTORY_SIZE
) -> e2e_pb2.HistorySync:
    """Inflate (with the cap) and parse a chunk: the inline payload or a verified blob."""
    return parse_history_sync(inflate_history(compressed, max_size=max_size))


# ---- the event ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryChat:
    """A chat of a history chunk (Baileys' ``Chat``, the fields a bot reads)."""

    id: str
    name: str | None = None
    unread_count: int | None = None
    archived: bool = False
    pinned: int | None = None
    mute_end_time: int | None = None
    conversation_timestamp: int | None = None
    last_message_recv_timestamp: int | None = None
    """The timestamp of the chat's newest message from someone else."""
    ephemeral_expiration: int | None = None
    newest_message: WebMessage | None = None
    """The chat's newest message (Baileys keeps only this one in ``chat.messages``)."""


@dataclass(frozen=True, slots=True)
class HistoryContact:
    """A contact of a history chunk (Baileys' ``Contact``)."""

    id: str
    name: str | None = None
    """The name saved on the phone (a conversation's display name)."""
    notify: str | None = None
    """The push name the contact chose (PUSH_NAME chunks)."""
    lid: str | None = None
    phone_number: str | None = None
    username: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HistorySet:
    """One history chunk, as Baileys' ``messaging-history.set``.

    ``messages`` are every message of every conversation, in chunk order; ``is_latest`` is
    Baileys' flag: True only for the first history notification ever processed on these
    credentials (not "the newest chunk"), False for ON_DEMAND; ``sync_type`` is the enum name
    (``"INITIAL_BOOTSTRAP"``, ``"RECENT"``…); ``progress`` comes from the chunk and
    ``chunk_order`` from the notification.
    """

    chats: tuple[HistoryChat, ...]
    contacts: tuple[HistoryContact, ...]
    messages: tuple[WebMessage, ...]
    lid_pn_mappings: tuple[tuple[str, str], ...]
    """``(lid, pn)`` pairs the chunk revealed."""
    is_latest: bool
    progress: int | None
    sync_type: str
    chunk_order: int | None
    peer_data_request_session_id: str | None = None


def _optional_str(message: object, name: str) -> str | None:
    value = getattr(message, name)
    return value if isinstance(value, str) and value else None


def _jid_server(jid: str) -> str:
    return jid.rpartition("@")[2]


def _chat(conversation: e2e_pb2.Conversation, messages: list[WebMessage]) -> HistoryChat:
    received = next((m.timestamp for m in messages if not m.key.from_me), None)
    return HistoryChat(
        id=conversation.id,
        name=_optional_str(conversation, "name"),
        unread_count=conversation.unread_count if conversation.HasField("unread_count") else None,
        archived=conversation.archived,
        pinned=conversation.pinned if conversation.HasField("pinned") else None,
        mute_end_time=(
            conversation.mute_end_time if conversation.HasField("mute_end_time") else None
        ),
        conversation_timestamp=(
            conversation.conversation_timestamp
            if conversation.HasField("conversation_timestamp")
            else None
        ),
        last_message_recv_timestamp=received,
        ephemeral_expiration=(
            conversation.ephemeral_expiration
            if conversation.HasField("ephemeral_expiration")
            else None
        ),
        newest_message=messages[0] if messages else None,
    )


def history_set(
    sync: e2e_pb2.HistorySync,
    notification: e2e_pb2.Message.HistorySyncNotification,
    *,
    is_latest: bool,
) -> HistorySet:
    """The event for one parsed chunk (``RemoteProtocolError`` for a conversation or message
    without an id). ``is_latest`` is ``is_latest(creds.processed_history_messages)`` read before
    this notification is recorded; it is reported False for ON_DEMAND."""
    chats: list[HistoryChat] = []
    contacts: list[HistoryContact] = []
    messages: list[WebMessage] = []
    mappings: list[tuple[str, str]] = [
        (m.lid_jid, m.pn_jid) for m in sync.phone_number_to_lid_mappings if m.lid_jid and m.pn_jid
    ]
    if sync.sync_type in _WITH_CONVERSATIONS:
        for conversation in sync.conversations:
            if not conversation.id:
                raise RemoteProtocolError("history conversation without an id")
            chat_id = conversation.id
            pn = _optional_str(conversation, "pn_jid")
            lid = _optional_str(conversation, "lid_jid")
            contacts.append(
                HistoryContact(
                    id=chat_id,
                    name=_optional_str(conversation, "display_name")
                    or _optional_str(conversation, "name")
                    or _optional_str(conversation, "username"),
                    lid=lid,
                    phone_number=pn,
                    username=_optional_str(conversation, "username"),
                )
            )
            server = _jid_server(chat_id)
            if server in ("lid", "hosted.lid") and pn:
                mappings.append((chat_id, pn))
            elif server in ("s.whatsapp.net", "hosted") and lid:
                mappings.append((lid, chat_id))
            chat_messages = [
                WebMessage.from_info(item.message, chat_id)
                for item in conversation.messages
                if item.HasField("message")
            ]
            messages.extend(chat_messages)
            chats.append(_chat(conversation, chat_messages))
    elif sync.sync_type == e2e_pb2.HistorySync.PUSH_NAME:
        for pushname in sync.pushnames:
            if not pushname.id:
                raise RemoteProtocolError("history push name without an id")
            contacts.append(
                HistoryContact(id=pushname.id, notify=_optional_str(pushname, "pushname"))
            )
    on_demand = notification.sync_type == e2e_pb2.Message.ON_DEMAND
    return HistorySet(
        chats=tuple(chats),
        contacts=tuple(contacts),
        messages=tuple(messages),
        lid_pn_mappings=tuple(mappings),
        is_latest=is_latest and not on_demand,
        progress=sync.progress if sync.HasField("progress") else None,
        sync_type=sync_type_name(sync.sync_type),
        chunk_order=notification.chunk_order if notification.HasField("chunk_order") else None,
        peer_data_request_session_id=_optional_str(notification, "peer_data_request_session_id"),
    )


# ---- processedHistoryMessages ---------------------------------------------------------------


def is_latest(processed_history_messages: Sequence[object]) -> bool:
    """Baileys' ``isLatest``: no history notification was processed on these creds before."""
    return not processed_history_messages


def _key_json(key: MessageKey) -> dict[str, object]:
    data: dict[str, object] = {"remoteJid": key.remote_jid, "fromMe": key.from_me, "id": key.id}
    if key.participant is not None:
        data["participant"] = key.participant
    return data


def record_processed(
    processed_history_messages: Sequence[object],
    key: MessageKey,
    timestamp: int,
    notification: e2e_pb2.Message.HistorySyncNotification,
) -> tuple[object, ...]:
    """``creds.processed_history_messages`` after processing this notification: Baileys'
    ``{key, messageTimestamp}`` appended, except for ON_DEMAND (left unchanged)."""
    existing = tuple(processed_history_messages)
    if notification.sync_type == e2e_pb2.Message.ON_DEMAND:
        return existing
    return (*existing, {"key": _key_json(key), "messageTimestamp": timestamp})


def was_processed(processed_history_messages: Iterable[object], key: MessageKey) -> bool:
    """Whether the notification with ``key`` is already recorded (after a crash and a
    redelivery, it must not be published twice)."""
    for entry in processed_history_messages:
        if not isinstance(entry, dict):
            continue
        stored = entry.get("key")
        if (
            isinstance(stored, dict)
            and stored.get("id") == key.id
            and stored.get("remoteJid") == key.remote_jid
        ):
            return True
    return False


# ---- completion -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryStatus:
    """Baileys' ``messaging-history.status``: a sync type is complete, or paused."""

    sync_type: str
    status: Literal["complete", "paused"]
    explicit: bool
    """True when the phone said so (a chunk); False for the 120 s pause."""


class HistoryStatusTracker:
    """When each kind of history sync is done, as a pure object (no clock of its own).

    Feed every processed notification to ``on_notification(notification, now)``; ask
    ``next_deadline()`` when to call ``handle_timeout(now)`` for the pause.
    """

    def __init__(self, *, paused_timeout: float = HISTORY_PAUSED_TIMEOUT) -> None:
        self._paused_timeout = paused_timeout
        self._bootstrap_complete = False
        self._recent_complete = False
        self._pause_at: float | None = None

    def on_notification(
        self, notification: e2e_pb2.Message.HistorySyncNotification, now: float
    ) -> list[HistoryStatus]:
        """The statuses this notification settles (usually none)."""
        statuses: list[HistoryStatus] = []
        kind = notification.sync_type
        if kind == e2e_pb2.Message.INITIAL_BOOTSTRAP and not self._bootstrap_complete:
            self._bootstrap_complete = True
            statuses.append(HistoryStatus("INITIAL_BOOTSTRAP", "complete", explicit=True))
        if kind == e2e_pb2.Message.RECENT and not self._recent_complete:
            if notification.progress == 100:
                self._recent_complete = True
                self._pause_at = None
                statuses.append(HistoryStatus("RECENT", "complete", explicit=True))
            else:
                self._pause_at = now + self._paused_timeout
        return statuses

    def next_deadline(self) -> float | None:
        """When the recent sync would be reported paused (None: nothing pending)."""
        return self._pause_at

    def handle_timeout(self, now: float) -> list[HistoryStatus]:
        """The pause, once its deadline has passed."""
        if self._pause_at is None or now < self._pause_at:
            return []
        self._pause_at = None
        self._recent_complete = True
        return [HistoryStatus("RECENT", "paused", explicit=False)]


# ---- receipts -------------------------------------------------------------------------------


def _own_user_jid(own_jid: str) -> str:
    try:
        jid = Jid.parse(own_jid)
    except ValueError as error:
        raise LocalProtocolError(f"not our JID: {error}") from None
    return str(Jid(jid.user, jid.server))


def hist_sync_receipt(message_id: str, own_jid: str) -> Node:
    """``<receipt id to=<own JID without device> type="hist_sync"/>``: sent for every history
    notification, processed or not (otherwise the phone uploads it again)."""
    return Node("receipt", {"id": message_id, "to": _own_user_jid(own_jid), "type": "hist_sync"})


def _retry_key(media_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MEDIA_RETRY_INFO).derive(
        media_key
    )


def server_error_receipt(message_id: str, own_jid: str, media_key: bytes, iv: bytes) -> Node:
    """The receipt asking the phone to upload a history blob again (gone, or failed a check).

    ``enc_p`` is AES-256-GCM of ``ServerErrorReceipt{stanzaId}`` under HKDF(mediaKey, "WhatsApp
    Media Retry Notification"), with the message id as associated data; ``iv`` is 12 random
    bytes the caller draws from its rng.
    """
    if len(iv) != 12:
        raise LocalProtocolError("the server-error receipt IV is 12 bytes")
    if len(media_key) != MEDIA_KEY_SIZE:
        raise LocalProtocolError("a media key is 32 bytes")
    plaintext = e2e_pb2.ServerErrorReceipt(stanza_id=message_id).SerializeToString()
    sealed = AESGCM(_retry_key(media_key)).encrypt(iv, plaintext, message_id.encode("utf-8"))
    encrypt = Node("encrypt", {}, [Node("enc_p", {}, sealed), Node("enc_iv", {}, iv)])
    attrs = {
        "id": message_id,
        "type": "server-error",
        "to": _own_user_jid(own_jid),
        "category": "peer",
    }
    return Node("receipt", attrs, [encrypt])


def decrypt_server_error_receipt(receipt: Node, media_key: bytes) -> str:
    """The stanza id a ``server-error`` receipt names (the phone's side, for the emulator);
    ``RemoteProtocolError`` when it does not decrypt."""
    from cryptography.exceptions import InvalidTag

    encrypt = receipt.child("encrypt")
    sealed = encrypt.child("enc_p") if encrypt is not None else None
    iv = encrypt.child("enc_iv") if encrypt is not None else None
    message_id = receipt.attr("id") or ""
    if sealed is None or iv is None:
        raise RemoteProtocolError("server-error receipt without enc_p and enc_iv")
    sealed_bytes, iv_bytes = _bytes(sealed), _bytes(iv)
    if len(iv_bytes) != 12 or len(media_key) != MEDIA_KEY_SIZE:
        raise RemoteProtocolError("server-error receipt with a bad IV")
    try:
        plaintext = AESGCM(_retry_key(media_key)).decrypt(
            iv_bytes, sealed_bytes, message_id.encode("utf-8")
        )
        return e2e_pb2.ServerErrorReceipt.FromString(plaintext).stanza_id
    except (InvalidTag, DecodeError):
        raise RemoteProtocolError("server-error receipt does not decrypt") from None


def _bytes(node: Node) -> bytes:
    content = node.content
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    return b""


# ---- app-state sync keys --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppStateKey:
    """One app-state sync key the phone shared, stored under ``store_id`` in the key store's
    ``app-state-sync-key`` type. The fields are those of ``walink.auth.model``'s
    ``AppStateSyncKeyData`` and its fingerprint (the protocol core does not import the auth
    package, so the session makes that value)."""

    key_id: bytes
    key_data: bytes = field(repr=False)
    raw_id: int | None = None
    current_index: int | None = None
    device_indexes: tuple[int, ...] = ()
    timestamp: int | None = None

    @property
    def store_id(self) -> str:
        """The id it is stored under (``app-state-sync-key`` type): base64 of the key id."""
        return base64.b64encode(self.key_id).decode("ascii")


def app_state_key_shares(
    message: e2e_pb2.Message | None, *, from_me: bool
) -> tuple[AppStateKey, ...]:
    """The app-state sync keys a message from our own account shares (empty otherwise);
    ``RemoteProtocolError`` for a shared key without an id or data."""
    protocol = _protocol_message(message, from_me)
    if protocol is None or not protocol.HasField("app_state_sync_key_share"):
        return ()
    keys: list[AppStateKey] = []
    for key in protocol.app_state_sync_key_share.keys:
        if not key.key_id.key_id or not key.key_data.key_data:
            raise RemoteProtocolError("shared app-state key without an id or data")
        data = key.key_data
        fingerprint = data.fingerprint if data.HasField("fingerprint") else None
        keys.append(
            AppStateKey(
                key_id=key.key_id.key_id,
                key_data=data.key_data,
                raw_id=(
                    fingerprint.raw_id
                    if fingerprint is not None and fingerprint.HasField("raw_id")
                    else None
                ),
                current_index=(
                    fingerprint.current_index
                    if fingerprint is not None and fingerprint.HasField("current_index")
                    else None
                ),
                device_indexes=tuple(fingerprint.device_indexes) if fingerprint else (),
                timestamp=data.timestamp if data.HasField("timestamp") else None,
            )
        )
    return tuple(keys)
