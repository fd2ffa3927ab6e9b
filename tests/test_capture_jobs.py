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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.capture_scenarios import ALICE, T0, messages_history_pair
from walink._capture.jobs import (
    decode_error,
    decode_processed,
    decode_sync,
    encode_error,
    encode_processed,
    encode_sync,
    redact_message,
)
from walink.auth.errors import LeaseLostError
from walink.auth.model import Creds
from walink.capture import (
    CaptureWriter,
    CapturingSession,
    ReplayedError,
    read_capture,
    replay_capture,
)
from walink.fsm.policy import PolicyConfig
from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.history import history_set
from walink.protocol.proto import e2e_pb2
from walink.session import (
    HistoryFailed,
    HistoryReceived,
    MessageFailed,
    MessageProcessed,
    ProcessedMessage,
    SessionConfig,
)
from walink.testing.history import default_fixture
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

FIXTURE = default_fixture()
KINDS = ["INITIAL_BOOTSTRAP", "RECENT", "RECENT", "PUSH_NAME"]


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
    return Live(path=path, pair=messages_history_pair(path, redact=redact), redact=redact)


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
    # placeholders of the same length) and, redacted, the server-error receipt (encrypted with
    # the blob's media key, which a redacted capture replaces by zero bytes; its IV is the
    # recorded one). Every receipt and ack of a message is the same.
    expected = ["iq/result/pair-device-sign"]
    if live.redact:
        expected.append("receipt/server-error/encrypt")
    else:
        expected.append("iq/set/registration")
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


def _server_error_receipts(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in nodes if n["tag"] == "receipt" and n["attrs"].get("type") == "server-error"]


def _encrypt_parts(receipt: dict[str, Any]) -> dict[str, str]:
    """The base64 contents of a server-error receipt's ``enc_p`` and ``enc_iv``."""
    (encrypt,) = receipt["children"]
    return {child["tag"]: child["b64"] for child in encrypt["children"]}


def test_the_server_error_receipt_uses_the_recorded_iv_and_computes_its_ciphertext(
    live: Live,
) -> None:
    """The IV (sent in clear) is the recorded one; the ciphertext is the replay's own: with a
    redacted media key it differs, and with another recorded IV it no longer matches."""
    lines = _lines(live.path)
    (recorded,) = _server_error_receipts(_out_nodes(lines))
    (sent,) = _server_error_receipts(replay_capture(read_capture(live.path)).sent)
    mine, theirs = _encrypt_parts(sent), _encrypt_parts(recorded)
    assert mine["enc_iv"] == theirs["enc_iv"]
    assert (mine["enc_p"] == theirs["enc_p"]) is not live.redact
    # the same capture with the receipt's IV changed: the replay encrypts with that IV, and
    # the ciphertext it computes differs from the recorded one (made with the live IV)
    zeros = base64.b64encode(bytes(12)).decode()
    assert theirs["enc_iv"] != zeros
    (encrypt,) = recorded["children"]  # ``recorded`` is the dict inside ``lines``
    for child in encrypt["children"]:
        if child["tag"] == "enc_iv":
            child["b64"] = zeros
    path = live.path.with_name(f"changed-iv-{live.redact}.jsonl")
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    (resent,) = _server_error_receipts(replay_capture(read_capture(path)).sent)
    assert _encrypt_parts(resent)["enc_iv"] == zeros
    assert _encrypt_parts(resent)["enc_p"] != theirs["enc_p"]


def test_the_replay_records_the_same_history_in_its_creds(live: Live) -> None:
    result = replay_capture(read_capture(live.path))
    saved = live.pair.store.load()
    assert saved is not None and result.creds is not None
    assert len(saved.processed_history_messages) == len(KINDS)
    assert result.creds.processed_history_messages == saved.processed_history_messages
    assert dict(result.creds.extra) == dict(saved.extra)  # no notification left pending
    assert result.creds.me == saved.me


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
    # the registration id is redacted in the pre-key upload: the header keeps it only unredacted
    own = live.pair.session.creds.registration_id
    assert lines[0].get("registration_id") == (None if live.redact else own)
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


# -- the outcomes' encoding, unit by unit ------------------------------------------------------


