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

The session's clock is unix time (it checks the server certificate's validity with it), made of
``anyio.current_time()`` plus a fixed offset taken at entry, so that every sleep happens on
anyio's clock (and trio's ``MockClock`` runs minutes of backoff instantly).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TypeVar, TypeVarTuple, cast

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from walink._session.core import ClientSession, TransportCause
from walink._session.events import (
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    NodeReceived,
    QueryError,
    QueryResult,
    SaveRequest,
    SessionEvent,
)
from walink.auth.memory_store import MemoryStore
from walink.auth.model import Creds
from walink.auth.store import AuthStore
from walink.fsm.reasons import CloseReason
from walink.io._support import (
    Attempt,
    EventIterator,
    QueryWaiter,
    cancel_when_set,
    open_store,
    print_qr,
    query_error,
    transport_cause,
)
from walink.io.config import ClientConfig
from walink.io.errors import (
    ClientClosedError,
    NotConnectedError,
)
from walink.io.events import ClientEvent, EventHandler, EventName, EventQueue, event_name
from walink.io.health import Health
from walink.io.websocket import (
    WebSocketConnection,
    WebSocketError,
    connect_websocket,
)
from walink.protocol.binary import Node, render_node

__all__ = ["Client", "open_store"]

T = TypeVar("T")
Args = TypeVarTuple("Args")

_EVENT_NAMES: frozenset[str] = frozenset({"connection.update", "creds.update", "node", "closed"})


