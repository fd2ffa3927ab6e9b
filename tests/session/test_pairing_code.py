"""walink._session.pairing_code: pairing-code login, unit-level (recorded nodes) and end to end
(``MemoryPair`` with the hub's simulated phone typing the code)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.peer_bridge import PeerBridge
from walink._session.pairing_code import companion_hello_node
from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node, encode_node
from walink.protocol.errors import LocalProtocolError
from walink.protocol.events import Event
from walink.protocol.pairing_code import PAIRING_CODE_ALPHABET, unwrap_ephemeral
from walink.session import (
    ClientSession,
    Closed,
    ConnectionUpdate,
    NodeReceived,
    PairingCode,
    PairingCodeError,
    QueryFailure,
    SaveRequest,
    SessionConfig,
    SessionEvent,
)
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

from .helpers import T0, fresh_pair, make_hub, open_pair, paired_creds, with_config

PHONE = "4915123456789"

# -- unit level: a session whose transport records the nodes it sends -----------------------


class Recorder:
    """A ``NodeTransport`` that keeps what the session sends (the replay path)."""

    def __init__(self) -> None:
        self.sent: list[Node] = []

    def receive_data(self, data: bytes | None) -> None:
        return None

    def events(self) -> Iterator[Event]:
        return iter(())

    def send_node(self, node: Node) -> None:
        self.sent.append(node)

    def data_to_send(self) -> bytes:
        return b""


def recorded(config: SessionConfig | None = None) -> tuple[ClientSession, Recorder, Creds]:
    rng = random.Random(7)
    creds = Creds.new(rng.randbytes)
    session = ClientSession(creds=creds, rng=rng, config=config)
    recorder = Recorder()
    session.start(now=T0)
    session.connection_made(now=T0, transport=recorder)
    return session, recorder, creds


def pair_device(*refs: bytes) -> Node:
    children = [Node("ref", {}, ref) for ref in refs or (b"ref-1", b"ref-2")]
    attrs = {"from": "s.whatsapp.net", "type": "set", "id": "pd-1", "xmlns": "md"}
    return Node("iq", attrs, [Node("pair-device", {}, children)])


def hello_result(iq_id: str, ref: bytes = b"2@pairing-ref") -> Node:
    reg = Node("link_code_companion_reg", {}, [Node("link_code_pairing_ref", {}, ref)])
    return Node("iq", {"from": "s.whatsapp.net", "type": "result", "id": iq_id}, [reg])


def link_code_nodes(sent: list[Node], stage: str) -> list[Node]:
    return [
        node
        for node in sent
        if (reg := node.child("link_code_companion_reg")) is not None and reg.attr("stage") == stage
    ]


E = TypeVar("E")


def of_type(events: list[SessionEvent] | list[Node], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def test_the_code_is_reported_only_once_the_server_accepted_companion_hello() -> None:
    session, recorder, _ = recorded()
    session.receive_node(pair_device(), now=T0 + 1)
    list(session.events())
    request = session.request_pairing_code(PHONE, now=T0 + 2)
    [hello] = link_code_nodes(recorder.sent, "companion_hello")
    assert not of_type(list(session.events()), PairingCode)
    assert session.state == "awaiting_qr"
    session.receive_node(hello_result(hello.attrs["id"]), now=T0 + 3)
    [reported] = of_type(list(session.events()), PairingCode)
    assert reported.request == request and reported.phone == PHONE
    assert reported.expires_at == T0 + 2 + SessionConfig().pairing_code_timeout
    assert len(reported.code) == 8 and set(reported.code) <= set(PAIRING_CODE_ALPHABET)
    assert reported.code not in repr(reported)  # shown to the user, never in a log line
    assert session.state == "awaiting_pairing_code"


def test_companion_hello_follows_protocol_7_2() -> None:
    session, recorder, creds = recorded()
    session.receive_node(pair_device(), now=T0)
    session.request_pairing_code("+49 151 2345-6789", now=T0, custom_code="ABCD2345")
    [hello] = link_code_nodes(recorder.sent, "companion_hello")
    assert list(hello.attrs) == ["to", "type", "id", "xmlns"]
    assert (hello.attrs["to"], hello.attrs["type"], hello.attrs["xmlns"]) == (
        "@s.whatsapp.net",
        "set",
        "md",
    )
    [reg] = hello.children()
    assert list(reg.attrs.items()) == [
        ("jid", f"{PHONE}@s.whatsapp.net"),
        ("stage", "companion_hello"),
        ("should_show_push_notification", "true"),
    ]
    assert [child.tag for child in reg.children()] == [
        "link_code_pairing_wrapped_companion_ephemeral_pub",
        "companion_server_auth_key_pub",
        "companion_platform_id",
        "companion_platform_display",
        "link_code_pairing_nonce",
    ]
    wrapped, noise, platform_id, display, nonce = reg.children()
    assert isinstance(wrapped.content, bytes) and len(wrapped.content) == 80
    # the persistent pairing ephemeral key (Baileys), wrapped under the code's PBKDF2 key
    assert unwrap_ephemeral("ABCD2345", wrapped.content) == creds.pairing_ephemeral_key_pair.public
    assert noise.content == creds.noise_key.public
    assert (platform_id.content, display.content, nonce.content) == ("1", "Chrome (Mac OS)", "0")


# Baileys 7.0.0-rc14 ``encodeBinaryNode`` of the same node (taken once through the codec bridge;
# ``test_companion_hello_bytes_match_baileys`` re-checks it live). The nonce "0" is the single
# token byte 0x2d at the very end; whatsmeow would send fc 01 00 there instead.
PINNED_HELLO = bytes.fromhex(
    "00f80a1911fa0003045a08ff861234b5678a1f16fc026d64f801f808fc176c696e6b5f636f64655f636f6d70"
    "616e696f6e5f7265670cfaff874915123456789f03ec8bfc0f636f6d70616e696f6e5f68656c6c6ffc1d7368"
    "6f756c645f73686f775f707573685f6e6f74696669636174696f6e9bf805f802fc316c696e6b5f636f64655f"
    "70616972696e675f777261707065645f636f6d70616e696f6e5f657068656d6572616c5f707562fc50"
    + bytes(range(80)).hex()
    + "f802fc1d636f6d70616e696f6e5f7365727665725f617574685f6b65795f707562fc20"
    + bytes(range(100, 132)).hex()
    + "f802fc15636f6d70616e696f6e5f706c6174666f726d5f696455f802fc1a636f6d70616e696f6e5f706c6174"
    "666f726d5f646973706c6179fc0f4368726f6d6520284d6163204f5329f802fc176c696e6b5f636f64655f70"
    "616972696e675f6e6f6e63652d"
)


def pinned_node() -> Node:
    return companion_hello_node(
        iq_id="1234.5678-1",
        phone=PHONE,
        wrapped_ephemeral=bytes(range(80)),
        noise_public=bytes(range(100, 132)),
        platform_id="1",
        platform_display="Chrome (Mac OS)",
    )


def test_companion_hello_bytes_are_pinned() -> None:
    encoded = encode_node(pinned_node())
    assert encoded == PINNED_HELLO
    assert encoded.endswith(
        bytes.fromhex("f802fc176c696e6b5f636f64655f70616972696e675f6e6f6e6365") + b"\x2d"
    )


def to_json(node: Node) -> dict[str, object]:
    content = node.content
    if isinstance(content, bytes):
        value: object = {"$b": content.hex()}
    elif isinstance(content, list):
        value = [to_json(child) for child in content]
    else:
        value = content
    return {"tag": node.tag, "attrs": dict(node.attrs), "content": value}


def test_companion_hello_bytes_match_baileys(peer_dir: Path) -> None:
    session, recorder, _ = recorded()
    session.receive_node(pair_device(), now=T0)
    session.request_pairing_code(PHONE, now=T0)
    [sent] = link_code_nodes(recorder.sent, "companion_hello")
    with PeerBridge(peer_dir, "codec-bridge.mjs") as bridge:
        for node in (pinned_node(), sent):
            theirs = bridge.call("encode", node=to_json(node))["hex"]
            assert bytes.fromhex(theirs) == encode_node(node)


def test_a_request_before_pair_device_waits_for_it() -> None:
    config = SessionConfig(pairing_ready_timeout=10.0)
    session, recorder, _ = recorded(config)
    assert session.state == "handshaking"
    session.request_pairing_code(PHONE, now=T0)
    assert not link_code_nodes(recorder.sent, "companion_hello")
    assert session.next_deadline() == T0 + 10.0  # before the 20 s connect timeout
    session.receive_node(pair_device(), now=T0 + 4)
    assert recorder.sent[0].attrs["type"] == "result"  # pair-device is answered first
    [hello] = link_code_nodes(recorder.sent, "companion_hello")
    events = list(session.events())
    assert all(update.qr is None for update in of_type(events, ConnectionUpdate))
    session.receive_node(hello_result(hello.attrs["id"]), now=T0 + 5)
    assert of_type(list(session.events()), PairingCode)


def test_readiness_timeout_fails_only_the_request() -> None:
    session, recorder, _ = recorded(SessionConfig(pairing_ready_timeout=5.0))
    ping = Node(
        "iq", {"from": "s.whatsapp.net", "type": "get", "xmlns": "urn:xmpp:ping", "id": "p"}
    )
    session.receive_node(ping, now=T0 + 1)  # a first node that is not pair-device
    request = session.request_pairing_code(PHONE, now=T0 + 1)
    session.handle_timeout(now=T0 + 6)
    [error] = of_type(list(session.events()), PairingCodeError)
    assert (error.request, error.failure, error.code, error.retry) == (
        request,
        QueryFailure.TIMEOUT,
        408,
        True,
    )
    assert session.attempt_alive
    session.receive_node(pair_device(), now=T0 + 7)
    assert not link_code_nodes(recorder.sent, "companion_hello")  # nothing waits any more
    assert all(u.qr is None for u in of_type(list(session.events()), ConnectionUpdate))
    session.request_pairing_code(PHONE, now=T0 + 8)
    assert len(link_code_nodes(recorder.sent, "companion_hello")) == 1


def test_a_close_fails_the_request_in_flight() -> None:
    session, _, _ = recorded()
    request = session.request_pairing_code(PHONE, now=T0)
    session.connection_lost(ConnectionResetError("reset"), now=T0 + 1)
    events = list(session.events())
    [error] = of_type(events, PairingCodeError)
    assert error.request == request and error.failure is QueryFailure.CLOSED
    assert error.retry  # a network error: the policy reconnects, and a new request may work
    assert events.index(error) < events.index(of_type(events, Closed)[0])


def test_primary_hello_for_another_ref_is_acked_and_ignored() -> None:
    session, recorder, _ = recorded()
    session.receive_node(pair_device(), now=T0)
    session.request_pairing_code(PHONE, now=T0)
    [hello] = link_code_nodes(recorder.sent, "companion_hello")
    session.receive_node(hello_result(hello.attrs["id"], b"ref-A"), now=T0)
    list(session.events())
    reg = Node(
        "link_code_companion_reg",
        {"stage": "primary_hello"},
        [
            Node("link_code_pairing_ref", {}, b"ref-B"),
            Node("primary_identity_pub", {}, bytes(32)),
            Node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, bytes(80)),
        ],
    )
    attrs = {"type": "link_code_companion_reg", "id": "n-1", "from": "s.whatsapp.net"}
    session.receive_node(Node("notification", attrs, [reg]), now=T0 + 1)
    assert recorder.sent[-1].tag == "ack" and recorder.sent[-1].attrs["id"] == "n-1"
    assert not link_code_nodes(recorder.sent, "companion_finish")
    assert not list(session.events())  # consumed: no NodeReceived, no save
    # the right ref with a truncated wrapped key is the server's fault: the attempt ends
    bad = Node(
        "link_code_companion_reg",
        {},
        [
            Node("link_code_pairing_ref", {}, b"ref-A"),
            Node("primary_identity_pub", {}, bytes(32)),
            Node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, bytes(40)),
        ],
    )
    session.receive_node(Node("notification", {**attrs, "id": "n-2"}, [bad]), now=T0 + 2)
    [closed] = of_type(list(session.events()), Closed)
    assert closed.disconnect.reason is CloseReason.PROTOCOL_ERROR


def test_primary_hello_without_a_code_is_an_ordinary_node() -> None:
    session, recorder, _ = recorded()
    session.receive_node(pair_device(), now=T0)
    list(session.events())
    attrs = {"type": "link_code_companion_reg", "id": "n-1", "from": "s.whatsapp.net"}
    session.receive_node(Node("notification", attrs, [Node("link_code_companion_reg")]), now=T0)
    assert of_type(list(session.events()), NodeReceived)
    assert recorder.sent[-1].tag == "ack"  # auto_ack, as for any notification


# -- misuse ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    ["", "015123456789", "+0049151234", "123456", "1234567890123456", "49151abc678", "49_1512345"],
)
def test_invalid_phone_numbers_are_refused(phone: str) -> None:
    session, recorder, _ = recorded()
    session.receive_node(pair_device(), now=T0)
    list(session.events())
    with pytest.raises(LocalProtocolError, match="phone number"):
        session.request_pairing_code(phone, now=T0)
    assert not link_code_nodes(recorder.sent, "companion_hello")
    assert not list(session.events())  # the QR stays on screen
    # and keeps rotating: its deadline is still there (keepalive kept away by a server ping)
    ping = Node(
        "iq", {"from": "s.whatsapp.net", "type": "get", "xmlns": "urn:xmpp:ping", "id": "p"}
    )
    session.receive_node(ping, now=T0 + 59)
    session.handle_timeout(now=T0 + 60)
    [update] = of_type(list(session.events()), ConnectionUpdate)
    assert update.qr is not None and session.state == "awaiting_qr"


@given(st.text(min_size=1, max_size=20).filter(lambda text: any(c.isalpha() for c in text)))
def test_any_phone_with_letters_is_refused(phone: str) -> None:
    session, _, _ = recorded()
    with pytest.raises(LocalProtocolError):
        session.request_pairing_code(phone, now=T0)


@pytest.mark.parametrize(
    "code", ["ABCDEFG", "ABCDEFGHJ", "ABCDEFG0", "ABCDEFGO", "ABCD EFG", "AB-CD-EFG"]
)
def test_invalid_custom_codes_are_refused(code: str) -> None:
    session, _, _ = recorded()
    with pytest.raises(LocalProtocolError, match="pairing code"):
        session.request_pairing_code(PHONE, now=T0, custom_code=code)


def test_a_second_request_in_flight_is_refused() -> None:
    session, recorder, _ = recorded()
    session.request_pairing_code(PHONE, now=T0)  # waiting for pair-device
    with pytest.raises(LocalProtocolError, match="in flight"):
        session.request_pairing_code(PHONE, now=T0)
    session.receive_node(pair_device(), now=T0)
    with pytest.raises(LocalProtocolError, match="in flight"):  # sent, not answered yet
        session.request_pairing_code(PHONE, now=T0)
    [hello] = link_code_nodes(recorder.sent, "companion_hello")
    session.receive_node(hello_result(hello.attrs["id"]), now=T0)
    session.request_pairing_code(PHONE, now=T0 + 1)  # answered: a new code may be asked for
    assert len(link_code_nodes(recorder.sent, "companion_hello")) == 2


def test_requests_need_a_new_devices_attempt() -> None:
    session = ClientSession(creds=Creds.new(random.Random(1).randbytes), rng=random.Random(1))
    with pytest.raises(LocalProtocolError, match="no connection attempt"):
        session.request_pairing_code(PHONE, now=T0)
    hub = make_hub(ping_interval=None)
    pair = open_pair(hub, paired_creds(hub))
    with pytest.raises(LocalProtocolError, match="already paired"):
        pair.session.request_pairing_code(PHONE, now=pair.now)


# -- end to end with the hub's phone ---------------------------------------------------------


def events_after(pair: MemoryPair, start: int, kind: type[E]) -> list[E]:
    return of_type(pair.events[start:], kind)


def reported_code(pair: MemoryPair) -> PairingCode:
    [reported] = of_type(pair.events, PairingCode)
    return reported


def test_full_flow_ends_open_with_the_new_adv_secret() -> None:
    hub = make_hub()
    pair = fresh_pair(hub)
    original_secret = pair.session.creds.adv_secret_key
    pair.start()
    assert pair.session.state == "awaiting_qr"
    request = pair.session.request_pairing_code(PHONE, now=pair.now)
    pair.pump()
    reported = reported_code(pair)
    assert reported.request == request and pair.session.state == "awaiting_pairing_code"
    hub.phone.enter_pairing_code(reported.code, now=pair.now)
    pair.pump()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    assert [c.disconnect.reason for c in pair.closes] == [CloseReason.RESTART_REQUIRED]
    stored = pair.store.load()
    assert stored is not None and stored.me is not None
    assert stored.me.id.startswith(f"{PHONE}:")
    # the secret companion_finish derived is the one the phone's pair-success was checked with
    assert stored.adv_secret_key == pair.session.creds.adv_secret_key != original_secret
    assert stored.pairing_code is None  # the code is never persisted
    assert pair.updates[-1].is_new_login
    [device] = [d for d in hub.registry.devices() if d.phone == PHONE]
    assert device.identity_key == stored.signed_identity_key.public


def test_custom_code_is_used_as_given() -> None:
    hub = make_hub()
    pair = fresh_pair(hub)
    pair.start()
    pair.session.request_pairing_code(PHONE, now=pair.now, custom_code="zyxw-9876")
    pair.pump()
    assert reported_code(pair).code == "ZYXW9876"
    hub.phone.enter_pairing_code("ZYXW9876", now=pair.now)
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)


def test_request_before_ready_then_ready_end_to_end() -> None:
    hub = make_hub()
    pair = fresh_pair(hub)
    session = pair.session
    # what MemoryPair.start does, minus the pump: the request comes before any server byte
    session.start(now=pair.now)
    pair.server = hub.connect(now=pair.now)
    pair.servers.append(pair.server)
    session.connection_made(now=pair.now)
    session.request_pairing_code(PHONE, now=pair.now)
    assert session.state == "handshaking"
    pair.pump()
    assert all(update.qr is None for update in pair.updates)  # no QR ever shown
    hub.phone.enter_pairing_code(reported_code(pair).code, now=pair.now)
    assert pair.run_until(lambda: session.connection == "open", limit=60)


def test_rate_limit_is_a_typed_error_and_a_later_request_works() -> None:
    hub = make_hub()
    hub.pairing_code_rate_limited = True
    pair = fresh_pair(hub)
    pair.start()
    first = pair.session.request_pairing_code(PHONE, now=pair.now)
    pair.pump()
    [error] = of_type(pair.events, PairingCodeError)
    assert (error.request, error.failure, error.code, error.text, error.retry) == (
        first,
        QueryFailure.SERVER_ERROR,
        429,
        "rate-overlimit",
        True,
    )
    assert not of_type(pair.events, PairingCode)
    assert pair.session.attempt_alive and pair.session.connection == "connecting"
    pair.advance(30)
    assert not pair.closes and pair.session.state == "awaiting_qr"
    hub.pairing_code_rate_limited = False
    second = pair.session.request_pairing_code(PHONE, now=pair.now)
    pair.pump()
    assert reported_code(pair).request == second != first
    hub.phone.enter_pairing_code(reported_code(pair).code, now=pair.now)
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    assert len(pair.servers) == 2  # the 515 restart only


def other_code(code: str) -> str:
    return ("2" if code[0] != "2" else "3") + code[1:]


def test_wrong_code_ends_with_pairing_timeout_not_a_hang() -> None:
    hub = make_hub()
    pair = fresh_pair(hub, 2)
    pair.start()
    pair.advance(5)
    requested_at = pair.now
    pair.session.request_pairing_code(PHONE, now=requested_at)
    pair.pump()
    hub.phone.enter_pairing_code(other_code(reported_code(pair).code), now=pair.now)
    pair.pump()
    server = pair.servers[0]
    assert link_code_nodes(server.received, "companion_finish")  # sent; the phone stays silent
    assert pair.session.state == "awaiting_pairing_code"
    assert pair.run_until(lambda: pair.session.finished, limit=400)
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.PAIRING_TIMEOUT
    assert closed.disconnect.status == 408 and closed.final and not closed.requested
    assert closed.disconnect.at == requested_at + SessionConfig().pairing_code_timeout
    assert pair.session.state == "pairing_timeout"
    assert pair.updates[-1].connection == "close"
    assert len(pair.servers) == 1  # no reconnect
    assert pair.store.load() is None or pair.store.load().me is None  # type: ignore[union-attr]


def test_qr_rotation_stops_once_a_code_is_requested() -> None:
    hub = make_hub()
    pair = MemoryPair.create(
        hub, seed=4, now=hub.now, config=with_config(pairing_code_timeout=300.0)
    )
    pair.start()
    assert pair.qr is not None
    pair.advance(70)  # the second QR is on screen
    qrs_before = {u.qr for u in pair.updates if u.qr is not None}
    assert len(qrs_before) == 2
    mark = len(pair.events)
    pair.session.request_pairing_code(PHONE, now=pair.now)
    pair.pump()
    updates = events_after(pair, mark, ConnectionUpdate)
    assert [u.qr for u in updates] == [None]  # the QR leaves the screen, once
    pair.advance(200)  # far past the 160 s of QR refs: no rotation, no QR_EXHAUSTED
    assert all(u.qr is None for u in events_after(pair, mark, ConnectionUpdate))
    assert not pair.closes and pair.session.attempt_alive
    assert pair.run_until(lambda: pair.session.finished, limit=100)
    assert [c.disconnect.reason for c in pair.closes] == [CloseReason.PAIRING_TIMEOUT]


def test_me_is_never_persisted_before_pair_success() -> None:
    hub = make_hub()
    pair = fresh_pair(hub, 5, auto_confirm=False)
    original_secret = pair.session.creds.adv_secret_key
    pair.start()
    pair.session.request_pairing_code(PHONE, now=pair.now)
    pair.pump()
    assert not pair.pending_saves  # companion_hello needs no save (Baileys saves me here)
    hub.phone.enter_pairing_code(reported_code(pair).code, now=pair.now)
    pair.pump()
    server = pair.servers[0]
    [save] = pair.pending_saves
    assert save.creds is not None and save.creds.me is None
    assert save.creds.adv_secret_key != original_secret and save.creds.pairing_code is None
    # the new ADV secret is on disk before companion_finish can leave
    assert not link_code_nodes(server.received, "companion_finish")
    pair.confirm_saves()
    assert link_code_nodes(server.received, "companion_finish")
    for _ in range(20):
        if pair.session.connection == "open":
            break
        pair.confirm_saves()
        pair.run_until(
            lambda: bool(pair.pending_saves) or pair.session.connection == "open", limit=60
        )
    assert pair.session.connection == "open"
    saves = of_type(pair.events, SaveRequest)
    first_me = next(
        i for i, s in enumerate(saves) if s.creds is not None and s.creds.me is not None
    )
    assert saves[first_me].why == "the new identity before the pair-device-sign reply"
    assert all(s.creds is None or s.creds.me is None for s in saves[:first_me])
    assert all(s.creds is None or s.creds.pairing_code is None for s in saves)


def test_runs_are_deterministic() -> None:
    def run() -> list[SessionEvent]:
        hub = Hub(rng=random.Random(9).randbytes, now=T0, log=lambda line: None)
        pair = MemoryPair.create(hub, seed=9, now=T0)
        pair.start()
        pair.session.request_pairing_code(PHONE, now=pair.now)
        pair.pump()
        hub.phone.enter_pairing_code(reported_code(pair).code, now=pair.now)
        pair.run_until(lambda: pair.session.connection == "open", limit=60)
        return pair.events

    assert run() == run()


def test_a_request_before_ready_never_starts_the_qr_rotation() -> None:
    hub = make_hub()
    pair = MemoryPair.create(
        hub, seed=6, now=hub.now, config=with_config(pairing_code_timeout=300.0)
    )
    session = pair.session
    session.start(now=pair.now)
    pair.server = hub.connect(now=pair.now)
    pair.servers.append(pair.server)
    session.connection_made(now=pair.now)
    session.request_pairing_code(PHONE, now=pair.now)
    pair.pump()
    assert reported_code(pair)
    pair.advance(250)  # past the 160 s the pair-device refs would last: no QR_EXHAUSTED
    assert not pair.closes and all(update.qr is None for update in pair.updates)
    assert pair.run_until(lambda: session.finished, limit=100)
    assert [c.disconnect.reason for c in pair.closes] == [CloseReason.PAIRING_TIMEOUT]


def test_pair_success_ends_the_pairing_deadline() -> None:
    hub = make_hub()
    pair = fresh_pair(hub, 8, auto_confirm=False)
    pair.start()
    pair.session.request_pairing_code(PHONE, now=pair.now)
    pair.pump()
    pair.advance(170)
    hub.phone.enter_pairing_code(reported_code(pair).code, now=pair.now)
    pair.pump()
    pair.confirm_saves()  # the ADV secret: companion_finish goes, pair-success comes
    assert pair.session.state == "paired"
    # the pair-success save is slow: the reply (and so the 515) waits past the pairing deadline
    pair.advance(20)
    assert not pair.closes and pair.session.state == "paired"
    pair.confirm_saves()
    for _ in range(10):
        pair.run_until(lambda: bool(pair.pending_saves), limit=60)
        pair.confirm_saves()
    assert pair.session.connection == "open"
    assert [c.disconnect.reason for c in pair.closes] == [CloseReason.RESTART_REQUIRED]