class _DecryptError(RemoteProtocolError):
    """A processor's own decrypt failure (a subclass the capture cannot rebuild)."""


class _DiskError(Exception):
    """A store's own failure (another class the capture cannot rebuild)."""


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_DecryptError("bad MAC"), RemoteProtocolError),
        (RemoteProtocolError("no session"), RemoteProtocolError),
        (LeaseLostError("the lease is gone"), LeaseLostError),
        (OSError("disk full"), OSError),
        (_DiskError("sqlite is locked"), ReplayedError),
        (ValueError("odd"), ValueError),
        (KeyError("pre-key 7"), ReplayedError),  # its text is quoted: not rebuilt as one
    ],
)
def test_an_error_comes_back_classified_the_same_with_the_same_text(
    error: Exception, kind: type[Exception]
) -> None:
    data = json.loads(json.dumps(encode_error(error)))
    back = decode_error(data, 1)
    assert type(back) is kind and str(back) == str(error)
    # what the session tells apart: the message's fault, the lease, or the store's
    assert isinstance(back, RemoteProtocolError) == isinstance(error, RemoteProtocolError)
    assert isinstance(back, LeaseLostError) == isinstance(error, LeaseLostError)
    if isinstance(back, ReplayedError):
        assert back.recorded_class == type(error).__name__


_JID = st.sampled_from(
    ["1555000@s.whatsapp.net", "2138@lid", "1203630@g.us", "1555001@s.whatsapp.net", "99@lid"]
)
_TEXT = st.text(min_size=1, max_size=12)


@st.composite
def _syncs(draw: st.DrawFn) -> e2e_pb2.HistorySync:
    sync = e2e_pb2.HistorySync(
        sync_type=draw(st.sampled_from(["INITIAL_BOOTSTRAP", "RECENT", "PUSH_NAME"])),
        chunk_order=draw(st.integers(0, 9)),
    )
    if draw(st.booleans()):
        sync.progress = draw(st.integers(0, 100))
    for _ in range(draw(st.integers(0, 3))):
        chat = sync.conversations.add(id=draw(_JID), name=draw(_TEXT))
        if draw(st.booleans()):
            chat.pn_jid = draw(_JID)
        if draw(st.booleans()):
            chat.lid_jid = draw(_JID)
        for _ in range(draw(st.integers(0, 3))):
            info = chat.messages.add().message
            info.key.remote_jid = chat.id
            info.key.id = draw(st.text(alphabet="0123456789ABCDEF", min_size=4, max_size=8))
            info.key.from_me = draw(st.booleans())
            info.message_timestamp = draw(st.integers(0, 2**40))
            info.message.conversation = draw(_TEXT)
            info.push_name = draw(_TEXT)
    for _ in range(draw(st.integers(0, 3))):
        sync.pushnames.add(id=draw(_JID), pushname=draw(_TEXT))
    for _ in range(draw(st.integers(0, 2))):
        sync.phone_number_to_lid_mappings.add(pn_jid=draw(_JID), lid_jid=draw(_JID))
    return sync


@settings(max_examples=60, deadline=None)
@given(_syncs(), st.booleans())
def test_a_redacted_chunk_makes_the_same_event_without_names_or_texts(
    sync: e2e_pb2.HistorySync, latest: bool
) -> None:
    notification = e2e_pb2.Message.HistorySyncNotification(sync_type="RECENT")
    redacted = decode_sync(encode_sync(sync, redact=True), 1)
    live, replayed = (history_set(s, notification, is_latest=latest) for s in (sync, redacted))
    for name in ("sync_type", "chunk_order", "progress", "is_latest", "lid_pn_mappings"):
        assert getattr(replayed, name) == getattr(live, name)
    assert [c.id for c in replayed.chats] == [c.id for c in live.chats]
    assert [c.id for c in replayed.contacts] == [c.id for c in live.contacts]
    assert [(m.key, m.timestamp) for m in replayed.messages] == [
        (m.key, m.timestamp) for m in live.messages
    ]
    assert all(m.message is None and m.push_name is None for m in replayed.messages)
    assert all(c.name is None and c.notify is None for c in replayed.contacts)
    assert decode_sync(encode_sync(sync, redact=False), 1) == sync


