"""The emulator over real loopback sockets (walink.testing.emulator), on asyncio and trio.

The client is the small scripted one of ``tests.testing.socket_client``, not ``walink.session``:
these tests check the emulator's socket side, so the client stays as plain as possible.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import anyio
import pytest

from tests.io.netutil import assert_fds_back_to, open_fds
from tests.testing.client import Creds, seeded
from tests.testing.socket_client import SocketClient, content_bytes, post
from walink.io import ConnectionLostError, WebSocketClosed
from walink.protocol.binary import Node
from walink.protocol.certs import make_test_root
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.keys import KeyPair, generate_signed_pre_key
from walink.protocol.pairing_code import (
    companion_finish,
    generate_pairing_code,
    wrap_ephemeral_random,
)
from walink.protocol.signal import decrypt_prekey_message, unpad
from walink.testing.emulator import Emulator, StateError
from walink.testing.faults import Drop, Failure, Garbage, Silence, SlowReads, Step, StreamError
from walink.testing.phone import NoPendingPairingError, UnknownRefError
from walink.testing.registry import DEFAULT_PHONE, SignedPreKey

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of the test (the anyio pytest plugin reads this fixture)."""
    return str(request.param)


async def register(emulator: Emulator, creds: Creds) -> SocketClient:
    """A registration connection that has its refs."""
    client = await SocketClient.open(emulator.url, emulator.trust_root, creds)
    await client.node_where(lambda n: n.child("pair-device") is not None)
    return client


async def pair(emulator: Emulator, seed: int) -> Creds:
    """Pair fresh creds through the phone, up to the 515 and the close; returns the creds."""
    creds = Creds.fresh(seeded(seed))
    client = await register(emulator, creds)
    [session] = [s for s in emulator.sessions() if s.awaiting_pairing]
    jid = await emulator.phone.scan_qr(client.qr())
    # scan_qr returns once pair-success is on the wire: nothing is left waiting to be written
    assert session.data_to_send() == b""
    assert jid == f"{DEFAULT_PHONE}:{jid.split(':')[1]}"
    error = await client.node_where(lambda n: n.tag == "stream:error")
    assert error == Node("stream:error", {"code": "515"})
    ended = await client.ended()
    assert isinstance(ended, WebSocketClosed) and ended.code == 1000
    assert creds.me == jid
    return creds


async def login(emulator: Emulator, creds: Creds) -> tuple[SocketClient, Node]:
    client = await SocketClient.open(emulator.url, emulator.trust_root, creds)
    return client, await client.next_node()


# -- the lifecycle --------------------------------------------------------------------------------


async def test_qr_pairing_restart_and_login() -> None:
    async with Emulator(rng=seeded(1)) as emulator:
        assert emulator.url == f"ws://127.0.0.1:{emulator.port}/ws/chat"
        assert emulator.phone_url == f"http://127.0.0.1:{emulator.port}/phone"
        assert len(emulator.trust_root_hex) == 64
        creds = await pair(emulator, seed=2)
        assert creds.me is not None
        user, device = creds.user_and_device
        assert emulator.registry.device(str(user), device) is not None

        client, first = await login(emulator, creds)
        assert first.tag == "success" and first.attr("lid") == creds.lid
        assert abs(int(first.attrs["t"]) - time.time()) < 5
        offline = await client.next_node()
        assert offline == Node("ib", {}, [Node("offline", {"count": "0"})])
        pong = await client.query(
            Node("iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"})
        )
        assert pong.attr("type") == "result"
        [session] = emulator.sessions()
        assert session.device is not None and session.device.jid == creds.me
        await client.aclose()
        with anyio.fail_after(5):
            await emulator.wait_idle()
        assert emulator.sessions() == []


async def test_the_phone_removing_a_device_logs_it_out() -> None:
    async with Emulator(rng=seeded(31)) as emulator:
        creds = await pair(emulator, seed=32)
        assert creds.me is not None
        client, first = await login(emulator, creds)
        assert first.tag == "success"
        assert await emulator.remove_device(creds.me) is True
        error = await client.node_where(lambda n: n.tag == "stream:error")
        assert error == Node(
            "stream:error", {"code": "401"}, [Node("conflict", {"type": "device_removed"})]
        )
        ended = await client.ended()
        assert isinstance(ended, WebSocketClosed) and ended.code == 1000
        user, device = creds.user_and_device
        assert emulator.registry.device(str(user), device) is None
        assert await emulator.remove_device(creds.me) is False  # already gone
        again, refused = await login(emulator, creds)
        assert refused == Node("failure", {"reason": "401"})
        await again.ended()


