"""walink.testing.history and the emulator's history: fixture, chunks, blobs, faults, receipts,
media_conn and app-state answers, and downloads from a running emulator (asyncio and trio)."""

from __future__ import annotations

import anyio
import pytest

from walink.io.media import HttpDownloader, MediaGoneError, download_history
from walink.protocol.binary import Node
from walink.protocol.history import (
    HistoryDownload,
    decode_history,
    history_notification,
    history_set,
    history_source,
    server_error_receipt,
)
from walink.protocol.media import EncryptedHashMismatchError, parse_media_conn
from walink.protocol.proto import e2e_pb2
from walink.testing import Emulator
from walink.testing.history import (
    BlobStore,
    FixtureChat,
    FixtureMessage,
    HistoryFaults,
    HistoryFixture,
    PlannedNotification,
    default_fixture,
    generated_fixture,
    plan_history,
)
from walink.testing.hub import Hub
from walink.testing.server import empty_app_state_sync, media_conn_answer

from .client import T0, seeded
from .test_server import login, register

OWN = "15550001111@s.whatsapp.net"


def _decode(planned: PlannedNotification, blobs: BlobStore | None = None) -> e2e_pb2.HistorySync:
    notification = history_notification(planned.message, from_me=True)
    assert notification is not None
    source = history_source(notification, planned.message_id)
    if isinstance(source, HistoryDownload):
        assert blobs is not None and planned.blob_path is not None
        answer = blobs.answer(planned.blob_path)
        assert answer.status == 200
        source = source.verify(answer.body)
    return decode_history(source)


def test_default_fixture_keys_are_unique() -> None:
    fixture = default_fixture()
    fixture.validate()
    assert len(fixture.bootstrap) >= 3 and all(chat.messages for chat in fixture.bootstrap)
    twice = FixtureChat("a@s.whatsapp.net", messages=(FixtureMessage("X", "1", 1),) * 2)
    with pytest.raises(ValueError, match="duplicate"):
        plan_history(HistoryFixture(bootstrap=(twice,)), rng=seeded(1))


def test_plan_order_and_inline_bootstrap() -> None:
    blobs = BlobStore()
    planned = plan_history(default_fixture(), rng=seeded(1), blobs=blobs)
    assert [p.sync_type for p in planned] == ["INITIAL_BOOTSTRAP", "RECENT", "RECENT", "PUSH_NAME"]
    assert len({p.message_id for p in planned}) == 4
    assert [p.notification.chunk_order for p in planned] == [0, 1, 2, 3]
    bootstrap = planned[0]
    assert bootstrap.blob_path is None
    assert bootstrap.notification.initial_hist_bootstrap_inline_payload
    result = history_set(_decode(bootstrap), bootstrap.notification, is_latest=True)
    fixture = default_fixture()
    assert [chat.id for chat in result.chats] == [chat.id for chat in fixture.bootstrap]
    assert len(result.messages) == sum(len(c.messages) for c in fixture.bootstrap)
    assert result.messages[0].text == "see you tomorrow"
    group = next(m for m in result.messages if m.key.id == "3EB0C1000003")
    assert group.key.participant == "15550004444@s.whatsapp.net"
    keys = {(m.key.remote_jid, m.key.id, m.key.participant) for m in result.messages}
    assert len(keys) == len(result.messages)


def test_recent_blobs_and_push_names() -> None:
    blobs = BlobStore()
    planned = plan_history(default_fixture(), rng=seeded(2), blobs=blobs)
    first, second = planned[1], planned[2]
    assert [p.notification.progress for p in (first, second)] == [50, 100]
    sync = _decode(first, blobs)
    assert sync.sync_type == e2e_pb2.HistorySync.RECENT and sync.progress == 50
    assert {c.id for c in sync.conversations} == {
        "15550002222@s.whatsapp.net",
        "15550003333@s.whatsapp.net",
    }
    notification = first.notification
    assert len(notification.media_key) == 32 and notification.file_length > 0
    push = _decode(planned[3])
    assert (push.pushnames[0].id, push.pushnames[0].pushname) == (
        "15550002222@s.whatsapp.net",
        "Alice A.",
    )
    as_blob = HistoryFixture(
        bootstrap=(), push_names=default_fixture().push_names, inline_push_names=False
    )
    (blob_push,) = plan_history(as_blob, rng=seeded(3), blobs=blobs)
    assert blob_push.blob_path is not None and len(_decode(blob_push, blobs).pushnames) == 3


