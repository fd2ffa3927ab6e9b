"""The server role, driven in memory by a scripted client: the lifecycle and every fault."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.events import ClientAuthenticated, ServerAuthenticated
from walink.testing.faults import (
    Drop,
    Failure,
    Garbage,
    Silence,
    SlowReads,
    Step,
    StreamError,
    TruncatedFrame,
)
from walink.testing.hub import Hub
from walink.testing.server import OFFLINE_PUSHED, CloseRequest

from .client import T0, Creds, ScriptedClient, seeded


@pytest.fixture
def logs() -> list[str]:
    return []


@pytest.fixture
def hub(logs: list[str]) -> Hub:
    return Hub(rng=seeded(1), now=T0, log=logs.append)


def register(hub: Hub, seed: int = 2, now: float = T0) -> ScriptedClient:
    """A full QR registration; returns the client after its 515."""
    client = ScriptedClient(hub, Creds.fresh(seeded(seed)), now=now, rng=seeded(seed + 100))
    client.pump()
    hub.phone.scan_qr(client.qr(), now=now + 1)
    client.pump()
    assert client.nodes[-1] == Node("stream:error", {"code": "515"})
    return client


def login(hub: Hub, creds: Creds, now: float = T0 + 10, seed: int = 50) -> ScriptedClient:
    client = ScriptedClient(hub, creds, now=now, rng=seeded(seed))
    client.pump()
    return client


def test_qr_registration_lifecycle(hub: Hub) -> None:
    client = ScriptedClient(hub, Creds.fresh(seeded(2)), now=T0, rng=seeded(3))
    client.pump()
    authenticated = [e for e in client.events if isinstance(e, ServerAuthenticated)]
    assert authenticated[0].server_static_key == hub.server_key.public
    pair_device = client.nodes[0]
    assert pair_device.tag == "iq"
    assert pair_device.attrs["type"] == "set" and pair_device.attrs["xmlns"] == "md"
    assert len(client.refs) == 6 and all(ref.startswith("2@") for ref in client.refs)
    assert client.session.received[0].attrs == {
        "to": "s.whatsapp.net",
        "type": "result",
        "id": pair_device.attrs["id"],
    }
    assert client.session.pair_device_acked
    assert client.session.close_requested is None

    jid = hub.phone.scan_qr(client.qr(2), now=T0 + 30)
    client.pump()
    pair_success = client.nodes[1]
    assert pair_success.attrs["t"] == str(int(T0 + 30))
    device_node = pair_success.child("pair-success").child("device")  # type: ignore[union-attr]
    phone = hub.registry.phone()
    assert device_node is not None
    assert device_node.attrs == {"jid": jid, "lid": f"{phone.lid}:1@lid"}
    assert jid == f"{phone.number}:1@s.whatsapp.net" == client.creds.me
    assert client.nodes[2:] == [Node("stream:error", {"code": "515"})]
    assert client.session.close_requested == CloseRequest(
        abort=False, code=1000, reason="paired: restart required"
    )
    device = hub.registry.device(phone.number, 1)
    assert device is not None
    assert device.noise_key == client.creds.noise_key.public
    assert device.identity_key == client.creds.identity.public
    # the refs died with the connection
    with pytest.raises(Exception, match="gone or already paired"):
        hub.phone.scan_qr(client.qr(3), now=T0 + 31)


def test_login_with_saved_identity(hub: Hub) -> None:
    creds = register(hub).creds
    client = login(hub, creds, now=T0 + 100)
    assert client.nodes[0] == Node(
        "success",
        {"t": str(int(T0 + 100)), "lid": creds.lid or "", "props": "1", "location": "emu"},
    )
    assert client.nodes[1:] == [Node("ib", {}, [Node("offline", {"count": "0"})])]
    assert client.session.device is not None
    assert client.session.close_requested is None
    client.send(Node("ib", {}, [Node("unified_session", {"id": "1"})]))
    client.send(Node("presence", {"name": "me", "type": "available"}))
    assert client.session.presence == "available"
    assert client.session.data_to_send() == b""  # neither is answered


def test_unknown_device_gets_failure_401(hub: Hub, logs: list[str]) -> None:
    creds = Creds.fresh(seeded(9))
    creds.me = "15550000001:7@s.whatsapp.net"
    client = login(hub, creds)
    assert client.nodes == [Node("failure", {"reason": "401"})]
    assert client.session.close_requested is not None
    assert not client.session.close_requested.abort
    assert any("unknown device" in line for line in logs)


def test_wrong_noise_key_gets_failure_401(hub: Hub, logs: list[str]) -> None:
    creds = register(hub).creds
    other = Creds.fresh(seeded(10))
    other.me = creds.me
    client = login(hub, other)
    assert client.nodes == [Node("failure", {"reason": "401"})]
    assert any("wrong noise key" in line for line in logs)


def test_queries_are_answered(hub: Hub) -> None:
    hub.history = None  # the phone would take a pre-key of the first upload for its history
    client = login(hub, register(hub).creds)

    def iq(kind: str, xmlns: str, *children: Node) -> Node:
        return Node(
            "iq", {"to": "@s.whatsapp.net", "type": kind, "xmlns": xmlns}, list(children) or None
        )

    def result(answer: Node) -> list[Node]:
        assert answer.attrs["type"] == "result" and answer.attrs["from"] == "s.whatsapp.net"
        return answer.children()

    assert result(client.query(iq("get", "encrypt", Node("count")))) == [
        Node("count", {"value": "0"})
    ]
    keys = [
        Node("key", {}, [Node("id", {}, i.to_bytes(3, "big")), Node("value", {}, bytes(32))])
        for i in range(1, 6)
    ]
    upload = iq(
        "set",
        "encrypt",
        Node("registration", {}, b"\x00\x00\x04\xd2"),
        Node("type", {}, b"\x05"),
        Node("identity", {}, client.creds.identity.public),
        Node("list", {}, keys),
        Node("skey", {}, [Node("id", {}, b"\x00\x00\x01")]),
    )
    assert result(client.query(upload)) == []
    assert result(client.query(iq("get", "encrypt", Node("count")))) == [
        Node("count", {"value": "5"})
    ]
    digest = result(client.query(iq("get", "encrypt", Node("digest"))))
    assert [d.tag for d in digest] == ["digest"]
    assert [c.tag for c in digest[0].children()] == ["registration", "type", "identity", "skey"]
    assert result(client.query(iq("set", "passive", Node("active")))) == []
    assert result(client.query(iq("get", "abt", Node("props", {"protocol": "1"})))) == [
        Node("props", {"protocol": "1"})
    ]
    assert result(client.query(iq("get", "blocklist"))) == [Node("list")]
    assert result(client.query(iq("get", "privacy", Node("privacy")))) == [Node("privacy")]
    assert result(client.query(iq("get", "w:p", Node("ping")))) == []
    assert result(client.query(iq("get", "w:p"))) == []
    asked = Node(
        "usync", {"sid": "s1"}, [Node("list", {}, [Node("user", {"jid": "1@s.whatsapp.net"})])]
    )
    assert result(client.query(iq("get", "usync", asked))) == [
        Node(
            "usync", {"sid": "s1"}, [Node("list", {}, [Node("user", {"jid": "1@s.whatsapp.net"})])]
        )
    ]
    unknown = client.query(iq("get", "w:g2", Node("query")))
    assert unknown.attrs["type"] == "error"
    assert unknown.children() == [Node("error", {"code": "501", "text": "feature-not-implemented"})]
    before = len(client.nodes)
    client.send(Node("iq", {"to": "s.whatsapp.net", "type": "result", "id": "x"}))
    client.send(Node("iq", {"to": "s.whatsapp.net", "type": "error", "id": "y"}))
    assert len(client.nodes) == before


def test_offline_delivery_then_offline_count(hub: Hub) -> None:
    creds = register(hub).creds
    assert creds.me is not None
    for n in (1, 2):
        hub.queue_offline(creds.me, Node("message", {"id": f"m{n}", "from": "1@s.whatsapp.net"}))
    client = login(hub, creds)
    preview = {"count": "2", "message": "2", "notification": "0", "receipt": "0", "call": "0"}
    assert client.nodes[1] == Node("ib", {}, [Node("offline_preview", {**preview, "appdata": "0"})])
    assert [n.attrs.get("offline") for n in client.nodes[2:4]] == ["1", "2"]
    assert [n.attrs["id"] for n in client.nodes[2:4]] == ["m1", "m2"]
    assert client.nodes[4] == Node("ib", {}, [Node("offline", {"count": "2"})])
    acks = [n for n in client.session.received if n.tag == "ack"]
    assert [a.attrs["id"] for a in acks] == ["m1", "m2"]
    # delivered once only
    assert login(hub, creds, now=T0 + 20, seed=51).nodes[1] == Node(
        "ib", {}, [Node("offline", {"count": "0"})]
    )


def test_large_backlog_is_previewed_then_served_per_batch_request(hub: Hub) -> None:
    creds = register(hub).creds
    assert creds.me is not None
    total = OFFLINE_PUSHED + 4
    for n in range(1, total + 1):
        hub.queue_offline(creds.me, Node("message", {"id": f"m{n}", "from": "1@s.whatsapp.net"}))
    client = ScriptedClient(hub, creds, now=T0 + 10, rng=seeded(60), offline_batch=None)
    client.pump()
    counts = {"count": str(total), "message": str(total), "notification": "0"}
    counts |= {"receipt": "0", "call": "0", "appdata": "0"}
    assert client.nodes[1] == Node("ib", {}, [Node("offline_preview", counts)])
    pushed = client.nodes[2:]
    assert [n.attrs["offline"] for n in pushed] == [str(p) for p in range(1, OFFLINE_PUSHED + 1)]

    def batch(count: int) -> list[Node]:
        before = len(client.nodes)
        client.send(Node("ib", {}, [Node("offline_batch", {"count": str(count)})]))
        return client.nodes[before:]

    assert [n.attrs["id"] for n in batch(2)] == [f"m{OFFLINE_PUSHED + p}" for p in (1, 2)]
    last = batch(10)
    assert [n.attrs.get("offline") for n in last[:2]] == [str(total - 1), str(total)]
    assert last[2:] == [Node("ib", {}, [Node("offline", {"count": str(total)})])]
    assert batch(5) == []  # the backlog is over: a late request gets nothing
    assert client.session.offline_batches == [2, 10, 5]


def test_the_backlog_is_pulled_in_batches_and_requeued_when_not_pulled(hub: Hub) -> None:
    creds = register(hub).creds
    assert creds.me is not None
    for n in range(1, 9):
        hub.queue_offline(creds.me, Node("message", {"id": f"m{n}", "from": "1@s.whatsapp.net"}))
    hub.queue_offline(creds.me, Node("receipt", {"id": "r1", "from": "1@s.whatsapp.net"}))
    client = ScriptedClient(hub, creds, now=T0 + 10, rng=seeded(60), offline_batch=None)
    client.pump()
    preview = client.nodes[1].child("offline_preview")
    assert preview is not None
    assert (preview.attrs["count"], preview.attrs["message"], preview.attrs["receipt"]) == (
        "9",
        "8",
        "1",
    )
    # A few stanzas are pushed after the preview; the rest waits until the client asks.
    assert [n.attrs.get("offline") for n in client.nodes[2:]] == ["1", "2", "3"]
    client.pull_offline(2)
    assert [n.attrs.get("id") for n in client.nodes[5:]] == ["m4", "m5"]
    # The connection ends with four stanzas never pulled: the next login gets them.
    client.session.receive_data(None, now=T0 + 11)
    again = login(hub, creds, now=T0 + 20, seed=61)
    assert again.nodes[1].child("offline_preview") == Node(
        "offline_preview",
        {
            "count": "4",
            "message": "3",
            "notification": "0",
            "receipt": "1",
            "call": "0",
            "appdata": "0",
        },
    )
    assert [n.attrs.get("id") for n in again.nodes[2:5]] == ["m6", "m7", "m8"]


def test_server_pings_on_schedule(hub: Hub) -> None:
    client = login(hub, register(hub).creds, now=T0 + 10)
    session = client.session
    assert session.next_deadline() == T0 + 40
    client.advance(29)
    assert session.pings_sent == []
    client.advance(1)
    ping = client.nodes[-1]
    assert ping.attrs == {
        "from": "s.whatsapp.net",
        "type": "get",
        "xmlns": "urn:xmpp:ping",
        "id": session.pings_sent[0],
    }
    assert session.pongs == session.pings_sent
    assert session.next_deadline() == T0 + 70
    client.answer_pings = False
    client.advance(30)
    assert len(session.pings_sent) == 2 and len(session.pongs) == 1
    assert session.close_requested is None  # never dropped for not answering


def test_logout_removes_the_device(hub: Hub) -> None:
    creds = register(hub).creds
    client = login(hub, creds)
    remove = Node(
        "iq",
        {"to": "s.whatsapp.net", "type": "set", "xmlns": "md"},
        [Node("remove-companion-device", {"jid": creds.me or "", "reason": "user_initiated"})],
    )
    answer = client.query(remove)
    assert answer.attrs["type"] == "result"
    assert client.nodes[-1] == Node(
        "stream:error", {"code": "401"}, [Node("conflict", {"type": "device_removed"})]
    )
    assert client.session.close_requested is not None
    assert list(hub.registry.devices()) == []
    assert login(hub, creds, now=T0 + 30, seed=52).nodes == [Node("failure", {"reason": "401"})]


def test_edge_routing_notice_and_ed_intro(hub: Hub) -> None:
    creds = register(hub).creds
    hub.edge_routing = b"\x08\x04\x10\x02"
    client = login(hub, creds)
    routing = Node(
        "ib", {}, [Node("edge_routing", {}, [Node("routing_info", {}, b"\x08\x04\x10\x02")])]
    )
    assert routing in client.nodes
    assert client.session.routing_info is None
    creds.routing_info = b"\x08\x04\x10\x02"
    again = login(hub, creds, now=T0 + 20, seed=53)
    assert again.session.routing_info == b"\x08\x04\x10\x02"
    assert again.nodes[0].tag == "success"


def test_companion_reg_refresh_notification(hub: Hub) -> None:
    client = ScriptedClient(hub, Creds.fresh(seeded(2)), now=T0, rng=seeded(3))
    client.pump()
    client.session.send_companion_reg_refresh()
    client.pump()
    notification = client.nodes[-1]
    assert notification.attrs["type"] == "companion_reg_refresh"
    assert notification.attrs["from"] == "s.whatsapp.net"
    assert notification.children() == [Node("companion_reg_refresh")]


def test_bad_device_signature_ends_with_401(hub: Hub, logs: list[str]) -> None:
    client = ScriptedClient(
        hub, Creds.fresh(seeded(2)), now=T0, rng=seeded(3), tamper_device_signature=True
    )
    client.pump()
    hub.phone.scan_qr(client.qr(), now=T0 + 1)
    client.pump()
    assert client.nodes[-1] == Node(
        "stream:error", {"code": "401"}, [Node("conflict", {"type": "device_removed"})]
    )
    assert client.session.close_requested is not None
    assert list(hub.registry.devices()) == []
    assert any("device signature invalid" in line for line in logs)


def test_client_garbage_aborts_the_connection(hub: Hub, logs: list[str]) -> None:
    session = hub.connect(now=T0)
    session.receive_data(b"XX\x00\x00garbage", now=T0)
    assert session.close_requested is not None and session.close_requested.abort
    assert session.data_to_send() == b""
    assert any("bad bytes" in line for line in logs)


# -- faults ------------------------------------------------------------------------------------


def faulty_login(hub: Hub, *faults: object) -> ScriptedClient:
    creds = register(hub).creds
    hub.inject(*faults)  # type: ignore[arg-type]
    return login(hub, creds)


@pytest.mark.parametrize("step", list(Step))
def test_drop_at_each_step(hub: Hub, step: Step) -> None:
    client = faulty_login(hub, Drop(at=step))
    close = client.session.close_requested
    assert close is not None and close.abort
    handshake_done = any(isinstance(e, ServerAuthenticated) for e in client.events)
    assert handshake_done == (step in (Step.CLIENT_FINISH, Step.OPEN))
    tags = [n.tag for n in client.nodes]
    assert tags == (["success", "ib"] if step is Step.OPEN else [])
    if step is Step.CONNECTED:
        assert client.session.payload is None and client.session.routing_info is None


@pytest.mark.parametrize("step", [Step.CLIENT_HELLO, Step.CLIENT_FINISH, Step.OPEN])
def test_silence(hub: Hub, step: Step) -> None:
    client = faulty_login(hub, Silence(at=step))
    assert client.session.close_requested is None
    assert client.session.next_deadline() is None
    client.advance(300)
    assert [n.tag for n in client.nodes] == (["success", "ib"] if step is Step.OPEN else [])
    if client.conn.handshake_complete:  # a ping goes unanswered too
        ping = Node("iq", {"id": "p", "type": "get", "xmlns": "w:p", "to": "s.whatsapp.net"})
        client.send(ping)
        assert client.session.received == []
    assert [n.tag for n in client.nodes] == (["success", "ib"] if step is Step.OPEN else [])


@pytest.mark.parametrize("step", [Step.CONNECTED, Step.CLIENT_HELLO, Step.OPEN])
def test_garbage(hub: Hub, step: Step) -> None:
    client = faulty_login(hub, Garbage(at=step))
    assert isinstance(client.error, RemoteProtocolError)
    assert client.session.close_requested is None


@pytest.mark.parametrize("step", [Step.CLIENT_HELLO, Step.CLIENT_FINISH, Step.OPEN])
def test_truncated_frame(hub: Hub, step: Step) -> None:
    client = faulty_login(hub, TruncatedFrame(at=step))
    close = client.session.close_requested
    assert close is not None and close.abort
    assert client.error is None  # half a frame is just an incomplete frame ...
    with pytest.raises(RemoteProtocolError, match="middle of a frame"):
        client.conn.receive_data(None)  # ... until the abort reaches the client


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (515, Node("stream:error", {"code": "515"})),
        (
            401,
            Node("stream:error", {"code": "401"}, [Node("conflict", {"type": "device_removed"})]),
        ),
        (440, Node("stream:error", {}, [Node("conflict", {"type": "replaced"})])),
        (503, Node("stream:error", {"code": "503"})),
    ],
)
@pytest.mark.parametrize("step", [Step.CLIENT_FINISH, Step.OPEN])
def test_stream_errors(hub: Hub, code: int, expected: Node, step: Step) -> None:
    client = faulty_login(hub, StreamError(code=code, at=step))
    before = ["success", "ib"] if step is Step.OPEN else []
    assert [n.tag for n in client.nodes[:-1]] == before
    assert client.nodes[-1] == expected
    assert client.session.close_requested == CloseRequest(
        abort=False, code=1000, reason=f"fault: stream error {code}"
    )


@pytest.mark.parametrize(
    ("reason", "attrs"),
    [(401, {}), (402, {"expire": "3600", "code": "101"}), (403, {}), (405, {}), (500, {})],
)
def test_failures(hub: Hub, reason: int, attrs: dict[str, str]) -> None:
    client = faulty_login(hub, Failure(reason=reason, attrs=attrs))
    assert client.nodes == [Node("failure", {"reason": str(reason), **attrs})]
    close = client.session.close_requested
    assert close is not None and not close.abort


def test_faults_apply_to_the_next_connection_only(hub: Hub) -> None:
    creds = register(hub).creds
    hub.inject(Failure(reason=503))
    assert login(hub, creds).nodes[0].tag == "failure"
    assert login(hub, creds, now=T0 + 20, seed=54).nodes[0].tag == "success"


def test_failure_does_not_touch_registration(hub: Hub) -> None:
    hub.inject(Failure(reason=500))
    client = ScriptedClient(hub, Creds.fresh(seeded(2)), now=T0, rng=seeded(3))
    client.pump()
    assert client.nodes[0].child("pair-device") is not None


def test_slow_reads_is_a_flag_for_the_socket_layer(hub: Hub) -> None:
    hub.inject(SlowReads(delay=0.25))
    assert hub.connect(now=T0).slow_reads == 0.25
    assert hub.connect(now=T0).slow_reads is None


def test_stream_error_needs_the_handshake(hub: Hub) -> None:
    with pytest.raises(ValueError):
        hub.inject(StreamError(code=503, at=Step.CLIENT_HELLO))


def test_registration_handshake_event_carries_the_payload(hub: Hub) -> None:
    client = ScriptedClient(hub, Creds.fresh(seeded(2)), now=T0, rng=seeded(3))
    client.pump()
    payload = client.session.payload
    assert payload is not None and payload.HasField("device_pairing_data")
    assert payload.device_pairing_data.e_ident == client.creds.identity.public
    assert not any(isinstance(e, ClientAuthenticated) for e in client.events)


@given(chunks=st.lists(st.binary(max_size=64), max_size=5))
def test_arbitrary_client_bytes_never_escape_the_session(chunks: list[bytes]) -> None:
    hub = Hub(rng=seeded(1), now=T0, log=lambda _: None)
    session = hub.connect(now=T0)
    for chunk in [b"WA\x06\x03", *chunks]:
        session.receive_data(chunk, now=T0)
    session.receive_data(None, now=T0)
    assert session.ended
    if session.close_requested is not None:
        assert session.close_requested.abort


@pytest.mark.parametrize("limit", [1, 3, 40])
def test_received_keeps_only_the_newest_nodes_up_to_the_hub_limit(limit: int) -> None:
    hub = Hub(rng=seeded(1), now=T0, log=lambda line: None, received_limit=limit)
    hub.history = None
    client = login(hub, register(hub).creds)
    (session,) = hub.sessions()
    before = session.received_count
    pings = [
        Node("iq", {"id": f"p{i}", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"})
        for i in range(50)
    ]
    for ping in pings:
        client.send(ping)
    assert session.received_count == before + 50
    assert session.received == pings[-limit:]
