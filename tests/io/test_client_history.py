"""The client's history sync against the emulator, end to end (asyncio and trio).

A new device links by QR; after its login the emulator's phone sends the built-in history as
Signal-encrypted peer messages: the inline bootstrap, RECENT blobs served by the emulator on its
own port (downloaded with the default ``HttpDownloader`` and no extra option), and the push
names. The client publishes ``HistorySet`` per chunk and ``HistoryStatus``; a blob that is gone
is reported, asked for again with the ``server-error`` receipt, and recovered.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from tests.io.blocking import Blocking, Updates
from tests.scenarios.harness import Recorder, config_for, running, scan_when_shown
from walink.auth.memory_store import MemoryStore
from walink.io.client import Client
from walink.io.events import (
    ConnectionUpdate,
    HistoryFailed,
    HistorySet,
    HistoryStatus,
    MessageFailed,
    NodeReceived,
)
from walink.io.media import HttpDownloader
from walink.protocol.binary import Node
from walink.protocol.history import HistoryDownload
from walink.testing.emulator import Emulator
from walink.testing.history import HistoryFaults, default_fixture

pytestmark = pytest.mark.anyio

FIXTURE = default_fixture()
KINDS = ["INITIAL_BOOTSTRAP", "PUSH_NAME", "RECENT", "RECENT"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def chunks(recorder: Recorder) -> list[HistorySet]:
    return [e for e in recorder.events if isinstance(e, HistorySet)]


async def all_chunks(recorder: Recorder, count: int) -> list[HistorySet]:
    with anyio.fail_after(20):
        while len(chunks(recorder)) < count:
            await recorder.wait_for(lambda e: isinstance(e, HistorySet), start=len(recorder.events))
    return chunks(recorder)


def hist_sync_receipts(emulator: Emulator) -> list[str]:
    return [
        n.attrs["id"]
        for s in emulator.sessions()
        for n in s.received
        if n.tag == "receipt" and n.attrs.get("type") == "hist_sync"
    ]


class CountingDownloader:
    """The default downloader, counting what it fetched (a user-pluggable ``downloader``)."""

    def __init__(self) -> None:
        self.inner = HttpDownloader()
        self.paths: list[str] = []

    async def download(self, request: HistoryDownload, hosts: Sequence[str]) -> bytes:
        self.paths.append(request.direct_path)
        return await self.inner.download(request, hosts)


async def test_a_new_login_publishes_the_whole_history() -> None:
    downloader = CountingDownloader()
    async with Emulator(ping_interval=None) as emulator:
        client = Client(MemoryStore(), config_for(emulator, seed=5), downloader=downloader)
        async with running(client) as recorder:
            await scan_when_shown(emulator, recorder)
            got = await all_chunks(recorder, 4)
            assert sorted(c.sync_type for c in got) == KINDS
            assert sum(len(c.messages) for c in got) == FIXTURE.message_count()
            assert [c.is_latest for c in got].count(True) == 1
            bootstrap = next(c for c in got if c.sync_type == "INITIAL_BOOTSTRAP")
            assert {chat.id for chat in bootstrap.chats} == {c.id for c in FIXTURE.bootstrap}
            push = next(c for c in got if c.sync_type == "PUSH_NAME")
            assert {c.id: c.notify for c in push.contacts} == {
                p.id: p.push_name for p in FIXTURE.push_names
            }
            await recorder.wait_for(
                lambda e: isinstance(e, HistoryStatus) and e.sync_type == "RECENT"
            )
            assert len(downloader.paths) == 2
            assert all(
                p.startswith(f"http://127.0.0.1:{emulator.port}/mms/") for p in downloader.paths
            )
            with anyio.fail_after(5):
                while len(hist_sync_receipts(emulator)) < 4:
                    await anyio.sleep(0.02)
            creds = client.creds
            assert creds is not None and len(creds.processed_history_messages) == 4


async def test_a_gone_blob_is_asked_for_again_and_recovered() -> None:
    faults = HistoryFaults(missing=frozenset({1}))
    async with Emulator(ping_interval=None, history_faults=faults) as emulator:
        config = config_for(emulator, seed=6, history_reupload_wait=0.05)
        async with running(Client(MemoryStore(), config)) as recorder:
            await scan_when_shown(emulator, recorder)
            failed = await recorder.wait_for(lambda e: isinstance(e, HistoryFailed))
            assert isinstance(failed, HistoryFailed) and failed.reupload and not failed.final
            got = await all_chunks(recorder, 4)
            assert sorted(c.sync_type for c in got) == KINDS
            assert emulator.blobs.reuploads == [failed.message_id]
            assert sum(len(c.messages) for c in got) == FIXTURE.message_count()


async def test_skipped_history_is_still_receipted() -> None:
    async with Emulator(ping_interval=None) as emulator:
        config = config_for(emulator, seed=7, should_sync_history=lambda n: False)
        async with running(Client(MemoryStore(), config)) as recorder:
            await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
            with anyio.fail_after(10):
                while len(hist_sync_receipts(emulator)) < 4:
                    await anyio.sleep(0.02)
            assert chunks(recorder) == []
            assert emulator.blobs.requests == []


async def test_a_chunk_is_recorded_only_once_its_handler_returned() -> None:
    async with Emulator(ping_interval=None) as emulator:
        client = Client(MemoryStore(), config_for(emulator, seed=8))
        updates, on_chunk = Updates(), Blocking[HistorySet]()
        client.on("connection.update", updates)
        client.on("messaging-history.set", on_chunk)
        async with client:
            with anyio.fail_after(10):
                await updates.shown.wait()
            await emulator.phone.scan_qr(updates.qrs[0])
            with anyio.fail_after(20):
                await on_chunk.entered.wait()
                # the other chunks arrive and wait behind the blocked handler
                while len(client.session.history_unhandled) < 4:
                    await anyio.sleep(0.01)
            creds = client.creds
            assert creds is not None and creds.processed_history_messages == ()
            # nor were the notifications answered: their acks wait for the application too
            assert hist_sync_receipts(emulator) == []
            on_chunk.release.set()
            with anyio.fail_after(20):
                while client.session.history_unhandled or len(hist_sync_receipts(emulator)) < 4:
                    await anyio.sleep(0.01)
            creds = client.creds
            assert creds is not None and len(creds.processed_history_messages) == 4
        assert sorted(c.sync_type for c in on_chunk.seen) == KINDS


async def test_an_application_that_drops_events_until_the_open_loses_nothing() -> None:
    # A new login: the offline backlog arrives at <success>, the phone's history right after the
    # 812-key upload; both before the open. The application waits for the open the naive way,
    # reading and dropping every event before it: everything must still come after it.
    contact = "15550002222@s.whatsapp.net"
    undecryptable = Node(
        "message",
        {"id": "OFF1", "from": contact, "t": "1780000000", "type": "text"},
        [Node("enc", {"v": "2", "type": "msg"}, bytes(range(48)))],
    )
    raw = Node("notification", {"id": "OFF2", "from": contact, "type": "devices"})
    async with Emulator(ping_interval=None) as emulator:
        client = Client(MemoryStore(), config_for(emulator, seed=9))
        dropped: list[object] = []
        after: list[object] = []
        scanned = False
        async with client:
            with anyio.fail_after(20):
                async for event in client:
                    if isinstance(event, ConnectionUpdate):
                        if event.qr is not None and not scanned:
                            scanned = True
                            jid = await emulator.phone.scan_qr(event.qr)
                            # waiting on the server before the restart's login
                            emulator.queue_offline(jid, undecryptable)
                            emulator.queue_offline(jid, raw)
                        if event.connection == "open":
                            break
                    dropped.append(event)

                def missing() -> bool:
                    got = [e for e in after if isinstance(e, HistorySet)]
                    failed = [e for e in after if isinstance(e, MessageFailed)]
                    nodes = [e for e in after if isinstance(e, NodeReceived)]
                    return len(got) < 4 or not failed or not nodes

                async for event in client:
                    after.append(event)
                    if not missing():
                        break
        assert [
            e for e in dropped if isinstance(e, (HistorySet, MessageFailed, NodeReceived))
        ] == []
        assert sorted(e.sync_type for e in after if isinstance(e, HistorySet)) == KINDS
        [stub] = [e for e in after if isinstance(e, MessageFailed)]
        assert stub.node.attr("id") == "OFF1"
        assert [e.node.attr("id") for e in after if isinstance(e, NodeReceived)] == ["OFF2"]
