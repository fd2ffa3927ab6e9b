"""walink.io.fleet's ``on()`` handlers: every device's events reach them, each device's in order;
an event is acked only once every handler for its name returned; a handler held on one device
delays no other device; a handler's exception closes the fleet, comes out of ``async with`` as
itself, and leaves its event to the next run; iteration and handlers exclude each other
(asyncio and trio); and mypy holds handlers to their event's type and the device argument."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mypy import api

from tests.conftest import REPO_ROOT
from tests.io.test_fleet_delivery import (
    ALICE,
    WAIT,
    answers,
    caught_up,
    fleet_config,
    linked,
    until_answered,
)
from walink.auth.devices import DeviceStore, open_device_store
from walink.io.events import (
    ClientEvent,
    Closed,
    ConnectionUpdate,
    MessagesUpsert,
    NodeReceived,
)
from walink.io.fleet import Fleet, FleetConfig
from walink.testing.emulator import Emulator, EmulatorContact
from walink.testing.server import ServerSession

pytestmark = pytest.mark.anyio

BACKENDS = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


def register_typed_handlers(fleet: Fleet, seen: list[str]) -> None:
    """Handlers of exactly their event's type, plain and async: ``mypy --strict`` checks this
    module, so the overloads of ``Fleet.on`` must accept them as written."""

    def on_update(device: str, update: ConnectionUpdate) -> None:
        seen.append(f"{device} {update.connection}")

    async def on_upsert(device: str, upsert: MessagesUpsert) -> None:
        seen.extend(f"{device} {m.key.id}" for m in upsert.messages)

    def on_anything(device: str, event: ClientEvent) -> None:
        seen.append(f"{device} {type(event).__name__}")

    fleet.on("connection.update", on_update)
    fleet.on("messages.upsert", on_upsert)
    fleet.on("closed", on_anything)  # a handler of every event fits every name


def acked(servers: list[ServerSession], message_id: str) -> bool:
    """Whether one of ``servers`` received the ack of ``message_id`` (``answers`` sees only the
    connections still open; these are kept by the test past their close)."""
    return any(
        node.tag == "ack" and node.attr("id") == message_id
        for server in servers
        for node in server.received
    )


@contextlib.asynccontextmanager
async def one_device(
    tmp_path: Path,
) -> AsyncIterator[tuple[Emulator, DeviceStore, str, str, EmulatorContact]]:
    """An emulator, and a device store in ``tmp_path`` with one device linked to it: both, the
    device's id in the store, its JID, and a contact who writes to it."""
    async with Emulator() as emulator:
        with open_device_store(tmp_path / "fleet.db") as store:
            device, jid = await linked(emulator, store)
            yield emulator, store, device, jid, emulator.contact(ALICE, "Alice")


@BACKENDS
async def test_handlers_get_every_devices_events_in_order_and_a_held_one_delays_no_other(
    tmp_path: Path,
) -> None:
    async with Emulator() as emulator:
        with open_device_store(tmp_path / "fleet.db") as store:
            a_id, a_jid = await linked(emulator, store, 0)
            b_id, b_jid = await linked(emulator, store, 1)
            alice = emulator.contact(ALICE, "Alice")
            texts: dict[str, list[str]] = {a_jid: [], b_jid: []}
            finished: dict[str, list[str]] = {a_jid: [], b_jid: []}
            opened: set[str] = set()
            both_open = anyio.Event()
            holding = anyio.Event()
            release = anyio.Event()

            def on_update(device: str, update: ConnectionUpdate) -> None:
                if update.connection == "open":
                    opened.add(device)
                    if opened == {a_jid, b_jid}:
                        both_open.set()

            def first(device: str, upsert: MessagesUpsert) -> None:
                texts[device].extend(m.text or "" for m in upsert.messages)

            async def second(device: str, upsert: MessagesUpsert) -> None:
                # the second handler of the name holds a1: the first returned long before
                for message in upsert.messages:
                    if message.text == "a1":
                        holding.set()
                        await release.wait()
                    finished[device].append(message.text or "")

            fleet = Fleet(store, fleet_config(emulator))
            # registered before entering
            fleet.on("connection.update", on_update)
            fleet.on("messages.upsert", first)
            fleet.on("messages.upsert", second)
            async with fleet:
                with anyio.fail_after(WAIT):
                    await both_open.wait()
                a_client, b_client = fleet.clients[a_id], fleet.clients[b_id]
                a_sent = [await alice.send_text(a_jid, f"a{n}") for n in range(3)]
                b_sent = [await alice.send_text(b_jid, f"b{n}") for n in range(3)]
                with anyio.fail_after(WAIT):
                    await holding.wait()
                # A is held inside a handler of a1; B's messages are all handled and acked
                for message_id in [a_sent[0], *b_sent]:
                    await until_answered(emulator, message_id)
                assert texts[b_jid] == finished[b_jid] == ["b0", "b1", "b2"]
                # a1 waits for its second handler: its first returned, yet nothing is acked,
                # and A's next event waits behind it (one at a time, in order)
                with anyio.fail_after(WAIT):
                    while len(a_client.session.messages_unhandled) < 2:
                        await anyio.sleep(0.005)
                await caught_up(a_client)
                assert texts[a_jid] == ["a0", "a1"] and finished[a_jid] == ["a0"]
                assert answers(emulator, a_sent[1]) == answers(emulator, a_sent[2]) == []
                release.set()
                for message_id in a_sent[1:]:
                    await until_answered(emulator, message_id)
                assert texts[a_jid] == finished[a_jid] == ["a0", "a1", "a2"]
                await caught_up(b_client)
                assert [answers(emulator, m) for m in a_sent + b_sent] == [["receipt", "ack"]] * 6
                await fleet.aclose()
                with anyio.fail_after(WAIT):
                    await fleet.wait_closed()