class Client:
    """A WhatsApp Web linked-device connection that keeps itself alive.

    ``auth`` is an ``AuthStore`` (used, not closed), a path (opened with ``open_store`` and
    closed on exit: a folder is Baileys' multi-file layout, a file is SQLite), or None (a
    ``MemoryStore``: a fresh device every run). See the module docstring for how it runs.
    """

    def __init__(
        self,
        auth: AuthStore | str | os.PathLike[str] | None = None,
        config: ClientConfig | None = None,
    ) -> None:
        self.config = config if config is not None else ClientConfig()
        self._auth = auth
        self._store: AuthStore | None = None
        self._owns_store = False
        self._log = self.config.log
        self._session: ClientSession | None = None
        self._queue = EventQueue(self.config.max_pending_events)
        self._handlers: dict[str, list[EventHandler]] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._dispatching = False
        self._iterating = False
        self._clock_offset = 0.0
        self._attempt: Attempt | None = None
        self._connections = 0
        self._last_closed: Closed | None = None
        self._last_qr: str | None = None
        self._waiters: dict[str, QueryWaiter] = {}
        self._saves_send: MemoryObjectSendStream[SaveRequest] | None = None
        self._save_progress = anyio.Event()
        self._stop_requested = anyio.Event()
        self._lifecycle_done = anyio.Event()
        self._entered = False

    # -- entering and leaving ------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        if self._entered:
            raise RuntimeError("a Client can be entered only once")
        self._entered = True
        self._clock_offset = time.time() - anyio.current_time()
        store = await self._open_store()
        try:
            creds = await self._in_worker(store.load)
        except BaseException:
            # a corrupt or locked store is an error, never a fresh identity: report it as is
            await self._close_store()
            raise
        rng = self.config.rng if self.config.rng is not None else random.SystemRandom()
        if creds is None:
            creds = Creds.new(rng.randbytes)
            self._log.info("no saved credentials: a new device will be linked by QR")
        self._session = ClientSession(creds=creds, rng=rng, config=self.config.session_config())
        send, receive = anyio.create_memory_object_stream[SaveRequest](math.inf)
        self._saves_send = send
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        task_group.start_soon(self._saver, receive)
        task_group.start_soon(self._lifecycle)
        if self._dispatching:
            task_group.start_soon(self._dispatch)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        task_group = self._task_group
        try:
            await self.aclose()
        finally:
            self._task_group = None
            if task_group is not None:
                task_group.cancel_scope.cancel()
                await task_group.__aexit__(exc_type, exc, traceback)
            await self._close_store()
        return None

    async def aclose(self) -> None:
        """End the lifecycle: close the connection (``LOCAL_CLOSE``, final) within a bound.

        Pending saves finish first (credentials are never lost); idempotent; never hangs: after
        ``close_timeout`` plus a margin the client's tasks are cancelled.
        """
        if self._session is None or self._lifecycle_done.is_set():
            return
        session = self._session
        if session.attempt_alive:
            session.close(now=self.now())
            self._pump()
        else:
            self._stop_requested.set()
        with anyio.move_on_after(self._close_bound(), shield=True):
            await self._lifecycle_done.wait()
        if not self._lifecycle_done.is_set():
            self._log.warning("the client did not stop in time: cancelling its tasks")
            if self._task_group is not None:
                self._task_group.cancel_scope.cancel()

    async def logout(self) -> None:
        """Remove this device from the account, then end the lifecycle (``LOCAL_LOGOUT``).

        Returns once the connection is closed: confirmed by the server, or after
        ``logout_timeout``. Raises ``NotConnectedError`` without an open, logged-in connection.
        """
        session = self._require_open()
        session.logout(now=self.now())
        self._pump()
        bound = self.config.logout_timeout + self._close_bound()
        with anyio.move_on_after(bound, shield=True):
            await self._lifecycle_done.wait()

    async def wait_closed(self) -> Closed | None:
        """Wait until the lifecycle ended; return its last ``Closed`` (None if it never ran)."""
        if self._session is not None:
            await self._lifecycle_done.wait()
        return self._last_closed

    # -- events --------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ClientEvent]:
        return self.events()

    def events(self) -> AsyncIterator[ClientEvent]:
        """Every event, oldest first, until the lifecycle ended (then the iteration stops).

        One consumer only: iterating and ``on()`` handlers exclude each other. Breaking out of
        the loop loses nothing: the next iteration continues where this one stopped.
        """
        if self._dispatching:
            raise RuntimeError("events are delivered to on() handlers: iterate or register")
        self._iterating = True
        return EventIterator(self._queue)

    def on(self, name: EventName, handler: EventHandler) -> None:
        """Call ``handler(event)`` (a function or coroutine function) for every ``name`` event.

        ``name`` is ``"connection.update"``, ``"creds.update"``, ``"node"`` or ``"closed"``.
        Handlers run in their own task, one event at a time, in order; a slow handler fills the
        queue (``SLOW_CONSUMER``), it never stalls the connection. An exception in a handler
        ends the client and propagates out of its ``async with`` block.
        """
        if name not in _EVENT_NAMES:
            raise ValueError(f"unknown event name {name!r}")
        if self._iterating:
            raise RuntimeError("events are being iterated: iterate or register handlers")
        self._handlers.setdefault(name, []).append(handler)
        if not self._dispatching:
            self._dispatching = True
            if self._task_group is not None:
                self._task_group.start_soon(self._dispatch)

    # -- outbound ------------------------------------------------------------------------------

    async def send_node(self, node: Node) -> None:
        """Send ``node`` on the open connection (``NotConnectedError`` without one)."""
        session = self._require_open()
        session.send_node(node)
        self._log.debug("send %s", render_node(node))
        self._pump()
        await anyio.lowlevel.checkpoint()

    async def query(self, node: Node, *, timeout: float | None = None) -> Node:
        """Send ``node`` (an ``<iq>``; given an id if it has none) and return the server's reply.

        ``timeout`` defaults to ``ClientConfig.query_timeout``; ``math.inf`` waits for ever.
        Raises ``QueryServerError`` (an error reply), ``QueryTimeoutError``, ``QueryClosedError``
        (the connection ended first), or ``NotConnectedError``.
        """
        session = self._require_open()
        query_id = session.query(node, now=self.now(), timeout=timeout)
        self._log.debug("query %s", render_node(node))
        waiter = QueryWaiter()
        self._waiters[query_id] = waiter
        try:
            self._pump()
            await waiter.done.wait()
        finally:
            self._waiters.pop(query_id, None)
        outcome = waiter.outcome
        if isinstance(outcome, QueryResult):
            return outcome.node
        assert outcome is not None
        raise query_error(outcome)

    async def send_presence_update(self, kind: str) -> None:
        """``"available"`` or ``"unavailable"``: announce it and update ``is_online``.

        ``ValueError`` for another ``kind``; ``NotConnectedError`` without an open connection.
        """
        if kind not in ("available", "unavailable"):
            raise ValueError("presence is 'available' or 'unavailable'")
        session = self._require_open()
        session.send_presence_update(kind, now=self.now())
        self._pump()
        await anyio.lowlevel.checkpoint()

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
    def connection(self) -> str:
        """Baileys' ``connection``: ``"connecting"``, ``"open"`` or ``"close"``."""
        return self._session.connection if self._session is not None else "close"

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
        return self._last_closed

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

    def _require_open(self) -> ClientSession:
        session = self._require_session()
        if session.connection != "open":
            # Baileys refuses to send before open as well (428 "Connection Closed")
            raise NotConnectedError(f"no open connection (the client is {session.state})")
        return session

    def _close_bound(self) -> float:
        # a bounded close, plus the time a pending save may take to land
        return 2 * self.config.close_timeout + 5.0

    async def _open_store(self) -> AuthStore:
        auth = self._auth
        if auth is None:
            store: AuthStore = MemoryStore()
            self._owns_store = True
        elif isinstance(auth, (str, os.PathLike)):
            store = await anyio.to_thread.run_sync(open_store, auth)
            self._owns_store = True
        else:
            store = auth
        self._store = store
        return store

    async def _close_store(self) -> None:
        store = self._store
        if store is not None and self._owns_store:
            await self._in_worker(store.close)
        self._store = None

    async def _in_worker(self, function: Callable[[*Args], T], *args: *Args) -> T:
        """Run a store call in a worker thread, so disk I/O never blocks the event loop.

        A ``MemoryStore`` is called inline: it never blocks, and a thread would only add
        latency (and, under trio's ``MockClock``, an idle moment that autojumps the clock).
        """
        if isinstance(self._store, MemoryStore):
            return function(*args)
        return await anyio.to_thread.run_sync(function, *args)

    async def _lifecycle(self) -> None:
        session = self._require_session()
        try:
            while not session.finished:
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
                await self._run_attempt(session)
                if session.finished:
                    break
                await self._back_off(session)
            await self._wait_saves()
        finally:
            self._queue.close()
            self._lifecycle_done.set()
            if self._saves_send is not None:
                self._saves_send.close()

    async def _back_off(self, session: ClientSession) -> None:
        reconnect_at = session.reconnect_at
        if reconnect_at is None:
            return
        delay = reconnect_at - self.now()
        if delay > 0:
            self._log.info("reconnecting in %.1f s", delay)
            with anyio.move_on_after(delay):
                await self._stop_requested.wait()

    async def _run_attempt(self, session: ClientSession) -> None:
        self._connections += 1
        attempt = Attempt(self._connections)
        self._attempt = attempt
        session.start(now=self.now())
        self._pump()
        try:
            async with anyio.create_task_group() as task_group:
                attempt.scope = task_group.cancel_scope
                task_group.start_soon(self._timer, session, attempt)
                if attempt.closed:
                    task_group.cancel_scope.cancel()
                    return
                ws = await self._dial(session, attempt)
                if ws is None:
                    return
                task_group.start_soon(self._reader, session, attempt, ws)
                await self._writer(session, attempt, ws)
                task_group.cancel_scope.cancel()
        finally:
            if attempt.ws is not None:
                await attempt.ws.aclose(timeout=self.config.close_timeout)
            self._attempt = None

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
            )
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

    async def _writer(
        self, session: ClientSession, attempt: Attempt, ws: WebSocketConnection
    ) -> None:
        while True:
            data = session.data_to_send()
            if data:
                try:
                    await ws.send(data)
                except WebSocketError as error:
                    if not attempt.closed:
                        session.connection_lost(transport_cause(error), now=self.now())
                        self._pump()
                    continue
            if attempt.closed and not data:
                break
            if not data:
                await attempt.write_wake.wait()
                attempt.write_wake = anyio.Event()
        await ws.aclose(timeout=self.config.close_timeout)

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
                # the session takes a CloseReason where it takes a transport cause (classify)
                session.connection_lost(
                    cast(TransportCause, CloseReason.SLOW_CONSUMER), now=self.now()
                )
                continue
            break
        if self._attempt is not None:
            self._attempt.wake()

    def _handle(self, event: SessionEvent) -> None:
        log = self._log
        if isinstance(event, ConnectionUpdate):
            log.info("connection update: %r", event)
            if (
                event.qr is not None
                and event.qr != self._last_qr
                and self.config.print_qr_in_terminal
            ):
                print_qr(event.qr)
            self._last_qr = event.qr
            self._queue.put(event)
        elif isinstance(event, CredsUpdate):
            self._queue.put(event)
        elif isinstance(event, NodeReceived):
            if log.isEnabledFor(logging.DEBUG):
                log.debug("recv %s", render_node(event.node))
            self._queue.put(event)
        elif isinstance(event, SaveRequest):
            log.debug("saving: %s", event.why)
            assert self._saves_send is not None
            self._saves_send.send_nowait(event)
        elif isinstance(event, (QueryResult, QueryError)):
            waiter = self._waiters.get(event.id)
            if waiter is not None:
                waiter.outcome = event
                waiter.done.set()
        elif isinstance(event, Closed):
            self._last_closed = event
            disconnect = event.disconnect
            log.info(
                "connection closed: %s (%d) %s; %s",
                disconnect.reason.name,
                disconnect.status,
                disconnect.message,
                event.decision.explanation,
            )
            self._queue.put(event)
            if self._attempt is not None:
                self._attempt.end()

    async def _wait_saves(self) -> None:
        session = self._require_session()
        while session.saves_pending:
            await self._save_progress.wait()

    async def _saver(self, requests: MemoryObjectReceiveStream[SaveRequest]) -> None:
        session = self._require_session()
        async with requests:
            async for request in requests:
                try:
                    await self._in_worker(self._save, request)
                except Exception as error:
                    self._log.error("saving credentials failed: %s", error)
                    if request.token in session.saves_pending:
                        session.save_failed(request.token, error, now=self.now())
                else:
                    if request.token in session.saves_pending:
                        session.confirm_saved(request.token)
                self._pump()
                self._save_progress.set()
                self._save_progress = anyio.Event()

    def _save(self, request: SaveRequest) -> None:
        store = self._store
        assert store is not None
        if request.keys is not None:
            store.set_keys(request.keys)
        if request.creds is not None:
            store.save(request.creds)

    async def _dispatch(self) -> None:
        while (event := await self._queue.get()) is not None:
            for handler in list(self._handlers.get(event_name(event), ())):
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