def test_blob_faults() -> None:
    blobs = BlobStore()
    fixture = HistoryFixture(
        bootstrap=(),
        recent=tuple(
            (FixtureChat(f"1555000000{i}@s.whatsapp.net", messages=(FixtureMessage("M", "t", 1),)),)
            for i in range(4)
        ),
    )
    faults = HistoryFaults(
        missing=frozenset({0}),
        corrupt=frozenset({1}),
        truncated=frozenset({2}),
        never=frozenset({3}),
    )
    planned = plan_history(fixture, rng=seeded(4), blobs=blobs, faults=faults)
    assert len(planned) == 3  # the fourth chunk never comes
    missing, corrupt, truncated = planned
    assert missing.blob_path is not None and blobs.answer(missing.blob_path).status == 404
    assert corrupt.blob_path is not None
    with pytest.raises(EncryptedHashMismatchError):
        _decode(corrupt, blobs)
    assert truncated.blob_path is not None
    cut = blobs.answer(truncated.blob_path)
    assert cut.content_length is not None and len(cut.body) < cut.content_length
    with pytest.raises(ValueError):
        blobs.put("x", b"", message_id="x", media_key=bytes(32), fault="bogus")


def test_server_error_receipt_makes_the_phone_upload_again() -> None:
    blobs = BlobStore()
    fixture = HistoryFixture(
        bootstrap=(),
        recent=((FixtureChat(OWN, messages=(FixtureMessage("M", "t", 1),)),),),
    )
    (planned,) = plan_history(
        fixture, rng=seeded(5), blobs=blobs, faults=HistoryFaults(missing=frozenset({0}))
    )
    assert planned.blob_path is not None
    media_key = planned.notification.media_key
    wrong_key = server_error_receipt(planned.message_id, OWN, bytes(32), bytes(12))
    assert not blobs.on_server_error_receipt(wrong_key)
    assert blobs.answer(planned.blob_path).status == 404
    receipt = server_error_receipt(planned.message_id, OWN, media_key, bytes(range(12)))
    assert blobs.on_server_error_receipt(receipt)
    assert blobs.reuploads == [planned.message_id]
    assert _decode(planned, blobs).conversations[0].id == OWN
    unknown = server_error_receipt("NOPE", OWN, media_key, bytes(12))
    assert not blobs.on_server_error_receipt(unknown)


def test_generated_fixture_sizes() -> None:
    big = generated_fixture(1000, 50_000)
    assert len(big.bootstrap) == 1000 and big.message_count() == 50_000
    big.validate()
    split = generated_fixture(10, 95, recent_chunks=3)
    assert split.bootstrap == () and len(split.recent) == 3 and split.message_count() == 95
    with pytest.raises(ValueError):
        generated_fixture(0, 1)


