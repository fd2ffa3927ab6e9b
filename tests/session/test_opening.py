"""walink._session.opening: nothing a connection delivered is published before its open.

A scripted login (a recording transport, the server's answers fed by hand) lets stanzas arrive
between ``<success>`` and the end of the 812-key upload, the window in which a real server
pushes the offline backlog and the phone's history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walink._session.opening import OpenGate, Origin
from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node, encode_node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.proto import e2e_pb2
from walink.session import (
    INITIAL_PREKEY_COUNT,
    ClientSession,
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    DownloadHistory,
    MessageFailed,
    MessageProcessed,
    NodeReceived,
    ProcessedMessage,
    ProcessMessage,
    QueryResult,
    SaveRequest,
    SessionConfig,
    SessionEvent,
)
from walink.testing.history import notification_message

from .helpers import T0, make_hub, paired_creds
from .test_core import Recorder  # a replay transport that keeps what the session sends

CONTACT = "15550002222@s.whatsapp.net"
# what the session reports about itself, not about what the connection delivered
OWN = (ConnectionUpdate, CredsUpdate, SaveRequest, ProcessMessage, QueryResult, Closed)


class BadMacError(RemoteProtocolError):
    """The script's decrypt failure."""


@cache
def _paired() -> Creds:
    return paired_creds(make_hub())


def message(node_id: str, **attrs: str) -> Node:
    base = {"id": node_id, "from": CONTACT, "t": "1780000000", "type": "text"}
    return Node("message", {**base, **attrs}, [Node("enc", {"v": "2", "type": "msg"}, b"x")])


def notification(node_id: str, **attrs: str) -> Node:
    return Node("notification", {"id": node_id, "from": CONTACT, "type": "devices", **attrs})


@dataclass
class Script:
    """A logged-in device's attempt, with the server's side played by the test."""

    session: ClientSession
    recorder: Recorder = field(default_factory=Recorder)
    events: list[SessionEvent] = field(default_factory=list)
    now: float = T0

    @classmethod
    def start(cls, *, process_messages: bool = True) -> Script:
        config = SessionConfig(process_messages=process_messages, fire_init_queries=False)
        script = cls(ClientSession(creds=_paired(), rng=random.Random(7), config=config))
        script.begin()
        return script

    def begin(self) -> None:
        self.recorder = Recorder()
        self.session.start(now=self.now)
        self.session.connection_made(now=self.now, transport=self.recorder)
        self.feed(Node("success", {"t": str(int(T0)), "lid": "9:1@lid"}))

    def feed(self, node: Node) -> None:
        self.session.receive_node(node, now=self.now)
        self.drain()

    def drain(self) -> None:
        for event in self.session.events():
            self.events.append(event)
            if isinstance(event, SaveRequest):
                self.session.confirm_saved(event.token)

    def answer(self, *children: Node) -> None:
        """Answer the latest query the session sent."""
        query = [n for n in self.recorder.sent if n.tag == "iq"][-1]
        self.feed(Node("iq", {"type": "result", "id": query.attrs["id"]}, list(children)))

    def pre_key_count(self, value: int = 0) -> None:
        self.answer(Node("count", {"value": str(value)}))

    def finish_login(self) -> None:
        """Answer the upload (or passive), then passive, then the digest: the login opens."""
        sent = [n for n in self.recorder.sent if n.tag == "iq"][-1]
        if sent.attr("xmlns") == "encrypt" and sent.child("registration") is not None:
            self.answer()  # the upload
        self.answer()  # passive
        self.answer(Node("digest"))
        assert self.session.connection == "open"

    def jobs(self) -> list[ProcessMessage]:
        done = self.session.jobs_pending
        return [e for e in self.events if isinstance(e, ProcessMessage) and e.token in done]

    def outcome(self, job: ProcessMessage) -> None:
        if (job.node.attr("id") or "").startswith("bad"):
            self.session.message_failed(job.token, BadMacError("bad MAC"), now=self.now)
        else:
            processed = ProcessedMessage(result=job.node.attr("id"))
            self.session.message_processed(job.token, processed, now=self.now)
        self.drain()

    def published(self) -> list[SessionEvent]:
        return [e for e in self.events if not isinstance(e, OWN)]

    def answers(self) -> list[Node]:
        return [n for n in self.recorder.sent if n.tag in ("ack", "receipt")]


