"""walink._session.offline: the offline backlog is pulled batch by batch until ``<offline>``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walink.auth.model import Creds
from walink.protocol.binary import Node
from walink.session import ConnectionUpdate, NodeReceived, ProcessedMessage, SessionConfig
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair
from walink.testing.server import OFFLINE_PUSHED

from .helpers import login_pair, make_hub, paired_creds, with_config


def _queue(hub: Hub, creds: Creds, count: int) -> list[str]:
    assert creds.me is not None
    ids = [f"N{n}" for n in range(1, count + 1)]
    for node_id in ids:
        hub.queue_offline(
            creds.me.id,
            Node("notification", {"id": node_id, "from": "111@s.whatsapp.net", "type": "devices"}),
        )
    return ids


def _received(pair: MemoryPair) -> list[str]:
    return [e.node.attr("id") or "" for e in pair.events if isinstance(e, NodeReceived)]


def _pending(pair: MemoryPair) -> bool:
    updates = [e for e in pair.events if isinstance(e, ConnectionUpdate)]
    return bool(updates) and updates[-1].received_pending_notifications


def _batch_requests(pair: MemoryPair) -> list[Node]:
    return [n for n in pair.servers[-1].received if n.tag == "ib" and n.child("offline_batch")]


def test_backlog_is_pulled_in_batches_until_offline() -> None:
    hub = make_hub(ping_interval=None)
    creds = paired_creds(hub)
    ids = _queue(hub, creds, 250)
    pair = login_pair(hub, creds)
    pair.start()
    server = pair.servers[-1]
    # the preview was answered at once; the server pushed a few, then served one batch of 100
    assert pair.session.connection == "open"
    assert [r.child("offline_batch").attrs for r in _batch_requests(pair)] == [{"count": "100"}]  # type: ignore[union-attr]
    assert _received(pair) == ids[: OFFLINE_PUSHED + 100]
    assert not _pending(pair)
    # the next request waits for the debounce after the batch has arrived (fake clock)
    assert pair.session.next_deadline() == pair.now + 0.1
    pair.advance(0.05)
    assert len(_batch_requests(pair)) == 1
    pair.advance(0.05)
    assert len(_batch_requests(pair)) == 2
    assert _received(pair) == ids[: OFFLINE_PUSHED + 200]
    assert not _pending(pair)
    pair.advance(0.1)
    assert server.offline_batches == [100, 100, 100]
    assert _received(pair) == ids
    assert _pending(pair)
    # every stanza was acked once, and nothing more is asked for after <offline>
    acked = [n.attr("id") for n in server.received if n.tag == "ack"]
    assert acked == ids
    pair.advance(60)
    assert server.offline_batches == [100, 100, 100]
    # the pending flag turned true after the last backlog stanza was reported
    events = pair.events
    last_stanza = max(i for i, e in enumerate(events) if isinstance(e, NodeReceived))
    first_pending = min(
        i
        for i, e in enumerate(events)
        if isinstance(e, ConnectionUpdate) and e.received_pending_notifications
    )
    assert first_pending > last_stanza


def test_pending_resets_with_each_attempt_and_a_small_backlog_is_one_request() -> None:
    hub = make_hub(ping_interval=None)
    creds = paired_creds(hub)
    ids = _queue(hub, creds, OFFLINE_PUSHED)
    pair = login_pair(hub, creds)
    pair.start()
    assert _received(pair) == ids and _pending(pair)
    # the preview is answered at once; the server pushed all of it, so no second request
    assert len(_batch_requests(pair)) == 1
    pair.session.close(now=pair.now)
    pair.pump()
    again = login_pair(hub, creds, seed=9)
    again.start()
    updates = [e for e in again.events if isinstance(e, ConnectionUpdate)]
    assert not updates[0].received_pending_notifications
    assert _pending(again) and _received(again) == []


def test_a_repeated_preview_does_not_start_a_second_pull() -> None:
    hub = make_hub(ping_interval=None)
    creds = paired_creds(hub)
    ids = _queue(hub, creds, OFFLINE_PUSHED + 150)
    pair = login_pair(hub, creds)
    pair.start()
    server = pair.servers[-1]
    assert len(_batch_requests(pair)) == 1
    server.send_node(Node("ib", {}, [Node("offline_preview", {"count": "150"})]))
    pair.pump()
    assert len(_batch_requests(pair)) == 1
    assert pair.run_until(lambda: _pending(pair), limit=5)
    assert server.offline_batches == [100, 100] and _received(pair) == ids


@pytest.fixture(scope="module")
def shared() -> tuple[Hub, Creds]:
    hub = make_hub(seed=77, ping_interval=None)
    return hub, paired_creds(hub)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    backlog=st.integers(0, 260), batch=st.integers(1, 120), delay=st.sampled_from([0.0, 0.1, 2.0])
)
def test_every_backlog_arrives_once_in_order(
    shared: tuple[Hub, Creds], backlog: int, batch: int, delay: float
) -> None:
    hub, creds = shared
    ids = _queue(hub, creds, backlog)
    config = with_config(offline_batch_size=batch, offline_batch_delay=delay)
    pair = login_pair(hub, creds, config=config)
    pair.start()
    assert pair.run_until(lambda: _pending(pair), limit=600)
    assert _received(pair) == ids
    server = pair.servers[-1]
    # the preview is answered at once; then one request per batch of what was not pushed
    served = max(0, backlog - OFFLINE_PUSHED)
    expected = -(-served // batch) if served else (1 if backlog else 0)
    assert server.offline_batches == [batch] * expected
    pair.session.close(now=pair.now)
    pair.pump()
    hub.now = pair.now


def test_config_refuses_bad_batch_settings() -> None:
    with pytest.raises(ValueError):
        SessionConfig(offline_batch_size=0)
    with pytest.raises(ValueError):
        SessionConfig(offline_batch_delay=-1.0)


def test_the_next_batch_waits_until_the_messages_are_committed() -> None:
    hub = make_hub(ping_interval=None)
    creds = paired_creds(hub)
    assert creds.me is not None
    for n in range(OFFLINE_PUSHED + 150):
        enc = Node("enc", {"v": "2", "type": "msg"}, b"x")
        hub.queue_offline(
            creds.me.id, Node("message", {"id": f"M{n}", "from": "1@s.whatsapp.net"}, [enc])
        )
    pair = login_pair(hub, creds, config=with_config(process_messages=True))
    pair.start()  # no processor: the jobs wait
    server = pair.servers[-1]
    assert len(pair.pending_jobs) == OFFLINE_PUSHED + 100
    pair.advance(30)
    assert server.offline_batches == [100]  # the debounce passed, but nothing is committed
    for job in pair.pending_jobs[:-1]:
        pair.session.message_processed(job.token, ProcessedMessage(result=None), now=pair.now)
    pair.pump()
    pair.advance(1)
    assert server.offline_batches == [100]  # one job still waits
    last = pair.pending_jobs[-1]
    pair.session.message_processed(last.token, ProcessedMessage(result=None), now=pair.now)
    due = pair.session.next_deadline()
    assert due is not None and due <= pair.now  # overdue at once: the debounce passed long ago
    pair.advance(0)
    assert server.offline_batches == [100, 100]
