"""walink.protocol.history: notification, source, inflate cap, HistorySet, status, receipts."""

from __future__ import annotations

import contextlib
import hashlib
import zlib

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from walink.auth.model import AppStateSyncKeyData, AppStateSyncKeyFingerprint
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.history import (
    DEFAULT_MAX_HISTORY_SIZE,
    AppStateKey,
    HistoryDownload,
    HistoryStatus,
    HistoryStatusTracker,
    app_state_key_shares,
    decode_history,
    decrypt_server_error_receipt,
    hist_sync_receipt,
    history_notification,
    history_set,
    history_source,
    inflate_history,
    is_latest,
    is_processable,
    parse_history_sync,
    record_processed,
    server_error_receipt,
    should_sync_history,
    sync_type_name,
    was_processed,
)
from walink.protocol.media import MacMismatchError
from walink.protocol.messages import MessageKey, WebMessage
from walink.protocol.proto import e2e_pb2
from walink.testing.history import encrypted_blob

Message = e2e_pb2.Message
Notification = Message.HistorySyncNotification
OWN = "15550001111:7@s.whatsapp.net"
ALICE = "15550002222@s.whatsapp.net"
BOB_LID = "987654@lid"
MEDIA_KEY = bytes(range(1, 33))


def _wrap(notification: Notification) -> Message:
    return Message(
        protocol_message=Message.ProtocolMessage(
            type=Message.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
            history_sync_notification=notification,
        )
    )


def _info(
    chat: str, msg_id: str, text: str, ts: int, from_me: bool = False
) -> e2e_pb2.HistorySyncMsg:
    return e2e_pb2.HistorySyncMsg(
        message=e2e_pb2.WebMessageInfo(
            key=e2e_pb2.MessageKey(remote_jid=chat, from_me=from_me, id=msg_id),
            message=Message(conversation=text),
            message_timestamp=ts,
        )
    )


def _sync() -> e2e_pb2.HistorySync:
    return e2e_pb2.HistorySync(
        sync_type=e2e_pb2.HistorySync.INITIAL_BOOTSTRAP,
        progress=10,
        conversations=[
            e2e_pb2.Conversation(
                id=ALICE,
                name="Alice",
                lid_jid="111@lid",
                unread_count=1,
                messages=[
                    _info(ALICE, "A2", "how are you", 20, from_me=True),
                    _info(ALICE, "A1", "hi", 10),
                ],
            ),
            e2e_pb2.Conversation(
                id=BOB_LID,
                display_name="Bob B.",
                pn_jid="15550003333@s.whatsapp.net",
                archived=True,
                messages=[_info(BOB_LID, "B1", "yo", 5)],
            ),
        ],
        phone_number_to_lid_mappings=[
            e2e_pb2.PhoneNumberToLIDMapping(pn_jid="15550004444@s.whatsapp.net", lid_jid="444@lid")
        ],
    )


def test_notification_only_from_our_own_account() -> None:
    notification = Notification(sync_type=Message.RECENT, chunk_order=1)
    message = _wrap(notification)
    assert history_notification(message, from_me=True) == notification
    assert history_notification(message, from_me=False) is None
    assert history_notification(Message(conversation="x"), from_me=True) is None
    assert history_notification(None, from_me=True) is None
    ephemeral = Message(ephemeral_message=Message.FutureProofMessage(message=message))
    assert history_notification(ephemeral, from_me=True) == notification


def test_gate_and_processable_types() -> None:
    full = Notification(sync_type=Message.FULL)
    assert not should_sync_history(full)
    assert should_sync_history(full, sync_full_history=True)
    for kind in (Message.INITIAL_BOOTSTRAP, Message.RECENT, Message.PUSH_NAME, Message.ON_DEMAND):
        assert should_sync_history(Notification(sync_type=kind))
        assert is_processable(Notification(sync_type=kind))
    assert not is_processable(Notification(sync_type=Message.NO_HISTORY))
    assert sync_type_name(Message.RECENT) == "RECENT"
    assert sync_type_name(99) == "UNKNOWN_99"