@BACKENDS
@pytest.mark.parametrize("buffer", [2, 10_000])
async def test_handlers_registered_after_the_start_get_what_the_fleet_buffered_first(
    tmp_path: Path, buffer: int
) -> None:
    """With a buffer of 2 the device's task waits for room when the handlers come: what it
    holds goes to the handlers too, after the buffer's, before the device's next events."""
    async with one_device(tmp_path) as (emulator, store, device, jid, alice):
        updates: list[tuple[str, str]] = []
        got: list[str] = []
        async with Fleet(store, fleet_config(emulator, event_buffer=buffer)) as fleet:
            # nobody takes the events yet: they wait in the fleet's buffer
            with anyio.fail_after(WAIT):
                while device not in fleet.clients:
                    await anyio.sleep(0.005)
                client = fleet.clients[device]
                await client.wait_open()
            early = await alice.send_text(jid, "before the handlers")
            with anyio.fail_after(WAIT):
                while len(client.session.messages_unhandled) < 1:
                    await anyio.sleep(0.005)
            await caught_up(client)
            assert answers(emulator, early) == []

            def on_update(name: str, update: ConnectionUpdate) -> None:
                updates.append((name, update.connection))

            def on_upsert(name: str, upsert: MessagesUpsert) -> None:
                assert name == jid
                got.extend(m.text or "" for m in upsert.messages)

            fleet.on("connection.update", on_update)
            fleet.on("messages.upsert", on_upsert)
            await until_answered(emulator, early)
            late = await alice.send_text(jid, "after")
            await until_answered(emulator, late)
            assert got == ["before the handlers", "after"]
            # the buffered updates came first, in order, with their device
            assert updates[0] == (jid, "connecting")
            assert (jid, "open") in updates
            with pytest.raises(RuntimeError):
                fleet.events()  # handlers take the events now


@BACKENDS
async def test_a_handler_error_closes_the_fleet_comes_out_as_itself_and_its_event_comes_again(
    tmp_path: Path,
) -> None:
    async with one_device(tmp_path) as (emulator, store, device, jid, alice):
        opened = anyio.Event()
        message_id = ""

        def on_update(name: str, update: ConnectionUpdate) -> None:
            if update.connection == "open":
                opened.set()

        def fail(name: str, upsert: MessagesUpsert) -> None:
            raise LookupError("the application's bug")

        with anyio.fail_after(WAIT), pytest.raises(LookupError, match="application's bug"):
            async with Fleet(store, fleet_config(emulator)) as fleet:
                fleet.on("connection.update", on_update)
                fleet.on("messages.upsert", fail)
                await opened.wait()
                client = fleet.clients[device]
                servers = emulator.sessions()  # kept: what they received outlives their close
                message_id = await alice.send_text(jid, "boom")
                await fleet.wait_closed()
        closed = client.last_closed
        assert closed is not None and closed.requested
        assert not acked(servers, message_id)
        assert fleet.held == {}
        # the next run gets it again, and acks it once its handler returned
        again: list[MessagesUpsert] = []
        async with Fleet(store, fleet_config(emulator)) as fleet:

            def keep(name: str, upsert: MessagesUpsert) -> None:
                again.append(upsert)

            fleet.on("messages.upsert", keep)
            await until_answered(emulator, message_id)
        assert [(u.type, [m.text for m in u.messages]) for u in again] == [("append", ["boom"])]