def open_index(events: list[SessionEvent]) -> int:
    return next(
        i
        for i, e in enumerate(events)
        if isinstance(e, ConnectionUpdate) and e.connection == "open"
    )


def test_what_arrives_during_the_pre_key_upload_is_published_right_after_the_open() -> None:
    script = Script.start()
    script.pre_key_count(0)
    upload = script.recorder.sent[-1]
    assert len(upload.child("list").children()) == INITIAL_PREKEY_COUNT  # type: ignore[union-attr]
    # the upload is on its way: the server pushes a message, a bad one, a raw notification
    script.feed(message("M1", offline="1"))
    script.feed(notification("N1"))
    script.feed(message("bad2"))
    for job in script.jobs():
        script.outcome(job)  # processing runs at once
    assert script.session.jobs_pending == frozenset()
    assert script.published() == []
    assert script.answers() == []  # nothing acked, no retry receipt: nothing is published yet
    assert script.session.messages_unhandled == frozenset()
    before = len(script.events)
    script.finish_login()
    after = script.events[before:]
    assert [type(e).__name__ for e in after] == [
        "ConnectionUpdate",
        "NodeReceived",
        "MessageProcessed",
        "MessageFailed",
    ]
    update, raw, processed, stub = after
    assert isinstance(update, ConnectionUpdate) and update.connection == "open"
    assert raw == NodeReceived(node=notification("N1"))
    assert processed == MessageProcessed(
        token=1, node=message("M1", offline="1"), result="M1", offline=True, redelivered=False
    )
    assert isinstance(stub, MessageFailed) and stub.retry_count == 1 and not stub.gave_up
    me = _paired().me
    assert me is not None
    # the raw node's ack and the stub's retry receipt and nack go out with their events, after
    # the login's last query; the processed message waits for the application as always
    digest = max(i for i, n in enumerate(script.recorder.sent) if n.child("digest") is not None)
    answered = [n for n in script.recorder.sent[digest:] if n.tag in ("ack", "receipt")]
    assert encode_node(answered[0]) == encode_node(
        Node("ack", {"id": "N1", "to": CONTACT, "class": "notification", "type": "devices"})
    )
    assert [(n.tag, n.attr("type"), n.attr("id")) for n in answered[1:]] == [
        ("receipt", "retry", "bad2"),
        ("ack", None, "bad2"),
    ]
    assert script.session.messages_unhandled == {1}
    script.session.message_handled(1, now=script.now)
    assert [(n.tag, n.attr("id")) for n in script.recorder.sent[-2:]] == [
        ("receipt", "M1"),
        ("ack", "M1"),
    ]


def test_after_the_open_events_are_published_as_they_come() -> None:
    script = Script.start()
    script.pre_key_count(50)
    script.finish_login()
    script.feed(notification("N2"))
    assert script.published() == [NodeReceived(node=notification("N2"))]
    assert script.answers()[-1].attr("id") == "N2"


def test_received_pending_notifications_follows_the_backlog_it_closes() -> None:
    script = Script.start(process_messages=False)
    script.pre_key_count(0)
    script.feed(notification("O1", offline="1"))
    script.feed(Node("ib", {}, [Node("offline", {"count": "1"})]))
    assert not [
        e for e in script.events if isinstance(e, ConnectionUpdate) and e.connection != "connecting"
    ]
    before = len(script.events)
    script.finish_login()
    after = [e for e in script.events[before:] if not isinstance(e, (CredsUpdate, SaveRequest))]
    assert [
        (
            type(e).__name__,
            getattr(e, "connection", None),
            getattr(e, "received_pending_notifications", None),
        )
        for e in after
    ] == [
        ("ConnectionUpdate", "open", False),
        ("NodeReceived", None, None),
        ("ConnectionUpdate", "open", True),
    ]