def test_a_redacted_message_keeps_only_what_the_session_reads() -> None:
    share = e2e_pb2.Message(
        protocol_message=e2e_pb2.Message.ProtocolMessage(
            type=e2e_pb2.Message.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE,
            app_state_sync_key_share=e2e_pb2.Message.AppStateSyncKeyShare(
                keys=[
                    e2e_pb2.Message.AppStateSyncKey(
                        key_id=e2e_pb2.Message.AppStateSyncKeyId(key_id=b"\x00\x01"),
                        key_data=e2e_pb2.Message.AppStateSyncKeyData(
                            key_data=b"secret key data!", timestamp=7
                        ),
                    )
                ]
            ),
        )
    )
    redacted = redact_message(share)
    [key] = redacted.protocol_message.app_state_sync_key_share.keys
    assert key.key_id.key_id == b"\x00\x01" and key.key_data.timestamp == 7
    assert key.key_data.key_data == bytes(16)
    assert redact_message(e2e_pb2.Message(conversation="hello")) == e2e_pb2.Message()
    processed = ProcessedMessage(result="not a decrypted result", history_sync=False)
    fields = encode_processed(processed, redact=True)
    assert fields == {"redelivered": False, "history_sync": False, "decrypted": None}
    assert decode_processed(fields, 1).result is None


# -- a store that fails, a lease that is lost -----------------------------------------------


class _BrokenStore:
    """A message processor whose store fails every commit (or whose lease is gone)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def process(self, node: Node) -> ProcessedMessage:
        raise self.error


def _open_capturing(path: Path) -> MemoryPair:
    hub = Hub(rng=random.Random(3).randbytes, now=T0, log=lambda line: None)
    hub.history = None
    rng = random.Random(3)
    config = SessionConfig(
        trust_root=hub.client_trust_root, policy=PolicyConfig(jitter=0.0), process_messages=True
    )
    session = CapturingSession(
        creds=Creds.new(rng.randbytes), rng=rng, config=config, capture=CaptureWriter(path, seed=3)
    )
    pair = MemoryPair(session, hub, now=T0)
    pair.start()
    pair.scan_qr()
    assert pair.run_until(lambda: session.connection == "open", limit=60)
    pair.run_until(lambda: False, limit=1)
    return pair


@pytest.mark.parametrize(
    ("error", "reason"),
    [(OSError("disk full"), "STORE_ERROR"), (LeaseLostError("taken over"), "LEASE_LOST")],
)
def test_a_commit_that_fails_replays_as_the_same_stop(
    tmp_path: Path, error: Exception, reason: str
) -> None:
    pair = _open_capturing(tmp_path / "broken.jsonl")
    pair.processor = _BrokenStore(error)
    assert pair.server is not None
    me = pair.session.creds.me
    assert me is not None
    pair.server.send_node(pair.hub.contacts.text_stanza(ALICE, me.id, "hi", now=pair.now))
    pair.pump()
    assert pair.session.finished
    session = pair.session
    assert isinstance(session, CapturingSession)
    session.capture.close(at=pair.now)
    result = replay_capture(read_capture(Path(session.capture.path)))
    assert result.events == result.recorded
    closes = [line for line in result.events if line["event"] == "closed"]
    assert closes[-1]["reason"] == reason and closes[-1]["final"] is True


def test_a_lost_lease_replays_as_the_same_stop(tmp_path: Path) -> None:
    pair = _open_capturing(tmp_path / "lease.jsonl")
    pair.session.lease_lost(now=pair.now, message="another process runs the device")
    pair.pump()
    session = pair.session
    assert isinstance(session, CapturingSession) and session.finished
    session.capture.close(at=pair.now)
    capture = read_capture(Path(session.capture.path))
    assert [r.data for r in capture.records if r.kind == "command"][-1] == {
        "k": "command",
        "t": pair.now,
        "name": "lease_lost",
        "message": "another process runs the device",
    }
    result = replay_capture(capture)
    assert result.events == result.recorded
    assert [line["reason"] for line in result.events if line["event"] == "closed"][-1] == (
        "LEASE_LOST"
    )
