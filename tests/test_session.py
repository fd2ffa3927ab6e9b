"""walink.session: the client lifecycle against the server role, in memory, time as a parameter."""

from __future__ import annotations

from dataclasses import replace

import pytest

from walink.fsm.policy import PolicyConfig
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError
from walink.protocol.keys import KeyPair
from walink.protocol.pairing import parse_qr_string
from walink.protocol.payload import PayloadOptions
from walink.session import (
    INITIAL_PREKEY_COUNT,
    MIN_PREKEY_COUNT,
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    NodeReceived,
    SaveRequest,
    SessionEvent,
)
from walink.testing.faults import Silence, Step
from walink.testing.memory import MemoryPair

from .session.helpers import (
    check_one_close_update_per_close,
    closes,
    fresh_pair,
    login_pair,
    make_hub,
    open_pair,
    paired_creds,
    updates,
    with_config,
)


def test_fresh_qr_login_through_restart_to_open() -> None:
    hub = make_hub()
    hub.history = None  # the node counts here are of the login alone
    pair = fresh_pair(hub)
    pair.start()
    first = updates(pair.events)
    assert first[0].connection == "connecting" and first[0].qr is None
    qr1 = pair.qr
    assert qr1 is not None and pair.session.state == "awaiting_qr"
    assert pair.session.creds.me is None
    refs = pair.servers[0].refs
    assert parse_qr_string(qr1).ref == refs[0]
    assert pair.servers[0].pair_device_acked

    # the first QR lives 60 s, the next ones 20 s each
    pair.advance(59.9)
    assert pair.qr == qr1
    pair.advance(0.2)
    assert pair.qr is not None and parse_qr_string(pair.qr).ref == refs[1]
    pair.advance(19.8)
    assert parse_qr_string(pair.qr).ref == refs[1]
    pair.advance(0.2)
    assert parse_qr_string(pair.qr).ref == refs[2]

    mark = len(pair.events)
    jid = pair.scan_qr()
    after = pair.events[mark:]
    kinds = [type(e).__name__ for e in after]
    # creds saved, then the new-login update, then the 515 restart (no close update)
    assert kinds[:3] == ["CredsUpdate", "SaveRequest", "ConnectionUpdate"]
    new_login = after[2]
    assert isinstance(new_login, ConnectionUpdate)
    assert new_login.is_new_login and new_login.qr is None and new_login.connection == "connecting"
    restart = closes(after)[0]
    assert restart.disconnect.reason is CloseReason.RESTART_REQUIRED
    assert restart.decision.restart and not restart.final
    assert all(u.connection != "close" for u in updates(pair.events))

    # the restart logged in with the new identity and opened
    assert pair.session.connection == "open"
    assert pair.session.creds.me is not None and pair.session.creds.me.id == jid
    opened = updates(pair.events)[-1]
    assert opened.connection == "open" and opened.is_new_login
    assert opened.received_pending_notifications
    login = pair.servers[1]
    assert login.device is not None and login.device.jid == jid
    assert pair.session.server_time_offset == pytest.approx(int(pair.now) - pair.now, abs=1)

    # initial queries in Baileys' order, answered; presence unavailable by default
    sent = [
        (n.tag, n.attr("xmlns"), n.children()[0].tag if n.children() else None)
        for n in login.received
    ]
    assert sent[:5] == [
        ("iq", "encrypt", "count"),
        ("iq", "encrypt", "registration"),
        ("iq", "passive", "active"),
        ("iq", "encrypt", "digest"),
        ("ib", None, "unified_session"),
    ]
    assert ("iq", "abt", "props") in sent and ("iq", "blocklist", None) in sent
    # no presence at all without a push name (Baileys ignores it, whatsmeow refuses it)
    assert login.presence is None and not pair.session.is_online
    assert login.device.pre_key_count == INITIAL_PREKEY_COUNT

    # the store holds what the server got: every uploaded pre-key, and the creds
    stored = pair.store.load()
    assert stored == pair.session.creds
    assert stored.next_pre_key_id == 1 + INITIAL_PREKEY_COUNT
    keys = pair.store.get_keys("pre-key", ["1", str(INITIAL_PREKEY_COUNT)])
    assert all(isinstance(k, KeyPair) for k in keys.values())
    check_one_close_update_per_close(pair.events)