def test_a_connection_that_closes_before_it_opens_publishes_and_acks_nothing() -> None:
    script = Script.start()
    script.pre_key_count(0)
    script.feed(message("L1"))
    script.feed(notification("L2"))
    [job] = script.jobs()
    script.outcome(job)  # committed, held
    script.feed(message("L3"))
    [late] = script.jobs()
    first = script.recorder
    script.session.abort(CloseReason.NETWORK_ERROR, now=script.now)
    script.drain()
    # the job of the dead connection reports after its close: nothing of it leaks anywhere
    script.outcome(late)
    assert script.published() == []
    assert script.session.messages_unhandled == frozenset()
    assert not [n for n in first.sent if n.tag in ("ack", "receipt")]
    # the next connection: the server delivers them again; published after ITS open
    script.now += 5
    script.begin()
    script.pre_key_count(50)
    script.feed(message("L1"))
    script.feed(notification("L2"))
    for job in script.jobs():
        script.outcome(job)
    assert script.published() == []
    before = len(script.events)
    script.finish_login()
    after = [e for e in script.events[before:] if not isinstance(e, OWN)]
    # in the order they would have been published: the raw node on arrival, the message at its
    # job's outcome
    assert [
        e.node.attr("id") for e in after if isinstance(e, (MessageProcessed, NodeReceived))
    ] == ["L2", "L1"]
    assert len([e for e in script.events if isinstance(e, MessageProcessed)]) == 1


def test_no_further_offline_batch_while_events_wait_for_the_open() -> None:
    script = Script.start(process_messages=False)
    script.pre_key_count(0)
    script.feed(Node("ib", {}, [Node("offline_preview", {"count": "300"})]))

    def batches() -> int:
        return len([n for n in script.recorder.sent if n.child("offline_batch") is not None])

    assert batches() == 1  # the first batch is asked for at once
    for n in range(100):
        script.feed(notification(f"B{n}", offline=str(n + 1)))
    script.now += 5  # well past the batch's debounce
    script.session.handle_timeout(now=script.now)
    assert batches() == 1
    script.finish_login()
    assert len(script.published()) == 100
    deadline = script.session.next_deadline()
    assert deadline is not None and deadline <= script.now
    script.session.handle_timeout(now=script.now)
    assert batches() == 2


def test_a_registration_attempt_publishes_as_things_come() -> None:
    rng = random.Random(9)
    session = ClientSession(creds=Creds.new(rng.randbytes), rng=rng)
    session.start(now=T0)
    session.connection_made(now=T0, transport=Recorder())
    session.receive_node(notification("R1"), now=T0)
    assert NodeReceived(node=notification("R1")) in list(session.events())


# -- interleavings -----------------------------------------------------------------------------

Step = str  # "message", "bad", "node", "outcome", "login", "close"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(["message", "bad", "node", "outcome", "outcome", "login"]),
        max_size=24,
    ),
    st.booleans(),
)
def test_no_event_of_the_connection_precedes_its_open(steps: list[Step], close: bool) -> None:
    script = Script.start()
    logins = iter(["count", "upload", "passive", "digest"])
    arrived: list[str] = []
    for number, step in enumerate(steps):
        if step in ("message", "bad"):
            node_id = f"{'bad' if step == 'bad' else 'm'}{number}"
            script.feed(message(node_id))
            arrived.append(node_id)
        elif step == "node":
            script.feed(notification(f"n{number}"))
            arrived.append(f"n{number}")
        elif step == "outcome" and script.jobs():
            script.outcome(script.jobs()[0])
        elif step == "login":
            match next(logins, None):
                case "count":
                    script.pre_key_count(0)
                case "upload" | "passive":
                    script.answer()
                case "digest":
                    script.answer(Node("digest"))
                case _:
                    pass
        if script.session.connection != "open":
            assert script.published() == [] and script.answers() == []
    opened = script.session.connection == "open"
    if close or not opened:
        script.session.abort(CloseReason.NETWORK_ERROR, now=script.now)
        script.drain()
    for job in script.jobs():
        script.outcome(job)
    published = [
        e.node.attr("id") or ""
        for e in script.published()
        if isinstance(e, (NodeReceived, MessageProcessed, MessageFailed))
    ]
    if opened:
        first = open_index(script.events)
        assert all(
            not isinstance(e, (NodeReceived, MessageProcessed, MessageFailed))
            for e in script.events[:first]
        )
        # each once; raw nodes in arrival order, messages in the order of their outcomes
        assert sorted(published) == sorted(set(published))
        raw = [i for i in arrived if i.startswith("n")]
        assert [i for i in published if i.startswith("n")] == raw
        assert len(published) == len(arrived) or close
    else:
        assert published == [] and script.answers() == []
        assert script.session.messages_unhandled == frozenset()


# -- the gate itself -------------------------------------------------------------------------


