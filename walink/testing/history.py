"""The emulator phone's history: a fixture, its encoding as the phone sends it, and the blob store.

Theory of operation. After a new login a phone sends the device its history as protocol
messages from its own account (``protocolMessage.historySyncNotification``). This module builds
those messages from a ``HistoryFixture`` (chats with messages, push names), the way a phone does:

- the first chunk, INITIAL_BOOTSTRAP, travels inline in its notification (zlib-deflated
  ``HistorySync`` in ``initialHistBootstrapInlinePayload``: no download, no media crypto);
- RECENT chunks are encrypted blobs (the exact media encryption: AES-256-CBC with a 10-byte MAC,
  keys from HKDF "WhatsApp History Keys") put in a ``BlobStore``, which the emulator serves on
  its own port under ``/mms/``; the notification carries the blob's URL as its direct path,
  the hashes and the media key, with ``progress`` reaching 100 on the last chunk;
- PUSH_NAME carries the contacts' push names (inline by default, so clients that fetch blobs
  only from the real media host still get them).

``plan_history(fixture, rng=…, blobs=…, blob_url=…, faults=…)`` returns the notifications in
send order (``PlannedNotification``: the message id and the ``Message`` to encrypt and send to
the device from the phone). Faults on demand: a RECENT blob missing (404), corrupt (a flipped
byte: the download's hash check fails), truncated (the body stops before its Content-Length),
or a chunk whose notification never comes (the client then reports the sync paused). A
``server-error`` receipt naming a notification is how a client asks for the blob again:
``BlobStore.reupload(message_id)`` restores it, as a phone re-uploading would.

Every message key in a fixture is unique by chat, id and sender (clients drop duplicates):
``HistoryFixture.validate`` checks it, and ``plan_history`` calls it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.history import HistoryDownload, decrypt_server_error_receipt
from walink.protocol.media import HISTORY_KEYS_INFO, encrypt_media
from walink.protocol.proto import e2e_pb2

__all__ = [
    "BLOB_PREFIX",
    "BlobResponse",
    "BlobStore",
    "FixtureChat",
    "FixtureMessage",
    "HistoryFaults",
    "HistoryFixture",
    "PlannedNotification",
    "PushName",
    "default_fixture",
    "encode_history_sync",
    "generated_fixture",
    "history_stanza",
    "history_sync_of",
    "notification_message",
    "plan_history",
]

Rng = Callable[[int], bytes]

BLOB_PREFIX = "/mms"
"""Where the emulator serves history blobs on its own port."""
BASE_TIME = 1_700_000_000
_Message = e2e_pb2.Message


# ---- the fixture -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FixtureMessage:
    """One text message of a chat. ``participant`` is the sender in a group (None in 1:1)."""

    id: str
    text: str
    timestamp: int
    from_me: bool = False
    participant: str | None = None
    push_name: str | None = None


@dataclass(frozen=True, slots=True)
class FixtureChat:
    """A chat and its messages, newest first (as history chunks list them)."""

    id: str
    name: str | None = None
    messages: tuple[FixtureMessage, ...] = ()
    unread_count: int = 0
    archived: bool = False


@dataclass(frozen=True, slots=True)
class PushName:
    """A contact's push name (the name they chose)."""

    id: str
    push_name: str


@dataclass(frozen=True, slots=True)
class HistoryFixture:
    """What the phone sends: the bootstrap chats (inline), RECENT chunks (blobs), push names."""

    bootstrap: tuple[FixtureChat, ...]
    recent: tuple[tuple[FixtureChat, ...], ...] = ()
    """One tuple of chats per RECENT chunk (older messages of the same or other chats)."""
    push_names: tuple[PushName, ...] = ()
    inline_push_names: bool = True
    """PUSH_NAME inline (True) or as a blob like RECENT chunks."""
    lid_mappings: tuple[tuple[str, str], ...] = ()
    """``(lid, phone number)`` JID pairs the bootstrap names (``phoneNumberToLidMappings``)."""

    def chats(self) -> Iterable[FixtureChat]:
        """Every chat entry of every chunk."""
        yield from self.bootstrap
        for chunk in self.recent:
            yield from chunk

    def message_count(self) -> int:
        return sum(len(chat.messages) for chat in self.chats())

    def validate(self) -> None:
        """``ValueError`` unless every message id is unique within its chat (so every key, by
        chat, id and sender, is unique too)."""
        seen: set[tuple[str, str]] = set()
        for chat in self.chats():
            for message in chat.messages:
                key = (chat.id, message.id)
                if key in seen:
                    raise ValueError(f"duplicate message key in the history fixture: {key}")
                seen.add(key)


