"""The client's other faces against the emulator: callbacks, a failing store, the QR drawn on
stderr, and logs that never carry a secret."""

from __future__ import annotations

import logging
from typing import cast

import anyio
import pytest

from tests.scenarios.harness import (
    PING,
    WAIT,
    config_for,
    paired_store,
    running,
    scan_when_shown,
    secret_texts,
)
from walink.auth import AuthStore, MemoryStore
from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.events import ClientEvent, ConnectionUpdate, CredsUpdate, NodeReceived
from walink.protocol.binary import Node
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_callbacks_see_the_whole_login() -> None:
    async with Emulator() as emulator:
        seen: list[ClientEvent] = []
        opened = anyio.Event()
        scanned: list[str] = []
        async with (
            Client(MemoryStore(), config_for(emulator)) as client,
            anyio.create_task_group() as tg,
        ):

            async def on_update(event: ClientEvent) -> None:
                assert isinstance(event, ConnectionUpdate)
                seen.append(event)
                if event.qr is not None and not scanned:
                    scanned.append(event.qr)
                    tg.start_soon(emulator.phone.scan_qr, event.qr)
                if event.connection == "open":
                    opened.set()

            client.on("connection.update", on_update)
            client.on("creds.update", seen.append)  # a plain function works too
            with pytest.raises(RuntimeError):
                client.events()
            with anyio.fail_after(WAIT):
                await opened.wait()
            await client.aclose()
        assert any(isinstance(e, CredsUpdate) and e.creds.me is not None for e in seen)


class FailingStore(MemoryStore):
    """Loads nothing and refuses every save of linked creds (a full disk, say)."""

    def save(self, creds: Creds) -> None:
        if creds.me is not None:
            raise OSError(28, "No space left on device")
        super().save(creds)


async def test_a_failing_save_stops_before_anything_depends_on_it() -> None:
    async with Emulator() as emulator:
        store = FailingStore()
        # cast: MemoryStore.__enter__ is typed to return MemoryStore, not Self
        async with running(Client(cast(AuthStore, store), config_for(emulator))) as recorder:
            await scan_when_shown(emulator, recorder)
            closed = await recorder.wait_closed()
            await recorder.done.wait()
        assert closed.disconnect.reason is CloseReason.STORE_ERROR
        assert "saving credentials failed" in closed.disconnect.message
        assert closed.final and not closed.requested
        # the pair-device-sign reply waited for the save: the phone never saw it
        assert list(emulator.registry.devices()) == []


async def test_qr_drawn_on_stderr_and_secrets_never_logged(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="walink.client")
    async with Emulator() as emulator:
        config = config_for(emulator, print_qr_in_terminal=True)
        async with running(Client(MemoryStore(), config)) as recorder:
            await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
            creds = recorder.client.creds
            assert creds is not None
            notification = Node(
                "notification", {"id": "N1", "type": "test", "from": "s.whatsapp.net"}
            )
            await emulator.send_node(notification)
            await recorder.wait_for(lambda e: isinstance(e, NodeReceived))
            await recorder.client.query(PING)
        qrs = recorder.qrs
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "\u2588" in captured.err or "\u2580" in captured.err  # segno's block drawing
    logs = caplog.text
    # every node is traced at DEBUG, both ways, the protocol's own as well as the application's
    assert 'in <notification id="N1"' in logs and 'out <iq to="s.whatsapp.net"' in logs
    assert "in <pair-device" not in logs  # (its parent iq comes first)
    assert "<pair-success>" in logs or "<pair-success " in logs
    assert "out <iq" in logs and "<skey>" in logs  # the pre-key upload went out, masked
    assert '<device-identity key-index="1">[redacted' in logs
    assert "<signature>[redacted 64 bytes]" in logs
    for secret in [*qrs, *secret_texts(creds)]:
        assert secret not in logs


async def test_a_slow_handler_never_starves_the_keepalive() -> None:
    async with Emulator(history=None) as emulator:
        store = await paired_store(emulator)
        # the deadline has room for a loaded machine's stalls; a starved keepalive would still
        # time out (0.55 s) well within the second the test watches
        config = config_for(emulator, keepalive_interval=0.05, keepalive_timeout=0.5)
        handled: list[ClientEvent] = []
        async with Client(store, config) as client:

            async def sluggish(event: ClientEvent) -> None:
                handled.append(event)
                await anyio.sleep(2.0)  # far longer than the keepalive's deadlines

            client.on("connection.update", sluggish)
            with anyio.fail_after(WAIT):
                while not client.is_connected:
                    await anyio.sleep(0.01)
            [session] = emulator.sessions()
            await anyio.sleep(1.0)
            # the client pinged (the server answered) while the handler slept on event one
            assert len(handled) == 1
            assert [n for n in session.received if n.attr("xmlns") == "w:p"]
            assert client.is_connected and client.health.last_disconnect is None
            await client.aclose()