def test_server_answers_media_conn_app_state_and_server_error() -> None:
    hub = Hub(rng=seeded(1), now=T0, log=lambda _: None)
    hub.media_hosts = ("127.0.0.1:1234",)
    client = login(hub, register(hub).creds)
    answer = client.query(
        Node("iq", {"xmlns": "w:m", "type": "set", "to": "s.whatsapp.net"}, [Node("media_conn")])
    )
    assert parse_media_conn(answer).hosts == ("127.0.0.1:1234",)
    sync = Node(
        "sync",
        {},
        [
            Node("collection", {"name": "regular", "version": "0", "return_snapshot": "false"}),
            Node("collection", {"name": "critical_block", "version": "3"}),
        ],
    )
    answer = client.query(
        Node("iq", {"xmlns": "w:sync:app:state", "type": "set", "to": "s.whatsapp.net"}, [sync])
    )
    assert answer.attrs["type"] == "result"
    assert answer.children() == [
        Node(
            "sync",
            {},
            [
                Node("collection", {"name": "regular", "version": "0"}),
                Node("collection", {"name": "critical_block", "version": "3"}),
            ],
        )
    ]
    assert media_conn_answer(("a", "b")).children("host")[1].attrs == {"hostname": "b"}
    assert empty_app_state_sync(Node("iq")) == Node("sync", {}, [])
    fixture = HistoryFixture(
        bootstrap=(), recent=((FixtureChat(OWN, messages=(FixtureMessage("M", "t", 1),)),),)
    )
    (planned,) = plan_history(
        fixture, rng=seeded(6), blobs=hub.blobs, faults=HistoryFaults(missing=frozenset({0}))
    )
    media_key = planned.notification.media_key
    client.send(server_error_receipt(planned.message_id, OWN, media_key, bytes(12)))
    assert hub.blobs.reuploads == [planned.message_id]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_emulator_serves_its_blobs() -> None:
    async with Emulator(ping_interval=None) as emulator:
        host = emulator.hub.media_hosts[0]
        assert host == f"127.0.0.1:{emulator.port}"
        planned = emulator.plan_history(faults=HistoryFaults(missing=frozenset({1})))
        recent, gone = planned[1], planned[2]
        notification = history_notification(recent.message, from_me=True)
        assert notification is not None
        assert notification.direct_path.startswith(f"http://{host}/mms/history/")
        request = history_source(notification, recent.message_id)
        assert isinstance(request, HistoryDownload)
        chunk = await download_history(HttpDownloader(), request, emulator.hub.media_hosts)
        assert decode_history(chunk).sync_type == e2e_pb2.HistorySync.RECENT
        # the media_conn form: a bare path on the emulator's host, hash and mms-type appended
        by_host = HistoryDownload(
            message_id=request.message_id,
            direct_path=BlobStore.path(recent.message_id),
            media_key=request.media_key,
            file_enc_sha256=request.file_enc_sha256,
            file_sha256=request.file_sha256,
        )
        assert await download_history(HttpDownloader(), by_host, [host]) == chunk
        assert emulator.blobs.requests[-1].startswith(f"/mms/history/{recent.message_id}?hash=")
        gone_notification = history_notification(gone.message, from_me=True)
        assert gone_notification is not None
        gone_request = history_source(gone_notification, gone.message_id)
        assert isinstance(gone_request, HistoryDownload)
        with pytest.raises(MediaGoneError):
            await download_history(HttpDownloader(), gone_request, [host])


@pytest.mark.anyio
async def test_send_history_to_a_logged_in_device() -> None:
    """The phone's history reaches a device as peer messages (the Signal hop stubbed out: the
    'ciphertext' is the plaintext); the device downloads RECENT blobs from the media_conn host,
    and its server-error receipt for a missing blob makes the phone upload it again."""
    from tests.testing.socket_client import SocketClient, content_bytes
    from tests.testing.test_emulator import pair

    async with Emulator(ping_interval=None) as emulator:
        creds = await pair(emulator, seed=21)
        assert creds.me is not None
        client = await SocketClient.open(emulator.url, emulator.trust_root, creds)
        assert (await client.next_node()).tag == "success"
        media = await client.query(
            Node(
                "iq", {"xmlns": "w:m", "type": "set", "to": "s.whatsapp.net"}, [Node("media_conn")]
            )
        )
        hosts = parse_media_conn(media).hosts
        sent = await emulator.send_history(
            creds.me,
            lambda plaintext: ("msg", plaintext),
            faults=HistoryFaults(missing=frozenset({0})),
        )
        user, device_number = creds.me.split("@")[0].split(":")
        registered = emulator.hub.registry.device(user, int(device_number))
        assert registered is not None
        results = []
        for planned in sent:
            stanza = await client.node_where(lambda n: n.tag == "message")
            assert stanza.attrs["from"] == f"{registered.lid}@lid"  # our own LID, device 0
            assert (stanza.attrs["id"], stanza.attrs["category"]) == (planned.message_id, "peer")
            enc = stanza.child("enc")
            assert enc is not None and enc.attrs == {"v": "2", "type": "msg"}
            message = e2e_pb2.Message.FromString(content_bytes(enc))
            notification = history_notification(message, from_me=True)
            assert notification is not None
            source = history_source(notification, planned.message_id)
            if isinstance(source, HistoryDownload):
                request = source
                try:
                    source = await download_history(HttpDownloader(), request, hosts)
                except MediaGoneError:
                    await client.send(
                        server_error_receipt(
                            planned.message_id, creds.me, notification.media_key, bytes(12)
                        )
                    )
                    with anyio.fail_after(5):
                        while planned.message_id not in emulator.blobs.reuploads:
                            await anyio.sleep(0.01)
                    source = await download_history(HttpDownloader(), request, hosts)
            results.append(history_set(decode_history(source), notification, is_latest=False))
        assert [r.sync_type for r in results] == [
            "INITIAL_BOOTSTRAP",
            "RECENT",
            "RECENT",
            "PUSH_NAME",
        ]
        assert sum(len(r.messages) for r in results) == default_fixture().message_count()
        await client.aclose()