def default_fixture(base_time: int = BASE_TIME) -> HistoryFixture:
    """The built-in history: four chats (two people, a group, a LID chat) with messages in the
    bootstrap, two RECENT chunks of older messages, the contacts' push names, and the phone
    number of Dana (the LID chat)."""
    alice = "15550002222@s.whatsapp.net"
    bob = "15550003333@s.whatsapp.net"
    carol = "15550004444@s.whatsapp.net"
    group = "120363000000000001@g.us"
    lid = "100000000000001@lid"
    t = base_time

    def m(
        msg_id: str, text: str, at: int, from_me: bool = False, participant: str | None = None
    ) -> FixtureMessage:
        return FixtureMessage(msg_id, text, t + at, from_me=from_me, participant=participant)

    bootstrap = (
        FixtureChat(
            alice,
            "Alice",
            (
                m("3EB0A1000003", "see you tomorrow", 300),
                m("3EB0A1000002", "sure, 10 am?", 200, from_me=True),
                m("3EB0A1000001", "hi! coffee tomorrow?", 100),
            ),
            unread_count=1,
        ),
        FixtureChat(
            bob,
            "Bob",
            (
                m("3EB0B1000002", "thanks!", 250),
                m("3EB0B1000001", "here is the report", 150, from_me=True),
            ),
        ),
        FixtureChat(
            group,
            "Team",
            (
                m("3EB0C1000003", "deploy done", 280, participant=carol),
                m("3EB0C1000002", "starting the deploy", 260, participant=bob),
                m("3EB0C1000001", "who deploys today?", 240, from_me=True),
            ),
            unread_count=2,
        ),
        FixtureChat(lid, "Dana", (m("3EB0D1000001", "hello from a LID chat", 50),), archived=True),
    )
    recent = (
        (
            FixtureChat(alice, "Alice", (m("3EB0A0000002", "long time no see", -900),)),
            FixtureChat(bob, "Bob", (m("3EB0B0000001", "meeting notes", -800, from_me=True),)),
        ),
        (
            FixtureChat(
                group,
                "Team",
                (
                    m("3EB0C0000002", "welcome Carol", -1000, participant=bob),
                    m("3EB0C0000001", "group created", -1100, from_me=True),
                ),
            ),
        ),
    )
    push_names = (
        PushName(alice, "Alice A."),
        PushName(bob, "Bob B."),
        PushName(carol, "Carol C."),
    )
    return HistoryFixture(
        bootstrap=bootstrap,
        recent=recent,
        push_names=push_names,
        lid_mappings=((lid, "15550005555@s.whatsapp.net"),),
    )