async def test_unknown_device_gets_failure_401() -> None:
    async with Emulator() as emulator:
        creds = Creds.fresh(seeded(3))
        creds.me = "15550000001:7@s.whatsapp.net"
        client, first = await login(emulator, creds)
        assert first == Node("failure", {"reason": "401"})
        ended = await client.ended()
        assert isinstance(ended, WebSocketClosed) and ended.code == 1000


async def test_a_client_trusting_another_root_rejects_the_chain() -> None:
    other = make_test_root(seeded(4)).trust_root
    async with Emulator() as emulator:
        client = await SocketClient.open(emulator.url, other, Creds.fresh(seeded(5)))
        assert isinstance(await client.ended(), RemoteProtocolError)
        await client.aclose()


async def test_server_pings_offline_delivery_and_edge_routing() -> None:
    async with Emulator(ping_interval=0.2) as emulator:
        creds = await pair(emulator, seed=6)
        assert creds.me is not None
        emulator.queue_offline(creds.me, Node("notification", {"id": "n1", "from": "x"}))
        client, first = await login(emulator, creds)
        assert first.tag == "success"
        preview = await client.next_node()
        assert preview.tag == "ib" and preview.children()[0].tag == "offline_preview"
        assert preview.children()[0].attrs["count"] == "1"
        queued = await client.next_node()
        assert queued.attrs == {"id": "n1", "from": "x", "offline": "1"}
        ping = await client.node_where(lambda n: n.attr("xmlns") == "urn:xmpp:ping", timeout=3)
        assert ping.attr("type") == "get"
        assert await emulator.send_edge_routing(b"\x08\x01") == 1
        routing = await client.node_where(
            lambda n: n.tag == "ib" and n.child("edge_routing") is not None
        )
        info = routing.child("edge_routing")
        assert info is not None and info.child("routing_info") == Node(
            "routing_info", {}, b"\x08\x01"
        )
        [session] = emulator.sessions()
        with anyio.fail_after(3):
            while not session.pongs:  # the client answered the server's ping
                await anyio.sleep(0.01)
        await client.aclose()


async def test_pairing_code_waits_for_companion_hello() -> None:
    phone = "15550001234"
    async with Emulator(pairing_code_wait=0.2) as emulator:
        with pytest.raises(NoPendingPairingError):
            await emulator.phone.enter_pairing_code("ABCDEFGH")  # nobody waits: bounded
        creds = Creds.fresh(seeded(7))
        client = await register(emulator, creds)
        code = generate_pairing_code(seeded(8))
        ephemeral = KeyPair.generate(seeded(9))
        hello = Node(
            "link_code_companion_reg",
            {"jid": f"{phone}@s.whatsapp.net", "stage": "companion_hello"},
            [
                Node(
                    "link_code_pairing_wrapped_companion_ephemeral_pub",
                    {},
                    wrap_ephemeral_random(code, ephemeral.public, seeded(10)),
                ),
                Node("companion_server_auth_key_pub", {}, creds.noise_key.public),
            ],
        )
        async with anyio.create_task_group() as task_group:
            # the code is typed first; the phone waits on the same loop for the companion_hello
            task_group.start_soon(lambda: emulator.phone.enter_pairing_code(code, phone, wait=5))
            await anyio.sleep(0.1)
            answer = await client.query(
                Node("iq", {"to": "@s.whatsapp.net", "type": "set", "xmlns": "md"}, [hello])
            )
            assert answer.attr("type") == "result"
        notification = await client.node_where(lambda n: n.tag == "notification")
        reg = notification.child("link_code_companion_reg")
        assert reg is not None and reg.attrs == {"stage": "primary_hello"}
        primary, wrapped, ref = (
            reg.child("primary_identity_pub"),
            reg.child("link_code_pairing_wrapped_primary_ephemeral_pub"),
            reg.child("link_code_pairing_ref"),
        )
        assert primary is not None and wrapped is not None and ref is not None
        finish = companion_finish(
            code,
            pairing_ephemeral=ephemeral,
            identity=creds.identity,
            primary_identity_public=content_bytes(primary),
            wrapped_primary_ephemeral=content_bytes(wrapped),
            rng=seeded(11),
        )
        creds.adv_secret = finish.adv_secret
        reg_finish = Node(
            "link_code_companion_reg",
            {"jid": f"{phone}@s.whatsapp.net", "stage": "companion_finish"},
            [
                Node("link_code_pairing_wrapped_key_bundle", {}, finish.wrapped_key_bundle),
                Node("companion_identity_public", {}, creds.identity.public),
                ref,
            ],
        )
        await client.query(
            Node("iq", {"to": "@s.whatsapp.net", "type": "set", "xmlns": "md"}, [reg_finish])
        )
        error = await client.node_where(lambda n: n.tag == "stream:error")
        assert error.attrs == {"code": "515"} and creds.me == f"{phone}:1@s.whatsapp.net"
        assert isinstance(await client.ended(), WebSocketClosed)


