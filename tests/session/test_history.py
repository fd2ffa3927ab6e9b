"""walink._session.history: our phone's history, from the hub's real Signal messages to events.

A fresh device pairs with the in-memory hub, logs in and uploads its keys; the hub's phone then
sends the built-in history (inline bootstrap, RECENT blobs, push names) encrypted to it. The
session runs walink's real Signal processor, and ``MemoryPair`` serves the download jobs from the
hub's blob store. Time is the pair's fake clock.
"""

from __future__ import annotations

import base64
import random

import pytest

from walink._receive import SignalProcessor
from walink._session.history import PENDING_FIELD, pending_history
from walink.auth.model import AppStateSyncKeyData, Creds
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.history import decrypt_server_error_receipt, was_processed
from walink.protocol.messages import MessageKey
from walink.protocol.proto import e2e_pb2
from walink.session import (
    DownloadHistory,
    HistoryFailed,
    HistoryReceived,
    HistoryStatusChanged,
    MessageProcessed,
    ProcessedMessage,
    SaveRequest,
    SessionConfig,
)
from walink.testing.history import HistoryFaults, HistoryFixture, default_fixture
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

from .helpers import make_hub, with_config

FIXTURE = default_fixture()
KINDS = ["INITIAL_BOOTSTRAP", "RECENT", "RECENT", "PUSH_NAME"]


def received(pair: MemoryPair) -> list[HistoryReceived]:
    return [e for e in pair.events if isinstance(e, HistoryReceived)]


def failures(pair: MemoryPair) -> list[HistoryFailed]:
    return [e for e in pair.events if isinstance(e, HistoryFailed)]


def statuses(pair: MemoryPair) -> list[tuple[str, str]]:
    return [
        (e.status.sync_type, e.status.status)
        for e in pair.events
        if isinstance(e, HistoryStatusChanged)
    ]


def receipts(pair: MemoryPair, kind: str) -> list[str]:
    return [
        n.attrs["id"]
        for server in pair.servers
        for n in server.received
        if n.tag == "receipt" and n.attrs.get("type") == kind
    ]


def with_processor(pair: MemoryPair, seed: int = 9) -> MemoryPair:
    pair.processor = SignalProcessor(
        pair.store, clock=lambda: pair.now, randbytes=random.Random(seed).randbytes
    )
    return pair


def linked(
    hub: Hub, config: SessionConfig | None = None, *, hold: bool = False, handle: bool = True
) -> MemoryPair:
    """A new device paired by QR that logs in and is sent the history (``handle``: the
    application handles every event at once)."""
    config = config or with_config(process_messages=True)
    pair = with_processor(MemoryPair.create(hub, seed=2, now=hub.now, config=config))
    pair.hold_downloads = hold
    pair.auto_handle = handle
    pair.start()
    pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.run_until(lambda: False, limit=1)  # the keys upload and the history in reply
    return pair


def test_a_new_login_receives_the_whole_history() -> None:
    hub = make_hub()
    pair = linked(hub)
    # blobs are published when their download is done: after the inline push names
    chunks = sorted(received(pair), key=lambda c: c.history.chunk_order or 0)
    assert [c.history.sync_type for c in chunks] == KINDS
    assert [c.history.chunk_order for c in chunks] == [0, 1, 2, 3]
    assert [c.history.is_latest for c in chunks] == [True, False, False, False]
    assert sum(len(c.history.messages) for c in chunks) == FIXTURE.message_count()
    bootstrap = chunks[0].history
    assert {chat.id for chat in bootstrap.chats} == {chat.id for chat in FIXTURE.bootstrap}
    assert chunks[-1].history.contacts[0].notify == FIXTURE.push_names[0].push_name
    assert [c.history.progress for c in chunks[1:3]] == [50, 100]
    assert statuses(pair) == [("INITIAL_BOOTSTRAP", "complete"), ("RECENT", "complete")]
    # every notification got its hist_sync receipt, and is recorded in the saved creds
    assert sorted(receipts(pair, "hist_sync")) == sorted(c.message_id for c in chunks)
    ids = [c.message_id for c in received(pair)]
    saved = pair.store.load()
    assert saved is not None
    assert [e["key"]["id"] for e in saved.processed_history_messages] == ids  # type: ignore[index,call-overload]
    assert pending_history(saved) == () and PENDING_FIELD not in saved.extra
    assert failures(pair) == []
    # downloads used the hosts the server named in media_conn
    downloads = [e for e in pair.events if isinstance(e, DownloadHistory)]
    assert len(downloads) == 2 and all(d.hosts == hub.media_hosts for d in downloads)