def generated_fixture(
    chats: int,
    messages: int,
    *,
    recent_chunks: int = 0,
    base_time: int = BASE_TIME,
) -> HistoryFixture:
    """A large synthetic history (benchmarks): ``chats`` chats sharing ``messages`` messages,
    in the bootstrap, or spread over ``recent_chunks`` RECENT chunks after a small bootstrap."""
    if chats < 1 or messages < 0:
        raise ValueError("at least one chat, and no negative message count")
    per_chat = [messages // chats + (1 if i < messages % chats else 0) for i in range(chats)]
    built = []
    for index, count in enumerate(per_chat):
        jid = f"1555{index:07d}@s.whatsapp.net"
        items = tuple(
            FixtureMessage(
                f"3EB0{index:06X}{n:06X}",
                f"message {n} in chat {index}",
                base_time - n * 60,
                from_me=n % 3 == 0,
            )
            for n in range(count)
        )
        built.append(FixtureChat(jid, f"Contact {index}", items))
    if recent_chunks <= 0:
        return HistoryFixture(bootstrap=tuple(built))
    size = -(-len(built) // recent_chunks)
    chunks = tuple(tuple(built[i : i + size]) for i in range(0, len(built), size))
    return HistoryFixture(bootstrap=(), recent=chunks)


# ---- encoding --------------------------------------------------------------------------------


def _web_message(chat: FixtureChat, message: FixtureMessage) -> e2e_pb2.WebMessageInfo:
    key = e2e_pb2.MessageKey(remote_jid=chat.id, from_me=message.from_me, id=message.id)
    info = e2e_pb2.WebMessageInfo(
        key=key,
        message=_Message(conversation=message.text),
        message_timestamp=message.timestamp,
        status=e2e_pb2.WebMessageInfo.READ
        if message.from_me
        else e2e_pb2.WebMessageInfo.DELIVERY_ACK,
    )
    if message.participant is not None:
        info.key.participant = message.participant
        info.participant = message.participant
    if message.push_name is not None:
        info.push_name = message.push_name
    return info


def history_sync_of(
    sync_type: int,
    *,
    chats: Iterable[FixtureChat] = (),
    push_names: Iterable[PushName] = (),
    chunk_order: int | None = None,
    progress: int | None = None,
    lid_mappings: Iterable[tuple[str, str]] = (),
) -> e2e_pb2.HistorySync:
    """The ``HistorySync`` of one chunk (``sync_type``: a ``HistorySync.HistorySyncType``;
    ``lid_mappings``: ``(lid, phone number)`` pairs)."""
    sync = e2e_pb2.HistorySync(sync_type=sync_type)  # type: ignore[arg-type]
    for lid, pn in lid_mappings:
        sync.phone_number_to_lid_mappings.add(lid_jid=lid, pn_jid=pn)
    for chat in chats:
        conversation = sync.conversations.add(id=chat.id)
        if chat.name is not None:
            conversation.name = chat.name
        if chat.unread_count:
            conversation.unread_count = chat.unread_count
        if chat.archived:
            conversation.archived = True
        if chat.messages:
            conversation.conversation_timestamp = chat.messages[0].timestamp
        for order, message in enumerate(chat.messages):
            conversation.messages.add(message=_web_message(chat, message), msg_order_id=order + 1)
    for name in push_names:
        sync.pushnames.add(id=name.id, pushname=name.push_name)
    if chunk_order is not None:
        sync.chunk_order = chunk_order
    if progress is not None:
        sync.progress = progress
    return sync


def encode_history_sync(sync: e2e_pb2.HistorySync) -> bytes:
    """A chunk as the phone sends it: zlib-deflated protobuf."""
    return zlib.compress(sync.SerializeToString())


def encrypted_blob(
    chunk: bytes, media_key: bytes, *, message_id: str = "H1", direct_path: str = "/mms/h1"
) -> tuple[HistoryDownload, bytes]:
    """A deflated chunk as the media server holds it (encrypted with ``media_key``), and the
    request that fetches and verifies it: ``request.verify(data) == chunk``."""
    media = encrypt_media(chunk, media_key, HISTORY_KEYS_INFO)
    request = HistoryDownload(
        message_id=message_id,
        direct_path=direct_path,
        media_key=media_key,
        file_enc_sha256=media.file_enc_sha256,
        file_sha256=media.file_sha256,
    )
    return request, media.data


def notification_message(
    notification: e2e_pb2.Message.HistorySyncNotification,
) -> e2e_pb2.Message:
    """The ``Message`` that carries a notification (a protocol message of its type)."""
    return _Message(
        protocol_message=_Message.ProtocolMessage(
            type=_Message.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
            history_sync_notification=notification,
        )
    )


# ---- blobs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobResponse:
    """What the blob route answers: a status and a body, and the length it announces (more
    than ``len(body)`` for a truncated body)."""

    status: int
    body: bytes = b""
    content_length: int | None = None


@dataclass(slots=True)
class _Blob:
    data: bytes
    fault: str | None
    message_id: str
    media_key: bytes


class BlobStore:
    """The history blobs the emulator serves (``/mms/history/<name>``), with their faults."""

    def __init__(self) -> None:
        self._blobs: dict[str, _Blob] = {}
        self.requests: list[str] = []
        """Every path requested, in order."""
        self.reuploads: list[str] = []
        """The message ids a client asked to upload again (``server-error`` receipts)."""

    @staticmethod
    def path(name: str) -> str:
        return f"{BLOB_PREFIX}/history/{name}"

    def put(
        self,
        name: str,
        data: bytes,
        *,
        message_id: str,
        media_key: bytes,
        fault: str | None = None,
    ) -> str:
        """Store ``data`` (faults: "missing", "corrupt", "truncated"); returns its path."""
        if fault not in (None, "missing", "corrupt", "truncated"):
            raise ValueError(f"unknown blob fault {fault!r}")
        self._blobs[name] = _Blob(data, fault, message_id, media_key)
        return self.path(name)

    def answer(self, path: str) -> BlobResponse:
        """The response to a GET of ``path`` (its query string ignored)."""
        self.requests.append(path)
        name = path.split("?", 1)[0].removeprefix(BLOB_PREFIX + "/history/")
        blob = self._blobs.get(name)
        if blob is None or blob.fault == "missing":
            return BlobResponse(404, b"")
        if blob.fault == "corrupt":
            corrupted = bytearray(blob.data)
            corrupted[len(corrupted) // 2] ^= 0x01
            return BlobResponse(200, bytes(corrupted))
        if blob.fault == "truncated":
            return BlobResponse(200, blob.data[: len(blob.data) // 2], len(blob.data))
        return BlobResponse(200, blob.data)

    def on_server_error_receipt(self, receipt: Node) -> bool:
        """A client's ``server-error`` receipt: when it decrypts with the media key of the
        notification it names, the phone uploads that blob again (True)."""
        message_id = receipt.attr("id") or ""
        for blob in self._blobs.values():
            if blob.message_id != message_id:
                continue
            try:
                named = decrypt_server_error_receipt(receipt, blob.media_key)
            except RemoteProtocolError:
                return False
            return named == message_id and self.reupload(message_id)
        return False

    def reupload(self, message_id: str) -> bool:
        """The phone uploads the blob of notification ``message_id`` again (its fault gone)."""
        self.reuploads.append(message_id)
        found = False
        for blob in self._blobs.values():
            if blob.message_id == message_id:
                blob.fault = None
                found = True
        return found


# ---- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryFaults:
    """Faults of the RECENT chunks, by their index (0 is the first RECENT chunk)."""

    missing: frozenset[int] = frozenset()
    corrupt: frozenset[int] = frozenset()
    truncated: frozenset[int] = frozenset()
    never: frozenset[int] = frozenset()
    """Chunks whose notification is never sent."""

    def fault_of(self, index: int) -> str | None:
        for name in ("missing", "corrupt", "truncated"):
            if index in getattr(self, name):
                return name
        return None


@dataclass(frozen=True, slots=True)
class PlannedNotification:
    """One history notification, ready to encrypt and send from the phone to the device."""

    message_id: str
    message: e2e_pb2.Message
    sync_type: str
    blob_path: str | None = None
    """Where its blob is served (None for an inline chunk)."""

    @property
    def notification(self) -> e2e_pb2.Message.HistorySyncNotification:
        return self.message.protocol_message.history_sync_notification


def history_stanza(
    planned: PlannedNotification,
    *,
    phone_jid: str,
    t: int,
    enc_type: str,
    ciphertext: bytes,
) -> Node:
    """The ``<message>`` that carries one encrypted notification from the phone to a device:
    from the account's own JID (device 0), ``category="peer"``, no recipient; ``enc_type`` is
    ``pkmsg`` or ``msg`` and ``ciphertext`` the Signal ciphertext of the (padded) ``Message``."""
    attrs = {
        "from": phone_jid,
        "id": planned.message_id,
        "t": str(t),
        "type": "text",
        "category": "peer",
    }
    return Node("message", attrs, [Node("enc", {"v": "2", "type": enc_type}, ciphertext)])


def _message_id(rng: Rng) -> str:
    return "3EB0" + rng(8).hex().upper()


@dataclass(slots=True)
class _Planner:
    rng: Rng
    blobs: BlobStore | None
    blob_url: Callable[[str], str]
    planned: list[PlannedNotification] = field(default_factory=list)

    def inline(self, sync: e2e_pb2.HistorySync, kind: int, chunk_order: int) -> None:
        notification = _Message.HistorySyncNotification(
            sync_type=kind,  # type: ignore[arg-type]
            chunk_order=chunk_order,
            initial_hist_bootstrap_inline_payload=encode_history_sync(sync),
        )
        if sync.HasField("progress"):
            notification.progress = sync.progress
        message_id = _message_id(self.rng)
        self.planned.append(
            PlannedNotification(
                message_id,
                notification_message(notification),
                _Message.HistorySyncType.Name(kind),
            )
        )

    def blob(
        self,
        sync: e2e_pb2.HistorySync,
        kind: int,
        chunk_order: int,
        *,
        fault: str | None,
        send: bool,
    ) -> None:
        if self.blobs is None:
            raise ValueError("a blob chunk needs a BlobStore")
        media_key = self.rng(32)
        media = encrypt_media(encode_history_sync(sync), media_key, HISTORY_KEYS_INFO)
        message_id = _message_id(self.rng)
        path = self.blobs.put(
            message_id, media.data, message_id=message_id, media_key=media_key, fault=fault
        )
        notification = _Message.HistorySyncNotification(
            file_sha256=media.file_sha256,
            file_length=media.file_length,
            media_key=media_key,
            file_enc_sha256=media.file_enc_sha256,
            direct_path=self.blob_url(path),
            sync_type=kind,  # type: ignore[arg-type]
            chunk_order=chunk_order,
        )
        if sync.HasField("progress"):
            notification.progress = sync.progress
        if send:
            self.planned.append(
                PlannedNotification(
                    message_id,
                    notification_message(notification),
                    _Message.HistorySyncType.Name(kind),
                    path,
                )
            )


def plan_history(
    fixture: HistoryFixture,
    *,
    rng: Rng,
    blobs: BlobStore | None = None,
    blob_url: Callable[[str], str] = lambda path: path,
    faults: HistoryFaults = HistoryFaults(),  # frozen, so a shared default is safe
) -> list[PlannedNotification]:
    """The notifications of ``fixture`` in send order, their blobs put in ``blobs``.

    ``blob_url(path)`` turns a blob path into the direct path the notification carries (the
    emulator gives its own ``http://127.0.0.1:PORT/mms/…`` URL). ``ValueError`` for duplicate
    message keys, or blob chunks without a ``BlobStore``.
    """
    fixture.validate()
    planner = _Planner(rng=rng, blobs=blobs, blob_url=blob_url)
    history = e2e_pb2.HistorySync
    order = 0
    if fixture.bootstrap:
        sync = history_sync_of(
            history.INITIAL_BOOTSTRAP,
            chats=fixture.bootstrap,
            chunk_order=order,
            progress=0,
            lid_mappings=fixture.lid_mappings,
        )
        planner.inline(sync, _Message.INITIAL_BOOTSTRAP, order)
        order += 1
    total = len(fixture.recent)
    for index, chats in enumerate(fixture.recent):
        progress = (index + 1) * 100 // total
        sync = history_sync_of(history.RECENT, chats=chats, chunk_order=order, progress=progress)
        planner.blob(
            sync,
            _Message.RECENT,
            order,
            fault=faults.fault_of(index),
            send=index not in faults.never,
        )
        order += 1
    if fixture.push_names:
        sync = history_sync_of(history.PUSH_NAME, push_names=fixture.push_names, chunk_order=order)
        if fixture.inline_push_names:
            planner.inline(sync, _Message.PUSH_NAME, order)
        else:
            planner.blob(sync, _Message.PUSH_NAME, order, fault=None, send=True)
    return planner.planned