def test_the_phone_encrypts_its_history_for_a_new_device() -> None:
    """The account's phone (device 0, its own identity) runs X3DH on the device's bundle and
    sends every notification as a pkmsg the device decrypts: the inline bootstrap, the RECENT
    blobs (served from the hub's blob store) and the push names; a never-sent chunk is left out."""
    from tests.testing.test_contacts import PairedDevice

    hub = Hub(rng=seeded(31), now=T0)
    paired = PairedDevice(hub.registry)
    hub.history_faults = HistoryFaults(never=frozenset({1}))
    stanzas = hub.history_stanzas(paired.device, now=T0)
    fixture = default_fixture()
    assert len(stanzas) == 3  # bootstrap, the first RECENT chunk, push names
    own = f"{paired.device.lid}@lid"  # the phone writes from our own LID by default
    kinds = []
    for stanza in stanzas:
        assert stanza.attrs["from"] == own and stanza.attrs["category"] == "peer"
        assert "to" not in stanza.attrs and "participant" not in stanza.attrs
        (plaintext,) = paired.decrypt(stanza)
        message = e2e_pb2.Message.FromString(plaintext)
        notification = history_notification(message, from_me=True)
        assert notification is not None
        source = history_source(notification, stanza.attrs["id"])
        if isinstance(source, HistoryDownload):
            path = "/" + source.direct_path.split("/", 3)[3] if "//" in source.direct_path else ""
            source = source.verify(hub.blobs.answer(path or source.direct_path).body)
        chunk = history_set(decode_history(source), notification, is_latest=False)
        kinds.append(chunk.sync_type)
        if chunk.sync_type == "INITIAL_BOOTSTRAP":
            assert {c.id for c in chunk.chats} == {c.id for c in fixture.bootstrap}
            assert len(chunk.messages) == sum(len(c.messages) for c in fixture.bootstrap)
    assert kinds == ["INITIAL_BOOTSTRAP", "RECENT", "PUSH_NAME"]
    # only the account's phone has a session with the device: no contact was made for it
    assert hub.contacts.phone(paired.device.phone).sessions.keys() == {paired.device.jid}


def test_no_history_when_the_emulator_has_none() -> None:
    from tests.testing.test_contacts import PairedDevice

    hub = Hub(rng=seeded(32), now=T0)
    hub.history = None
    assert hub.history_stanzas(PairedDevice(hub.registry).device, now=T0) == []


@pytest.mark.parametrize("from_lid", [True, False])
def test_the_phone_writes_from_our_lid_or_our_number_and_the_session_is_under_our_lid(
    from_lid: bool,
) -> None:
    """The whole history reaches a device running walink's processor whichever own JID the phone
    writes from: its pkmsgs (one X3DH, all pkmsgs until the device answers) find one session,
    under our own LID, device 0, and the bootstrap's LID mapping is stored."""
    import random

    from walink._receive import SignalProcessor
    from walink.session import HistoryReceived, SessionConfig
    from walink.testing.memory import MemoryPair

    hub = Hub(rng=seeded(33), now=T0, log=lambda line: None)
    hub.phone_from_lid = from_lid
    pair = MemoryPair.create(hub, seed=2, now=T0, config=SessionConfig(process_messages=True))
    pair.processor = SignalProcessor(
        pair.store, clock=lambda: pair.now, randbytes=random.Random(9).randbytes
    )
    pair.start()
    pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.run_until(lambda: False, limit=1)
    chunks = [e for e in pair.events if isinstance(e, HistoryReceived)]
    assert sorted(c.history.sync_type for c in chunks) == sorted(
        ["INITIAL_BOOTSTRAP", "RECENT", "RECENT", "PUSH_NAME"]
    )
    me = pair.session.creds.me
    assert me is not None and me.lid is not None
    device = hub.registry.device(me.id.split(":")[0], int(me.id.split(":")[1].split("@")[0]))
    assert device is not None
    stanzas = [
        n for n in pair.servers[-1].received if n.tag == "ack" and n.attr("class") == "message"
    ]
    assert stanzas and {n.attr("to") for n in stanzas} == {
        f"{device.lid}@lid" if from_lid else f"{device.phone}@s.whatsapp.net"
    }
    own_lid_user = me.lid.split(":")[0].split("@")[0]
    assert pair.store.list_key_ids("session") == [f"{own_lid_user}_1.0"]
    mapping = pair.store.get_keys("lid-mapping", ["15550005555"])
    assert mapping == {"15550005555": "100000000000001"}
