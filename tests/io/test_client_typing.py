"""The ``Client`` API types as a Baileys or whatsmeow user expects, under ``mypy --strict``.

``register_handlers`` below is part of the tree ``mypy --strict`` checks (``make test``): each
handler takes its own event's type and must be accepted as written. The test then runs mypy on
a module that gets them wrong (a handler of another event, a presence kind that does not exist)
and checks that each mistake is an error, and that the right module beside it has none.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Literal

from mypy import api

from tests.conftest import REPO_ROOT
from walink.auth import MemoryStore
from walink.io import Client, ClientConfig
from walink.io.events import (
    ClientEvent,
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    NodeReceived,
    PairingCode,
)


def register_handlers(client: Client, seen: list[str]) -> None:
    """Every event name with a handler of exactly its type (plain and async)."""

    def on_update(update: ConnectionUpdate) -> None:
        seen.append(update.connection)

    async def on_creds(update: CredsUpdate) -> None:
        seen.append(update.creds.noise_key.public.hex())

    def on_node(event: NodeReceived) -> None:
        seen.append(event.node.tag)

    def on_code(event: PairingCode) -> None:
        seen.append(event.phone)

    def on_closed(event: Closed) -> None:
        seen.append(event.disconnect.reason.name)

    def on_anything(event: ClientEvent) -> None:
        seen.append(type(event).__name__)

    client.on("connection.update", on_update)
    client.on("creds.update", on_creds)
    client.on("node", on_node)
    client.on("pairing_code", on_code)
    client.on("closed", on_closed)
    client.on("closed", on_anything)  # a handler of every event fits every name
    connection: Literal["connecting", "open", "close"] = client.connection
    seen.append(connection)


def test_typed_handlers_register() -> None:
    client = Client(MemoryStore(), ClientConfig(url="ws://127.0.0.1:9/ws/chat"))
    seen: list[str] = []
    register_handlers(client, seen)
    assert seen == ["close"]  # nothing ran: the client was never entered


RIGHT = """
    from typing import Literal

    from walink.io import Client
    from walink.io.events import ConnectionUpdate


    async def use(client: Client) -> None:
        def on_update(update: ConnectionUpdate) -> None:
            print(update.qr)

        client.on("connection.update", on_update)
        state: Literal["connecting", "open", "close"] = client.connection
        print(state)
        await client.send_presence_update("available")
        await client.send_chat_state("1@s.whatsapp.net", "recording")
"""

WRONG = """
    from walink.io import Client
    from walink.io.events import CredsUpdate


    async def use(client: Client) -> None:
        def on_creds(update: CredsUpdate) -> None:
            print(update.creds)

        client.on("connection.update", on_creds)  # line 9: another event's handler
        client.on("message.upsert", print)  # line 10: no such event
        await client.send_presence_update("away")  # line 11: not a presence kind
        await client.send_chat_state("1@s.whatsapp.net", "typing")  # line 12: not a chat state
        state: bool = client.connection  # line 13: a Literal of strings
"""


def test_mypy_refuses_handlers_and_kinds_of_the_wrong_type(tmp_path: Path) -> None:
    right = tmp_path / "right.py"
    wrong = tmp_path / "wrong.py"
    right.write_text(textwrap.dedent(RIGHT).lstrip("\n"), encoding="utf-8")
    wrong.write_text(textwrap.dedent(WRONG).lstrip("\n"), encoding="utf-8")
    out, err, status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(REPO_ROOT / ".mypy_cache"),
            str(right),
            str(wrong),
        ]
    )
    assert status == 1, (out, err)
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not [line for line in errors if "right.py" in line], errors
    lines = {int(line.split(":")[1]) for line in errors if "wrong.py" in line}
    assert lines == {9, 10, 11, 12, 13}, errors
