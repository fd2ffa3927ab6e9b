"""walink._session.messages: a message is published, receipted and acked only after its commit."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node, encode_node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.session import (
    MAX_RETRIES,
    Closed,
    MessageFailed,
    MessageProcessed,
    NodeReceived,
    ProcessedMessage,
    ProcessMessage,
    SaveRequest,
)
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

from .helpers import login_pair, make_hub, paired_creds, with_config

CONTACT = "15550002222@s.whatsapp.net"


class BadMacError(RemoteProtocolError):
    """The test double's decrypt failure."""


class FakeProcessor:
    """A ``MessageProcessor`` double: ``<enc>`` holds ``ok:<text>`` or ``bad``; what it commits
    is kept by ciphertext hash, so a redelivery is answered from the commit."""

    def __init__(self) -> None:
        self.committed: dict[bytes, str] = {}
        self.calls: list[str] = []
        self.store_broken = False

    def process(self, node: Node) -> ProcessedMessage:
        enc = node.child("enc")
        data = enc.content if enc is not None and isinstance(enc.content, bytes) else b""
        digest = hashlib.sha256(data).digest()
        self.calls.append(node.attr("id") or "")
        if digest in self.committed:
            return ProcessedMessage(result=self.committed[digest], redelivered=True)
        if not data.startswith(b"ok:"):
            raise BadMacError("bad MAC")
        if self.store_broken:
            raise OSError("disk full")
        text = data[3:].decode()
        self.committed[digest] = text
        return ProcessedMessage(result=text, history_sync=text == "history")


def message(node_id: str, body: bytes, **attrs: str) -> Node:
    base = {"id": node_id, "from": CONTACT, "t": "1780000000", "type": "text"}
    return Node("message", {**base, **attrs}, [Node("enc", {"v": "2", "type": "msg"}, body)])


def make(processor: FakeProcessor | None, **options: object) -> tuple[Hub, Creds, MemoryPair]:
    hub = make_hub(ping_interval=None)
    creds = paired_creds(hub)
    pair = login_pair(hub, creds, config=with_config(process_messages=True))
    pair.processor = processor
    pair.auto_confirm = bool(options.get("auto_confirm", True))
    pair.auto_handle = bool(options.get("auto_handle", True))
    pair.start()
    assert pair.session.connection == "open"
    return hub, creds, pair


def sent(pair: MemoryPair, tag: str) -> list[Node]:
    return [n for n in pair.servers[-1].received if n.tag == tag]


def of(pair: MemoryPair, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in pair.events if isinstance(e, kind)]


def test_nothing_leaves_before_the_outcome_then_event_and_after_handling_receipt_ack() -> None:
    _, creds, pair = make(None, auto_handle=False)
    server = pair.servers[-1]
    stanza = message("M1", b"ok:hello")
    server.send_node(stanza)
    pair.pump()
    [job] = pair.pending_jobs
    assert job.node == stanza and pair.session.jobs_pending == {job.token}
    assert not sent(pair, "ack") and not sent(pair, "receipt")
    assert not [e for e in of(pair, NodeReceived) if e.node.tag == "message"]
    before = len(server.received)
    pair.session.message_processed(job.token, ProcessedMessage(result="hello"), now=pair.now)
    pair.pump()
    [event] = of(pair, MessageProcessed)
    assert event == MessageProcessed(
        token=job.token, node=stanza, result="hello", offline=False, redelivered=False
    )
    # published, but the server keeps owning it until the application handled it
    assert server.received[before:] == []
    assert pair.session.messages_unhandled == {job.token}
    assert pair.session.jobs_pending == frozenset()
    pair.handle(event)
    pair.pump()
    assert creds.me is not None
    assert [encode_node(n) for n in server.received[before:]] == [
        encode_node(Node("receipt", {"id": "M1", "to": CONTACT})),
        encode_node(
            Node("ack", {"id": "M1", "to": CONTACT, "class": "message", "from": creds.me.id})
        ),
    ]
    assert pair.session.messages_unhandled == frozenset()
    with pytest.raises(LocalProtocolError):
        pair.session.message_processed(job.token, ProcessedMessage(result="x"), now=pair.now)
    with pytest.raises(LocalProtocolError):
        pair.session.message_handled(job.token, now=pair.now)


