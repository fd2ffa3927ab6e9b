"""walink._session.core: timers, queries, commands, misuse, determinism."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest

from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason, WebSocketClosed
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError
from walink.protocol.events import Event
from walink.session import (
    ABORT_REASONS,
    ClientSession,
    Closed,
    NodeReceived,
    QueryError,
    QueryFailure,
    QueryResult,
    SessionConfig,
)
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

from .helpers import T0, login_pair, make_hub, open_pair, paired_creds


@pytest.fixture
def opened() -> MemoryPair:
    hub = make_hub(ping_interval=None)
    return open_pair(hub, paired_creds(hub))


def test_server_ping_is_answered() -> None:
    hub = make_hub(ping_interval=25.0)
    pair = open_pair(hub, paired_creds(hub))
    pair.advance(26)
    server = pair.servers[0]
    assert len(server.pings_sent) == 1 and server.pongs == server.pings_sent
    pong = next(n for n in server.received if n.attr("id") == server.pings_sent[0])
    assert pong.attrs == {"to": "s.whatsapp.net", "type": "result", "id": server.pings_sent[0]}


def test_client_pings_when_idle_and_stays_open() -> None:
    hub = make_hub(ping_interval=None)
    pair = open_pair(hub, paired_creds(hub))
    opened_at = pair.now
    server = pair.servers[0]
    pair.advance(29.9)
    assert not [n for n in server.received if n.attr("xmlns") == "w:p"]
    pair.advance(0.2)
    [ping] = [n for n in server.received if n.attr("xmlns") == "w:p"]
    assert ping.attrs["type"] == "get" and ping.attrs["to"] == "@s.whatsapp.net"
    assert ping.children() == [Node("ping")]
    pair.advance(600)
    pings = [n for n in server.received if n.attr("xmlns") == "w:p"]
    assert len(pings) == 21  # one every 30 s of silence (30 s ... 630 s), each answered
    assert pair.session.connection == "open" and not pair.closes
    assert pair.session.last_received_at == pytest.approx(opened_at + 600, abs=30)


def test_keepalive_timeout_when_pings_go_unanswered() -> None:
    hub = make_hub(ping_interval=None)
    pair = open_pair(hub, paired_creds(hub))
    started = pair.now
    pair.servers[0].go_silent()  # the server goes quiet while the socket stays up
    pair.run_until(lambda: bool(pair.closes), limit=100)
    [closed] = pair.closes[:1]
    assert closed.disconnect.reason is CloseReason.KEEPALIVE_TIMEOUT
    assert closed.disconnect.status == 408
    assert closed.disconnect.at == started + 40
    assert closed.decision.reconnect


def test_connect_timeout_without_a_socket() -> None:
    session = ClientSession(creds=Creds.new(random.Random(1).randbytes), rng=random.Random(2))
    session.start(now=100.0)
    assert session.next_deadline() == 120.0
    session.handle_timeout(now=119.0)
    assert session.attempt_alive
    session.handle_timeout(now=120.0)
    events = list(session.events())
    assert events[-1].disconnect.reason is CloseReason.CONNECT_TIMEOUT  # type: ignore[union-attr]
    assert session.next_deadline() is None
    assert session.reconnect_at is not None and session.reconnect_at > 120.0


def test_query_result_error_timeout_and_close(opened: MemoryPair) -> None:
    pair = opened
    session = pair.session
    now = pair.now
    ok = session.query(Node("iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"}), now=now)
    bad = session.query(
        Node("iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "nope"}), now=now
    )
    # the server never answers a client's own result iq: it times out
    slow = session.query(Node("iq", {"type": "result", "to": "s.whatsapp.net"}), now=now, timeout=5)
    forever = session.query(
        Node("iq", {"type": "result", "to": "s.whatsapp.net"}), now=now, timeout=float("inf")
    )
    assert len({ok, bad, slow, forever}) == 4
    assert all(re.fullmatch(r"\d+\.\d+-\d+", i) for i in (ok, bad, slow, forever))
    pair.pump()
    results = {e.id: e for e in pair.events if isinstance(e, QueryResult | QueryError)}
    answer = results[ok]
    assert isinstance(answer, QueryResult) and answer.node.attr("type") == "result"
    error = results[bad]
    assert isinstance(error, QueryError) and error.failure is QueryFailure.SERVER_ERROR
    assert (error.code, error.text) == (501, "feature-not-implemented")
    assert slow not in results
    pair.advance(5)
    timed_out = [e for e in pair.events if isinstance(e, QueryError) and e.id == slow]
    assert timed_out[0].failure is QueryFailure.TIMEOUT and timed_out[0].code == 408
    session.connection_lost(WebSocketClosed(code=1006), now=pair.now)
    closed = [e for e in session.events() if isinstance(e, QueryError)]
    assert [e.id for e in closed] == [forever]
    assert closed[0].failure is QueryFailure.CLOSED
    assert closed[0].disconnect is not None
    assert closed[0].disconnect.reason is CloseReason.SERVER_CLOSED


def test_query_keeps_a_given_id_and_refuses_a_duplicate(opened: MemoryPair) -> None:
    pair = opened
    session = pair.session
    node = Node("iq", {"type": "result", "to": "s.whatsapp.net", "id": "mine"})
    assert session.query(node, now=pair.now) == "mine"
    assert "id" in node.attrs and node.attrs["id"] == "mine"
    with pytest.raises(LocalProtocolError):
        session.query(node, now=pair.now)


def test_other_nodes_are_reported_and_acked(opened: MemoryPair) -> None:
    pair = opened
    server = pair.servers[0]
    note = Node("notification", {"id": "N1", "from": "s.whatsapp.net", "type": "devices"})
    server.send_node(note)
    server.send_node(Node("chatstate", {"from": "1@s.whatsapp.net"}))
    pair.pump()
    got = [e.node for e in pair.events if isinstance(e, NodeReceived)]
    assert got[-2:] == [note, Node("chatstate", {"from": "1@s.whatsapp.net"})]
    acks = [n for n in server.received if n.tag == "ack"]
    assert acks[-1].attrs == {
        "id": "N1",
        "to": "s.whatsapp.net",
        "class": "notification",
        "type": "devices",
    }


def test_ib_notices(opened: MemoryPair) -> None:
    pair = opened
    server = pair.servers[0]
    server.send_node(Node("ib", {}, [Node("offline_preview", {"count": "3"})]))
    server.send_node(Node("ib", {}, [Node("dirty", {"type": "account_sync", "timestamp": "5"})]))
    server.send_node(Node("ib", {}, [Node("dirty", {"type": "account_sync", "timestamp": "9"})]))
    pair.pump()
    sent = server.received
    assert Node("ib", {}, [Node("offline_batch", {"count": "100"})]) in sent
    cleans = [n for n in sent if n.attr("xmlns") == "urn:xmpp:whatsapp:dirty"]
    # the first dirty has no previous timestamp: only the second asks to clean the first
    assert [n.children()[0].attrs for n in cleans] == [{"type": "account_sync", "timestamp": "5"}]
    assert pair.session.creds.last_account_sync_timestamp == 9
    server.send_node(Node("ib", {}, [Node("downgrade_webclient")]))
    pair.pump()
    closed = pair.closes[-1]
    assert closed.disconnect.reason is CloseReason.MULTIDEVICE_MISMATCH and closed.final


def test_xmlstreamend_is_a_server_close(opened: MemoryPair) -> None:
    pair = opened
    pair.servers[0].send_node(Node("xmlstreamend"))
    pair.pump()
    closed = pair.closes[0]
    assert closed.disconnect.reason is CloseReason.SERVER_CLOSED and closed.disconnect.status == 428
    assert closed.disconnect.node == Node("xmlstreamend")


def test_local_close_stops_everywhere(opened: MemoryPair) -> None:
    pair = opened
    pair.session.close(now=pair.now)
    pair.pump()
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.LOCAL_CLOSE and closed.requested
    assert closed.final and pair.session.state == "stopped"
    assert pair.servers[0].closed_by_client


def test_close_while_backing_off() -> None:
    session = ClientSession(creds=Creds.new(random.Random(1).randbytes), rng=random.Random(2))
    session.start(now=0.0)
    session.connection_made(now=0.0)
    session.connection_lost(ConnectionRefusedError("no"), now=1.0)
    assert session.state == "backing_off"
    session.close(now=2.0)
    events = list(session.events())
    assert events[-1].disconnect.reason is CloseReason.LOCAL_CLOSE  # type: ignore[union-attr]
    assert session.finished and session.reconnect_at is None


def test_misuse_raises_local_protocol_error() -> None:
    session = ClientSession(creds=Creds.new(random.Random(1).randbytes), rng=random.Random(2))
    with pytest.raises(LocalProtocolError):
        session.send_node(Node("ib"))
    with pytest.raises(LocalProtocolError):
        session.connection_made(now=0.0)
    session.start(now=0.0)
    with pytest.raises(LocalProtocolError):
        session.start(now=0.0)
    with pytest.raises(LocalProtocolError):
        session.receive_data(b"x", now=0.0)
    session.connection_made(now=0.0)
    with pytest.raises(LocalProtocolError):
        session.query(Node("iq"), now=0.0)
    with pytest.raises(LocalProtocolError):
        session.logout(now=0.0)
    with pytest.raises(LocalProtocolError):
        session.confirm_saved(1)
    with pytest.raises(LocalProtocolError):
        session.send_presence_update("busy", now=0.0)
    with pytest.raises(ValueError):
        SessionConfig(keepalive_interval=0)


def test_same_seeds_same_run() -> None:
    def run() -> list[str]:
        hub = make_hub()
        pair = open_pair(hub, paired_creds(hub))
        pair.advance(100)
        pair.session.logout(now=pair.now)
        pair.pump()
        return [repr(e) for e in pair.events] + [repr(n) for n in pair.servers[0].received]

    assert run() == run()


def test_login_with_wrong_trust_root_is_a_rejected_certificate_and_final() -> None:
    hub = make_hub()
    creds = paired_creds(hub)
    other = make_hub(seed=5)
    pair = login_pair(other, creds)
    pair.session.config = SessionConfig(trust_root=hub.client_trust_root)
    pair.start()
    closed = pair.closes[0]
    assert closed.disconnect.reason is CloseReason.CERTIFICATE_REJECTED
    assert closed.disconnect.certificate_defect is not None
    assert closed.disconnect.at >= T0
    assert closed.final and not closed.decision.reconnect  # never retried by default


class Recorder:
    """A replay transport: records sent nodes instead of encrypting them."""

    def __init__(self) -> None:
        self.sent: list[Node] = []

    def receive_data(self, data: bytes | None) -> None:
        raise AssertionError("replay feeds nodes, not bytes")

    def events(self) -> Iterator[Event]:
        return iter(())

    def send_node(self, node: Node) -> None:
        self.sent.append(node)

    def data_to_send(self) -> bytes:
        return b""


def test_replay_feeds_decoded_nodes_through_a_recording_transport() -> None:
    def replay() -> tuple[list[str], list[Node]]:
        hub = make_hub()
        creds = paired_creds(hub)
        session = ClientSession(
            creds=creds, rng=random.Random(7), config=SessionConfig(auto_ack=False)
        )
        recorder = Recorder()
        session.start(now=T0)
        session.connection_made(now=T0, transport=recorder)
        session.receive_node(Node("success", {"t": str(int(T0) + 3), "lid": "9:1@lid"}), now=T0)
        count_id = recorder.sent[-1].attrs["id"]
        session.receive_node(
            Node("iq", {"type": "result", "id": count_id}, [Node("count", {"value": "50"})]),
            now=T0 + 1,
        )
        passive_id = recorder.sent[-1].attrs["id"]
        session.receive_node(Node("iq", {"type": "result", "id": passive_id}), now=T0 + 1)
        digest_id = recorder.sent[-1].attrs["id"]
        session.receive_node(
            Node("iq", {"type": "result", "id": digest_id}, [Node("digest")]), now=T0 + 2
        )
        message = Node("message", {"id": "M", "from": "1@s.whatsapp.net"})
        session.receive_node(message, now=T0 + 2)
        session.ack(message)
        return [repr(e) for e in session.events()], recorder.sent

    events, sent = replay()
    assert events == replay()[0]  # same inputs, same outputs: byte for byte
    assert any("connection='open'" in e for e in events)
    assert sent[-1].tag == "ack" and sent[-1].attrs["id"] == "M"
    assert [n.tag for n in sent[:4]] == ["iq", "iq", "iq", "ib"]


# -- the node tap and the trace --------------------------------------------------------------

Seen = list[tuple[str, Node]]


def tapped_login(hub: Hub, creds: Creds) -> tuple[MemoryPair, Seen, Seen]:
    """A saved device logging in with both a tap and a trace; what each saw."""
    tapped: Seen = []
    traced: Seen = []
    config = SessionConfig(
        trust_root=hub.client_trust_root,
        trace=lambda direction, node: traced.append((direction, node)),
    )
    session = ClientSession(
        creds=creds,
        rng=random.Random(3),
        config=config,
        tap=lambda direction, node: tapped.append((direction, node)),
    )
    pair = MemoryPair(session, hub, now=hub.now)
    pair.store.save(creds)
    pair.start()
    assert session.connection == "open"
    return pair, tapped, traced


def test_tap_and_trace_see_every_node_both_ways_and_nothing_else() -> None:
    hub = make_hub(ping_interval=25.0)
    pair, tapped, traced = tapped_login(hub, paired_creds(hub))
    pair.advance(26)  # the server pings: in, then our answer out
    message = Node("message", {"id": "M1", "from": "1@s.whatsapp.net", "type": "text"})
    pair.servers[0].send_node(message)
    pair.pump()
    assert traced == tapped
    assert {direction for direction, _ in tapped} == {"in", "out"}
    assert all(isinstance(node, Node) for _, node in tapped)
    # every node the server got went through the tap, in order
    assert [node for direction, node in tapped if direction == "out"] == pair.servers[0].received
    inbound = [node for direction, node in tapped if direction == "in"]
    assert inbound[0].tag == "success" and message in inbound
    # a node is seen before what it causes: the ping before its pong, the message before its ack
    ping = next(
        i for i, (d, n) in enumerate(tapped) if d == "in" and n.attr("xmlns") == "urn:xmpp:ping"
    )
    pong_id = tapped[ping][1].attr("id")
    pong = next(i for i, (d, n) in enumerate(tapped) if d == "out" and n.attr("id") == pong_id)
    ack = next(i for i, (d, n) in enumerate(tapped) if d == "out" and n.tag == "ack")
    assert ping < pong and tapped.index(("in", message)) < ack


def test_tap_sees_decoded_nodes_of_a_given_transport() -> None:
    hub = make_hub()
    tapped: Seen = []
    session = ClientSession(
        creds=paired_creds(hub),
        rng=random.Random(7),
        tap=lambda direction, node: tapped.append((direction, node)),
    )
    recorder = Recorder()
    session.start(now=T0)
    session.connection_made(now=T0, transport=recorder)
    success = Node("success", {"t": str(int(T0)), "lid": "9:1@lid"})
    session.receive_node(success, now=T0)
    assert tapped[0] == ("in", success)
    assert [node for direction, node in tapped[1:]] == recorder.sent
    assert {direction for direction, _ in tapped[1:]} == {"out"}


# -- abort: a local cause the I/O layer detected ---------------------------------------------


@pytest.mark.parametrize(
    "reason", [reason for reason in CloseReason if reason in ABORT_REASONS and not reason.terminal]
)
def test_abort_ends_the_attempt_like_a_transport_loss_but_typed(reason: CloseReason) -> None:
    def lose(how: str) -> tuple[MemoryPair, str]:
        hub = make_hub(ping_interval=None)
        pair = open_pair(hub, paired_creds(hub))
        query_id = pair.session.query(Node("iq", {"type": "get", "xmlns": "x"}), now=pair.now)
        if how == "abort":
            pair.session.abort(reason, now=pair.now)
        else:
            pair.session.connection_lost(None, now=pair.now)
        pair.auto_reconnect = False
        pair.pump()
        return pair, query_id

    aborted, query_id = lose("abort")
    lost, _ = lose("lost")
    [closed] = aborted.closes
    [baseline] = lost.closes
    assert closed.disconnect.reason is reason and closed.disconnect.status == reason.status
    assert closed.disconnect.message and not closed.requested and not closed.final
    # the policy treats it as the transport loss it is: a counted failure, then backoff
    assert (closed.decision.reconnect, closed.decision.counted) == (True, True)
    assert closed.decision.nominal_delay == baseline.decision.nominal_delay
    assert aborted.session.state == "backing_off" and not aborted.session.attempt_alive
    [failed] = [e for e in aborted.events if isinstance(e, QueryError)]
    assert failed.id == query_id and failed.failure is QueryFailure.CLOSED


def test_abort_with_a_terminal_reason_stops_the_lifecycle() -> None:
    # PROXY_ERROR: the proxy refused the settings, so the same dial would be refused again
    hub = make_hub(ping_interval=None)
    pair = open_pair(hub, paired_creds(hub))
    query_id = pair.session.query(Node("iq", {"type": "get", "xmlns": "x"}), now=pair.now)
    pair.session.abort(CloseReason.PROXY_ERROR, now=pair.now, message="the proxy said 407")
    pair.pump()
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.PROXY_ERROR
    assert closed.disconnect.message == "the proxy said 407" and closed.disconnect.terminal
    assert closed.final and not closed.requested and not closed.decision.reconnect
    assert not pair.session.attempt_alive
    [failed] = [e for e in pair.events if isinstance(e, QueryError)]
    assert failed.id == query_id and failed.failure is QueryFailure.CLOSED
    assert failed.disconnect == closed.disconnect


def test_abort_message_and_logout_in_progress() -> None:
    hub = make_hub(ping_interval=None)
    creds = paired_creds(hub)
    pair = open_pair(hub, creds, seed=4)
    pair.auto_reconnect = False
    pair.session.abort(CloseReason.SLOW_CONSUMER, now=pair.now, message="1000 events waiting")
    pair.pump()
    assert pair.closes[-1].disconnect.message == "1000 events waiting"
    # during a logout we asked for, any end is the logout's own (as for a transport loss)
    hub.now = pair.now
    other = open_pair(hub, creds, seed=5)
    other.session.logout(now=other.now)
    other.session.abort(CloseReason.SLOW_CONSUMER, now=other.now)
    closed = [e for e in other.session.events() if isinstance(e, Closed)][-1]
    assert closed.disconnect.reason is CloseReason.LOCAL_LOGOUT and closed.requested


def test_abort_is_refused_without_an_attempt_or_for_another_reason() -> None:
    session = ClientSession(creds=Creds.new(random.Random(1).randbytes), rng=random.Random(2))
    with pytest.raises(LocalProtocolError):
        session.abort(CloseReason.SLOW_CONSUMER, now=0.0)
    session.start(now=0.0)
    refused = [reason for reason in CloseReason if reason not in ABORT_REASONS]
    assert CloseReason.LOCAL_CLOSE in refused and CloseReason.STORE_ERROR in refused
    for reason in refused:
        with pytest.raises(LocalProtocolError):
            session.abort(reason, now=1.0)
    assert session.attempt_alive and session.state == "dialing"
    session.abort(CloseReason.CONNECT_TIMEOUT, now=2.0)
    assert not session.attempt_alive
    with pytest.raises(LocalProtocolError):
        session.abort(CloseReason.SLOW_CONSUMER, now=3.0)