def test_source_inline_or_download() -> None:
    inline = Notification(initial_hist_bootstrap_inline_payload=b"zz", direct_path="/ignored")
    assert history_source(inline, "ID") == b"zz"
    blob = Notification(
        direct_path="/v/t62/x.enc?ccb=1",
        media_key=MEDIA_KEY,
        file_enc_sha256=b"e" * 32,
        file_sha256=b"p" * 32,
        file_length=99,
    )
    assert history_source(blob, "ID") == HistoryDownload(
        message_id="ID",
        direct_path="/v/t62/x.enc?ccb=1",
        media_key=MEDIA_KEY,
        file_enc_sha256=b"e" * 32,
        file_sha256=b"p" * 32,
        file_length=99,
    )
    for missing in ("direct_path", "media_key", "file_enc_sha256", "file_sha256"):
        broken = Notification()
        broken.CopyFrom(blob)
        broken.ClearField(missing)
        with pytest.raises(RemoteProtocolError):
            history_source(broken, "ID")
    short = Notification()
    short.CopyFrom(blob)
    short.media_key = b"k" * 31
    with pytest.raises(RemoteProtocolError):
        history_source(short, "ID")


def test_downloaded_blob_verified_inflated_parsed() -> None:
    sync = _sync()
    download, data = encrypted_blob(
        zlib.compress(sync.SerializeToString()), MEDIA_KEY, message_id="ID", direct_path="/x"
    )
    assert decode_history(download.verify(data)) == sync
    tampered = bytearray(data)
    tampered[-3] ^= 4
    with pytest.raises(MacMismatchError):
        HistoryDownload(
            message_id="ID",
            direct_path="/x",
            media_key=MEDIA_KEY,
            file_enc_sha256=hashlib.sha256(tampered).digest(),
            file_sha256=download.file_sha256,
        ).verify(bytes(tampered))


def test_inflate_cap() -> None:
    data = bytes(1_000_000)
    compressed = zlib.compress(data)
    assert inflate_history(compressed, max_size=len(data)) == data
    with pytest.raises(RemoteProtocolError, match="inflates past"):
        inflate_history(compressed, max_size=len(data) - 1)
    # a zip bomb: 64 MiB of zeros from about 64 KiB, refused at a 1 MiB cap
    bomb = zlib.compress(bytes(64 << 20), 9)
    with pytest.raises(RemoteProtocolError, match="inflates past"):
        inflate_history(bomb, max_size=1 << 20)
    assert DEFAULT_MAX_HISTORY_SIZE >= 64 << 20


def test_inflate_rejects_truncated_trailing_and_garbage() -> None:
    compressed = zlib.compress(b"hello" * 100)
    with pytest.raises(RemoteProtocolError):
        inflate_history(compressed[:-3])
    with pytest.raises(RemoteProtocolError):
        inflate_history(compressed + b"x")
    with pytest.raises(RemoteProtocolError):
        inflate_history(b"not zlib")
    with pytest.raises(RemoteProtocolError):
        inflate_history(b"")


@given(st.binary(max_size=300))
def test_decode_history_parses_or_raises_remote(data: bytes) -> None:
    for candidate in (data, zlib.compress(data)):
        try:
            sync = decode_history(candidate, max_size=10_000)
        except RemoteProtocolError:
            continue
        with contextlib.suppress(RemoteProtocolError):
            history_set(sync, Notification(), is_latest=True)