def test_a_redelivery_while_the_first_waits_for_the_application_is_answered_with_it() -> None:
    _, creds, pair = make(FakeProcessor(), auto_handle=False)
    first = pair.servers[-1]
    first.send_node(message("W1", b"ok:wait"))
    pair.pump()
    [event] = pair.unhandled
    assert isinstance(event, MessageProcessed) and not event.redelivered
    # the connection drops before the application handled it: the server redelivers
    pair.session.abort(CloseReason.NETWORK_ERROR, now=pair.now)
    pair.pump()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=120)
    pair.pump()
    second = pair.servers[-1]
    assert second is not first
    assert len(of(pair, MessageProcessed)) == 1  # one event for both deliveries
    assert not [n for n in second.received if n.tag in ("ack", "receipt")]
    pair.handle(event)
    pair.pump()
    assert creds.me is not None
    assert [n for n in second.received if n.tag in ("ack", "receipt")] == [
        Node("receipt", {"id": "W1", "to": CONTACT}),
        Node("ack", {"id": "W1", "to": CONTACT, "class": "message", "from": creds.me.id}),
    ]
    # the first connection's delivery is never answered (tokens of a stale attempt send nothing)
    assert not [n for n in first.received if n.tag in ("ack", "receipt")]


def test_handled_after_its_connection_ended_sends_nothing_and_the_redelivery_is_acked() -> None:
    _, _, pair = make(FakeProcessor(), auto_handle=False)
    first = pair.servers[-1]
    first.send_node(message("D1", b"ok:late"))
    pair.pump()
    [event] = pair.unhandled
    pair.session.abort(CloseReason.NETWORK_ERROR, now=pair.now)
    pair.pump()
    pair.handle(event)  # between connections
    pair.pump()
    assert not [n for n in first.received if n.tag in ("ack", "receipt")]
    assert pair.run_until(lambda: pair.session.connection == "open", limit=120)
    pair.pump()
    # answered from the commit at once, not published again: the application has it
    assert len(of(pair, MessageProcessed)) == 1 and pair.unhandled == []
    assert [n.tag for n in pair.servers[-1].received if n.tag in ("ack", "receipt")] == [
        "receipt",
        "ack",
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_each_message_is_acked_once_and_only_after_it_is_handled(data: st.DataObject) -> None:
    count = data.draw(st.integers(min_value=1, max_value=8))
    _, _, pair = make(FakeProcessor(), auto_handle=False)
    server = pair.servers[-1]
    for n in range(count):
        server.send_node(message(f"H{n}", f"ok:{n}".encode()))
    pair.pump()
    events = [e for e in pair.unhandled if isinstance(e, MessageProcessed)]
    assert [e.node.attr("id") for e in events] == [f"H{n}" for n in range(count)]
    order = data.draw(st.permutations(events))
    handled: list[str] = []
    for event in order:
        assert isinstance(event, MessageProcessed)
        acked = [n.attr("id") for n in sent(pair, "ack")]
        assert acked == handled  # nothing acked that is not handled
        pair.handle(event)
        pair.pump()
        handled.append(event.node.attr("id") or "")
    assert [n.attr("id") for n in sent(pair, "ack")] == handled
    assert [n.attr("id") for n in sent(pair, "receipt")] == handled


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"category": "peer"}, {"type": "peer_msg"}),
        ({"participant": "15550003333@s.whatsapp.net", "from": "123-456@g.us"}, {}),
    ],
)
def test_receipt_kinds(attrs: dict[str, str], expected: dict[str, str]) -> None:
    _, _, pair = make(FakeProcessor())
    stanza = message("M2", b"ok:hi", **attrs)
    pair.servers[-1].send_node(stanza)
    pair.pump()
    [receipt] = sent(pair, "receipt")
    want = {"id": "M2", "to": stanza.attrs["from"], **expected}
    if "participant" in attrs:
        want["participant"] = attrs["participant"]
    assert receipt.attrs == want


def test_own_message_echoed_from_another_device_gets_a_sender_receipt() -> None:
    _, creds, pair = make(FakeProcessor())
    assert creds.me is not None
    other_device = creds.me.id.split(":")[0] + ":7@s.whatsapp.net"
    stanza = message("M3", b"ok:mine", **{"from": other_device, "recipient": CONTACT})
    pair.servers[-1].send_node(stanza)
    pair.pump()
    [receipt] = sent(pair, "receipt")
    assert receipt.attrs == {"id": "M3", "to": other_device, "recipient": CONTACT, "type": "sender"}


def test_history_notification_also_gets_hist_sync() -> None:
    _, creds, pair = make(FakeProcessor())
    assert creds.me is not None
    pair.servers[-1].send_node(message("H1", b"ok:history", category="peer"))
    pair.pump()
    own = creds.me.id.split(":")[0] + "@s.whatsapp.net"
    assert [r.attrs for r in sent(pair, "receipt")] == [
        {"id": "H1", "to": CONTACT, "type": "peer_msg"},
        {"id": "H1", "to": own, "type": "hist_sync"},
    ]


