"""History sync against Baileys (the pinned peer): walink decodes a blob made by Baileys'
``encryptedStream(…, 'md-msg-hist')`` and its notification; Baileys parses our notifications,
decrypts our blobs and reads our ``HistorySync`` encoding (the emulator's own fixture)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peer_bridge import PeerBridge
from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.history import (
    HistoryDownload,
    decode_history,
    history_notification,
    history_set,
    history_source,
)
from walink.protocol.media import MacMismatchError
from walink.protocol.messages import WebMessage, parse_message
from walink.testing.history import BlobStore, default_fixture, plan_history

from .determinism import counter_rng

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def bridge(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "history-bridge.mjs") as peer:
        yield peer


SPEC: dict[str, Any] = {
    "syncType": 3,  # RECENT
    "chunkOrder": 2,
    "progress": 40,
    "chats": [
        {
            "id": "15550002222@s.whatsapp.net",
            "name": "Alice",
            "messages": [
                {"id": "B2", "text": "second", "ts": 1700000200, "fromMe": True},
                {"id": "B1", "text": "first", "ts": 1700000100, "fromMe": False},
            ],
        },
        {"id": "120363000000000009@g.us", "name": "Group", "messages": []},
    ],
}


def test_walink_decodes_a_baileys_blob_and_notification(bridge: PeerBridge) -> None:
    made = bridge.call("makeBlob", spec=SPEC)
    message = parse_message(bytes.fromhex(made["message"]))
    notification = history_notification(message, from_me=True)
    assert notification is not None
    assert (notification.sync_type, notification.chunk_order, notification.progress) == (3, 2, 40)
    request = history_source(notification, "MSGID")
    assert isinstance(request, HistoryDownload)
    assert request.direct_path == "/v/t62.7119-24/walink-test.enc?ccb=11-4"
    blob = bytes.fromhex(made["blob"])
    compressed = request.verify(blob)  # all four checks pass on Baileys' bytes
    sync = decode_history(compressed)
    assert sync.SerializeToString() == bytes.fromhex(made["historySync"])
    result = history_set(sync, notification, is_latest=False)
    assert (result.sync_type, result.progress, result.chunk_order) == ("RECENT", 40, 2)
    assert [(m.key.id, m.key.from_me, m.text, m.timestamp) for m in result.messages] == [
        ("B2", True, "second", 1700000200),
        ("B1", False, "first", 1700000100),
    ]
    assert [c.id for c in result.chats] == [c["id"] for c in SPEC["chats"]]
    # Baileys checks none of the four; walink refuses a flipped MAC byte of the same blob
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    tampered_request = HistoryDownload(
        message_id="MSGID",
        direct_path=request.direct_path,
        media_key=request.media_key,
        file_enc_sha256=hashlib.sha256(tampered).digest(),
        file_sha256=request.file_sha256,
    )
    with pytest.raises(MacMismatchError):
        tampered_request.verify(bytes(tampered))


def _ours(planned_result: Any) -> dict[str, Any]:
    return {
        "messages": [
            {
                "remoteJid": m.key.remote_jid,
                "fromMe": m.key.from_me,
                "id": m.key.id,
                "participant": m.key.participant,
                "text": m.text,
                "timestamp": m.timestamp,
            }
            for m in planned_result.messages
        ],
        "chats": [c.id for c in planned_result.chats],
        "contacts": [
            {"id": c.id, "name": c.name, "notify": c.notify} for c in planned_result.contacts
        ],
    }


def test_baileys_reads_our_notifications_and_blobs(bridge: PeerBridge) -> None:
    blobs = BlobStore()
    planned = plan_history(default_fixture(), rng=counter_rng("history-peer"), blobs=blobs)
    for index, item in enumerate(planned):
        blob = None
        if item.blob_path is not None:
            blob = blobs.answer(item.blob_path).body.hex()
        theirs = bridge.call("process", message=item.message.SerializeToString().hex(), blob=blob)
        notification = history_notification(item.message, from_me=True)
        assert notification is not None
        assert theirs["notification"]["chunkOrder"] == notification.chunk_order == index
        source = history_source(notification, item.message_id)
        if isinstance(source, HistoryDownload):
            source = source.verify(blobs.answer(item.blob_path or "").body)
        ours = history_set(decode_history(source), notification, is_latest=index == 0)
        mine = _ours(ours)
        assert [c["id"] for c in theirs["chats"]] == mine["chats"], item.sync_type
        assert theirs["contacts"] == mine["contacts"], item.sync_type
        assert theirs["messages"] == mine["messages"], item.sync_type
        assert theirs["progress"] == ours.progress
    # the inline bootstrap really carries the fixture's chats and messages to Baileys
    first = bridge.call("process", message=planned[0].message.SerializeToString().hex())
    fixture = default_fixture()
    assert [c["id"] for c in first["chats"]] == [c.id for c in fixture.bootstrap]
    assert len(first["messages"]) == sum(len(c.messages) for c in fixture.bootstrap)
    assert first["chats"][0]["newestId"] == fixture.bootstrap[0].messages[0].id


def test_stanza_keys_agree_with_baileys(bridge: PeerBridge) -> None:
    """walink's stanza_key against Baileys' decodeMessageNode + cleanMessage, on every shape."""
    own, own_lid = "15550001111:7@s.whatsapp.net", "100000000000009:7@lid"
    senders = [
        "15550002222@s.whatsapp.net",
        "15550002222:3@s.whatsapp.net",
        "15550001111@s.whatsapp.net",
        "15550001111:2@s.whatsapp.net",
        "100000000000009@lid",
        "100000000000008:4@lid",
        "15550004444:99@hosted",
        "120363000000000001@g.us",
        "status@broadcast",
        "120363000000000002@newsletter",
    ]
    extras: list[dict[str, str]] = [
        {},
        {"participant": "15550003333:1@s.whatsapp.net"},
        {"participant": "100000000000009@lid"},
        {"participant": "15550001111:5@s.whatsapp.net"},
        {"recipient": "15550002222@s.whatsapp.net"},
        {"recipient": "13135550002@bot"},
        {"notify": "Ann"},
    ]
    items = [
        {"attrs": {"id": "ID1", "t": "1700000000", "from": sender, **extra}}
        for sender in senders
        for extra in extras
    ]
    theirs = bridge.call("stanzaKeys", items=items, meId=own, meLid=own_lid)["keys"]
    compared = 0
    for item, their in zip(items, theirs, strict=True):
        node = Node("message", item["attrs"])
        try:
            mine = WebMessage.from_stanza(node, None, own_jid=own, own_lid=own_lid)
        except RemoteProtocolError:
            assert "error" in their, item
            continue
        assert "error" not in their, (item, their)
        assert {
            "remoteJid": mine.key.remote_jid,
            "fromMe": mine.key.from_me,
            "id": mine.key.id,
            "participant": mine.key.participant,
            "timestamp": mine.timestamp,
            "pushName": mine.push_name,
        } == their, item
        compared += 1
    assert compared > 40