# -- the phone endpoint over HTTP -----------------------------------------------------------------


async def test_phone_endpoint_scan_qr_and_errors() -> None:
    async with Emulator(pairing_code_wait=0.1) as emulator:
        creds = Creds.fresh(seeded(12))
        client = await register(emulator, creds)
        port = emulator.port
        good = json.dumps({"qr": client.qr()}).encode()
        assert await post(port, "/phone/scan-qr", good) == (
            200,
            {"ok": True, "jid": f"{DEFAULT_PHONE}:1@s.whatsapp.net"},
        )
        error = await client.node_where(lambda n: n.tag == "stream:error")
        assert error.attrs == {"code": "515"}
        assert isinstance(await client.ended(), WebSocketClosed)
        # the same ref again: its connection is paired and gone
        status, answer = await post(port, "/phone/scan-qr", good)
        assert status == 410 and answer["ok"] is False
        unknown = client.qr().replace(client.refs[0], "2@unknownref")
        status, answer = await post(port, "/phone/scan-qr", json.dumps({"qr": unknown}).encode())
        assert (status, answer["ok"]) == (404, False) and "unknown ref" in str(answer["error"])
        assert (await post(port, "/phone/scan-qr", b"{not json"))[0] == 400
        assert (await post(port, "/phone/scan-qr", b'{"qr": 5}'))[0] == 400
        assert (await post(port, "/phone/scan-qr", b"{}", method="GET"))[0] == 405
        status, answer = await post(port, "/phone/teleport", b"{}")
        assert status == 404 and "GET /phone lists them" in str(answer["error"])
        # the endpoint itself lists its actions
        status, answer = await post(port, "/phone", b"", method="GET")
        assert status == 200 and answer["ok"] is True
        actions = answer["actions"]
        assert isinstance(actions, list)
        assert [(a["method"], a["path"]) for a in actions] == [
            ("POST", "/phone/scan-qr"),
            ("POST", "/phone/pairing-code"),
        ]
        assert (await post(port, "/phone/", b"", method="GET"))[0] == 200
        assert (await post(port, "/phone", b"{}"))[0] == 405
        status, answer = await post(port, "/phone/pairing-code", b'{"code": "ABCD-EFGH"}')
        assert (status, answer["ok"]) == (404, False)
        status, answer = await post(port, "/phone/pairing-code", b'{"code": "short"}')
        assert (status, answer["ok"]) == (400, False)
        bad_phone = b'{"code": "ABCDEFGH", "phone": "+1 555"}'
        assert (await post(port, "/phone/pairing-code", bad_phone))[0] == 400
        assert (await post(port, "/phone/scan-qr", b'{"qr": "x", "phone": "+1"}'))[0] == 400


async def test_phone_facade_raises_typed_errors() -> None:
    async with Emulator() as emulator:
        creds = Creds.fresh(seeded(13))
        client = await register(emulator, creds)
        with pytest.raises(UnknownRefError):
            await emulator.phone.scan_qr(client.qr().replace(client.refs[0], "2@nope"))
        await client.aclose()


# -- faults over sockets --------------------------------------------------------------------------


async def test_drop_at_client_hello_aborts_without_close_frame() -> None:
    async with Emulator() as emulator:
        emulator.inject(Drop(at=Step.CLIENT_HELLO))
        client = await SocketClient.open(emulator.url, emulator.trust_root, Creds.fresh(seeded(14)))
        assert isinstance(await client.ended(), ConnectionLostError)


