"""Baileys, linked to our emulator, receives the phone's history (issue 14).

After Baileys 7.0.0-rc14 (``tests/peer/baileys-lifecycle.mjs``) pairs, logs in and uploads its
keys, the emulator's phone (the account's device 0, its own Signal identity, X3DH on Baileys'
bundle) sends the history notifications as peer messages. Baileys decrypting them with libsignal
and parsing the chunks with its own protobufs proves our phone, our Signal and our
``HistorySync`` encoding; its ``messaging-history.set`` shows the fixture's chats, contacts and
messages. Baileys downloads blobs only from a fixed public host, so the history here is inline
only: the bootstrap chunk and the push names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.baileys import Line, baileys, is_open
from walink.protocol.proto import e2e_pb2
from walink.testing.emulator import Emulator
from walink.testing.history import HistoryFixture, default_fixture

pytestmark = [pytest.mark.peer, pytest.mark.anyio]

_Sync = e2e_pb2.HistorySync


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _history(sync_type: int) -> Callable[[Line], bool]:
    def wanted(line: Line) -> bool:
        return bool(line["event"] == "messaging-history.set" and line["syncType"] == sync_type)

    return wanted


async def test_baileys_receives_the_emulator_phone_inline_history(peer_dir: Path) -> None:
    # One notification: the inline bootstrap. A second pkmsg from our own phone number (the
    # PUSH_NAME chunk) was once refused by Baileys rc14 in CI with "Invalid PreKey ID" while the
    # first decrypted: it looked the second up under another address than the first (our own
    # LID, which it maps to our number by then), a race on Baileys' side. The push names are
    # checked on walink's side (tests/session/test_history.py).
    built_in = default_fixture()
    fixture = HistoryFixture(bootstrap=built_in.bootstrap)
    async with (
        Emulator(ping_interval=None, history=fixture) as emulator,
        baileys(peer_dir, emulator, timeout_ms=30000) as run,
    ):
        await run.until(is_open)
        bootstrap = await run.until(_history(_Sync.INITIAL_BOOTSTRAP))
        assert bootstrap["isLatest"] is True  # the first history these creds processed
        assert sorted(bootstrap["chats"]) == sorted(chat.id for chat in fixture.bootstrap)
        expected = {
            (chat.id, message.id, message.from_me, message.participant, message.text)
            for chat in fixture.bootstrap
            for message in chat.messages
        }
        got = {
            (m["remoteJid"], m["id"], m["fromMe"], m["participant"], m["text"])
            for m in bootstrap["messages"]
        }
        assert got == expected
        names = {c["id"]: c["name"] for c in bootstrap["contacts"]}
        for chat in fixture.bootstrap:
            assert names.get(chat.id) == chat.name, bootstrap["contacts"]
        await run.send("end")
        await run.finish()
