"""The WhatsApp server emulator on real sockets: ``Emulator``, an async context manager.

Theory of operation. The sans-IO ``Hub`` (keys, registry, phone, refs, faults) and one
``ServerSession`` per connection do all the protocol work; this module only moves bytes and time.
``walink.testing.wsserver.serve`` listens on one port for two things
(docs/protocol/server.md#phone-endpoint): WebSocket upgrades on ``/ws/chat`` and the phone
endpoint's JSON requests under ``/phone``.

Each WebSocket gets a session from ``hub.connect(now=)`` and two tasks:

- a reader, which feeds every received message to ``session.receive_data(data, now=)`` (None at
  the end of the stream) and wakes the writer;
- the writer (the connection's own task), which writes ``session.data_to_send()`` after every
  step, sleeps until the session's ``next_deadline()`` or a wake-up, calls ``handle_timeout``,
  and carries out ``close_requested``: an abort (no close frame) or a close with its code.

The writer is the only task that writes a session's bytes, so frames keep their order even when
the phone (``emulator.phone``) or a test (``send_edge_routing``) makes a session produce output
from another task: those callers wake the writers and wait until each has flushed once.

Time is unix seconds from ``clock`` (``time.time`` by default), the same time the hub signs
certificates and stamps ``<success t=…>`` with. Logs go to the ``walink.testing`` logger only.

    async with Emulator() as emulator:
        ...  # connect a client to emulator.url trusting emulator.trust_root
        jid = await emulator.phone.scan_qr(qr_shown_by_the_client)
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio

from walink.io.websocket import DEFAULT_CLOSE_TIMEOUT, WebSocketError
from walink.protocol.binary import Node
from walink.protocol.certs import TestRoot, TrustRoot
from walink.protocol.keys import KeyPair
from walink.testing.contacts import NoBundleError, UnknownDeviceError
from walink.testing.faults import Fault
from walink.testing.history import (
    BLOB_PREFIX,
    BlobStore,
    HistoryFaults,
    HistoryFixture,
    PlannedNotification,
    default_fixture,
    history_stanza,
    plan_history,
)
from walink.testing.hub import Hub
from walink.testing.phone import NoPendingPairingError, PhoneError
from walink.testing.registry import Registry
from walink.testing.server import ServerSession
from walink.testing.wsserver import ServerWebSocket, WebSocketServer, serve

__all__ = [
    "PAIRING_CODE_WAIT",
    "Emulator",
    "EmulatorContact",
    "EmulatorGroup",
    "EmulatorPhone",
    "StateError",
]

logger = logging.getLogger("walink.testing")

Rng = Callable[[int], bytes]
Clock = Callable[[], float]

PAIRING_CODE_WAIT = 10.0
"""Seconds ``enter_pairing_code`` waits for a matching companion_hello
(docs/protocol/server.md#phone-endpoint)."""
_PAIRING_POLL = 0.02
_FLUSH_WAIT = 5.0
"""Bound on how long a phone call waits for the connections to write what it made them send."""
_KEYS_FILE = "emulator-keys.json"
_KEYS_FORMAT = 1


class _Default(enum.Enum):
    DEFAULT = "default"


_DEFAULT = _Default.DEFAULT


class StateError(Exception):
    """The state folder holds keys this code cannot read (corrupt, or another format)."""


class _Link:
    """One WebSocket and its session, plus the wake-up the writer sleeps on."""

    def __init__(self, session: ServerSession, conn: ServerWebSocket) -> None:
        self.session = session
        self.conn = conn
        self._wake = anyio.Event()
        self._pass_done = anyio.Event()

    def kick(self) -> anyio.Event:
        """Wake the writer; the event returned is set once a full pass after this call ends."""
        self._wake.set()
        return self._pass_done

    async def sleep_until_woken(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._wake.wait()
        self._wake = anyio.Event()

    def begin_pass(self) -> anyio.Event:
        # Swapped before flushing: a kick during this pass waits for the next one.
        done, self._pass_done = self._pass_done, anyio.Event()
        return done

    def finish(self) -> None:
        """The writer is gone: nobody may wait on it any more."""
        self._pass_done.set()


class EmulatorPhone:
    """The simulated phone, for code running on the emulator's event loop
    (docs/protocol/server.md#phone-endpoint).

    The same two calls a person makes, served over HTTP as ``POST /phone/scan-qr`` and
    ``POST /phone/pairing-code``. Both raise ``PhoneError`` subclasses (with an HTTP ``status``).
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    async def scan_qr(self, qr: str, *, phone: str | None = None) -> str:
        """Scan a QR string; returns the new device's JID once pair-success has been written."""
        emulator = self._emulator
        jid = emulator.hub.phone.scan_qr(qr, phone=phone, now=emulator.now())
        await emulator.flush()
        logger.info("phone %s scanned a QR: pair-success sent for %s", phone or "default", jid)
        return jid

    async def enter_pairing_code(
        self, code: str, phone: str | None = None, *, wait: float | None = None
    ) -> None:
        """Type a pairing code; returns once primary_hello has been written.

        Waits up to ``wait`` seconds (default: the emulator's ``pairing_code_wait``) for a
        matching companion_hello: a person may type the code before the client's companion_hello
        has arrived. ``NoPendingPairingError`` after that.
        """
        emulator = self._emulator
        wait = emulator.pairing_code_wait if wait is None else wait
        give_up_at = anyio.current_time() + wait
        while True:
            try:
                emulator.hub.phone.enter_pairing_code(code, phone, now=emulator.now())
                break
            except NoPendingPairingError:
                if anyio.current_time() >= give_up_at:
                    raise
            await anyio.sleep(_PAIRING_POLL)
        await emulator.flush()
        logger.info("phone %s entered a pairing code: primary_hello sent", phone or "default")


class EmulatorContact:
    """Another WhatsApp user who writes to paired devices: ``emulator.contact(number)``."""

    def __init__(self, emulator: Emulator, number: str) -> None:
        self._emulator = emulator
        self.number = number

    async def send_text(self, device_jid: str, text: str) -> str:
        """Send an encrypted text to device ``device_jid``; return the message id.

        Delivered now when the device is connected, else queued for its next login (the
        offline backlog). Raises ``UnknownDeviceError`` or ``NoBundleError`` (from
        ``walink.testing.contacts``) when the device is not paired or has no keys uploaded.
        """
        emulator = self._emulator
        stanza = emulator.hub.contacts.text_stanza(
            self.number, device_jid, text, now=emulator.now()
        )
        await emulator.deliver(device_jid, stanza)
        return stanza.attrs["id"]


class EmulatorGroup:
    """A group whose members write to paired devices: ``emulator.group(jid, members)``."""

    def __init__(self, emulator: Emulator, jid: str) -> None:
        self._emulator = emulator
        self.jid = jid

    async def send_text(self, sender: str, device_jid: str, text: str) -> str:
        """Member ``sender`` writes ``text`` in the group, as device ``device_jid`` receives it.

        The first message of a sender to a device carries its sender key (a pkmsg) next to the
        skmsg. Delivered like ``EmulatorContact.send_text``; returns the message id.
        """
        emulator = self._emulator
        stanza = emulator.hub.contacts.group_text_stanza(
            self.jid, sender, device_jid, text, now=emulator.now()
        )
        await emulator.deliver(device_jid, stanza)
        return stanza.attrs["id"]


class Emulator:
    """The emulator on a real port: WebSocket server, phone endpoint, faults.

    ``async with Emulator() as emulator:`` works on asyncio and trio; leaving the block closes
    the listener and every connection. Everything after start-up (``url``, ``phone_url``,
    ``port``) needs the block entered.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
        rng: Rng | None = None,
        ping_interval: float | None = 30.0,
        clock: Clock = time.time,
        trust_root: TestRoot | None = None,
        server_key: KeyPair | None = None,
        pairing_code_wait: float = PAIRING_CODE_WAIT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        history: HistoryFixture | _Default | None = _DEFAULT,
        history_faults: HistoryFaults = HistoryFaults(),  # noqa: B008  # frozen: shared is safe
    ) -> None:
        """Make the hub now, so ``trust_root`` is known before the server starts.

        - ``state_dir``: a folder that keeps the registry, the test root and the server key
          across runs (created if missing; files are 0600 and written atomically).
        - ``rng``: the only randomness (default ``os.urandom``).
        - ``ping_interval``: seconds between the server's pings to a logged-in client (None:
          never).
        - ``clock``: unix seconds (default ``time.time``); the hub signs and stamps with it.
        - ``trust_root``/``server_key``: fixed keys (they win over the state folder's).
        - ``pairing_code_wait``: how long an entered pairing code waits for its companion_hello.
        - ``close_timeout``: how long a close waits for the client's Close frame (also on exit).
        - ``history``: what the phone sends each device after its new login, once the device
          has uploaded its keys (default: the built-in ``default_fixture()``; None: nothing);
          ``history_faults`` make its RECENT blobs missing, corrupt, truncated or never sent.
        """
        self.host = host
        self._port = port
        self.clock = clock
        self.pairing_code_wait = pairing_code_wait
        self.close_timeout = close_timeout
        self.rng: Rng = rng if rng is not None else os.urandom
        self.state_dir = Path(state_dir) if state_dir is not None else None
        registry = None
        if self.state_dir is not None:
            trust_root, server_key = _load_or_create_keys(
                self.state_dir, self.rng, trust_root, server_key
            )
            registry = Registry(rng=self.rng, state_dir=self.state_dir)
        self.hub = Hub(
            rng=self.rng,
            registry=registry,
            trust_root=trust_root,
            server_key=server_key,
            now=clock(),
            ping_interval=ping_interval,
            log=logger.info,
        )
        """The sans-IO hub behind the sockets, for what this class does not wrap."""
        self.blob_delay = 0.0
        """Seconds the blob route waits before it answers (a slow media server, for tests)."""
        self.hub.history = default_fixture() if isinstance(history, _Default) else history
        self.hub.history_faults = history_faults
        self.phone = EmulatorPhone(self)
        """The simulated phone: ``await emulator.phone.scan_qr(qr)``."""
        self._server: WebSocketServer | None = None
        self._stack: AsyncExitStack | None = None
        self._links: set[_Link] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Emulator:
        if self._stack is not None:
            raise RuntimeError("this Emulator is already running")
        stack = AsyncExitStack()
        try:
            self._server = await stack.enter_async_context(
                serve(
                    self._serve_websocket,
                    self._serve_http,
                    host=self.host,
                    port=self._port,
                    close_timeout=self.close_timeout,
                    handle_blob=self._serve_blob,
                    blob_prefix=BLOB_PREFIX,
                )
            )
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        # media_conn names this port, so a client downloads history blobs from the emulator
        self.hub.media_hosts = (self.server.http_url.split("/")[2],)
        self.hub.blob_url = self.blob_url
        logger.info("listening on %s (phone endpoint %s)", self.url, self.phone_url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None
        try:
            return await stack.__aexit__(exc_type, exc, traceback)
        finally:
            self._server = None
            logger.info("stopped")

    # -- where it listens, what to trust -----------------------------------------------------

    @property
    def server(self) -> WebSocketServer:
        """The running socket server (its ``read_delay``, ``answer_upgrade`` knobs…)."""
        if self._server is None:
            raise RuntimeError("the Emulator is not running: use `async with Emulator() as e`")
        return self._server

    @property
    def port(self) -> int:
        """The port it listens on (a free one was picked when 0 was asked)."""
        return self.server.port

    @property
    def url(self) -> str:
        """The WebSocket URL, ``ws://HOST:PORT/ws/chat``."""
        return self.server.url

    @property
    def phone_url(self) -> str:
        """The phone endpoint, ``http://HOST:PORT/phone``."""
        return self.server.http_url

    @property
    def trust_root(self) -> TrustRoot:
        """What a client must trust to accept this emulator's certificate chain."""
        return self.hub.client_trust_root

    @property
    def trust_root_hex(self) -> str:
        """The trust root key in hex (for ``--trust-root`` and ``WA_TEST_ROOT_PUB_HEX``)."""
        return self.trust_root.public_key.hex()

    @property
    def registry(self) -> Registry:
        """The linked devices (kept in ``state_dir`` when one was given)."""
        return self.hub.registry

    def now(self) -> float:
        """The emulator's time (unix seconds)."""
        return self.clock()

    # -- scripting ---------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Script the faults of the next connection (each call scripts one more connection)."""
        self.hub.inject(*faults)

    def queue_offline(self, jid: str, node: Node) -> None:
        """Hold ``node`` for device ``jid`` until its next login (then sent with ``offline=N``)."""
        self.hub.queue_offline(jid, node)

    @property
    def edge_routing(self) -> bytes | None:
        """Routing bytes sent to every login as ``<ib><edge_routing>`` (None: not sent)."""
        return self.hub.edge_routing

    @edge_routing.setter
    def edge_routing(self, routing_info: bytes | None) -> None:
        self.hub.edge_routing = routing_info

    @property
    def pairing_code_rate_limited(self) -> bool:
        """When True, companion_hello is answered with a 429 ``rate-overlimit``."""
        return self.hub.pairing_code_rate_limited

    @pairing_code_rate_limited.setter
    def pairing_code_rate_limited(self, limited: bool) -> None:
        self.hub.pairing_code_rate_limited = limited

    @property
    def replaced(self) -> int:
        """How many connections were replaced (440) by a newer login of the same device."""
        return self.hub.replaced

    def sessions(self) -> list[ServerSession]:
        """The server sessions of the connections still open."""
        return self.hub.sessions()

    async def send_node(self, node: Node, *, jid: str | None = None) -> int:
        """Send ``node`` now to every open logged-in connection (of device ``jid`` if given).

        Returns how many connections it went to, once they have written it.
        """
        targets = [s for s in self.sessions() if s.device is not None]
        if jid is not None:
            targets = [s for s in targets if s.device is not None and s.device.jid == jid]
        for session in targets:
            session.send_node(node)
        await self.flush()
        return len(targets)

    def contact(
        self, number: str, name: str | None = None, *, lid: str | None = None
    ) -> EmulatorContact:
        """The contact ``number`` (created on first use; ``name`` is its push name; ``lid`` its
        LID user: its messages then come from ``LID@lid`` with its number beside them)."""
        self.hub.contacts.contact(number, name, lid)
        return EmulatorContact(self, number)

    def group(self, jid: str, members: list[str] | None = None) -> EmulatorGroup:
        """The group ``jid`` (``…@g.us``) with ``members`` (contact numbers) added."""
        self.hub.contacts.group(jid, members)
        return EmulatorGroup(self, jid)

    async def deliver(self, device_jid: str, node: Node) -> bool:
        """Send ``node`` to device ``device_jid`` now if it is connected (True), else queue it
        for its next login (False)."""
        sent = await self.send_node(node, jid=device_jid)
        if sent:
            return True
        self.queue_offline(device_jid, node)
        return False

    async def remove_device(self, jid: str) -> bool:
        """The phone unlinks device ``jid``: it leaves the registry and its connections end with
        ``<stream:error code="401"><conflict type="device_removed"/>`` (a server-side logout).

        Returns whether the device was registered.
        """
        known = False
        for device in list(self.registry.devices()):
            if device.jid == jid:
                self.registry.remove_device(device.phone, device.device)
                known = True
        for session in self.sessions():
            if session.device is not None and session.device.jid == jid:
                session.remove_device()
        await self.flush()
        return known

    async def send_edge_routing(self, routing_info: bytes, *, jid: str | None = None) -> int:
        """Send ``<ib><edge_routing>`` now to the open logged-in connections (see ``send_node``)."""
        node = Node("ib", {}, [Node("edge_routing", {}, [Node("routing_info", {}, routing_info)])])
        return await self.send_node(node, jid=jid)

    async def send_companion_reg_refresh(self) -> int:
        """Tell every connection still waiting for a QR scan to show a new QR
        (docs/protocol/server.md#while-open)."""
        targets = [s for s in self.sessions() if s.awaiting_pairing]
        for session in targets:
            session.send_companion_reg_refresh()
        await self.flush()
        return len(targets)

    # -- history ---------------------------------------------------------------------------

    @property
    def blobs(self) -> BlobStore:
        """The media blobs the emulator serves (history chunks), with their faults."""
        return self.hub.blobs

    def blob_url(self, path: str) -> str:
        """The full URL of a blob path on this emulator (``http://127.0.0.1:PORT/mms/…``)."""
        host = self.server.http_url.split("/")[2]
        scheme = "https" if self.server.secure else "http"
        return f"{scheme}://{host}{path}"

    def plan_history(
        self,
        fixture: HistoryFixture | None = None,
        *,
        faults: HistoryFaults = HistoryFaults(),  # noqa: B008  # frozen: a shared default is safe
    ) -> list[PlannedNotification]:
        """The phone's history notifications for a new login, in send order (the built-in
        history unless ``fixture`` is given), their blobs put on this emulator's blob route.

        Each ``PlannedNotification`` holds the ``Message`` the phone sends to the device,
        encrypted, from its own account; ``faults`` make blobs missing, corrupt, truncated, or
        a chunk never sent.
        """
        return plan_history(
            fixture if fixture is not None else default_fixture(),
            rng=self.rng,
            blobs=self.hub.blobs,
            blob_url=self.blob_url,
            faults=faults,
        )

    async def send_history(
        self,
        device_jid: str,
        encrypt: Callable[[bytes], tuple[str, bytes]],
        fixture: HistoryFixture | None = None,
        *,
        faults: HistoryFaults = HistoryFaults(),  # noqa: B008  # frozen: a shared default is safe
    ) -> list[PlannedNotification]:
        """Send the phone's history to device ``device_jid`` (``PHONE:DEV@s.whatsapp.net``), as a
        phone does after a new login: each notification of ``plan_history`` in order, inside a
        peer ``<message>`` from the account's own JID.

        ``encrypt(plaintext)`` is the phone's Signal session with that device: it gets the
        serialized ``Message`` and returns ``(enc type, ciphertext)`` (``"pkmsg"`` or ``"msg"``),
        padding included. The stanzas come from the account's LID or its number as
        ``hub.phone_from_lid`` says (the number when the device is not registered here).
        Returns what was sent.
        """
        phone_user, _, device_part = device_jid.split("@", 1)[0].partition(":")
        registered = self.hub.registry.device(phone_user, int(device_part or 0))
        phone_jid = (
            self.hub.phone_jid(phone_user, registered.lid)
            if registered is not None
            else f"{phone_user}@s.whatsapp.net"
        )
        planned = self.plan_history(fixture, faults=faults)
        for item in planned:
            enc_type, ciphertext = encrypt(item.message.SerializeToString())
            stanza = history_stanza(
                item,
                phone_jid=phone_jid,
                t=int(self.now()),
                enc_type=enc_type,
                ciphertext=ciphertext,
            )
            await self.send_node(stanza, jid=device_jid)
        return planned

    async def _serve_blob(self, target: str) -> tuple[int, bytes, int | None]:
        answer = self.hub.blobs.answer(target)  # the request is recorded as it arrives
        if self.blob_delay > 0:
            await anyio.sleep(self.blob_delay)  # a slow media server
        return answer.status, answer.body, answer.content_length

    async def flush(self) -> None:
        """Wait (boundedly) until every connection has written what it has to send."""
        passes = [link.kick() for link in list(self._links)]
        with anyio.move_on_after(_FLUSH_WAIT):
            for done in passes:
                await done.wait()

    async def wait_idle(self) -> None:
        """Return once no connection is open (bound it with ``anyio.fail_after``)."""
        await self.server.wait_idle()

    # -- the WebSocket side ------------------------------------------------------------------

    async def _serve_websocket(self, conn: ServerWebSocket) -> None:
        session = self.hub.connect(now=self.now())
        link = _Link(session, conn)
        if session.slow_reads is not None:
            conn.read_delay = session.slow_reads
        self._links.add(link)
        logger.info("connection %d opened", session.number)
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(self._read, link)
                await self._write(link)
                task_group.cancel_scope.cancel()
        finally:
            self._links.discard(link)
            link.finish()
            logger.info("connection %d ended", session.number)

    async def _read(self, link: _Link) -> None:
        """Feed the client's messages to the session until the WebSocket ends."""
        while True:
            try:
                data: bytes | None = await link.conn.receive()
            except WebSocketError as exc:
                logger.debug("connection %d: %r", link.session.number, exc)
                data = None
            replaced = self.hub.replaced
            link.session.receive_data(data, now=self.now())
            link.kick()
            if self.hub.replaced != replaced:
                self._kick_replaced()
            if data is None:
                return

    def _kick_replaced(self) -> None:
        # a login ended older connections of its device: their writers send the 440 now
        for other in list(self._links):
            if other.session.ended:
                other.kick()

    async def _write(self, link: _Link) -> None:
        """Write the session's output, run its timers, carry out its close (the writer task)."""
        session, conn = link.session, link.conn
        while True:
            done = link.begin_pass()
            out = session.data_to_send()
            try:
                if out:
                    await conn.send(out)
            except WebSocketError:
                session.receive_data(None, now=self.now())
            finally:
                done.set()
            close = session.close_requested
            if close is not None:
                logger.info("connection %d: closing (%s)", session.number, close.reason)
                # What was queued while this pass was sending (e.g. the stream:error of a close
                # requested from outside, by the phone) goes out before the close frame.
                rest = b"" if close.abort else session.data_to_send()
                if rest:
                    with contextlib.suppress(WebSocketError):
                        await conn.send(rest)
                if close.abort:
                    await conn.abort()
                else:
                    await conn.aclose(close.code, close.reason[:120])
                return
            if session.closed_by_client:
                return
            deadline = session.next_deadline()
            timeout = math.inf if deadline is None else max(0.0, deadline - self.now())
            await link.sleep_until_woken(timeout)
            if deadline is not None and self.now() >= deadline:
                session.handle_timeout(self.now())

    # -- the phone endpoint ------------------------------------------------------------------

    async def _serve_http(
        self, method: str, target: str, body: bytes
    ) -> tuple[int, Mapping[str, Any]]:
        path = target.split("?", 1)[0].rstrip("/")
        prefix = self.server.http_prefix
        routes = {
            f"{prefix}/scan-qr": self._http_scan_qr,
            f"{prefix}/pairing-code": self._http_code,
            f"{prefix}/send-text": self._http_send_text,
        }
        if path == prefix:
            # the endpoint describes itself, so a person with curl finds the actions
            if method != "GET":
                return 405, {"ok": False, "error": f"{path} takes GET (the actions take POST)"}
            return 200, {"ok": True, "actions": _phone_actions(prefix)}
        handler = routes.get(path)
        if handler is None:
            return 404, {
                "ok": False,
                "error": f"no phone action at {path} (GET {prefix} lists them)",
            }
        if method != "POST":
            return 405, {"ok": False, "error": f"{path} takes POST"}
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, {"ok": False, "error": "the body is not JSON"}
        if not isinstance(request, dict):
            return 400, {"ok": False, "error": "the body is not a JSON object"}
        try:
            return await handler(request)
        except PhoneError as exc:
            logger.info("phone endpoint %s refused: %s", path, exc)
            return exc.status, {"ok": False, "error": str(exc)}

    async def _http_scan_qr(self, request: dict[str, Any]) -> tuple[int, Mapping[str, Any]]:
        qr, phone = request.get("qr"), request.get("phone")
        if not isinstance(qr, str) or not (phone is None or isinstance(phone, str)):
            return 400, {"ok": False, "error": 'expected {"qr": "<QR string>"}'}
        if phone is not None and not phone.isdigit():
            return 400, {"ok": False, "error": "a phone number is digits only"}
        jid = await self.phone.scan_qr(qr, phone=phone)
        return 200, {"ok": True, "jid": jid}

    async def _http_code(self, request: dict[str, Any]) -> tuple[int, Mapping[str, Any]]:
        code, phone = request.get("code"), request.get("phone")
        if not isinstance(code, str) or not (phone is None or isinstance(phone, str)):
            return 400, {"ok": False, "error": 'expected {"code": "<8 characters>", "phone"?}'}
        if phone is not None and not phone.isdigit():
            return 400, {"ok": False, "error": "a phone number is digits only"}
        await self.phone.enter_pairing_code(code, phone)
        return 200, {"ok": True}

    async def _http_send_text(self, request: dict[str, Any]) -> tuple[int, Mapping[str, Any]]:
        to, sender, text = request.get("to"), request.get("from"), request.get("text")
        name, group = request.get("name"), request.get("group")
        usage = 'expected {"to": DEVICE_JID, "from": DIGITS, "text": TEXT, "name"?, "group"?}'
        if not (isinstance(to, str) and isinstance(sender, str) and isinstance(text, str)):
            return 400, {"ok": False, "error": usage}
        if not (name is None or isinstance(name, str)) or not (
            group is None or (isinstance(group, str) and group.endswith("@g.us"))
        ):
            return 400, {"ok": False, "error": usage}
        if not sender.isdigit():
            return 400, {"ok": False, "error": "a phone number is digits only"}
        self.hub.contacts.contact(sender, name)
        try:
            if group is None:
                stanza = self.hub.contacts.text_stanza(sender, to, text, now=self.now())
            else:
                self.hub.contacts.group(group, [sender])
                stanza = self.hub.contacts.group_text_stanza(
                    group, sender, to, text, now=self.now()
                )
        except UnknownDeviceError as exc:
            return 404, {"ok": False, "error": str(exc)}
        except NoBundleError as exc:
            return 409, {"ok": False, "error": str(exc)}
        live = await self.deliver(to, stanza)
        return 200, {"ok": True, "id": stanza.attrs["id"], "live": live}


def _phone_actions(prefix: str) -> list[dict[str, Any]]:
    """What ``GET /phone`` answers: each action's method, path, body and meaning."""
    return [
        {
            "method": "POST",
            "path": f"{prefix}/scan-qr",
            "body": {"qr": "<the QR string the client shows>", "phone": "<digits, optional>"},
            "does": "scan a QR: link the device to the account (answers its jid)",
        },
        {
            "method": "POST",
            "path": f"{prefix}/pairing-code",
            "body": {"code": "<the 8-character pairing code>", "phone": "<digits, optional>"},
            "does": "type a pairing code on the phone: link the device that asked for it",
        },
    ]


# -- the state folder's keys -------------------------------------------------------------------


def _load_or_create_keys(
    state_dir: Path, rng: Rng, trust_root: TestRoot | None, server_key: KeyPair | None
) -> tuple[TestRoot, KeyPair]:
    """The test root and server key kept in ``state_dir`` (made and saved the first time).

    Keys given by the caller win and are saved, so the next run without them keeps them.
    """
    path = state_dir / _KEYS_FILE
    saved_root: TestRoot | None = None
    saved_key: KeyPair | None = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = None
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: not readable JSON ({exc})") from exc
    if data is not None:
        try:
            if data.get("v") != _KEYS_FORMAT:
                raise StateError(f"{path}: unknown format {data.get('v')!r}")
            saved_root = TestRoot(
                key_pair=KeyPair.from_private(bytes.fromhex(data["trust_root_private"])),
                serial=int(data["trust_root_serial"]),
            )
            saved_key = KeyPair.from_private(bytes.fromhex(data["server_key_private"]))
        except StateError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"{path}: corrupt emulator keys ({exc})") from exc
    root = trust_root or saved_root or TestRoot(key_pair=KeyPair.generate(rng))
    key = server_key or saved_key or KeyPair.generate(rng)
    if (root, key) != (saved_root, saved_key):
        _write_private_json(
            path,
            {
                "v": _KEYS_FORMAT,
                "trust_root_private": root.key_pair.private.hex(),
                "trust_root_public": root.key_pair.public.hex(),
                "trust_root_serial": root.serial,
                "server_key_private": key.private.hex(),
            },
        )
    return root, key


def _write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename), readable by owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".emulator-keys-")
    try:
        # mkstemp already creates the file 0600: the private keys are never world-readable
        with os.fdopen(descriptor, "w", encoding="utf-8") as temp:
            temp.write(json.dumps(data, indent=1, sort_keys=True))
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
