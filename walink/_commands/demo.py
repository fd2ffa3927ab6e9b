"""``walink demo``: the whole connection lifecycle in a few seconds, offline, in one process.

It starts the embedded ``Emulator`` (a free loopback port) and a ``Client`` on a temporary
SQLite store (a folder of its own, removed at the end), then plays the story a linked device
lives through, with short timers so that it takes seconds:

1. the QR is drawn (stderr) and the simulated phone scans it;
2. pair-success: ``is_new_login``; the server's 515 makes the client restart at once;
3. the login: ``open``, ``received_pending_notifications`` turns true; an emulator contact
   (Alice) writes "hello" and a group member writes in a group: the texts are decrypted and
   shown (``messages.upsert``, type ``notify``);
4. the route goes dead (the server falls silent): the keepalive notices, the connection closes
   with ``KEEPALIVE_TIMEOUT``; two texts Alice writes meanwhile wait on the server, and arrive
   decrypted as the offline backlog (type ``append``) when the backoff reconnects;
5. a second device, on a second store, links by pairing code (``request_pairing_code``): the
   code is printed (the ``pairing_code`` line of ``walink connect``), the simulated phone types
   it, and that device ends in open; its readable lines carry ``[2]``, and in JSON its updates
   are the ones between the ``pairing_code_login`` step and the first ``phone_logout`` step;
6. the phone unlinks the devices (WhatsApp > Linked devices > Log out): the server removes them
   and sends ``<stream:error code="401"><conflict type="device_removed"/>``, so the last close
   update carries ``LOGGED_OUT`` and status 401. This is the server-side logout: a logout that
   the application asks for itself (``client.logout()``) is reported as ``LOCAL_LOGOUT``.

Output: a readable timeline on stdout, or with ``--json`` the lines of ``walink connect --json``
(``connection.update``, ``pairing_code``, ``messages.upsert``) plus
``{"v": 1, "event": "demo.step", "step": …}`` lines that narrate what the demo itself does.
Exit 0 when the story ran to its end, 1 if a step did not happen in time; SIGINT and SIGTERM
stop it cleanly (exit 0). Several demos can run at once: each has its own port and its own
temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walink._commands.options import add_loop_options, configure_logging
from walink._commands.output import emit_json
from walink._commands.timeline import EXIT_ERROR, EXIT_OK, Timeline

if TYPE_CHECKING:
    from walink.io.client import Client
    from walink.io.config import ClientConfig
    from walink.io.events import ClientEvent
    from walink.testing.emulator import Emulator

STEP_TIMEOUT = 10.0
"""Seconds any one step may take before the demo gives up (exit 1)."""
KEEPALIVE_INTERVAL = 0.5
"""Seconds of silence before the demo's client pings the server."""
KEEPALIVE_TIMEOUT = 2.0
"""Seconds more of silence before it gives the route up: a dead route is noticed in 2.5 s.

Longer than the interval on purpose: the emulator runs in the demo's own process, so a busy
machine that stalls the process for a moment (history crypto, other programs) stalls the
server's answers too, and a deadline as short as the interval mistook such a stall for a dead
route (a KEEPALIVE_TIMEOUT before the network cut).
"""
BACKOFF_UNIT = 0.5
"""Seconds per Fibonacci backoff step: the first reconnect after a failure waits this long."""
_CONTACT = "15550002222"
_CONTACT_NAME = "Alice"
_GROUP = "120363000000000001@g.us"
_MEMBER = "15550003333"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="watch the whole lifecycle against the embedded emulator, in seconds",
        description=(
            "Run the embedded emulator and a client in one process: QR login, the 515 restart, "
            "open, pending notifications, a lost connection and the backoff reconnect, "
            "pairing-code login when available, and the phone's logout (LOGGED_OUT, 401)."
        ),
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    add_loop_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import anyio

    configure_logging("demo", args.verbose, fields="%(name)s %(levelname)s %(message)s")
    folder = Path(tempfile.mkdtemp(prefix="walink-demo-"))
    try:
        result: int = anyio.run(_main, args.json, folder, backend=args.backend)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class DemoFailed(Exception):
    """A step of the story did not happen in time (the message says which)."""