def recorded(pair: MemoryPair, message_id: str) -> list[SaveRequest]:
    key = MessageKey(remote_jid=own_user(pair), from_me=True, id=message_id)
    return [
        e
        for e in pair.events
        if isinstance(e, SaveRequest)
        and e.creds is not None
        and was_processed(e.creds.processed_history_messages, key)
    ]


def test_each_chunk_is_recorded_only_after_the_application_handled_it() -> None:
    hub = make_hub()
    pair = linked(hub, handle=False)
    chunks = [e for e in pair.unhandled if isinstance(e, HistoryReceived)]
    assert sorted(c.history.chunk_order or 0 for c in chunks) == [0, 1, 2, 3]
    assert pair.session.history_unhandled == {c.token for c in chunks}
    for chunk in chunks:
        assert recorded(pair, chunk.message_id) == []
    saved = pair.store.load()
    assert saved is not None and saved.processed_history_messages == ()
    for chunk in chunks:
        at = len(pair.events)
        pair.handle(chunk)
        pair.pump()
        [save] = recorded(pair, chunk.message_id)
        assert pair.events.index(save) >= at  # the save that records it follows its handling
        with pytest.raises(LocalProtocolError):
            pair.session.history_handled(chunk.token, now=pair.now)
    saved = pair.store.load()
    assert saved is not None and len(saved.processed_history_messages) == len(KINDS)
    assert pending_history(saved) == ()


def test_chunks_not_handled_before_a_restart_are_all_published_again() -> None:
    """The process "dies" with every chunk published and none handled: the blob chunks are
    resumed from the pending list, the inline ones come back with the server's redelivery of
    their notification (whose ack waited for the application too)."""
    hub = make_hub()
    pair = linked(hub, handle=False)
    first = sorted(
        e.history.chunk_order or 0 for e in pair.unhandled if isinstance(e, HistoryReceived)
    )
    assert first == [0, 1, 2, 3]
    assert receipts(pair, "hist_sync") == []  # no notification was answered
    pair.auto_reconnect = False
    pair.session.abort(CloseReason.NETWORK_ERROR, now=pair.now)  # the server drops the socket
    pair.pump()
    saved = pair.store.load()
    assert saved is not None and len(pending_history(saved)) == 2
    again = restarted(hub, pair, saved)
    assert again.run_until(lambda: len(received(again)) == len(KINDS), limit=30)
    assert sorted(c.history.chunk_order or 0 for c in received(again)) == [0, 1, 2, 3]
    assert [c.history.is_latest for c in received(again)].count(True) == 1
    final = again.store.load()
    assert final is not None and pending_history(final) == ()
    assert len(final.processed_history_messages) == len(KINDS)


def own_user(pair: MemoryPair) -> str:
    """The JID our phone writes from: our LID or our number (``Hub.phone_from_lid``)."""
    me = pair.session.creds.me
    assert me is not None and me.lid is not None
    return pair.hub.phone_jid(me.id.split(":")[0], me.lid.split(":")[0].split("@")[0])


@pytest.mark.parametrize("fault", ["missing", "corrupt"])
def test_a_gone_or_corrupt_blob_is_uploaded_again_and_recovered(fault: str) -> None:
    hub = make_hub()
    hub.history_faults = HistoryFaults(**{fault: frozenset({0})})
    pair = linked(hub)
    (failed,) = failures(pair)
    assert failed.reupload and not failed.final and failed.sync_type == "RECENT"
    (asked,) = receipts(pair, "server-error")
    assert asked == failed.message_id == hub.blobs.reuploads[0]
    assert sorted(c.history.sync_type for c in received(pair)) == [
        "INITIAL_BOOTSTRAP",
        "PUSH_NAME",
        "RECENT",
    ]
    pair.advance(SessionConfig().history_reupload_wait)
    assert sorted(c.history.sync_type for c in received(pair)) == sorted(KINDS)
    assert failed.message_id in [c.message_id for c in received(pair)]