def test_origin_holds_runs_in_order_then_runs_at_once() -> None:
    ran: list[int] = []
    origin = Origin(1)
    origin.publish(lambda: ran.append(1))
    origin.publish(lambda: ran.append(2))
    assert ran == [] and origin.held == 2
    origin.open()
    assert ran == [1, 2] and origin.held == 0
    origin.publish(lambda: ran.append(3))
    assert ran == [1, 2, 3]
    origin.end()
    origin.publish(lambda: ran.append(4))  # an opened origin's late outcome still publishes
    assert ran == [1, 2, 3, 4]


def test_origin_that_ends_unopened_drops_everything() -> None:
    ran: list[int] = []
    origin = Origin(1)
    origin.publish(lambda: ran.append(1))
    origin.end()
    origin.publish(lambda: ran.append(2))
    origin.open()
    assert ran == [] and origin.held == 0


def test_after_held_waits_only_behind_what_is_held() -> None:
    ran: list[str] = []
    gate = OpenGate()
    gate.after_held(lambda: ran.append("no attempt"))
    origin = gate.attempt_started(1, login=True)
    gate.after_held(lambda: ran.append("nothing held"))
    gate.publish(origin, lambda: ran.append("held"))
    gate.after_held(lambda: ran.append("after held"))
    assert ran == ["no attempt", "nothing held"]
    gate.opened()
    assert ran == ["no attempt", "nothing held", "held", "after held"]


@pytest.mark.parametrize("login", [True, False])
def test_gate_tracks_the_current_attempt(login: bool) -> None:
    gate = OpenGate()
    ran: list[str] = []
    first = gate.attempt_started(1, login=login)
    gate.publish(gate.current, lambda: ran.append("a"))
    assert gate.holding is login
    gate.attempt_ended()
    assert gate.current is None and not gate.holding and first.ended
    second = gate.attempt_started(2, login=True)
    gate.publish(first, lambda: ran.append("b"))
    gate.publish(second, lambda: ran.append("c"))
    gate.opened()
    gate.publish(None, lambda: ran.append("d"))
    assert ran == (["c", "d"] if login else ["a", "b", "c", "d"])


@dataclass(frozen=True)
class _Decrypted:
    """A processor result carrying decrypted ``Message``s (what the history part reads)."""

    decrypted: tuple[e2e_pb2.Message, ...]


def test_a_history_download_waiting_for_media_hosts_at_the_open_is_not_started_twice() -> None:
    # The phone's notification arrives during the login; its download asks media_conn, and
    # the open comes before the answer. The resumption of pending chunks at the open must see
    # that download as on its way: one job, one chunk (a CI run published a chunk twice).
    script = Script.start()
    script.pre_key_count(0)
    me = _paired().me
    assert me is not None
    own = me.id.split(":")[0] + "@s.whatsapp.net"
    notification = e2e_pb2.Message.HistorySyncNotification(
        file_sha256=bytes(32),
        file_length=100,
        media_key=bytes(32),
        file_enc_sha256=bytes(32),
        direct_path="/v/t62.0/history",
        sync_type=e2e_pb2.Message.HistorySyncType.INITIAL_BOOTSTRAP,
        chunk_order=0,
    )
    node = message("HIST1", **{"from": own, "category": "peer"})
    script.feed(node)
    [job] = script.jobs()
    processed = ProcessedMessage(
        result=_Decrypted((notification_message(notification),)), history_sync=True
    )
    script.session.message_processed(job.token, processed, now=script.now)
    script.drain()
    sent = [n for n in script.recorder.sent if n.tag == "iq"]
    [media_conn] = [n for n in sent if n.attr("xmlns") == "w:m"]
    [upload] = [n for n in sent if n.child("registration") is not None]
    script.feed(Node("iq", {"type": "result", "id": upload.attrs["id"]}))
    script.answer()  # passive
    script.answer(Node("digest"))
    assert script.session.connection == "open"
    answer = Node("media_conn", {"auth": "a", "ttl": "300"}, [Node("host", {"hostname": "h"})])
    script.feed(Node("iq", {"type": "result", "id": media_conn.attrs["id"]}, [answer]))
    downloads = [e for e in script.events if isinstance(e, DownloadHistory)]
    assert [d.request.message_id for d in downloads] == ["HIST1"]