async def _main(json_lines: bool, folder: Path) -> int:
    import anyio

    from walink.testing.emulator import Emulator

    story = Story(json_lines=json_lines, folder=folder)
    outcome = EXIT_OK
    # Signals are taken over before anything starts, so an early one is a clean stop too.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tasks:

            async def stop_on_signal() -> None:
                async for received in signals:
                    story.step("interrupted", f"{signal.Signals(received).name}: stopping")
                    tasks.cancel_scope.cancel()
                    return

            async def play() -> None:
                nonlocal outcome
                try:
                    async with Emulator(ping_interval=None) as emulator:
                        await story.play(emulator)
                except* DemoFailed as failures:
                    for failure in failures.exceptions:
                        print(f"walink demo: {failure}", file=sys.stderr)
                    outcome = EXIT_ERROR
                tasks.cancel_scope.cancel()

            tasks.start_soon(stop_on_signal)
            tasks.start_soon(play)
    return outcome


class Watch:
    """Prints and keeps one client's events, and lets the story wait for the one it expects."""

    def __init__(
        self,
        client: Client,
        timeline: Timeline,
        observe: Callable[[ClientEvent], None] | None = None,
    ) -> None:
        self.client = client
        self.timeline = timeline
        self.observe = observe
        self.events: list[ClientEvent] = []
        self.done = False
        self._changed = _new_event()

    async def run(self) -> None:
        try:
            async for event in self.client:
                self.timeline.show(event)
                if self.observe is not None:
                    self.observe(event)
                self.events.append(event)
                self._wake()
        finally:
            self.done = True
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = _new_event()

    async def wait_for(self, what: str, predicate: Callable[[ClientEvent], bool]) -> ClientEvent:
        """The first event (oldest first) that matches; ``DemoFailed`` after ``STEP_TIMEOUT``."""
        import anyio

        with anyio.move_on_after(STEP_TIMEOUT):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                if self.done:
                    break
                await self._changed.wait()
        raise DemoFailed(f"{what} did not happen within {STEP_TIMEOUT:.0f} s")

    def count(self, predicate: Callable[[ClientEvent], bool]) -> int:
        return sum(1 for event in self.events if predicate(event))