def test_offline_delivery_is_acked_then_pending_notifications() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    assert creds.me is not None
    message = Node("message", {"id": "M1", "from": "111@s.whatsapp.net", "type": "text"})
    receipt = Node("receipt", {"id": "R1", "from": "222@s.whatsapp.net", "type": "read"})
    hub.queue_offline(creds.me.id, message)
    hub.queue_offline(creds.me.id, receipt)
    pair = open_pair(hub, creds)
    received = [e.node for e in pair.events if isinstance(e, NodeReceived)]
    assert [n.attr("id") for n in received] == ["M1", "R1"]
    assert [n.attr("offline") for n in received] == ["1", "2"]
    acks = [n for n in pair.servers[0].received if n.tag == "ack"]
    assert acks == [
        Node(
            "ack", {"id": "M1", "to": "111@s.whatsapp.net", "class": "message", "from": creds.me.id}
        ),
        Node("ack", {"id": "R1", "to": "222@s.whatsapp.net", "class": "receipt", "type": "read"}),
    ]
    pending = [u for u in updates(pair.events) if u.received_pending_notifications]
    index_pending = pair.events.index(pending[0])
    assert all(
        pair.events.index(e) < index_pending for e in pair.events if isinstance(e, NodeReceived)
    )
    # a second login finds enough pre-keys on the server: no new upload
    assert creds.next_pre_key_id == pair.session.creds.next_pre_key_id


def test_qr_exhaustion_is_final() -> None:
    hub = make_hub()
    pair = fresh_pair(hub)
    pair.start()
    shown = set()
    while pair.session.attempt_alive:
        shown.add(pair.qr)
        pair.advance(1)
    assert len(shown - {None}) == 6
    [closed] = closes(pair.events)
    assert closed.disconnect.reason is CloseReason.QR_EXHAUSTED
    assert closed.final and not closed.decision.reconnect
    assert pair.session.state == "qr_exhausted" and pair.session.finished
    assert pair.now - pair.servers[0].hub.now <= 1
    assert updates(pair.events)[-1].connection == "close"
    assert updates(pair.events)[-1].qr is None
    check_one_close_update_per_close(pair.events)
    with pytest.raises(Exception, match="lifecycle ended"):
        pair.session.start(now=pair.now)


def test_saved_creds_open_and_unknown_device_logged_out() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    pair = open_pair(hub, creds)
    connections = [u.connection for u in pair.updates]
    assert connections[0] == "connecting" and connections[-1] == "open"
    assert "close" not in connections
    assert not pair.updates[-1].is_new_login

    other = make_hub(seed=9)
    stranger = login_pair(other, creds)
    stranger.start()
    [closed] = stranger.closes
    assert closed.disconnect.reason is CloseReason.LOGGED_OUT
    assert closed.disconnect.status == 401 and closed.final and not closed.requested
    assert stranger.session.state == "logged_out"


def test_logout_is_a_requested_logged_out_end() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    pair = open_pair(hub, creds)
    pair.session.logout(now=pair.now)
    pair.pump()
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.LOCAL_LOGOUT
    assert closed.disconnect.status == 401 and closed.requested and closed.final
    assert pair.session.state == "logged_out"
    request = next(n for n in pair.servers[0].received if n.attr("xmlns") == "md")
    removal = request.child("remove-companion-device")
    assert creds.me is not None and removal is not None
    assert removal.attrs == {"jid": creds.me.id, "reason": "user_initiated"}
    user, device = creds.me.id.split("@")[0].split(":")
    assert hub.registry.device(user, int(device)) is None
    check_one_close_update_per_close(pair.events)


def test_logout_without_answer_ends_after_its_timeout() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    pair = open_pair(hub, creds)
    pair.servers[0].go_silent()  # the server stops answering mid-connection
    pair.session.logout(now=pair.now)
    pair.advance(4.9)
    assert pair.session.attempt_alive
    pair.advance(0.2)
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.LOCAL_LOGOUT and closed.requested


def test_save_before_send_ordering() -> None:
    hub = make_hub()
    hub.history = None  # the node counts here are of the login alone
    pair = fresh_pair(hub, auto_confirm=False)
    pair.start()
    pair.hub.phone.scan_qr(pair.qr or "", now=pair.now)
    pair.pump()
    server = pair.servers[0]
    # creds were requested; the pair-device-sign reply waits for them
    [request] = pair.pending_saves
    assert request.creds is not None and request.creds.me is not None
    assert not any(n.child("pair-device-sign") for n in server.received)
    assert pair.session.saves_pending == {request.token}
    pair.advance(5)  # time passes, still nothing dependent leaves
    assert not any(n.child("pair-device-sign") for n in server.received)
    pair.confirm_saves()
    assert pair.closes[0].disconnect.reason is CloseReason.RESTART_REQUIRED

    # login: the pre-key upload waits for the keys to be saved
    pair.run_until(lambda: bool(pair.pending_saves), limit=5)
    [keys] = pair.pending_saves
    assert keys.keys is not None and len(keys.keys["pre-key"]) == INITIAL_PREKEY_COUNT
    login = pair.servers[1]
    assert login.device is not None and login.device.pre_key_count == 0
    assert not any(n.child("list") for n in login.received)
    pair.confirm_saves()
    assert login.device.pre_key_count == INITIAL_PREKEY_COUNT
    assert pair.session.connection == "open"