async def test_garbage_breaks_the_clients_noise_stream() -> None:
    async with Emulator() as emulator:
        emulator.inject(Garbage(at=Step.CLIENT_HELLO))
        client = await SocketClient.open(emulator.url, emulator.trust_root, Creds.fresh(seeded(15)))
        assert isinstance(await client.ended(), RemoteProtocolError)
        await client.aclose()


async def test_silence_keeps_the_socket_open_and_says_nothing() -> None:
    async with Emulator() as emulator:
        emulator.inject(Silence(at=Step.CONNECTED))
        client = await SocketClient.open(emulator.url, emulator.trust_root, Creds.fresh(seeded(16)))
        with anyio.move_on_after(0.3) as scope:
            await client.next_node(timeout=1)
        assert scope.cancelled_caught and not client.ws.closed
        await client.aclose()


async def test_slow_reads_delay_every_answer() -> None:
    async with Emulator() as emulator:
        emulator.inject(SlowReads(delay=0.25))
        started = anyio.current_time()
        client = await register(emulator, Creds.fresh(seeded(17)))
        assert anyio.current_time() - started >= 0.25
        await client.aclose()


@pytest.mark.parametrize("code", [503, 440, 401])
async def test_stream_error_then_close(code: int) -> None:
    async with Emulator() as emulator:
        emulator.inject(StreamError(code=code, at=Step.CLIENT_FINISH))
        client = await SocketClient.open(emulator.url, emulator.trust_root, Creds.fresh(seeded(18)))
        error = await client.next_node()
        assert error.tag == "stream:error" and error.attr("code") == (
            None if code == 440 else str(code)
        )
        ended = await client.ended()
        assert isinstance(ended, WebSocketClosed) and ended.code == 1000


async def test_failure_402_on_login() -> None:
    async with Emulator() as emulator:
        creds = await pair(emulator, seed=19)
        emulator.inject(Failure(reason=402, attrs={"expire": "60"}))
        client, first = await login(emulator, creds)
        assert first == Node("failure", {"reason": "402", "expire": "60"})
        assert isinstance(await client.ended(), WebSocketClosed)


# -- state folder, cleanup ------------------------------------------------------------------------