class Story:
    """The demo's steps, in order (see the module docstring)."""

    def __init__(self, *, json_lines: bool, folder: Path) -> None:
        self.json_lines = json_lines
        self.folder = folder
        self.timeline = Timeline(json_lines=json_lines)
        self.started = time.monotonic()

    def step(self, name: str, text: str, **fields: Any) -> None:
        """Narrate what the demo does: a ``demo.step`` JSON line, or a readable line."""
        if self.json_lines:
            emit_json({"event": "demo.step", "step": name, **fields})
        else:
            self.timeline.note(f"{'demo':<10}  {text}")

    async def play(self, emulator: Emulator) -> None:
        import anyio

        from walink.io.client import Client

        self.step(
            "emulator",
            f"emulator listening on {emulator.url}; a client links a new device",
            url=emulator.url,
            trust_root=emulator.trust_root_hex,
        )
        async with anyio.create_task_group() as clients:
            client = Client(self.folder / "qr-device.db", self.config(emulator))
            first = await clients.start(_watched, client, self.timeline, self.observe)
            jid = await self.qr_login(emulator, first)
            await self.lost_connection(emulator, first, jid)
            devices = [(jid, first), await self.pairing_code_login(emulator, clients)]
            # the first device goes last, so that its close is the story's last close update
            for device_jid, watch in reversed(devices):
                await self.phone_logout(emulator, watch, device_jid)
        self.check_last_close(first)
        self.step(
            "done",
            f"done in {time.monotonic() - self.started:.1f} s",
            seconds=round(time.monotonic() - self.started, 3),
        )

    def observe(self, event: ClientEvent) -> None:
        """In JSON, narrate the messages received and the policy's decisions."""
        from walink._commands.messages import message_text_line
        from walink._receive.events import MessagesUpsert
        from walink.io.events import Closed

        if isinstance(event, Closed) and self.json_lines:
            # readable mode prints the decision in the timeline already
            decision = event.decision
            self.step(
                "decision",
                decision.explanation,
                reason=event.disconnect.reason.name,
                restart=decision.restart,
                reconnect=decision.reconnect,
                delay=round(decision.delay, 3),
            )
        if not isinstance(event, MessagesUpsert) or not self.json_lines:
            return  # readable mode: the timeline prints each message already
        for message in event.messages:
            self.step(
                "message",
                message_text_line(message),
                id=message.key.id,
                body=message.text,
                offline=event.type == "append",
            )

    def config(self, emulator: Emulator, **overrides: Any) -> ClientConfig:
        from walink.fsm.policy import PolicyConfig
        from walink.io.config import ClientConfig

        options: dict[str, Any] = {
            "url": emulator.url,
            "trust_root": emulator.trust_root,
            "print_qr_in_terminal": True,
            "keepalive_interval": KEEPALIVE_INTERVAL,
            "keepalive_timeout": KEEPALIVE_TIMEOUT,
            "connect_timeout": 5.0,
            "close_timeout": 1.0,
            "logout_timeout": 2.0,
            "policy": PolicyConfig(backoff_unit=BACKOFF_UNIT, jitter=0.0),
            **overrides,
        }
        return ClientConfig(**options)

    async def qr_login(self, emulator: Emulator, watch: Watch) -> str:
        """QR shown, scanned by the phone, is_new_login, the restart, open, pending delivery."""
        from walink.io.events import ConnectionUpdate

        shown = await watch.wait_for(
            "the QR", lambda e: isinstance(e, ConnectionUpdate) and e.qr is not None
        )
        assert isinstance(shown, ConnectionUpdate) and shown.qr is not None
        self.step("scan_qr", "the phone scans the QR")
        jid = await emulator.phone.scan_qr(shown.qr)
        self.step("paired", f"linked as {jid}", jid=jid)
        await watch.wait_for("the open after the restart", _is_open)
        await watch.wait_for(
            "the pending notifications",
            lambda e: isinstance(e, ConnectionUpdate) and e.received_pending_notifications,
        )
        # Contacts encrypt to the keys the device uploaded at that login.
        alice = emulator.contact(_CONTACT, _CONTACT_NAME)
        await self.send(lambda: alice.send_text(jid, "hello"))
        emulator.contact(_MEMBER, "Bob")
        group = emulator.group(_GROUP, [_CONTACT, _MEMBER])
        await self.send(lambda: group.send_text(_MEMBER, jid, "hi, group"))
        await watch.wait_for("the two texts", lambda e: _texts(watch) >= 2)
        return jid

    async def send(self, send: Callable[[], Awaitable[str]]) -> None:
        """``send()`` once the device's keys are on the server (the upload follows the login)."""
        import anyio

        from walink.testing.contacts import NoBundleError

        with anyio.fail_after(STEP_TIMEOUT):
            while True:
                try:
                    await send()
                    return
                except NoBundleError:
                    await anyio.sleep(0.02)

    async def lost_connection(self, emulator: Emulator, watch: Watch, jid: str) -> None:
        """The server falls silent; the keepalive closes; texts wait; the backoff reconnects."""
        import anyio

        from walink.fsm.reasons import CloseReason
        from walink.io.events import Closed

        opens = watch.count(_is_open)
        self.step("network_cut", "the route goes dead: the server stops answering", jid=jid)
        for session in emulator.sessions():
            if session.device is not None and session.device.jid == jid:
                session.go_silent()
        await watch.wait_for(
            "the keepalive timeout",
            lambda e: (
                isinstance(e, Closed) and e.disconnect.reason is CloseReason.KEEPALIVE_TIMEOUT
            ),
        )
        # once the server has seen the socket close, what Alice writes waits for the device
        with anyio.fail_after(STEP_TIMEOUT):
            while any(s.device is not None and s.device.jid == jid for s in emulator.sessions()):
                await anyio.sleep(0.01)
        texts = _texts(watch)
        alice = emulator.contact(_CONTACT, _CONTACT_NAME)
        for text in ("are you there?", "call me when you are back"):
            await alice.send_text(jid, text)
        self.step("queued", f"{_CONTACT_NAME} wrote 2 texts while the device was away", queued=2)
        await watch.wait_for("the reconnect", lambda e: watch.count(_is_open) > opens)
        await watch.wait_for("the offline texts", lambda e: _texts(watch) >= texts + 2)

    async def pairing_code_login(self, emulator: Emulator, clients: Any) -> tuple[str, Watch]:
        """A second device, on a second store, links by pairing code and opens."""
        from walink.io.client import Client
        from walink.testing.registry import DEFAULT_PHONE

        self.step(
            "pairing_code_login", "a second device links by pairing code", phone=DEFAULT_PHONE
        )
        config = self.config(emulator, print_qr_in_terminal=False)
        client = Client(self.folder / "code-device.db", config)
        timeline = Timeline(json_lines=self.json_lines, label="[2]", started=self.timeline.started)
        watch = await clients.start(_watched, client, timeline, None)
        code = await client.request_pairing_code(DEFAULT_PHONE)
        watch.timeline.pairing_code(code)
        self.step("enter_code", "the phone types the code")
        await emulator.phone.enter_pairing_code(code, DEFAULT_PHONE)
        await watch.wait_for("the pairing-code device's open", _is_open)
        me = client.creds.me if client.creds is not None else None
        if me is None:
            raise DemoFailed("the pairing-code device opened without an identity")
        return me.id, watch

    async def phone_logout(self, emulator: Emulator, watch: Watch, jid: str) -> None:
        """The phone unlinks ``jid``: the server forgets it and ends its connection with 401."""
        from walink.io.events import Closed

        self.step("phone_logout", f"the phone logs {jid} out (Linked devices > Log out)", jid=jid)
        await emulator.remove_device(jid)
        await watch.wait_for("the logout", lambda e: isinstance(e, Closed) and e.final)

    def check_last_close(self, watch: Watch) -> None:
        from walink.io.events import ConnectionUpdate

        updates = [e for e in watch.events if isinstance(e, ConnectionUpdate)]
        last = updates[-1].last_disconnect if updates else None
        if last is None or (last.reason.name, last.status) != ("LOGGED_OUT", 401):
            raise DemoFailed(f"the last close update is not LOGGED_OUT 401: {last}")


async def _watched(
    client: Client,
    timeline: Timeline,
    observe: Callable[[ClientEvent], None] | None,
    *,
    task_status: Any,
) -> None:
    """Run ``client`` and its ``Watch`` (handed to ``start``) until the lifecycle ends."""
    import anyio

    async with client, anyio.create_task_group() as tasks:
        watch = Watch(client, timeline, observe)
        tasks.start_soon(watch.run)
        task_status.started(watch)


def _new_event() -> Any:
    import anyio

    return anyio.Event()


def _is_open(event: ClientEvent) -> bool:
    from walink.io.events import ConnectionUpdate

    return isinstance(event, ConnectionUpdate) and event.connection == "open"


def _texts(watch: Watch) -> int:
    from walink._receive.events import MessagesUpsert

    return watch.count(lambda e: isinstance(e, MessagesUpsert))