@BACKENDS
async def test_iterating_and_handlers_exclude_each_other_and_names_are_checked(
    tmp_path: Path,
) -> None:
    def on_node(device: str, event: NodeReceived) -> None:
        pass

    def on_closed(device: str, event: Closed) -> None:
        pass

    with open_device_store(tmp_path / "fleet.db") as store:
        config = FleetConfig(claim_interval=0.1)
        iterated = Fleet(store, config)
        async with iterated:
            iterated.events()
            with pytest.raises(RuntimeError, match="iterated"):
                iterated.on("node", on_node)
        handled = Fleet(store, config)
        handled.on("closed", on_closed)  # before entering
        with pytest.raises(ValueError, match="unknown event name"):
            handled.on("message.upsert", on_node)  # type: ignore[call-overload]
        async with handled:
            with pytest.raises(RuntimeError, match="on\\(\\) handlers"):
                handled.events()
            with pytest.raises(RuntimeError):
                handled.__aiter__()
            seen: list[str] = []
            register_typed_handlers(handled, seen)  # more handlers: fine
            await handled.aclose()
            with anyio.fail_after(WAIT):
                await handled.wait_closed()
        assert seen == []  # no device: no event


@BACKENDS
async def test_after_a_handler_error_no_other_devices_handler_is_called(tmp_path: Path) -> None:
    """Device B's handler is busy with b0 (b1 waits behind it) when A's handler raises: b0's
    handler finishes, b1's is never called, and b1 is not acked (the fleet is closing)."""
    async with Emulator() as emulator:
        with open_device_store(tmp_path / "fleet.db") as store:
            a_id, a_jid = await linked(emulator, store, 0)
            b_id, b_jid = await linked(emulator, store, 1)
            alice = emulator.contact(ALICE, "Alice")
            opened: set[str] = set()
            both_open = anyio.Event()
            busy = anyio.Event()
            release = anyio.Event()
            seen: list[str] = []

            def on_update(device: str, update: ConnectionUpdate) -> None:
                if update.connection == "open":
                    opened.add(device)
                    if opened == {a_jid, b_jid}:
                        both_open.set()

            async def on_upsert(device: str, upsert: MessagesUpsert) -> None:
                for message in upsert.messages:
                    seen.append(message.text or "")
                    if message.text == "a0":
                        raise LookupError("the application's bug")
                    if message.text == "b0":
                        busy.set()
                        await release.wait()

            b1 = ""
            with anyio.fail_after(WAIT), pytest.raises(LookupError, match="application's bug"):
                async with Fleet(store, fleet_config(emulator)) as fleet:
                    fleet.on("connection.update", on_update)
                    fleet.on("messages.upsert", on_upsert)
                    await both_open.wait()
                    a_client, b_client = fleet.clients[a_id], fleet.clients[b_id]
                    servers = emulator.sessions()  # kept: what they received outlives their close
                    await alice.send_text(b_jid, "b0")
                    b1 = await alice.send_text(b_jid, "b1")
                    await busy.wait()
                    while len(b_client.session.messages_unhandled) < 2:
                        await anyio.sleep(0.005)
                    await caught_up(b_client)
                    await alice.send_text(a_jid, "a0")
                    while not a_client.finished:
                        await anyio.sleep(0.005)
                    release.set()
                    await fleet.wait_closed()
            assert seen == ["b0", "a0"]
            assert not acked(servers, b1)


RIGHT = """
    from walink.io import Fleet
    from walink.io.events import ConnectionUpdate


    def use(fleet: Fleet) -> None:
        async def on_update(device: str, update: ConnectionUpdate) -> None:
            print(device, update.qr)

        fleet.on("connection.update", on_update)
"""

WRONG = """
    from walink.io import Fleet
    from walink.io.events import ConnectionUpdate, CredsUpdate


    def use(fleet: Fleet) -> None:
        def on_creds(device: str, update: CredsUpdate) -> None:
            print(update.creds)

        def client_style(update: ConnectionUpdate) -> None:
            print(update.qr)

        fleet.on("connection.update", on_creds)  # line 12: another event's handler
        fleet.on("connection.update", client_style)  # line 13: no device argument
        fleet.on("message.upsert", print)  # line 14: no such event
"""


def test_mypy_refuses_fleet_handlers_of_the_wrong_type(tmp_path: Path) -> None:
    right = tmp_path / "right.py"
    wrong = tmp_path / "wrong.py"
    right.write_text(textwrap.dedent(RIGHT).lstrip("\n"), encoding="utf-8")
    wrong.write_text(textwrap.dedent(WRONG).lstrip("\n"), encoding="utf-8")
    cache = str(REPO_ROOT / ".mypy_cache")
    out, err, status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", cache, str(right), str(wrong)]
    )
    assert status == 1, (out, err)
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not [line for line in errors if "right.py" in line], errors
    assert {int(line.split(":")[1]) for line in errors if "wrong.py" in line} == {12, 13, 14}