def test_undecryptable_gets_stub_retry_receipts_with_keys_then_gives_up() -> None:
    _, creds, pair = make(FakeProcessor(), auto_confirm=False)
    server = pair.servers[-1]
    stanza = message("B1", b"bad")
    for attempt in range(1, MAX_RETRIES + 2):
        before = len(server.received)
        saves_before = len(of(pair, SaveRequest))
        server.send_node(stanza)
        pair.pump()
        stub = of(pair, MessageFailed)[-1]
        assert isinstance(stub.error, BadMacError) and stub.node == stanza
        new = server.received[before:]
        if attempt > MAX_RETRIES:
            assert stub.gave_up and stub.retry_count == MAX_RETRIES
            assert [n.tag for n in new] == ["ack"]
            assert new[0].attrs["error"] == "500"
            break
        assert not stub.gave_up and stub.retry_count == attempt
        if attempt > 1:
            # a fresh pre-key is saved first; the receipt waits for that save
            [save] = of(pair, SaveRequest)[saves_before:]
            assert save.keys is not None and len(save.keys["pre-key"]) == 1
            assert new == []
            pair.confirm_saves()
            new = server.received[before:]
        [retry, nack] = new
        assert retry.tag == "receipt" and retry.attrs["type"] == "retry"
        assert nack.tag == "ack" and nack.attrs["error"] == "500"
        child = retry.child("retry")
        assert child is not None and child.attrs["count"] == str(attempt)
        assert child.attrs["id"] == "B1" and child.attrs["t"] == "1780000000"
        registration = retry.child("registration")
        assert registration is not None
        assert registration.content == creds.registration_id.to_bytes(4, "big")
        keys = retry.child("keys")
        assert (keys is not None) == (attempt > 1)
        if keys is not None:
            assert [c.tag for c in keys.children()] == [
                "type",
                "identity",
                "key",
                "skey",
                "device-identity",
            ]
    assert not of(pair, MessageProcessed)


def test_a_failed_commit_stops_the_session_without_an_ack() -> None:
    processor = FakeProcessor()
    processor.store_broken = True
    _, _, pair = make(processor)
    pair.servers[-1].send_node(message("S1", b"ok:lost?"))
    pair.pump()
    closed = of(pair, Closed)[-1]
    assert closed.disconnect.reason is CloseReason.STORE_ERROR and closed.final
    assert not [n for n in pair.servers[-1].received if n.tag in ("ack", "receipt")]
    assert not of(pair, MessageProcessed) and not of(pair, MessageFailed)


def test_outcome_after_the_connection_ended_then_redelivery_is_not_published_twice() -> None:
    _, _, pair = make(None)
    stanza = message("R1", b"ok:again")
    pair.servers[-1].send_node(stanza)
    pair.pump()
    [job] = pair.pending_jobs
    processor = FakeProcessor()
    processed = processor.process(job.node)
    pair.session.abort(CloseReason.NETWORK_ERROR, now=pair.now)
    pair.pump()
    first_server = pair.servers[0]
    pair.session.message_processed(job.token, processed, now=pair.now)
    pair.pump()
    assert len(of(pair, MessageProcessed)) == 1  # committed: published even without a connection
    assert not [n for n in first_server.received if n.tag in ("ack", "receipt")]
    # the next connection gets the stanza again (the server redelivers what was not acked);
    # the committed result answers it
    pair.processor = processor
    assert pair.run_until(lambda: pair.session.connection == "open", limit=120)
    pair.pump()
    assert len(of(pair, MessageProcessed)) == 1
    assert [n.tag for n in pair.servers[-1].received if n.tag in ("ack", "receipt")] == [
        "receipt",
        "ack",
    ]


def test_offline_backlog_messages_are_flagged() -> None:
    hub = make_hub(ping_interval=None)
    creds = paired_creds(hub)
    assert creds.me is not None
    hub.queue_offline(creds.me.id, message("O1", b"ok:while away"))
    pair = login_pair(hub, creds, config=with_config(process_messages=True))
    pair.processor = FakeProcessor()
    pair.start()
    [event] = of(pair, MessageProcessed)
    assert event.offline and event.result == "while away"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([b"ok:a", b"ok:b", b"bad"]), min_size=1, max_size=12))
def test_every_message_gets_one_outcome_after_its_job(bodies: list[bytes]) -> None:
    _, _, pair = make(FakeProcessor())
    server = pair.servers[-1]
    for n, body in enumerate(bodies):
        server.send_node(message(f"X{n}", body))
    pair.pump()
    ok = {f"X{n}" for n, body in enumerate(bodies) if body.startswith(b"ok:")}
    assert {e.node.attr("id") for e in of(pair, MessageProcessed)} == ok
    assert len(of(pair, MessageProcessed)) == len(ok)
    assert len(of(pair, MessageFailed)) == len(bodies) - len(ok)
    # one ack each; a failure's nack goes at once, a processed message's ack once handled
    acks = {n.attr("id"): n.attr("error") for n in server.received if n.tag == "ack"}
    assert len([n for n in server.received if n.tag == "ack"]) == len(bodies)
    assert acks == {f"X{n}": None if f"X{n}" in ok else "500" for n in range(len(bodies))}
    jobs = [e.token for e in of(pair, ProcessMessage)]
    assert jobs == sorted(jobs) and pair.session.jobs_pending == frozenset()