def test_failed_save_stops_and_sends_nothing_dependent() -> None:
    hub = make_hub()
    pair = fresh_pair(hub, auto_confirm=False)
    pair.start()
    pair.hub.phone.scan_qr(pair.qr or "", now=pair.now)
    pair.pump()
    [request] = pair.pending_saves
    pair.session.save_failed(request.token, OSError("disk full"), now=pair.now)
    pair.pump()
    [closed] = pair.closes
    assert closed.final and "disk full" in closed.disconnect.message
    assert closed.disconnect.reason is CloseReason.STORE_ERROR and not closed.requested
    assert (closed.disconnect.status, closed.disconnect.terminal) == (500, True)
    assert pair.session.state == "stopped" and pair.session.finished
    assert not any(n.child("pair-device-sign") for n in pair.servers[0].received)


def test_failed_save_between_attempts_stops_with_store_error() -> None:
    hub = make_hub()
    pair = fresh_pair(hub, auto_confirm=False)
    pair.auto_reconnect = False
    pair.start()
    pair.hub.phone.scan_qr(pair.qr or "", now=pair.now)
    pair.pump()
    [request] = pair.pending_saves
    pair.session.connection_lost(ConnectionResetError("reset"), now=pair.now)
    pair.pump()
    assert pair.session.state == "backing_off"
    pair.session.save_failed(request.token, "read-only store", now=pair.now + 1)
    pair.pump()
    closed = pair.closes[-1]
    assert closed.disconnect.reason is CloseReason.STORE_ERROR and closed.final
    assert closed.disconnect.message == "saving credentials failed: read-only store"
    assert not closed.requested and pair.session.reconnect_at is None
    assert pair.session.state == "stopped"


def test_edge_routing_is_saved_and_used_on_next_connect() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    hub.edge_routing = b"\x08\x02\x08\x05"
    pair = open_pair(hub, creds)
    assert pair.servers[0].routing_info is None
    assert pair.session.creds.routing_info == b"\x08\x02\x08\x05"
    assert pair.store.load().routing_info == b"\x08\x02\x08\x05"  # type: ignore[union-attr]
    # the next connection (a lost one, reconnected by the policy) sends the ED intro
    pair.session.connection_lost(ConnectionResetError("gone"), now=pair.now)
    pair.pump()
    pair.run_until(lambda: len(pair.servers) == 2 and pair.session.connection == "open", limit=10)
    assert pair.servers[1].routing_info == b"\x08\x02\x08\x05"


def test_companion_reg_refresh_new_secret_saved_before_new_qr() -> None:
    hub = make_hub()
    pair = fresh_pair(hub, auto_confirm=False)
    pair.start()
    old_qr = pair.qr
    assert old_qr is not None
    pair.servers[0].send_companion_reg_refresh()
    pair.pump()
    [request] = pair.pending_saves
    assert request.creds is not None
    assert request.creds.adv_secret_key != parse_qr_string(old_qr).adv_secret
    assert pair.qr == old_qr  # not shown before it is saved
    # the ack depends on nothing: it went out before the save was requested
    acks = [n.attr("class") for n in pair.servers[0].received if n.tag == "ack"]
    assert acks == ["notification"]
    pair.confirm_saves()
    new_qr = pair.qr
    assert new_qr is not None and new_qr != old_qr
    assert parse_qr_string(new_qr).adv_secret == request.creds.adv_secret_key
    # the phone scanning the new QR pairs with the new secret
    pair.auto_confirm = True
    pair.scan_qr()
    assert pair.session.connection == "open"


def test_bad_hmac_is_refused_with_an_error_reply() -> None:
    hub = make_hub()
    pair = fresh_pair(hub)
    pair.start()
    qr = parse_qr_string(pair.qr or "")
    forged = pair.qr.replace(  # type: ignore[union-attr]
        __import__("base64").b64encode(qr.adv_secret).decode(),
        __import__("base64").b64encode(bytes(32)).decode(),
    )
    pair.scan_qr(forged)
    replies = [n for n in pair.servers[0].received if n.attr("type") == "error"]
    assert replies[0].child("error").attrs == {"code": "401", "text": "hmac-mismatch"}  # type: ignore[union-attr]
    closed = pair.closes[0]
    assert closed.disconnect.reason is CloseReason.PROTOCOL_ERROR
    assert closed.decision.reconnect
    assert pair.session.creds.me is None