@given(st.binary(max_size=300))
def test_parse_history_sync_parses_or_raises_remote(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_history_sync(data)


def test_history_set_of_conversations() -> None:
    notification = Notification(sync_type=Message.INITIAL_BOOTSTRAP, chunk_order=1)
    result = history_set(_sync(), notification, is_latest=True)
    assert result.sync_type == "INITIAL_BOOTSTRAP"
    assert (result.progress, result.chunk_order, result.is_latest) == (10, 1, True)
    assert [m.key.id for m in result.messages] == ["A2", "A1", "B1"]
    assert [m.text for m in result.messages] == ["how are you", "hi", "yo"]
    assert all(isinstance(m, WebMessage) for m in result.messages)
    alice, bob = result.chats
    assert (alice.id, alice.name, alice.unread_count, alice.archived) == (ALICE, "Alice", 1, False)
    assert alice.newest_message is not None and alice.newest_message.key.id == "A2"
    assert alice.last_message_recv_timestamp == 10  # the newest message not from us
    assert bob.archived and bob.last_message_recv_timestamp == 5
    assert [(c.id, c.name, c.lid, c.phone_number) for c in result.contacts] == [
        (ALICE, "Alice", "111@lid", None),
        (BOB_LID, "Bob B.", None, "15550003333@s.whatsapp.net"),
    ]
    assert set(result.lid_pn_mappings) == {
        ("444@lid", "15550004444@s.whatsapp.net"),
        ("111@lid", ALICE),
        (BOB_LID, "15550003333@s.whatsapp.net"),
    }


def test_history_set_push_names_and_on_demand() -> None:
    sync = e2e_pb2.HistorySync(
        sync_type=e2e_pb2.HistorySync.PUSH_NAME,
        pushnames=[e2e_pb2.Pushname(id=ALICE, pushname="Ali")],
        conversations=[e2e_pb2.Conversation(id="ignored@s.whatsapp.net")],
    )
    result = history_set(sync, Notification(sync_type=Message.PUSH_NAME), is_latest=False)
    assert [(c.id, c.notify) for c in result.contacts] == [(ALICE, "Ali")]
    assert result.chats == () and result.messages == () and result.chunk_order is None
    on_demand = e2e_pb2.HistorySync(sync_type=e2e_pb2.HistorySync.ON_DEMAND)
    result = history_set(on_demand, Notification(sync_type=Message.ON_DEMAND), is_latest=True)
    assert result.is_latest is False and result.sync_type == "ON_DEMAND"
    with pytest.raises(RemoteProtocolError):
        history_set(
            e2e_pb2.HistorySync(conversations=[e2e_pb2.Conversation()]),
            Notification(),
            is_latest=True,
        )


def test_processed_history_messages_as_baileys_keeps_them() -> None:
    key = MessageKey(OWN.replace(":7", ""), True, "N1")
    assert is_latest(())
    recent = Notification(sync_type=Message.RECENT)
    processed = record_processed((), key, 1700000000, recent)
    assert processed == (
        {
            "key": {"remoteJid": "15550001111@s.whatsapp.net", "fromMe": True, "id": "N1"},
            "messageTimestamp": 1700000000,
        },
    )
    assert not is_latest(processed)
    assert was_processed(processed, key)
    assert not was_processed(processed, MessageKey(key.remote_jid, True, "N2"))
    assert not was_processed(["junk", {"key": "junk"}], key)
    on_demand = Notification(sync_type=Message.ON_DEMAND)
    assert record_processed(processed, MessageKey(key.remote_jid, True, "N3"), 1, on_demand) == (
        processed
    )


def test_status_tracker() -> None:
    tracker = HistoryStatusTracker()
    assert tracker.next_deadline() is None
    bootstrap = Notification(sync_type=Message.INITIAL_BOOTSTRAP)
    assert tracker.on_notification(bootstrap, 0.0) == [
        HistoryStatus("INITIAL_BOOTSTRAP", "complete", explicit=True)
    ]
    assert tracker.on_notification(bootstrap, 1.0) == []  # reported once
    assert tracker.on_notification(Notification(sync_type=Message.RECENT, progress=30), 10.0) == []
    assert tracker.next_deadline() == 130.0
    assert tracker.handle_timeout(129.9) == []
    # another RECENT chunk moves the deadline
    assert tracker.on_notification(Notification(sync_type=Message.RECENT, progress=60), 100.0) == []
    assert tracker.handle_timeout(130.0) == []
    assert tracker.handle_timeout(220.0) == [HistoryStatus("RECENT", "paused", explicit=False)]
    assert tracker.next_deadline() is None
    assert (
        tracker.on_notification(Notification(sync_type=Message.RECENT, progress=100), 300.0) == []
    )


def test_status_tracker_recent_complete() -> None:
    tracker = HistoryStatusTracker(paused_timeout=5.0)
    tracker.on_notification(Notification(sync_type=Message.RECENT, progress=50), 0.0)
    assert tracker.next_deadline() == 5.0
    assert tracker.on_notification(Notification(sync_type=Message.RECENT, progress=100), 1.0) == [
        HistoryStatus("RECENT", "complete", explicit=True)
    ]
    assert tracker.next_deadline() is None
    assert tracker.handle_timeout(100.0) == []


def test_hist_sync_receipt() -> None:
    assert hist_sync_receipt("N1", OWN) == Node(
        "receipt", {"id": "N1", "to": "15550001111@s.whatsapp.net", "type": "hist_sync"}
    )
    with pytest.raises(LocalProtocolError):
        hist_sync_receipt("N1", "not a jid")


def test_server_error_receipt_round_trip() -> None:
    iv = bytes(range(12))
    receipt = server_error_receipt("N1", OWN, MEDIA_KEY, iv)
    assert receipt.tag == "receipt"
    assert receipt.attrs == {
        "id": "N1",
        "type": "server-error",
        "to": "15550001111@s.whatsapp.net",
        "category": "peer",
    }
    encrypt = receipt.child("encrypt")
    assert encrypt is not None and [c.tag for c in encrypt.children()] == ["enc_p", "enc_iv"]
    assert decrypt_server_error_receipt(receipt, MEDIA_KEY) == "N1"
    # the id is the AAD: the same body under another id does not decrypt
    moved = Node(receipt.tag, {**receipt.attrs, "id": "N2"}, receipt.content)
    with pytest.raises(RemoteProtocolError):
        decrypt_server_error_receipt(moved, MEDIA_KEY)
    with pytest.raises(RemoteProtocolError):
        decrypt_server_error_receipt(receipt, bytes(32))
    with pytest.raises(RemoteProtocolError):
        decrypt_server_error_receipt(Node("receipt", {"id": "N1"}), MEDIA_KEY)
    with pytest.raises(LocalProtocolError):
        server_error_receipt("N1", OWN, MEDIA_KEY, b"short")


def _key_data(key: AppStateKey) -> AppStateSyncKeyData:
    """What the session stores: the same fields, as the auth model's value."""
    fingerprint = None
    if key.raw_id is not None or key.current_index is not None or key.device_indexes:
        fingerprint = AppStateSyncKeyFingerprint(
            raw_id=key.raw_id, current_index=key.current_index, device_indexes=key.device_indexes
        )
    return AppStateSyncKeyData(
        key_data=key.key_data, fingerprint=fingerprint, timestamp=key.timestamp
    )


def test_app_state_key_shares() -> None:
    share = Message.AppStateSyncKeyShare(
        keys=[
            Message.AppStateSyncKey(
                key_id=Message.AppStateSyncKeyId(key_id=b"\x00\x01"),
                key_data=Message.AppStateSyncKeyData(
                    key_data=b"k" * 32,
                    fingerprint=Message.AppStateSyncKeyFingerprint(
                        raw_id=7, current_index=1, device_indexes=[0, 1]
                    ),
                    timestamp=1700000000000,
                ),
            ),
            Message.AppStateSyncKey(
                key_id=Message.AppStateSyncKeyId(key_id=b"\x02"),
                key_data=Message.AppStateSyncKeyData(key_data=b"j" * 32),
            ),
        ]
    )
    message = Message(
        protocol_message=Message.ProtocolMessage(
            type=Message.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE, app_state_sync_key_share=share
        )
    )
    assert app_state_key_shares(message, from_me=False) == ()
    first, second = app_state_key_shares(message, from_me=True)
    assert first.store_id == "AAE="
    assert _key_data(first) == AppStateSyncKeyData(
        key_data=b"k" * 32,
        fingerprint=AppStateSyncKeyFingerprint(raw_id=7, current_index=1, device_indexes=(0, 1)),
        timestamp=1700000000000,
    )
    assert _key_data(second) == AppStateSyncKeyData(key_data=b"j" * 32)
    share.keys.add()  # an empty key
    bad = Message(protocol_message=Message.ProtocolMessage(app_state_sync_key_share=share))
    with pytest.raises(RemoteProtocolError):
        app_state_key_shares(bad, from_me=True)


def test_history_message_without_remote_jid_takes_its_conversation() -> None:
    info = e2e_pb2.WebMessageInfo(key=e2e_pb2.MessageKey(id="K1"), message_timestamp=3)
    sync = e2e_pb2.HistorySync(
        sync_type=e2e_pb2.HistorySync.RECENT,
        conversations=[
            e2e_pb2.Conversation(id=ALICE, messages=[e2e_pb2.HistorySyncMsg(message=info)])
        ],
    )
    (message,) = history_set(sync, Notification(), is_latest=False).messages
    assert message.key == MessageKey(ALICE, False, "K1")


_notification_bytes = st.builds(
    lambda fields: Notification(**fields).SerializeToString(),
    st.fixed_dictionaries(
        {},
        optional={
            "direct_path": st.text(max_size=20),
            "media_key": st.binary(max_size=40),
            "file_enc_sha256": st.binary(max_size=40),
            "file_sha256": st.binary(max_size=40),
            "initial_hist_bootstrap_inline_payload": st.binary(max_size=20),
            "sync_type": st.integers(0, 8),
        },
    ),
)


@given(st.one_of(st.binary(max_size=200), _notification_bytes), st.booleans())
def test_notification_and_key_parsers_parse_or_raise_remote(data: bytes, from_me: bool) -> None:
    """From arbitrary Message bytes: the notification, its source and the key shares."""
    for candidate in (data, _wrap(Notification()).SerializeToString()[:2] + data):
        try:
            message = Message.FromString(candidate)
        except DecodeError:  # not a Message at all: the pipeline's parse_message refuses it
            continue
        notification = history_notification(message, from_me=from_me)
        if notification is not None:
            with contextlib.suppress(RemoteProtocolError):
                history_source(notification, "ID")
        with contextlib.suppress(RemoteProtocolError):
            app_state_key_shares(message, from_me=from_me)
    with contextlib.suppress(RemoteProtocolError):
        history_source(Notification.FromString(data) if _parses(data) else Notification(), "ID")


def _parses(data: bytes) -> bool:
    try:
        Notification.FromString(data)
    except DecodeError:
        return False
    return True


@given(st.binary(max_size=80), st.binary(min_size=12, max_size=12), st.text(max_size=10))
def test_server_error_receipt_parser_parses_or_raises_remote(
    sealed: bytes, iv: bytes, message_id: str
) -> None:
    encrypt = Node("encrypt", {}, [Node("enc_p", {}, sealed), Node("enc_iv", {}, iv)])
    with pytest.raises(RemoteProtocolError):
        decrypt_server_error_receipt(Node("receipt", {"id": message_id}, [encrypt]), MEDIA_KEY)


def test_reprs_hide_keys() -> None:
    download = HistoryDownload("ID", "/p", MEDIA_KEY, b"e" * 32, b"p" * 32)
    assert MEDIA_KEY.hex() not in repr(download) and repr(MEDIA_KEY) not in repr(download)
    key = AppStateKey(b"\x01", b"secret key bytes")
    assert "secret" not in repr(key)
