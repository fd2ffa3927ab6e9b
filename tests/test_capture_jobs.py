"""walink._capture.jobs: the job workers' outcomes in a capture, and their replay.

A device pairs with the in-memory hub with messages processed by walink's real Signal processor:
the hub's phone sends it the history (an inline bootstrap, RECENT blobs that are downloaded, push
names), a contact sends a ``pkmsg`` then a ``msg``, and a stanza that cannot be decrypted gets a
stub and a retry receipt. The capture of that run must replay to the same events, and to the
same sent nodes byte for byte (encoded with the capture's own redaction, ids mapped back).
"""

from __future__ import annotations

import base64
import json
import random
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import DecodeError

from walink._receive import SignalProcessor
from walink.auth.model import Creds
from walink.capture import CaptureWriter, CapturingSession, read_capture, replay_capture
from walink.fsm.policy import PolicyConfig
from walink.protocol.binary import Node
from walink.protocol.proto import e2e_pb2
from walink.protocol.signal.record import with_session
from walink.session import (
    HistoryFailed,
    HistoryReceived,
    MessageFailed,
    MessageProcessed,
    SessionConfig,
)
from walink.testing.history import HistoryFaults, default_fixture
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

T0 = 1_780_000_000.0
ALICE = "15550003333"
FIXTURE = default_fixture()
KINDS = ["INITIAL_BOOTSTRAP", "RECENT", "RECENT", "PUSH_NAME"]


def _live(path: Path, *, redact: bool, seed: int = 5) -> MemoryPair:
    """A capturing device, paired by QR, that logs in and is sent its phone's history, then
    two messages from a contact (a pkmsg, then a msg) and one it cannot decrypt."""
    hub = Hub(rng=random.Random(seed).randbytes, now=T0, log=lambda line: None)
    hub.history_faults = HistoryFaults(missing=frozenset({0}))  # gone once: uploaded again
    rng = random.Random(seed)
    writer = CaptureWriter(path, redact=redact, seed=seed * 1000 + 7, source="jobs")
    config = SessionConfig(
        trust_root=hub.client_trust_root,
        policy=PolicyConfig(jitter=0.0),
        process_messages=True,
    )
    session = CapturingSession(
        creds=Creds.new(rng.randbytes), rng=rng, config=config, capture=writer
    )
    pair = MemoryPair(session, hub, now=T0)
    pair.processor = SignalProcessor(
        pair.store, clock=lambda: pair.now, randbytes=random.Random(seed + 1).randbytes
    )
    pair.start()
    jid = pair.scan_qr()
    assert pair.run_until(lambda: session.connection == "open", limit=60)
    pair.run_until(lambda: False, limit=1)  # the keys upload, and the history in reply
    assert pair.server is not None
    contacts = hub.contacts
    first = contacts.text_stanza(ALICE, jid, "hello", now=pair.now)
    assert first.children()[0].attrs["type"] == "pkmsg"
    pair.server.send_node(first)
    pair.pump()
    # the device answered (as far as Alice knows): her next message is a plain msg
    alice = contacts.contact(ALICE)
    record = alice.sessions[jid]
    opened = record.open_session()
    assert opened is not None
    alice.sessions[jid] = with_session(record, replace(opened, pending_pre_key=None))
    second = contacts.text_stanza(ALICE, jid, "again", now=pair.now)
    assert second.children()[0].attrs["type"] == "msg"
    pair.server.send_node(second)
    broken = Node(
        "message",
        {
            "id": "3EB0BAD",
            "from": f"{ALICE}@s.whatsapp.net",
            "t": str(int(pair.now)),
            "type": "text",
        },
        [Node("enc", {"v": "2", "type": "msg"}, b"\x33not a signal message")],
    )
    pair.server.send_node(broken)
    pair.pump()
    pair.run_until(lambda: False, limit=5)
    session.close(now=pair.now)
    pair.pump()
    writer.close(at=pair.now)
    return pair