def test_presence_updates_is_online() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    pair = login_pair(hub, creds, config=with_config(payload=PayloadOptions(push_name="Bot")))
    pair.start()
    assert pair.servers[0].presence == "unavailable"  # announced at open, with the name
    pair.session.send_presence_update("available", now=pair.now)
    pair.pump()
    assert pair.session.is_online and pair.updates[-1].is_online
    assert pair.servers[0].presence == "available"
    pair.session.send_presence_update("unavailable", now=pair.now)
    pair.pump()
    assert not pair.updates[-1].is_online and pair.servers[0].presence == "unavailable"


def test_mark_online_on_connect() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    named = PayloadOptions(push_name="Bot")
    pair = login_pair(hub, creds, config=with_config(mark_online_on_connect=True, payload=named))
    pair.start()
    assert pair.servers[0].presence == "available" and pair.session.is_online


def test_no_presence_without_a_push_name() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    pair = login_pair(hub, creds, config=with_config(mark_online_on_connect=True))
    pair.start()
    assert pair.servers[0].presence is None and not pair.session.is_online
    with pytest.raises(LocalProtocolError, match="push name"):
        pair.session.send_presence_update("available", now=pair.now)
    pair.pump()
    assert pair.servers[0].presence is None and pair.session.connection == "open"


def test_top_up_pre_keys_when_the_server_runs_low() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    device = next(iter(hub.registry.devices()))
    device.pre_key_count = MIN_PREKEY_COUNT
    pair = open_pair(hub, creds)
    uploads = [n for n in pair.servers[0].received if n.child("list") is not None]
    assert len(uploads[0].child("list").children()) == MIN_PREKEY_COUNT  # type: ignore[union-attr]
    assert pair.session.creds.next_pre_key_id == creds.next_pre_key_id + MIN_PREKEY_COUNT


def test_creds_update_always_followed_by_save_request() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    hub.edge_routing = b"\x01"
    pair = open_pair(hub, creds)
    for index, event in enumerate(pair.events):
        if isinstance(event, CredsUpdate):
            follower = pair.events[index + 1]
            assert isinstance(follower, SaveRequest) and follower.creds == event.creds


def test_silent_server_during_login_times_out_and_reconnects() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    hub.inject(Silence(at=Step.OPEN))
    pair = login_pair(hub, creds)
    pair.start()
    started = pair.now
    assert pair.session.state == "authenticating"  # the initial queries go unanswered
    pair.run_until(lambda: len(pair.closes) == 1, limit=120)
    closed = pair.closes[0]
    # a ping after 30 s of silence, then 10 s more: the keepalive gives up
    assert closed.disconnect.at == started + 40
    assert closed.disconnect.reason is CloseReason.KEEPALIVE_TIMEOUT
    assert isinstance(closed, Closed) and closed.decision.reconnect
    pair.run_until(lambda: pair.session.connection == "open", limit=10)
    assert len(pair.servers) == 2


@pytest.mark.parametrize("split", [False, True])
def test_a_stream_error_followed_by_garbage_is_still_that_stream_error(split: bool) -> None:
    # Found by fuzz/session.py: with both in one read, the stream:error used to be lost and the
    # close became a reconnectable PROTOCOL_ERROR instead of a final LOGGED_OUT.
    hub = make_hub()
    pair = open_pair(hub, paired_creds(hub))
    server = pair.server
    assert server is not None
    server.send_node(Node("stream:error", {"code": "401"}))
    wire = server.data_to_send()
    garbage = b"\x00\x00\x01\x00"  # a one-byte frame: no room for an AEAD tag
    if split:
        pair.session.receive_data(wire, now=pair.now)
        pair.session.receive_data(garbage, now=pair.now)
    else:
        pair.session.receive_data(wire + garbage, now=pair.now)
    pair.pump()
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.LOGGED_OUT
    assert closed.final and pair.session.state == "logged_out"


# -- credentials the server logged out are marked and never dial again -----------------------


def _logged_out_events(pair: MemoryPair) -> list[SessionEvent]:
    """The events from the first ``CredsUpdate`` that marks the creds on."""
    marks = [
        i for i, e in enumerate(pair.events) if isinstance(e, CredsUpdate) and e.creds.logged_out
    ]
    return pair.events[marks[0] :] if marks else []


