"""Baileys, linked to our emulator, receives the phone's history (issue 14).

After Baileys 7.0.0-rc14 (``tests/peer/baileys-lifecycle.mjs``) pairs, logs in and uploads its
keys, the emulator's phone (the account's device 0, its own Signal identity, X3DH on Baileys'
bundle) sends the history notifications as peer messages. Baileys decrypting them with libsignal
and parsing the chunks with its own protobufs proves our phone, our Signal and our
``HistorySync`` encoding; its ``messaging-history.set`` shows the fixture's chats, contacts and
messages. Baileys downloads blobs only from a fixed public host; the harness sends those
fetches to the emulator's own loopback URL (``WA_MEDIA_LOOPBACK``), so the RECENT chunks come
through too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from tests.interop.baileys import Line, baileys, is_open
from walink.protocol.proto import e2e_pb2
from walink.testing.emulator import Emulator
from walink.testing.history import FixtureChat, HistoryFixture, default_fixture

pytestmark = [pytest.mark.peer, pytest.mark.anyio]

_Sync = e2e_pb2.HistorySync
MEDIA_LOOPBACK = {"WA_MEDIA_LOOPBACK": "1"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _history(sync_type: int) -> Callable[[Line], bool]:
    def wanted(line: Line) -> bool:
        return bool(line["event"] == "messaging-history.set" and line["syncType"] == sync_type)

    return wanted


def _rows(chats: Iterable[FixtureChat]) -> set[tuple[str, str, bool, str | None, str]]:
    return {
        (chat.id, message.id, message.from_me, message.participant, message.text)
        for chat in chats
        for message in chat.messages
    }


async def test_baileys_receives_the_whole_history_from_our_own_lid(peer_dir: Path) -> None:
    """The phone writes from our own LID, device 0 (the emulator's default): four pkmsgs on one
    X3DH (the device never answers), the bootstrap inline, two RECENT blobs Baileys downloads
    (from the emulator's loopback URL, ``WA_MEDIA_LOOPBACK``) and the push names. Baileys
    decrypts every one of them under our LID address."""
    fixture = default_fixture()
    async with (
        Emulator(ping_interval=None, history=fixture) as emulator,
        baileys(peer_dir, emulator, timers=MEDIA_LOOPBACK) as run,
    ):
        # the history may come before the open (the login's pre-key upload still runs)
        bootstrap = await run.until(_history(_Sync.INITIAL_BOOTSTRAP))
        await run.saw(is_open)
        assert bootstrap["isLatest"] is True  # the first history these creds processed
        assert sorted(bootstrap["chats"]) == sorted(chat.id for chat in fixture.bootstrap)
        assert _got(bootstrap) == _rows(fixture.bootstrap)
        names = {c["id"]: c["name"] for c in bootstrap["contacts"]}
        for chat in fixture.bootstrap:
            assert names.get(chat.id) == chat.name, bootstrap["contacts"]
        recent = [await run.until(_history(_Sync.RECENT)) for _ in fixture.recent]
        assert sorted(r["progress"] for r in recent) == [50, 100]
        assert set().union(*(_got(r) for r in recent)) == _rows(
            chat for chunk in fixture.recent for chat in chunk
        )
        push = await run.until(_history(_Sync.PUSH_NAME))
        notify = {c["id"]: c["notify"] for c in push["contacts"]}
        assert notify == {p.id: p.push_name for p in fixture.push_names}
        await run.send("end")
        await run.finish()


async def test_baileys_receives_the_inline_history_from_our_own_number(peer_dir: Path) -> None:
    """The phone writing from our phone number instead (``Hub.phone_from_lid = False``), the
    inline bootstrap alone. Baileys rc14 refuses a SECOND pkmsg of the same X3DH from our number
    when it has mapped our LID in between (its own mapping is stored in the background after
    the login): the first is kept under our number, the second is looked up under our LID, finds
    no session, and its one-time pre-key is gone ("Invalid PreKey ID"). walink finds both under
    our LID (tests/receive/test_processor.py); that path is checked with one pkmsg here."""
    built_in = default_fixture()
    fixture = HistoryFixture(bootstrap=built_in.bootstrap)
    async with Emulator(ping_interval=None, history=fixture) as emulator:
        emulator.hub.phone_from_lid = False
        async with baileys(peer_dir, emulator) as run:
            bootstrap = await run.until(_history(_Sync.INITIAL_BOOTSTRAP))
            await run.saw(is_open)
            assert _got(bootstrap) == _rows(fixture.bootstrap)
            await run.send("end")
            await run.finish()


def _got(line: Line) -> set[tuple[str, str, bool, str | None, str]]:
    return {
        (m["remoteJid"], m["id"], m["fromMe"], m["participant"], m["text"])
        for m in line["messages"]
    }
