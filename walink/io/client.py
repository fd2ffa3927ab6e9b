"""``Client``: the sans-IO ``ClientSession`` on a real WebSocket, with anyio (asyncio or trio).

Theory of operation
-------------------
``async with Client(store, config) as client:`` loads the credentials (in a worker thread),
starts one lifecycle task and returns at once; the lifecycle then runs connection attempts until
the session reaches a final state (logged out, closed, stopped by a terminal reason)::

    async with Client("walink-auth.db", ClientConfig(print_qr_in_terminal=True)) as client:
        async for event in client:               # or client.on("connection.update", handler)
            if isinstance(event, ConnectionUpdate) and event.connection == "open":
                reply = await client.query(Node("iq", {...}))

Each attempt runs in its own task group, which owns every task and timer of that connection:

- the *timer* sleeps until ``session.next_deadline()`` (connect timeout, keepalive ping and
  deadline, QR rotation, query deadlines) and calls ``handle_timeout``;
- the *reader* feeds every WebSocket message to ``receive_data``;
- the *writer* (the attempt's own task) writes ``data_to_send()`` whenever a step produced output,
  and on the session's ``Closed`` writes the last bytes, closes the socket within
  ``close_timeout`` and cancels the group. Nothing of an attempt outlives it.

After every call into the session the client *pumps* its events synchronously: connection and
creds updates and received nodes go to the bounded event queue (before the writer can send any
ack, so a node is acked only once it is queued); ``SaveRequest`` goes to the saver task, which
saves through the store in a worker thread and then calls ``confirm_saved`` (the session holds
back every byte that depends on the save until then); query outcomes wake their callers;
``Closed`` ends the attempt. The application never runs inside the pump: a slow consumer cannot
stall the keepalive. If the backlog goes over ``max_pending_events``, the attempt ends with
``SLOW_CONSUMER`` and the policy decides what follows.

Between attempts the lifecycle sleeps until the ``Closed`` event's ``reconnect_at`` (0 s for the
515 restart), waits until every save is confirmed, and starts the next attempt. ``aclose()`` and
``logout()`` end the lifecycle within a bound; leaving the ``async with`` block closes too.

Given a message processor (``Client(processor=factory)``, the factory called with the open
store), the session hands every ``<message>`` over as a ``ProcessMessage`` job: the *message
worker* runs the jobs one at a time, in order, through the processor (in a worker thread for a
store on disk: it decrypts and commits), reports each outcome back to the session and pumps; the
session then publishes ``MessageProcessed`` (or the stub ``MessageFailed``). History chunks
(``DownloadHistory``) go the same way through the *history worker* and the ``downloader``. The
workers live in ``walink.io._jobs``; the client only wires them (``JobHost``) and routes the
session's job events to them from the pump. The receipt and the
ack of a processed message wait until the application handled its events: the last event made
of a message carries a callback in the queue, and once the consumer reports it handled the
client tells the session (``message_handled``), which sends them. "Handled" means: with
``on()`` handlers, every handler registered for the event's name returned (no handler: once
dispatched); with iteration, the application asked for the next event (a ``break`` leaves the
event it stopped on unhandled until it asks again). A history chunk is recorded as processed
the same way (``history_handled``). So every message and chunk reaches the application at
least once: a process that dies with events in the queue, or inside a handler, never acked
them, and the server (or the creds' pending list) brings them back at the next run, flagged
``redelivered`` (``type="append"`` in ``messages.upsert``). Raw ``node`` events
(``process_messages=False``) are acked when they are published (on arrival once the connection
is open, right after the open for those that came during the login), as the session's
``auto_ack`` does: an application that asks for raw nodes owns their fate.

When the server logs the device out (401, 403, 406), the session marks the credentials
``logged_out`` and the lifecycle saves them before it ends; entering a ``Client`` on such a store
raises ``LoggedOutError`` (a ``ClientClosedError``) without dialing. A ``logout()`` the server
confirmed marks them the same way. ``logout()`` while the client is connecting or backing off
dials at once and logs out as soon as the connection opens.

Nothing raised inside the client's own tasks escapes them (an ``ExceptionGroup`` out of
``async with`` would be an error no caller can handle): a failure while an attempt runs ends the
attempt with ``INTERNAL_ERROR`` (logged at ERROR with its traceback) and the policy decides what
follows, like any other close; an exception in an ``on()`` handler closes the client and is
raised, as itself, out of the ``async with`` block. Nodes are checked (``check_node``) before
they reach the connection, so a node that cannot be encoded is the caller's
``InvalidNodeError`` and never breaks the connection.

A new device may link by pairing code instead of QR: ``request_pairing_code`` waits for an
attempt, asks the session (which waits for the server's pair-device itself), and returns once
the session reports that request's ``PairingCode`` or ``PairingCodeError``. Every node in and out
is traced at DEBUG through the session's ``trace`` with secret contents masked; ``capture=``
swaps in a ``CapturingSession`` whose file is closed when the lifecycle ends.

The session's clock is unix time (it checks the server certificate's validity with it), made of
``anyio.current_time()`` plus a fixed offset taken at entry, so that every sleep happens on
anyio's clock (and trio's ``MockClock`` runs minutes of backoff instantly).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream

from walink._receive.events import IdentityChanged, MessagesUpsert
from walink._receive.processor import CredsListener, SignalProcessor
from walink._session.core import LOGGED_OUT_MESSAGE, ClientSession
from walink._session.events import (
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    DownloadHistory,
    HistoryFailed,
    HistoryReceived,
    HistoryStatusChanged,
    MessageFailed,
    MessageProcessed,
    NodeReceived,
    PairingCode,
    ProcessMessage,
    QueryResult,
    SaveRequest,
    SessionEvent,
)
from walink._session.messages import MessageProcessor
from walink.auth.errors import AuthStoreError
from walink.auth.model import Creds
from walink.auth.store import AuthStore
from walink.fsm.machine import Connection
from walink.fsm.reasons import CloseReason
from walink.io._jobs import HistoryJobs, JobHost, MessageJobs
from walink.io._lease import LeasedStore, LeaseKeeper, OwnLease
from walink.io._support import (
    Attempt,
    EventIterator,
    EventRouter,
    Handlers,
    RelayIterator,
    StoreAccess,
    Waiter,
    cancel_when_set,
    check_node,
    check_pairing_input,
    make_session,
    open_store,
    pairing_error,
    query_error,
    transport_cause,
)
from walink.io._taskgroup import enter_task_group, exit_task_group
from walink.io.config import ClientConfig
from walink.io.errors import (
    ClientClosedError,
    InvalidNodeError,
    LoggedOutError,
    NoPushNameError,
    NotConnectedError,
    PairingCodeError,
)
from walink.io.events import (
    ClientEvent,
    EventName,
    EventQueue,
    Handler,
    event_name,
)
from walink.io.health import Health
from walink.io.media import Downloader, HttpDownloader
from walink.io.websocket import (
    ProxyError,
    WebSocketConnection,
    WebSocketError,
    connect_websocket,
)
from walink.protocol.binary import Node
from walink.protocol.binary.jid import Jid
from walink.protocol.errors import LocalProtocolError
from walink.protocol.history import HistorySet, HistoryStatus

if TYPE_CHECKING:
    from walink.capture import CaptureWriter

__all__ = ["CHAT_STATES", "ChatState", "Client", "LoggedOutError", "PresenceKind", "open_store"]

PresenceKind = Literal["available", "unavailable"]
"""What ``send_presence_update`` announces (Baileys' ``WAPresence`` for oneself)."""

ChatState = Literal["composing", "paused", "recording"]
"""What ``send_chat_state`` tells a chat: typing, stopped typing, recording a voice note."""

CHAT_STATES: frozenset[str] = frozenset({"composing", "paused", "recording"})
"""Every ``ChatState``."""


K = TypeVar("K")
T = TypeVar("T")


class Client:
    """A WhatsApp Web linked-device connection that keeps itself alive.

    ``auth`` is an ``AuthStore`` (used, not closed), a path (opened with ``open_store`` and closed
    on exit: a path ending in a separator or naming a folder is Baileys' multi-file layout, anything
    else SQLite), or None (a ``MemoryStore``: a fresh device every run). Entering calls the store's
    ``acquire``: ``StoreLockedError`` if another writer has it, ``StoreWriteError`` if it cannot be
    written, before anything is dialled. ``capture`` (or ``ClientConfig.capture``) writes the
    session's traffic to a ``walink.capture`` file (entering raises the ``OSError`` when it cannot
    be created, before anything is dialled). See the module docstring for how it runs.

    A device of a shared device store (a ``DeviceHandle``, or a ``postgresql://``/``sqlite://``
    URL for a store's only device) runs under its lease: taken at entry like any store's lock
    (``DeviceLeasedError`` names the holder), renewed while the client runs, given back when it
    stops; losing it ends the client with ``LEASE_LOST``. ``connect_gate`` is awaited before
    every connection attempt (``walink.Fleet`` passes its connect rate limiter). ``lease`` keeps
    that lease instead of the client's own renewal (``walink.Fleet`` passes one that renews all
    its devices' leases in one statement).
    """

    def __init__(
        self,
        auth: AuthStore | str | os.PathLike[str] | None = None,
        config: ClientConfig | None = None,
        *,
        capture: str | os.PathLike[str] | None = None,
        processor: Callable[[AuthStore], MessageProcessor] | None = None,
        connect_gate: Callable[[], Awaitable[None]] | None = None,
        downloader: Downloader | None = None,
        lease: LeaseKeeper | None = None,
    ) -> None:
        """``processor``: called once with the open store, returns the ``MessageProcessor`` that
        decrypts and commits every ``<message>`` (see the module docstring). None: the default
        ``SignalProcessor`` (``messages.upsert`` events), or, with
        ``ClientConfig(process_messages=False)``, messages reported as ``NodeReceived`` and
        acked when published.

        ``downloader``: fetches history blobs (default ``HttpDownloader``: the ``media_conn``
        hosts over HTTPS, an emulator's loopback URL as is)."""
        self.config = config if config is not None else ClientConfig()
        self._downloader: Downloader = downloader if downloader is not None else HttpDownloader()
        if processor is None and self.config.process_messages:
            processor = SignalProcessor
        self._processor_factory = processor
        self._processor: MessageProcessor | None = None
        # the job workers (walink.io._jobs), made once the session exists
        self._messages: MessageJobs | None = None
        self._history: HistoryJobs | None = None
        # awaited before every connection attempt (a fleet's shared connect rate limiter)
        self._connect_gate = connect_gate
        self._lease = lease
        self._capture_path = capture if capture is not None else self.config.capture
        self._capture: CaptureWriter | None = None
        self._store = StoreAccess(auth)
        self._log = self.config.log
        self._session: ClientSession | None = None
        self._queue = EventQueue(self.config.max_pending_events)
        self._router = EventRouter(self._queue, self._log, self.config.print_qr_in_terminal)
        self._handlers = Handlers()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._clock_offset = 0.0
        self._attempt: Attempt | None = None
        self._connections = 0
        self._pairing_lock: anyio.Lock | None = None
        self._progress: anyio.Event | None = None
        self._save_progress = anyio.Event()
        self._stop_requested = anyio.Event()
        self._lifecycle_done = anyio.Event()
        self._backoff_wake = anyio.Event()
        self._skip_backoff = False
        self._broken = False
        self._handler_error: Exception | None = None
        self._entered = False

    # -- entering and leaving ------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        if self._entered:
            raise RuntimeError("a Client can be entered only once")
        self._entered = True
        self._clock_offset = time.time() - anyio.current_time()
        store = await self._store.open()
        try:
            # The store's one writer from now on, and proved writable, before anything is
            # dialled (a device store's lease is taken here too): a second process is refused
            # here (StoreLockedError), and a read-only store fails here (StoreWriteError) rather
            # than after a phone linked the device.
            await self._store.run(store.acquire)
            creds = await self._store.run(store.load)
        except BaseException:
            # a corrupt or locked store is an error, never a fresh identity: report it as is
            await self._close_store()
            raise
        if creds is not None and creds.logged_out:
            # the server removed this device: dialing would only earn another 401
            await self._close_store()
            raise LoggedOutError(LOGGED_OUT_MESSAGE)
        rng = self.config.rng if self.config.rng is not None else random.SystemRandom()
        if creds is None:
            creds = Creds.new(rng.randbytes)
            self._log.info("no saved credentials: a new device will be linked by QR")
        session_config = self.config.session_config()
        if self._processor_factory is not None:
            session_config = replace(session_config, process_messages=True)
        try:
            self._session, self._capture = make_session(
                creds,
                rng,
                session_config,
                capture=self._capture_path,
                redact=self.config.capture_redact,
            )
        except BaseException:
            await self._store.close()  # a capture file that cannot be created: nothing runs
            raise
        if self._capture is not None:
            self._log.info("capturing the traffic to %s", self._capture.path)
        self._pairing_lock = anyio.Lock()
        send, receive = anyio.create_memory_object_stream[SaveRequest](math.inf)
        self._router.saves = send
        self._task_group = task_group = await enter_task_group()
        task_group.start_soon(self._saver, receive)
        host = JobHost(
            session=self._session,
            queue=self._queue,
            log=self._log,
            now=self.now,
            pump=self._pump,
            done=self._lifecycle_done,
            fail=self._fail,
        )
        if self._processor_factory is not None:
            self._processor = self._processor_factory(store)
            self._messages = MessageJobs(host, self._processor, self._store.run)
            self._messages.start(task_group)
        # the session may ask for a history download whatever runs
        self._history = HistoryJobs(host, self._downloader)
        self._history.start(task_group)
        task_group.start_soon(self._lifecycle)
        if isinstance(store, LeasedStore):
            task_group.start_soon(self._keep_lease, store)
        if self._handlers.dispatching:
            task_group.start_soon(self._dispatch)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        try:
            await exit_task_group(self._task_group, self.aclose)
        finally:
            self._task_group = None
            await self._close_store()
        error = self._handler_error
        if error is not None and exc is None:
            # raised as itself: a handler's error is the application's, not a group of ours
            self._handler_error = None
            raise error
        return None

    async def aclose(self) -> None:
        """End the lifecycle: close the connection (``LOCAL_CLOSE``, final) within a bound.

        Pending saves finish first (credentials are never lost); idempotent; never hangs: after
        ``close_timeout`` plus a margin the client's tasks are cancelled.
        """
        if self._session is None or self._lifecycle_done.is_set():
            return
        self._request_stop()
        with anyio.move_on_after(self._close_bound(), shield=True):
            await self._lifecycle_done.wait()
        if not self._lifecycle_done.is_set():
            self._log.warning("the client did not stop in time: cancelling its tasks")
            if self._task_group is not None:
                self._task_group.cancel_scope.cancel()

    def _request_stop(self) -> None:
        """Begin ending the lifecycle (synchronous: safe from inside a task of the client)."""
        session = self._session
        if session is None or self._lifecycle_done.is_set():
            return
        if session.attempt_alive:
            session.close(now=self.now())
            self._pump()
        else:
            self._stop_requested.set()
            self._backoff_wake.set()

    async def logout(self) -> None:
        """Remove this device from the account, then end the lifecycle (``LOCAL_LOGOUT``).

        Returns once the connection is closed: confirmed by the server, or after
        ``logout_timeout``. A logout the server confirmed marks the store's credentials logged
        out (``Creds.logged_out``): a later ``Client`` on that store raises ``LoggedOutError``
        instead of dialing. An unconfirmed one leaves them as they were (the device may still be
        linked: it is logged at WARNING).

        While the client is connecting or backing off, it dials at once and logs out as soon
        as the connection opens; ``NotConnectedError`` (after closing the client) when it could
        not open within ``connect_timeout``. A device that was never linked has nothing to log
        out: the client just closes. ``ClientClosedError`` once the lifecycle ended.
        """
        session = self._require_running()
        if session.creds.me is None:
            await self.aclose()  # nothing links this device to an account yet
            return
        if session.connection != "open":
            self._skip_backoff = True
            self._backoff_wake.set()
            with anyio.move_on_after(self.config.connect_timeout):
                await self.wait_open()
            if session.connection != "open":
                await self.aclose()
                raise NotConnectedError("no connection opened in time to log out: client closed")
        session.logout(now=self.now())
        self._pump()
        bound = self.config.logout_timeout + self._close_bound()
        with anyio.move_on_after(bound, shield=True):
            await self._lifecycle_done.wait()

    async def wait_open(self) -> None:
        """Return once a connection is open and logged in (at once if one is).

        Raises ``ClientClosedError`` when the lifecycle ends first (logged out, QR refs
        exhausted, closed...): its ``closed`` is the last ``Closed`` and says why. Bound the
        wait with ``anyio.fail_after`` if needed; backing off between attempts is part of it.
        """
        session = self._require_session()
        while session.connection != "open":
            if self._lifecycle_done.is_set() or session.finished:
                raise self._closed_error("the client stopped before a connection opened")
            if self._progress is None:
                self._progress = anyio.Event()
            await self._progress.wait()

    async def wait_closed(self) -> Closed | None:
        """Wait until the lifecycle ended; return its last ``Closed`` (None if it never ran)."""
        if self._session is not None:
            await self._lifecycle_done.wait()
        return self._router.last_closed

    # -- events --------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ClientEvent]:
        return self.events()

    def events(self) -> AsyncIterator[ClientEvent]:
        """Every event, oldest first, until the lifecycle ended (then the iteration stops).

        One consumer only: iterating and ``on()`` handlers exclude each other. Breaking out of
        the loop loses nothing: the next iteration continues where this one stopped.

        An event counts as handled (a message is then acked, a history chunk recorded) once
        the loop asks for the next one, i.e. once the loop body finished. The event a loop
        stopped on (``break``, an exception) stays unhandled until events are asked for again;
        closing the client first leaves it to be delivered again at the next run.
        """
        self._handlers.iterate()
        return EventIterator(self._queue)

    def relay(self) -> AsyncIterator[tuple[ClientEvent, Callable[[], None] | None]]:
        """Every event with what reports it handled, for code that passes the events on to a
        consumer of its own (``walink.Fleet`` does), until the lifecycle ended.

        Each item is ``(event, handled)``: ``handled`` is None when nothing waits on the event,
        else a callable to call (in the client's event loop) once the final consumer is done
        with the event: the client then acks its message, or records its history chunk, as
        ``events()`` does when the loop asks for the next event. Never called, the event stays
        unhandled (delivered again at the next run); called after the client's lifecycle
        ended, it does nothing (the next client of the device gets the message again). One
        consumer only: relaying, iterating and ``on()`` handlers exclude each other.
        """
        self._handlers.iterate()
        return RelayIterator(self._queue)

    @overload
    def on(
        self, name: Literal["connection.update"], handler: Handler[ConnectionUpdate]
    ) -> None: ...

    @overload
    def on(self, name: Literal["creds.update"], handler: Handler[CredsUpdate]) -> None: ...

    @overload
    def on(self, name: Literal["node"], handler: Handler[NodeReceived]) -> None: ...

    @overload
    def on(self, name: Literal["pairing_code"], handler: Handler[PairingCode]) -> None: ...

    @overload
    def on(self, name: Literal["closed"], handler: Handler[Closed]) -> None: ...

    @overload
    def on(self, name: Literal["message"], handler: Handler[MessageProcessed]) -> None: ...

    @overload
    def on(self, name: Literal["message.failed"], handler: Handler[MessageFailed]) -> None: ...

    @overload
    def on(self, name: Literal["messages.upsert"], handler: Handler[MessagesUpsert]) -> None: ...

    @overload
    def on(self, name: Literal["identity.changed"], handler: Handler[IdentityChanged]) -> None: ...

    @overload
    def on(self, name: Literal["messaging-history.set"], handler: Handler[HistorySet]) -> None: ...

    @overload
    def on(
        self, name: Literal["messaging-history.status"], handler: Handler[HistoryStatus]
    ) -> None: ...

    @overload
    def on(
        self, name: Literal["messaging-history.failed"], handler: Handler[HistoryFailed]
    ) -> None: ...

    @overload
    def on(self, name: EventName, handler: Handler[ClientEvent]) -> None: ...

    def on(self, name: EventName, handler: Handler[Any]) -> None:
        """Call ``handler(event)`` (a function or coroutine function) for every ``name`` event.

        ``name`` is ``"connection.update"`` (the handler takes a ``ConnectionUpdate``),
        ``"creds.update"`` (``CredsUpdate``), ``"node"`` (``NodeReceived``), ``"pairing_code"``
        (``PairingCode``), ``"closed"`` (``Closed``), ``"messages.upsert"``
        (``MessagesUpsert``), ``"identity.changed"`` (``IdentityChanged``),
        ``"messaging-history.set"`` (``HistorySet``), ``"messaging-history.status"``
        (``HistoryStatus``), ``"messaging-history.failed"`` (``HistoryFailed``), ``"message"``
        or ``"message.failed"``; a type checker holds the handler to it.
        Handlers run in their own task, one event at a time, in order; a slow handler fills the
        queue (``SLOW_CONSUMER``), it never stalls the connection. An event is handled (a
        message acked, a history chunk recorded) once every handler for its name returned. An
        exception in a handler closes the client and is raised, as itself, out of its ``async
        with`` block (the event it was handling stays unhandled: delivered again next run).
        """
        if self._handlers.register(name, handler) and self._task_group is not None:
            self._task_group.start_soon(self._dispatch)

    # -- outbound ------------------------------------------------------------------------------

    async def send_node(self, node: Node) -> None:
        """Send ``node`` on the open connection.

        Raises ``InvalidNodeError`` (a ``ValueError``) for a node that cannot go on the wire
        (nothing is sent, the connection is unaffected), ``NotConnectedError`` without an open
        connection, ``ClientClosedError`` once the lifecycle ended.
        """
        check_node(node)
        session = self._require_open()
        session.send_node(node)  # the session's trace logs it
        self._pump()
        await anyio.lowlevel.checkpoint()

    async def query(self, node: Node, *, timeout: float | None = None) -> Node:
        """Send ``node`` (an ``<iq>``; given an id if it has none) and return the server's reply.

        ``timeout`` defaults to ``ClientConfig.query_timeout``; ``math.inf`` waits for ever
        (``ValueError`` for NaN or a negative number). A caller that is cancelled gives its
        query up at once: its answer, if one comes, is then an ordinary ``node`` event.
        Raises ``QueryServerError`` (an error reply), ``QueryTimeoutError``, ``QueryClosedError``
        (the connection ended first), ``InvalidNodeError`` (a node that cannot go on the wire,
        or an id another query is waiting with; nothing was sent), ``NotConnectedError``
        without an open connection, ``ClientClosedError`` once the lifecycle ended.
        """
        if timeout is not None and not timeout >= 0:  # NaN compares false both ways
            raise ValueError(f"a query timeout is seconds >= 0 or math.inf, not {timeout!r}")
        check_node(node, query=True)
        session = self._require_open()
        try:
            query_id = session.query(node, now=self.now(), timeout=timeout)
        except LocalProtocolError as error:  # its id is taken by a query still waiting
            raise InvalidNodeError(str(error)) from None
        try:
            outcome = await self._outcome(self._router.queries, query_id)
        finally:
            # answered: a no-op; abandoned (cancelled): no deadline keeps it pending any more.
            # Once this query is answered its id is free, and another caller may have sent a
            # query with the same id before this one resumed: that one is not ours to give up.
            # Its waiter says so (ours is gone by now; a caller registers its waiter in the same
            # step as it sends its query).
            if query_id not in self._router.queries:
                session.cancel_query(query_id)
        if isinstance(outcome, QueryResult):
            return outcome.node
        if outcome is None:
            raise self._closed_error("the client stopped while the query waited")
        raise query_error(outcome)

    async def send_presence_update(self, kind: PresenceKind) -> None:
        """``"available"`` or ``"unavailable"``: announce it and update ``is_online``.

        ``ValueError`` for another ``kind``; ``NoPushNameError`` while the account's push name
        is unknown (WhatsApp's clients never send a presence without one: nothing is sent, the
        client stays open); ``NotConnectedError`` without an open connection;
        ``ClientClosedError`` once the lifecycle ended.
        """
        if kind not in ("available", "unavailable"):
            raise ValueError("presence is 'available' or 'unavailable'")
        session = self._require_open()
        if not self.push_name:
            raise NoPushNameError(
                "no push name (the account's display name: set ClientConfig(push_name=...)); "
                "WhatsApp's clients send no presence without one, so neither does walink"
            )
        session.send_presence_update(kind, now=self.now())
        self._pump()
        await anyio.lowlevel.checkpoint()

    async def send_chat_state(self, jid: Jid | str, state: ChatState) -> None:
        """Tell the chat ``jid`` that this account is ``"composing"`` (typing), ``"paused"``
        (stopped typing) or ``"recording"`` (a voice note): Baileys' ``sendPresenceUpdate``
        with a JID. ``ValueError`` for a bad JID or state; ``NotConnectedError`` without an
        open connection; ``ClientClosedError`` once the lifecycle ended.
        """
        target = _parse_jid(jid)
        if state not in CHAT_STATES:
            raise ValueError(f"a chat state is 'composing', 'paused' or 'recording': {state!r}")
        session = self._require_open()
        me = session.creds.me
        if me is None:  # pragma: no cover - an open connection is a logged-in device
            raise NotConnectedError("this device is not linked")
        # a voice note is "composing" with media="audio", as both reference clients send it;
        # to a LID chat the state comes from this account's LID
        child = Node("composing", {"media": "audio"}) if state == "recording" else Node(state)
        sender = me.lid if target.is_lid and me.lid else me.id
        node = Node("chatstate", {"from": sender, "to": str(target)}, [child])
        session.send_node(node)
        self._pump()
        await anyio.lowlevel.checkpoint()

    async def subscribe_presence(self, jid: Jid | str) -> None:
        """Ask for ``jid``'s presence (online, last seen) and chat states: the server then sends
        them as ``presence`` and ``chatstate`` nodes (``node`` events). Baileys'
        ``presenceSubscribe``. ``ValueError`` for a bad JID; ``NotConnectedError`` without an
        open connection; ``ClientClosedError`` once the lifecycle ended.
        """
        target = _parse_jid(jid)
        session = self._require_open()
        session.send_node(Node("presence", {"type": "subscribe", "to": str(target)}))
        self._pump()
        await anyio.lowlevel.checkpoint()

    async def request_pairing_code(
        self, phone_number: str, *, custom_code: str | None = None
    ) -> str:
        """Link this new device by a pairing code instead of a QR; return the code to show.

        ``phone_number`` is the account's number with its country code (``+``, spaces and dashes
        are allowed); ``custom_code`` is 8 symbols of ``PAIRING_CODE_ALPHABET`` (default:
        random). The code is returned once the server accepted it (and published as a
        ``PairingCode`` event, ``on("pairing_code", ...)``); the user then types it on the
        phone (Linked devices, Link with phone number). From the request on, no QR is shown and
        the connection ends with ``PAIRING_TIMEOUT`` unless the phone pairs within
        ``pairing_code_timeout``. While the client is backing off, the call waits for the next
        connection. Calls are served one at a time.

        Raises ``PairingInputError`` (a ``ValueError``) for a bad number or code,
        ``PairingCodeError`` when the server refused or did not answer (``retry`` is True for a
        429 rate limit: ask again later), also when this device is already paired, and
        ``ClientClosedError`` when the client stopped first.
        """
        check_pairing_input(phone_number, custom_code)
        session = self._require_running()
        assert self._pairing_lock is not None
        async with self._pairing_lock:
            await self._wait_for_attempt(session)
            try:
                request = session.request_pairing_code(
                    phone_number, now=self.now(), custom_code=custom_code
                )
            except LocalProtocolError as error:
                # a moment where no code can be asked (closing, already paired meanwhile)
                retry = session.creds.me is None
                raise PairingCodeError(str(error), text=str(error), retry=retry) from None
            # the pump sends companion_hello now, or arms the readiness deadline
            outcome = await self._outcome(self._router.pairings, request)
        if isinstance(outcome, PairingCode):
            return outcome.code
        if outcome is None:
            raise self._closed_error("the client stopped before the pairing code was known")
        raise pairing_error(outcome)

    async def _outcome(self, waiters: dict[K, Waiter[T]], key: K) -> T | None:
        """Wait for the session event settling ``key`` (None: the client stopped first).

        The command that made ``key`` was just given to the session: pump so that its output
        goes out and the timer sees its new deadline.
        """
        waiter: Waiter[T] = Waiter()
        waiters[key] = waiter
        try:
            self._pump()
            await waiter.done.wait()
        finally:
            # settled keys are free at once: a newer waiter for the same key may be there now
            if waiters.get(key) is waiter:
                del waiters[key]
        return waiter.outcome

    # -- state ---------------------------------------------------------------------------------

    def now(self) -> float:
        """The session's clock: unix seconds, advancing with anyio's clock."""
        return anyio.current_time() + self._clock_offset

    @property
    def session(self) -> ClientSession:
        """The sans-IO session underneath (read its state; do not drive it)."""
        return self._require_session()

    @property
    def creds(self) -> Creds | None:
        """The current credentials (None before entering)."""
        return self._session.creds if self._session is not None else None

    @property
    def connection(self) -> Connection:
        """Baileys' ``connection``: ``"connecting"``, ``"open"`` or ``"close"``."""
        if self._session is None:
            return "close"
        return cast(Connection, self._session.connection)

    @property
    def logged_in(self) -> bool:
        """Whether this client's credentials hold a linked device the server has not logged
        out (Baileys' ``creds.registered``): its next connection logs in rather than showing a
        QR. ``is_connected`` says whether that connection is open right now."""
        creds = self.creds
        return creds is not None and creds.me is not None and not creds.logged_out

    @property
    def push_name(self) -> str | None:
        """The account's display name, once the server sent it (None before)."""
        session = self._session
        if session is None:
            return None
        me = session.creds.me
        return (me.name if me is not None else None) or session.config.payload.push_name

    @property
    def is_connected(self) -> bool:
        """True while a connection is open and logged in."""
        return self._session is not None and self._session.connection == "open"

    @property
    def is_online(self) -> bool:
        """Whether this client last announced ``available``."""
        return self._session is not None and self._session.is_online

    @property
    def last_closed(self) -> Closed | None:
        """The latest ``Closed`` (its disconnect, decision, ``final``, ``requested``)."""
        return self._router.last_closed

    @property
    def finished(self) -> bool:
        """The lifecycle ended (or never started)."""
        return self._lifecycle_done.is_set()

    @property
    def health(self) -> Health:
        """A snapshot: state, ``is_connected``, last disconnect, silence, server time offset."""
        return Health.of(
            self._session,
            now=self.now(),
            connections=self._connections,
            pending_events=len(self._queue),
        )

    # -- internals: the lifecycle --------------------------------------------------------------

    def _require_session(self) -> ClientSession:
        if self._session is None:
            raise ClientClosedError("the client is not running: use `async with Client(...)`")
        return self._session

    def _require_running(self) -> ClientSession:
        session = self._require_session()
        if self._lifecycle_done.is_set() or session.finished:
            raise self._closed_error("the client is not running any more")
        return session

    def _closed_error(self, message: str) -> ClientClosedError:
        closed = self._router.last_closed
        if closed is not None:
            disconnect = closed.disconnect
            message += f" ({disconnect.reason.name} {disconnect.status}: {disconnect.message})"
        return ClientClosedError(message, closed=closed)

    def _require_open(self) -> ClientSession:
        session = self._require_running()
        if session.connection != "open":
            # Baileys refuses to send before open as well (428 "Connection Closed")
            raise NotConnectedError(f"no open connection (the client is {session.state})")
        return session

    async def _wait_for_attempt(self, session: ClientSession) -> None:
        """Return once a connection attempt of a device that is not paired yet runs."""
        while True:
            if session.finished or self._lifecycle_done.is_set():
                raise self._closed_error("the client is not running any more")
            if session.creds.me is not None:
                message = "this device is already paired: a pairing code links a new one"
                raise PairingCodeError(message, text=message, retry=False)
            if session.attempt_alive:
                return
            # backing off or restarting: the next attempt's start comes through a pump
            if self._progress is None:
                self._progress = anyio.Event()
            await self._progress.wait()

    def _close_bound(self) -> float:
        # a bounded close, plus the time a pending save may take to land
        return 2 * self.config.close_timeout + 5.0

    async def _lifecycle(self) -> None:
        session = self._require_session()
        try:
            await self._run_lifecycle(session)
        except Exception as error:
            # a bug of ours between attempts: end the lifecycle, never escape as a group
            self._log.error("the client failed and stops: %r", error, exc_info=error)
        finally:
            self._queue.close()
            self._lifecycle_done.set()
            self._wake_progress()
            # callers still waiting learn that the client stopped (ClientClosedError)
            self._router.release_waiters()
            if self._capture is not None:
                self._capture.close(at=self.now())
            if self._router.saves is not None:
                self._router.saves.close()
            if self._messages is not None:
                self._messages.close()

    async def _run_lifecycle(self, session: ClientSession) -> None:
        while not session.finished and not self._broken:
            if self._stop_requested.is_set():
                session.close(now=self.now())
                self._pump()
                break
            await self._wait_saves()
            if len(self._queue) > self._queue.limit // 2:
                # a consumer that fell behind gets the time to catch up before new events:
                # reconnecting into a full queue would only pile up close updates
                self._log.info("waiting for the application to take its events")
                async with anyio.create_task_group() as waiting:
                    waiting.start_soon(cancel_when_set, self._stop_requested, waiting)
                    await self._queue.wait_drained()
                    waiting.cancel_scope.cancel()
                if self._stop_requested.is_set():
                    continue
            if not await self._pass_connect_gate():
                continue
            await self._run_attempt(session)
            if session.finished or self._broken:
                break
            await self._back_off(session)
        await self._wait_saves()
        await self._mark_logout(session)

    async def _mark_logout(self, session: ClientSession) -> None:
        """After our own logout: mark the store's creds if the server confirmed it."""
        closed = self._router.last_closed
        if closed is None or closed.disconnect.reason is not CloseReason.LOCAL_LOGOUT:
            return
        creds = session.creds
        if closed.disconnect.node is None:
            self._log.warning(
                "the server did not confirm the logout: this device may still be linked "
                "(remove it on the phone, Linked devices)"
            )
            return
        if creds.me is None or creds.logged_out:
            return
        try:
            await self._store.run(self._store.save_creds, replace(creds, logged_out=True))
        except Exception as error:
            self._log.error("marking the credentials logged out failed: %s", error)

    async def _pass_connect_gate(self) -> bool:
        """Wait for the connect gate (if any); False when a stop came first."""
        gate = self._connect_gate
        if gate is None:
            return True
        async with anyio.create_task_group() as waiting:
            waiting.start_soon(cancel_when_set, self._stop_requested, waiting)
            await gate()
            waiting.cancel_scope.cancel()
        return not self._stop_requested.is_set()

    # -- internals: the device lease of a shared store ------------------------------------------

    async def _close_store(self) -> None:
        """Give the lease back at once (a clean stop), then close the store if it is ours."""
        store = self._store.store
        try:
            if isinstance(store, LeasedStore):
                with anyio.CancelScope(shield=True):
                    try:
                        await self._lease_keeper(store).release()
                    except AuthStoreError as error:
                        self._log.warning("releasing the device's lease failed: %s", error)
        finally:
            await self._store.close()

    async def _keep_lease(self, store: LeasedStore) -> None:
        await self._lease_keeper(store).keep(self._lifecycle_done, self._lease_lost)

    def _lease_keeper(self, store: LeasedStore) -> LeaseKeeper:
        if self._lease is None:

            async def run(function: Callable[[], None]) -> None:
                await self._store.run(function)

            self._lease = OwnLease(store, run, self._log)
        return self._lease

    def _lease_lost(self, message: str) -> None:
        session = self._session
        if session is None or session.finished:
            return
        session.lease_lost(now=self.now(), message=message)
        self._pump()
        self._stop_requested.set()  # wakes a lifecycle that is backing off

    async def _back_off(self, session: ClientSession) -> None:
        reconnect_at = session.reconnect_at
        if reconnect_at is None:
            return
        delay = reconnect_at - self.now()
        if delay > 0 and not self._skip_backoff and not self._stop_requested.is_set():
            self._log.info("reconnecting in %.1f s", delay)
            self._backoff_wake = anyio.Event()
            with anyio.move_on_after(delay):
                await self._backoff_wake.wait()  # a stop, or a logout that needs to dial now
        self._skip_backoff = False

    async def _run_attempt(self, session: ClientSession) -> None:
        self._connections += 1
        attempt = Attempt(self._connections)
        self._attempt = attempt
        session.start(now=self.now())
        self._pump()
        try:
            async with anyio.create_task_group() as task_group:
                attempt.scope = task_group.cancel_scope
                task_group.start_soon(
                    self._guarded, partial(self._timer, session, attempt), session, attempt
                )
                if attempt.closed:
                    task_group.cancel_scope.cancel()
                    return
                try:
                    ws = await self._dial(session, attempt)
                except Exception as error:
                    self._internal_error(session, attempt, error)
                    return
                if ws is None:
                    return
                task_group.start_soon(
                    self._guarded, partial(self._reader, session, attempt, ws), session, attempt
                )
                await self._guarded(partial(self._writer, session, attempt, ws), session, attempt)
                task_group.cancel_scope.cancel()
        finally:
            if attempt.ws is not None:
                await attempt.ws.aclose(timeout=self.config.close_timeout)
            self._attempt = None

    async def _guarded(
        self, work: Callable[[], Awaitable[None]], session: ClientSession, attempt: Attempt
    ) -> None:
        """Run one of an attempt's tasks; whatever it raises ends the attempt, not the client."""
        try:
            await work()
        except Exception as error:
            self._internal_error(session, attempt, error)

    def _internal_error(self, session: ClientSession, attempt: Attempt, error: Exception) -> None:
        """A failure of ours inside an attempt: close it with ``INTERNAL_ERROR`` (the policy
        decides what follows); if even that fails, stop the lifecycle."""
        self._log.error("connection %d: internal error: %r", attempt.number, error, exc_info=error)
        if session.attempt_alive and not attempt.closed:
            try:
                session.abort(
                    CloseReason.INTERNAL_ERROR,
                    now=self.now(),
                    message=f"internal error: {type(error).__name__}: {error}",
                )
                self._pump()
                return
            except Exception as second:
                self._log.error("the session could not end the attempt: %r", second)
        if not attempt.closed or self._attempt is attempt:
            self._broken = True
            attempt.end()
            if attempt.scope is not None:
                attempt.scope.cancel()

    async def _dial(self, session: ClientSession, attempt: Attempt) -> WebSocketConnection | None:
        config = self.config
        try:
            ws = await connect_websocket(
                config.url,
                ssl_context=config.ssl_context,
                headers=config.headers,
                origin=config.origin,
                connect_timeout=config.connect_timeout,
                max_message_size=config.max_message_size,
                close_timeout=config.close_timeout,
                proxy=config.proxy_settings(),
            )
        except ProxyError as error:
            if error.retryable:
                self._log.info("connection %d failed: %s", attempt.number, error)
                session.connection_lost(transport_cause(error), now=self.now())
            else:
                # the same settings would be refused again: a close reason of its own
                self._log.error("connection %d failed: %s", attempt.number, error)
                session.abort(CloseReason.PROXY_ERROR, now=self.now(), message=str(error))
            self._pump()
            return None
        except (WebSocketError, OSError) as error:
            self._log.info("connection %d failed: %s", attempt.number, error)
            session.connection_lost(transport_cause(error), now=self.now())
            self._pump()
            return None
        if attempt.closed:
            # closed while the upgrade completed (a close() or the connect deadline)
            await ws.aclose(timeout=self.config.close_timeout)
            return None
        attempt.ws = ws
        session.connection_made(now=self.now())
        self._pump()
        return ws

    async def _timer(self, session: ClientSession, attempt: Attempt) -> None:
        while not attempt.closed:
            deadline = session.next_deadline()
            wait = math.inf if deadline is None else max(0.0, deadline - self.now())
            with anyio.move_on_after(wait):
                await attempt.timer_wake.wait()
            attempt.timer_wake = anyio.Event()
            if deadline is not None and self.now() >= deadline and not attempt.closed:
                session.handle_timeout(now=self.now())
                self._pump()

    async def _reader(
        self, session: ClientSession, attempt: Attempt, ws: WebSocketConnection
    ) -> None:
        try:
            while not attempt.closed:
                try:
                    data = await ws.receive()
                except WebSocketError as error:
                    if not attempt.closed:
                        self._log.debug("connection %d: %r", attempt.number, error)
                        session.connection_lost(transport_cause(error), now=self.now())
                        self._pump()
                    return
                session.receive_data(data, now=self.now())
                self._pump()
        finally:
            attempt.reader_done.set()

    async def _writer(
        self, session: ClientSession, attempt: Attempt, ws: WebSocketConnection
    ) -> None:
        while True:
            data = session.data_to_send()
            if data:
                try:
                    await ws.send(data)
                except WebSocketError as error:
                    await self._send_failed(session, attempt, error)
                    continue
            if attempt.closed and not data:
                break
            if not data:
                await attempt.write_wake.wait()
                attempt.write_wake = anyio.Event()
        await ws.aclose(timeout=self.config.close_timeout)

    async def _send_failed(
        self, session: ClientSession, attempt: Attempt, error: WebSocketError
    ) -> None:
        """A send failed: the connection is over, but how it ended is the reader's to report.

        A send fails as soon as the reader has seen the peer's Close, while the messages that
        came before that Close (a query's answer, the server's stream error) may still wait
        to be handed to the session: reporting the loss from here would drop them and misname
        the end (a confirmed logout read as unconfirmed, a 515 read as a lost connection). So
        the reader goes first; only if it does not finish within ``close_timeout`` (a socket
        that fails to send but never ends its input) is the loss reported from here.
        """
        if attempt.closed:
            return
        with anyio.move_on_after(self.config.close_timeout):
            await attempt.reader_done.wait()
        if not attempt.closed:
            self._log.debug("connection %d: send failed: %r", attempt.number, error)
            session.connection_lost(transport_cause(error), now=self.now())
            self._pump()

    # -- internals: events and saves -----------------------------------------------------------

    def _pump(self) -> None:
        """Handle every queued session event now (synchronously: nothing here waits)."""
        session = self._session
        assert session is not None
        while True:
            for event in session.events():
                self._handle(event)
            if self._queue.over_limit and session.attempt_alive:
                self._log.warning(
                    "%d events wait for the application: closing (SLOW_CONSUMER)", len(self._queue)
                )
                session.abort(CloseReason.SLOW_CONSUMER, now=self.now())
                continue
            break
        if self._attempt is not None:
            self._attempt.wake()
        self._wake_progress()

    def _wake_progress(self) -> None:
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.set()

    def _handle(self, event: SessionEvent) -> None:
        if isinstance(event, (ProcessMessage, MessageProcessed, MessageFailed)):
            assert self._messages is not None  # jobs come only with a processor
            self._messages.route(event)
            return
        if isinstance(
            event, (DownloadHistory, HistoryReceived, HistoryStatusChanged, HistoryFailed)
        ):
            assert self._history is not None  # started with the task group
            self._history.route(event)
            return
        if self._router.route(event) and self._attempt is not None:
            self._attempt.end()  # Closed: the writer says goodbye, a dial stops at once

    async def _wait_saves(self) -> None:
        session = self._require_session()
        while session.saves_pending:
            await self._save_progress.wait()

    async def _saver(self, requests: MemoryObjectReceiveStream[SaveRequest]) -> None:
        session = self._require_session()
        async with requests:
            async for request in requests:
                try:
                    try:
                        await self._store.run(self._store.save, request)
                    except Exception as error:
                        self._log.error("saving credentials failed: %s", error)
                        if request.token in session.saves_pending:
                            session.save_failed(request.token, error, now=self.now())
                    else:
                        if request.creds is not None and isinstance(self._processor, CredsListener):
                            # before the confirmation releases what depends on the save (an
                            # upload of a new signed pre-key): the processor never lags behind
                            self._processor.creds_saved(request.creds)
                        if request.token in session.saves_pending:
                            session.confirm_saved(request.token)
                    self._pump()
                except Exception as error:
                    # never a group out of the client: stop, the lifecycle reports it
                    self._fail("the saver failed", error)
                finally:
                    self._save_progress.set()
                    self._save_progress = anyio.Event()
                # idle until the next save: keep no reference to this one (its 812 pre-keys)
                del request

    def _request_stop_quietly(self) -> None:
        try:
            self._request_stop()
        except Exception as error:
            self._log.error("closing failed: %r", error)
            self._stop_requested.set()
            self._backoff_wake.set()
            if self._attempt is not None:
                self._attempt.end()
                if self._attempt.scope is not None:
                    self._attempt.scope.cancel()

    def _fail(self, message: str, error: Exception) -> None:
        """A failure of ours outside an attempt: log it and stop the client."""
        self._log.error("%s: %r", message, error, exc_info=error)
        self._broken = True
        self._request_stop_quietly()

    async def _dispatch(self) -> None:
        while (event := await self._queue.get()) is not None:
            # handled once every handler for its name returned (none: once dispatched)
            try:
                await self._handlers.call(event_name(event), event)
            except Exception as error:
                # the application's error: close, then raise it out of `async with` as is
                self._log.error("an on() handler raised %r: closing the client", error)
                self._handler_error = error
                self._request_stop_quietly()
                return
            self._queue.handled()


def _parse_jid(jid: Jid | str) -> Jid:
    if isinstance(jid, Jid):
        return jid
    return Jid.parse(jid)  # ValueError for anything but a canonical JID string