@pytest.mark.parametrize(
    ("node", "reason"),
    [
        (Node("stream:error", {"code": "401"}), CloseReason.LOGGED_OUT),
        (
            Node("stream:error", {}, [Node("conflict", {"type": "device_removed"})]),
            CloseReason.LOGGED_OUT,
        ),
        (Node("stream:error", {"code": "403"}), CloseReason.FORBIDDEN),
        (Node("failure", {"reason": "406"}), CloseReason.BANNED),
    ],
)
def test_a_server_logout_marks_and_saves_the_creds_before_the_final_close(
    node: Node, reason: CloseReason
) -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    pair = open_pair(hub, creds)
    assert pair.server is not None
    pair.server.send_node(node)
    pair.pump()
    [closed] = pair.closes
    assert closed.disconnect.reason is reason and closed.final and not closed.requested
    # the mark, its save, then the close update and the Closed: nothing after the Closed
    mark, save, update, last = _logged_out_events(pair)
    assert isinstance(mark, CredsUpdate) and isinstance(save, SaveRequest)
    assert isinstance(update, ConnectionUpdate) and update.connection == "close"
    assert last is closed and pair.events[-1] is closed
    assert mark.creds == replace(creds, logged_out=True) == save.creds
    assert save.keys is None and reason.name in save.why
    assert pair.session.creds.logged_out and not pair.session.saves_pending
    stored = pair.store.load()
    assert stored is not None and stored.logged_out and stored.me == creds.me


def test_login_refused_for_an_unknown_device_marks_the_creds() -> None:
    creds = paired_creds(make_hub())
    stranger = login_pair(make_hub(seed=9), creds)
    stranger.start()
    [closed] = stranger.closes
    assert closed.disconnect.reason is CloseReason.LOGGED_OUT and closed.final
    stored = stranger.store.load()
    assert stored is not None and stored.logged_out


def test_the_mark_waits_for_its_save_like_any_other() -> None:
    hub = make_hub()
    pair = login_pair(make_hub(seed=9), paired_creds(hub))
    pair.auto_confirm = False
    pair.start()
    [request] = pair.pending_saves
    assert request.creds is not None and request.creds.logged_out
    # the lifecycle is over, yet the save is still owed: an I/O layer performs it before it ends
    assert pair.session.finished and pair.session.saves_pending == {request.token}
    pair.confirm_saves()
    assert not pair.session.saves_pending
    assert pair.session.data_to_send() == b""  # the barrier held nothing back


def test_closes_that_do_not_log_the_device_out_leave_the_creds_unmarked() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    # the application's own logout: the plain stop of
    # docs/protocol/architecture.md#reasons-and-policy (and a timed-out one proves nothing)
    pair = open_pair(hub, creds)
    pair.session.logout(now=pair.now)
    pair.pump()
    assert pair.closes[-1].disconnect.reason is CloseReason.LOCAL_LOGOUT
    assert not _logged_out_events(pair) and not pair.session.creds.logged_out
    # replaced by another client: final, but the device is still linked
    replaced_hub = make_hub()
    replaced = open_pair(replaced_hub, paired_creds(replaced_hub))
    assert replaced.server is not None
    replaced.server.send_node(Node("stream:error", {"code": "440"}))
    replaced.pump()
    assert replaced.closes[-1].final and not _logged_out_events(replaced)


def test_a_policy_that_reconnects_after_a_403_keeps_the_creds_unmarked() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    config = with_config(policy=PolicyConfig.baileys_compatible())
    pair = login_pair(hub, creds, config=config)
    pair.auto_reconnect = False
    pair.start()
    assert pair.server is not None
    pair.server.send_node(Node("stream:error", {"code": "403"}))
    pair.pump()
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.FORBIDDEN and closed.decision.reconnect
    assert not closed.final and not _logged_out_events(pair)
    pair.session.start(now=pair.now)  # the policy's choice: these creds may still dial


def test_a_session_with_logged_out_creds_refuses_to_start() -> None:
    hub = make_hub()
    marked = replace(paired_creds(hub), logged_out=True)
    pair = login_pair(hub, marked)
    with pytest.raises(LocalProtocolError, match=r"logged out .*link the device again"):
        pair.session.start(now=pair.now)
    # nothing happened: no event, no attempt, no bytes, and the refusal holds every time
    assert pair.session.next_event() is None and not pair.session.attempt_alive
    assert pair.session.state == "idle" and pair.session.data_to_send() == b""
    assert pair.session.creds is marked
    with pytest.raises(LocalProtocolError, match="logged out"):
        pair.session.start(now=pair.now + 1)
    assert hub.now == pair.now and not pair.servers
