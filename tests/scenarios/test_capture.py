"""``Client(capture=...)``: a live run's capture replays to the same events and keeps no secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.scenarios.harness import (
    PING,
    config_for,
    paired_store,
    running,
    scan_when_shown,
    secret_bytes,
    secret_texts,
)
from walink import HistorySet, MessagesUpsert
from walink.auth import MemoryStore
from walink.capture import read_capture, replay_capture
from walink.io.client import Client
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


def _contents(node: dict[str, Any]) -> list[bytes]:
    """Every bytes content of a captured node and its children."""
    found = [base64.b64decode(node["b64"])] if "b64" in node else []
    for child in node.get("children", ()):
        found.extend(_contents(child))
    return found


async def test_a_qr_login_capture_replays_to_the_same_events(tmp_path: Path) -> None:
    path = tmp_path / "login.jsonl"
    async with Emulator(history=None) as emulator:
        client = Client(MemoryStore(), config_for(emulator), capture=path)
        async with running(client) as recorder:
            await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
            await client.query(PING)
            creds = client.creds
            assert creds is not None and creds.account is not None
    capture = read_capture(path)
    assert capture.header.source == "walink client" and capture.header.redacted
    kinds = [record.kind for record in capture.records]
    assert kinds.count("start") == 2  # the QR login and the login after the 515
    assert kinds[-1] == "end" and "in" in kinds and "out" in kinds
    result = replay_capture(capture)
    end = result.lines[-1]
    assert end["event"] == "replay.end"
    assert end["events_match"] is True, [line for line in result.lines if "note" in line]
    assert end["nodes_out_unmatched"] == 0
    assert result.events == result.recorded
    # nothing secret in the text, nor inside any node's bytes (wherever they sit in a blob)
    text = path.read_text()
    for secret in secret_texts(creds):
        assert secret not in text
    contents = [
        blob
        for record in capture.records
        if record.kind in ("in", "out")
        for blob in _contents(record.data["node"])
    ]
    assert contents  # the capture does hold bytes contents: the check below is not vacuous
    for raw in secret_bytes(creds):
        assert not any(raw in blob for blob in contents)
    assert json.loads(text.splitlines()[0])["format"] == "walink-capture"


async def test_a_capture_without_redaction_keeps_the_device_identity(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    async with Emulator(history=None) as emulator:
        config = config_for(emulator, capture=path, capture_redact=False)
        async with running(Client(MemoryStore(), config)) as recorder:
            await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
            creds = recorder.client.creds
            assert creds is not None and creds.account is not None
    capture = read_capture(path)
    assert capture.header.redacted == ()
    text = path.read_text()
    # the ADV blob (the device's details inside) is kept whole; private keys are in no node
    contents = [
        blob
        for record in capture.records
        if record.kind in ("in", "out")
        for blob in _contents(record.data["node"])
    ]
    assert any(creds.account.details in blob for blob in contents)
    for private in (creds.noise_key.private, creds.signed_identity_key.private):
        assert private.hex() not in text and base64.b64encode(private).decode() not in text
    # replay follows every node (its events show the real QR, which replay cannot rebuild)
    end = replay_capture(capture).lines[-1]
    assert end["nodes_out_unmatched"] == 0 and end["state"] == "stopped"


async def test_a_capture_with_messages_and_history_replays_to_the_same_events(
    tmp_path: Path,
) -> None:
    """The client's job workers report decrypts, downloads and handled events: the capture
    records them, so the phone's history and a contact's message replay the same."""
    path = tmp_path / "jobs.jsonl"
    async with Emulator() as emulator:
        client = Client(MemoryStore(), config_for(emulator), capture=path)
        async with running(client) as recorder:
            jid = await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
            # the four chunks of the emulator phone's history (some may precede the open)
            while sum(isinstance(e, HistorySet) for e in recorder.events) < 4:
                start = len(recorder.events)
                await recorder.wait_for(lambda e: isinstance(e, HistorySet), start=start)
            sent = await emulator.contact("15550002222", "Alice").send_text(jid, "hi there")
            await recorder.wait_for(
                lambda e: isinstance(e, MessagesUpsert) and e.messages[0].key.id == sent
            )
    capture = read_capture(path)
    commands = {r.data["name"] for r in capture.records if r.kind == "command"}
    assert {"message_processed", "message_handled", "history_downloaded"} <= commands
    assert "history_handled" in commands
    assert "hi there" not in path.read_text()
    result = replay_capture(capture)
    assert result.events == result.recorded
    assert result.lines[-1]["events_match"] is True
    names = [line["event"] for line in result.events]
    assert names.count("history.chunk") == 4 and "message.processed" in names


async def test_a_query_the_caller_gave_up_replays_as_given_up(tmp_path: Path) -> None:
    """A caller cancelled while its query waited on a silent server: the client gives it up
    (``cancel_query``), the capture records that, and the replay does not fail it at the close
    as it would a query still waiting."""
    path = tmp_path / "cancel.jsonl"
    async with Emulator(history=None) as emulator:
        store = await paired_store(emulator)
        client = Client(store, config_for(emulator), capture=path)
        async with running(client) as recorder:
            await recorder.wait_open()
            await client.query(PING)  # answered: its cancel_query is no input
            for server in emulator.sessions():
                server.go_silent()
            with anyio.move_on_after(0.3) as scope:
                await client.query(PING, timeout=30.0)
            assert scope.cancelled_caught
    capture = read_capture(path)
    commands = [r.data for r in capture.records if r.kind == "command"]
    assert [c["query"] for c in commands if c["name"] == "cancel_query"] == [2]
    assert not [r for r in capture.records if r.kind == "event" and "query.error" in str(r.data)]
    result = replay_capture(capture)
    assert result.events == result.recorded
    end = result.lines[-1]
    assert end["events_match"] is True and end["nodes_out_unmatched"] == 0