def _out_nodes(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["node"] for line in lines if line["k"] == "out"]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _differing(sent: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> list[str]:
    """What each sent node that differs from the recording is (tag, type and first child)."""
    assert len(sent) == len(recorded)
    found = []
    for mine, theirs in zip(sent, recorded, strict=True):
        if mine != theirs:
            first = (mine.get("children") or [{}])[0].get("tag")
            found.append(f"{mine['tag']}/{mine['attrs'].get('type')}/{first}")
    return found


@pytest.fixture(scope="module", params=[True, False], ids=["redacted", "unredacted"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Live:
    redact: bool = request.param
    path = tmp_path_factory.mktemp("jobs") / "jobs.jsonl"
    return Live(path=path, pair=_live(path, redact=redact), redact=redact)


@dataclass
class Live:
    path: Path
    pair: MemoryPair
    redact: bool


def test_a_run_with_messages_and_history_replays_to_the_same_events(live: Live) -> None:
    events = live.pair.events
    assert len([e for e in events if isinstance(e, MessageProcessed)]) >= 2
    assert [e for e in events if isinstance(e, MessageFailed)]
    assert [e for e in events if isinstance(e, HistoryReceived)]
    failed = [e for e in events if isinstance(e, HistoryFailed)]
    assert [(f.reupload, f.final) for f in failed] == [(True, False)]  # then downloaded again
    result = replay_capture(read_capture(live.path))
    assert result.events == result.recorded
    end = result.lines[-1]
    assert end["events_match"] is True and end["nodes_out_unmatched"] == 0
    names = [line["event"] for line in result.events]
    for name in (
        "message.job",
        "message.processed",
        "message.failed",
        "history.download",
        "history.chunk",
        "history.status",
        "history.failed",
    ):
        assert name in names, name
    assert "unknown" not in names
    chunks = [line for line in result.events if line["event"] == "history.chunk"]
    assert sorted(c["sync_type"] for c in chunks) == sorted(KINDS)
    assert sum(c["messages"] for c in chunks) == FIXTURE.message_count()


def test_the_replay_sends_the_recorded_nodes_byte_for_byte(live: Live) -> None:
    result = replay_capture(read_capture(live.path))
    recorded = _out_nodes(_lines(live.path))
    # Only what carries the device's own keys differs: its signature of the pairing (made for
    # the replay's synthetic keys), the pre-key upload (synthetic keys; redacted, they are
    # placeholders of the same length) and the server-error receipt (encrypted with the
    # blob's media key and a fresh IV). Every receipt and ack of a message is the same.
    expected = ["iq/result/pair-device-sign"]
    if not live.redact:
        expected.append("iq/set/registration")
    expected.append("receipt/server-error/encrypt")
    assert _differing(result.sent, recorded) == expected
    kinds = {(n["tag"], n["attrs"].get("type")) for n in recorded}
    # the receipts and acks of processed messages, of history notifications, and the retry
    assert {
        ("receipt", None),
        ("receipt", "peer_msg"),
        ("receipt", "hist_sync"),
        ("receipt", "retry"),
        ("ack", None),
    } <= kinds


def _payloads(lines: list[dict[str, Any]]) -> list[bytes]:
    """Every protobuf a capture's job lines hold, and the inline chunks inside them."""
    found: list[bytes] = []
    for line in lines:
        if line["k"] != "command":
            continue
        for item in [*(line.get("decrypted") or []), *([line["sync"]] if "sync" in line else [])]:
            data = base64.b64decode(item)
            found.append(data)
            message = e2e_pb2.Message.FromString(data) if "sync" not in line else None
            if message is not None and message.protocol_message.HasField(
                "history_sync_notification"
            ):
                notification = message.protocol_message.history_sync_notification
                payload = notification.initial_hist_bootstrap_inline_payload
                if payload:
                    found.append(zlib.decompress(payload))
    return found


def test_a_redacted_capture_holds_no_message_content_nor_key(live: Live) -> None:
    lines = _lines(live.path)
    commands = [line["name"] for line in lines if line["k"] == "command"]
    for name in (
        "message_processed",
        "message_failed",
        "message_handled",
        "history_downloaded",
        "history_download_failed",
        "history_handled",
    ):
        assert name in commands, name
    payloads = _payloads(lines)
    texts = [m.text for chat in FIXTURE.chats() for m in chat.messages]
    names = [chat.name for chat in FIXTURE.chats() if chat.name]
    private = [b"hello", b"again", *(t.encode() for t in texts), *(n.encode() for n in names)]
    held = [word for word in private if any(word in data for data in payloads)]
    media_keys = [
        n.media_key
        for data in payloads
        if (n := _notification(data)) is not None and n.HasField("media_key")
    ]
    assert media_keys
    if live.redact:
        assert held == []
        assert all(key == bytes(len(key)) for key in media_keys)
    else:
        assert sorted(held) == sorted(private)  # an unredacted capture keeps them all
        assert all(key != bytes(len(key)) for key in media_keys)


def _notification(data: bytes) -> e2e_pb2.Message.HistorySyncNotification | None:
    try:
        message = e2e_pb2.Message.FromString(data)
    except DecodeError:
        return None
    protocol = message.protocol_message
    if not protocol.HasField("history_sync_notification"):
        return None
    return protocol.history_sync_notification