def test_a_blob_that_stays_gone_is_given_up_and_reported() -> None:
    hub = make_hub()
    hub.history_faults = HistoryFaults(missing=frozenset({1}))
    hub.blobs.on_server_error_receipt = lambda receipt: False  # type: ignore[method-assign]
    pair = linked(hub, with_config(process_messages=True, history_reuploads=1))
    pair.advance(10)
    outcomes = [(f.reupload, f.final) for f in failures(pair)]
    assert outcomes == [(True, False), (False, True)]
    saved = pair.store.load()
    assert saved is not None and pending_history(saved) == ()
    assert len(received(pair)) == 3


def test_the_server_error_receipt_names_the_notification() -> None:
    hub = make_hub()
    hub.history_faults = HistoryFaults(missing=frozenset({0}))
    pair = linked(hub)
    (failed,) = failures(pair)
    receipt = next(
        n
        for server in pair.servers
        for n in server.received
        if n.tag == "receipt" and n.attrs.get("type") == "server-error"
    )
    assert failed.notification is not None
    named = decrypt_server_error_receipt(receipt, failed.notification.media_key)
    assert named == failed.message_id


def test_skipped_notifications_still_get_their_hist_sync_receipt() -> None:
    hub = make_hub()
    config = with_config(process_messages=True, should_sync_history=lambda n: False)
    pair = linked(hub, config)
    assert received(pair) == [] and failures(pair) == []
    assert len(receipts(pair, "hist_sync")) == len(KINDS)
    assert not [e for e in pair.events if isinstance(e, DownloadHistory)]


def test_a_chunk_that_never_comes_reports_the_recent_sync_paused() -> None:
    hub = make_hub()
    hub.history_faults = HistoryFaults(never=frozenset({1}))
    pair = linked(hub)
    assert statuses(pair) == [("INITIAL_BOOTSTRAP", "complete")]
    pair.advance(SessionConfig().history_paused_timeout - 5)
    assert statuses(pair) == [("INITIAL_BOOTSTRAP", "complete")]
    pair.advance(10)
    assert statuses(pair) == [("INITIAL_BOOTSTRAP", "complete"), ("RECENT", "paused")]


def restarted(hub: Hub, pair: MemoryPair, saved: Creds) -> MemoryPair:
    """``pair``'s device in a new process, 5 s later: its store and ``saved`` creds, logging in."""
    hub.now = pair.now + 5
    again = with_processor(
        MemoryPair.create(
            hub,
            seed=4,
            now=hub.now,
            creds=saved,
            config=with_config(process_messages=True),
            store=pair.store,
        ),
        seed=10,
    )
    again.start()
    return again


def test_a_chunk_past_the_size_cap_is_reported() -> None:
    hub = make_hub()
    pair = linked(hub, with_config(process_messages=True, max_history_size=64))
    final = [f for f in failures(pair) if f.final]
    assert final and received(pair) == []
    assert all(isinstance(f.error, RemoteProtocolError) for f in final)
    saved = pair.store.load()
    assert saved is not None and saved.processed_history_messages == ()


def test_a_restart_during_a_download_resumes_it_and_publishes_once() -> None:
    """The download jobs never finish: the process "dies" (the pair is dropped without
    closing). The notifications were saved as pending before their acks left; the next login
    resumes them, and nothing already published comes again."""
    hub = make_hub()
    pair = linked(hub, hold=True)
    first = [c.history.sync_type for c in received(pair)]
    assert first == ["INITIAL_BOOTSTRAP", "PUSH_NAME"]
    saved = pair.store.load()
    assert saved is not None and len(pending_history(saved)) == 2
    held = {d.request.message_id for d in pair.pending_downloads}
    assert set(pending_history(saved)) == held
    again = restarted(hub, pair, saved)
    assert again.run_until(lambda: len(received(again)) == 2, limit=30)
    resumed = received(again)
    assert {c.message_id for c in resumed} == held
    assert all(not c.history.is_latest for c in resumed)
    final = again.store.load()
    assert final is not None and pending_history(final) == ()
    assert len(final.processed_history_messages) == len(KINDS)