async def test_state_dir_keeps_root_key_and_devices(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with Emulator(state_dir=state) as first:
        root, server_key = first.trust_root, first.hub.server_key
        creds = await pair(first, seed=20)
    for name in ("emulator-keys.json", "registry.json"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
    assert [p.name for p in state.iterdir() if p.name.startswith(".")] == []  # no temp files
    async with Emulator(state_dir=state) as second:
        assert second.trust_root == root and second.hub.server_key == server_key
        client, first_node = await login(second, creds)
        assert first_node.tag == "success"
        await client.aclose()


async def test_corrupt_state_dir_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "emulator-keys.json").write_text("{broken")
    with pytest.raises(StateError):
        Emulator(state_dir=tmp_path)


async def test_leaving_the_block_closes_every_socket_and_task() -> None:
    baseline = open_fds()
    async with Emulator() as emulator:
        clients = [await register(emulator, Creds.fresh(seeded(21 + i))) for i in range(3)]
        assert len(emulator.sessions()) == 3
    # the emulator aborted its ends: each client sees its connection lost
    for client in clients:
        assert isinstance(await client.ended(), ConnectionLostError)
        await client.aclose()
    await assert_fds_back_to(baseline)


async def test_not_running_is_a_clear_error() -> None:
    emulator = Emulator()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.url
    async with emulator:
        with pytest.raises(RuntimeError, match="already running"):
            await emulator.__aenter__()


# -- contacts: encrypted texts, live and into the backlog -----------------------------------------


def _upload_keys(emulator: Emulator, jid: str) -> tuple[KeyPair, KeyPair, KeyPair]:
    """Keys as the device would have uploaded them: (identity, signed pre-key, pre-key 1)."""
    device = next(d for d in emulator.registry.devices() if d.jid == jid)
    identity = KeyPair.generate(seeded(70))
    signed = generate_signed_pre_key(identity, 1, seeded(71))
    one_time = KeyPair.generate(seeded(72))
    device.identity_key = identity.public
    emulator.registry.store_pre_keys(device, {1: one_time.public})
    emulator.registry.store_bundle(
        device,
        registration_id=5,
        signed_pre_key=SignedPreKey(1, signed.key_pair.public, signed.signature),
    )
    return identity, signed.key_pair, one_time


def _decrypt_text(stanza: Node, keys: tuple[KeyPair, KeyPair, KeyPair]) -> bytes:
    identity, signed, one_time = keys
    enc = stanza.child("enc")
    assert enc is not None and enc.attrs == {"v": "2", "type": "pkmsg"}
    result = decrypt_prekey_message(
        None,
        content_bytes(enc),
        identity=identity,
        signed_pre_key=lambda key_id: signed if key_id == 1 else None,
        one_time_pre_key=lambda key_id: one_time if key_id == 1 else None,
        randbytes=seeded(73),
        now_ms=0,
    )
    return unpad(result.plaintext)


async def test_a_contact_writes_live_then_into_the_backlog() -> None:
    async with Emulator(rng=seeded(60), ping_interval=None) as emulator:
        creds = await pair(emulator, seed=61)
        assert creds.me is not None
        keys = _upload_keys(emulator, creds.me)
        client, first = await login(emulator, creds)
        assert first.tag == "success"
        await client.node_where(lambda n: n.child("offline") is not None)
        body = {"to": creds.me, "from": "15550002222", "text": "hello", "name": "Bob"}
        status, answer = await post(emulator.port, "/phone/send-text", json.dumps(body).encode())
        assert status == 200 and answer["ok"] is True and answer["live"] is True
        stanza = await client.node_where(lambda n: n.tag == "message")
        assert stanza.attrs["id"] == answer["id"]
        assert stanza.attrs["from"] == "15550002222@s.whatsapp.net"
        assert stanza.attrs["notify"] == "Bob"
        assert _decrypt_text(stanza, keys) == b"\x0a\x05hello"  # Message{conversation}
        await client.aclose()
        await emulator.wait_idle()
        # Offline now: the next text waits for the next login's backlog, after "hello", which
        # the client never acked: the server delivers it again, as the real one does.
        bob = emulator.contact("15550002222")
        queued_id = await bob.send_text(creds.me, "while away")
        client, first = await login(emulator, creds)
        preview = await client.next_node()
        assert preview.children()[0] == Node(
            "offline_preview",
            {
                "count": "2",
                "message": "2",
                "notification": "0",
                "receipt": "0",
                "call": "0",
                "appdata": "0",
            },
        )
        again = await client.next_node()  # the client pulled a batch of 100
        assert again.attrs["id"] == answer["id"] and again.attrs["offline"] == "1"
        assert again.content == stanza.content  # the same ciphertext
        queued = await client.next_node()
        assert queued.attrs["id"] == queued_id and queued.attrs["offline"] == "2"
        assert await client.next_node() == Node("ib", {}, [Node("offline", {"count": "2"})])
        for message_id in (answer["id"], queued_id):  # acked now: never delivered again
            await client.send(Node("ack", {"class": "message", "id": message_id}))
        [server] = emulator.sessions()
        with anyio.fail_after(5):
            while sum(n.tag == "ack" for n in server.received) < 2:
                await anyio.sleep(0.01)
        await client.aclose()
        await emulator.wait_idle()
        client, first = await login(emulator, creds)
        assert await client.next_node() == Node("ib", {}, [Node("offline", {"count": "0"})])
        await client.aclose()


async def test_send_text_refusals() -> None:
    async with Emulator(rng=seeded(62), ping_interval=None) as emulator:
        creds = await pair(emulator, seed=63)
        assert creds.me is not None
        cases = [
            (b"[]", 400),
            (json.dumps({"to": creds.me, "from": "bob", "text": "x"}).encode(), 400),
            (json.dumps({"to": creds.me, "from": "1", "text": 1}).encode(), 400),
            (json.dumps({"to": "1:9@s.whatsapp.net", "from": "1", "text": "x"}).encode(), 404),
            (json.dumps({"to": creds.me, "from": "1", "text": "x"}).encode(), 409),
        ]
        for body, expected in cases:
            status, answer = await post(emulator.port, "/phone/send-text", body)
            assert (status, answer["ok"]) == (expected, False), body