def test_a_redelivered_notification_is_not_published_twice() -> None:
    """An inline chunk whose save was confirmed but whose ack never left: the server delivers
    it again at the next login, and it is not published a second time."""
    hub = make_hub()
    only_inline = HistoryFixture(bootstrap=FIXTURE.bootstrap)
    hub.history = only_inline
    pair = linked(hub)
    assert [c.history.sync_type for c in received(pair)] == ["INITIAL_BOOTSTRAP"]
    saved = pair.store.load()
    assert saved is not None
    (stanza,) = [
        e.node
        for e in pair.events
        if isinstance(e, MessageProcessed) and e.node.attrs.get("category") == "peer"
    ]
    hub.queue_offline(saved.me.id, stanza)  # type: ignore[union-attr]
    again = restarted(hub, pair, saved)
    again.run_until(lambda: False, limit=2)
    assert received(again) == []
    assert receipts(again, "hist_sync") == [stanza.attrs["id"]]


class _Shared:
    """A processor result holding the decrypted messages (what the history part reads)."""

    def __init__(self, *messages: e2e_pb2.Message) -> None:
        self.decrypted = messages


class _ShareProcessor:
    """Answers every stanza with an app-state key share from our phone."""

    def __init__(self, message: e2e_pb2.Message) -> None:
        self.message = message

    def process(self, node: Node) -> ProcessedMessage:
        return ProcessedMessage(result=_Shared(self.message))


def test_app_state_keys_our_phone_shares_are_stored() -> None:
    hub = make_hub()
    hub.history = None
    pair = linked(hub)
    m = e2e_pb2.Message
    keys = [
        m.AppStateSyncKey(
            key_id=m.AppStateSyncKeyId(key_id=bytes([n]) * 6),
            key_data=m.AppStateSyncKeyData(
                key_data=bytes([n]) * 32,
                fingerprint=m.AppStateSyncKeyFingerprint(raw_id=n, current_index=1),
                timestamp=1_700_000_000 + n,
            ),
        )
        for n in (1, 2)
    ]
    share = m(
        protocol_message=m.ProtocolMessage(
            type=m.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE,
            app_state_sync_key_share=m.AppStateSyncKeyShare(keys=keys),
        )
    )
    pair.processor = _ShareProcessor(share)
    me = pair.session.creds.me
    assert me is not None
    own = me.id.split(":")[0].split("@")[0] + "@s.whatsapp.net"
    stanza = Node(
        "message",
        {"id": "3EB0SHARE", "from": own, "t": "1780000000", "type": "text", "category": "peer"},
        [Node("enc", {"v": "2", "type": "msg"}, b"x")],
    )
    pair.servers[-1].send_node(stanza)
    pair.pump()
    ids = [base64.b64encode(bytes([n]) * 6).decode() for n in (1, 2)]
    stored = pair.store.get_keys("app-state-sync-key", ids)
    first = stored[ids[0]]
    assert isinstance(first, AppStateSyncKeyData) and first.key_data == bytes([1]) * 32
    assert first.fingerprint is not None and first.fingerprint.raw_id == 1
    assert isinstance(stored[ids[1]], AppStateSyncKeyData)
    saved = pair.store.load()
    assert saved is not None and saved.my_app_state_key_id == ids[1]
    # from anyone but our own phone (not a peer message) a share is ignored
    pair.processor = _ShareProcessor(share)
    other = Node(
        "message",
        {"id": "3EB0OTHER", "from": "15550002222@s.whatsapp.net", "t": "1", "type": "text"},
        [Node("enc", {"v": "2", "type": "msg"}, b"y")],
    )
    saves = len([e for e in pair.events if isinstance(e, SaveRequest)])
    pair.servers[-1].send_node(other)
    pair.pump()
    assert len([e for e in pair.events if isinstance(e, SaveRequest)]) == saves
