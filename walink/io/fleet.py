"""``Fleet``: the devices of a shared device store, run in one process under one task group.

Theory of operation
-------------------
``async with Fleet(store_or_url, FleetConfig(...)) as fleet:`` starts a *claimer* task and
returns. Every ``claim_interval`` seconds (and once at once) the claimer lists the store's
devices and leases each linked device that nobody holds (``DeviceHandle.acquire``: free, lapsed
or released), at most ``claim_batch`` per look and ``max_devices`` in all. Each claimed device
runs a ``Client`` on its handle in its own task, which keeps the lease through the fleet's
``LeaseGroup``: one statement per ``renew_interval`` renews every lease the fleet holds (a
device missing from its result lost its lease, and its client ends with ``LEASE_LOST`` at once),
and the leases of clients that stop together are given back together. Several fleets
(processes, machines) on one PostgreSQL database thus split the devices between them, and the
devices of a fleet that died are claimed by the others once their leases lapse: within
``lease_ttl + claim_interval`` plus the connect limiter's wait.

Every connection attempt of every device first passes one process-wide ``ConnectLimiter``, a
token bucket on anyio's clock with jitter: a cold start or a network blip that drops a thousand
connections reconnects them at ``connect_rate`` per second (after a burst of ``connect_burst``),
never all in the same second.

Events come out of ``fleet.events()`` (or ``async for event in fleet``), each tagged with its
device's name (its JID): ``DeviceEvent`` wraps every client event, ``DeviceClaimed`` and
``DeviceReleased`` say what the fleet holds, with the lease's epoch. They wait in a buffer
(``event_buffer``, 10,000); once the fleet is stopping, an event that finds the buffer full is
dropped rather than waited for (an application that stopped reading would otherwise hold every
close and every lease release).

Delivery is the same as a ``Client``'s: a message is acked (a history chunk recorded) only once
the application handled the ``DeviceEvent`` that carries it, that is once its loop asked the
fleet for the next event. Each device's task takes its client's events with ``Client.relay``,
which hands every event over with the callable that reports it handled, and puts both in the
buffer; the fleet's one consumer calls the callable of the event it was handed last when it
asks for the next one. Nothing else reports an event handled, so:

- a slow application slows the acks: the buffer fills, the devices' tasks wait for room, and
  each client's own bound (``max_pending_events``) closes its connection with
  ``SLOW_CONSUMER`` rather than let its backlog grow; nothing is dropped while the fleet runs;
- an event whose client ended while it waited in the buffer is still delivered, but handling
  it acks nothing (the callable of an ended client does nothing): the device's next client,
  here or in another fleet, is delivered the message again by the server, and acks it on its
  own connection once that delivery is handled;
- the event a loop stopped on (``break``, an exception) stays unhandled until the application
  asks for events again; ``aclose()`` with events unhandled (waiting in the buffer, dropped
  while stopping, or the one a loop stopped on) leaves them to the next run, delivered again.

Handlers are the other way to take the events: ``fleet.on(name, handler)``, with the names of
``Client.on``, calls ``handler(device, event)`` (the device's JID and the client event: what a
``DeviceEvent`` carries, in its order) for every device's events of that name. Handlers and
iteration exclude each other (one consumer). With handlers, nothing goes through the buffer:
each device's task calls the handlers itself, for its own events, in order, one at a time, and
reports an event handled once every handler for its name returned. So a slow handler delays
only its own device: the other devices' handlers run on (handlers of different devices run
concurrently, and must be safe to), and the slow device's backlog waits in its client, whose
own bound (``max_pending_events``) closes its connection with ``SLOW_CONSUMER``, as a slow
``Client.on`` handler does. A handler registered after the fleet started first gets, in order,
what the buffer held until then. ``DeviceClaimed`` and ``DeviceReleased`` are not handed to
handlers (``held`` and each device's ``connection.update`` and ``closed`` events say what
runs). An exception in a handler closes the fleet and is raised, as itself, out of its ``async
with`` (the first, if several devices' handlers raised); the event it was handling stays
unhandled, delivered again at the next run, and no handler is called after it (every device's
events not handled by then come again too). ``wait_closed()`` is what the block awaits
meanwhile.

A device whose client ended for good is released; this fleet claims it again only when it
ended for the store's sake (``LEASE_LOST``, ``STORE_ERROR``) and its lease is free again.

``aclose()`` (and leaving the block) closes every client at once: each saves what is pending and
releases its lease (a thousand of them in a few statements), so the other fleets can take the
devices at their next claim. The leases are renewed until the fleet's block is left.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeAlias, TypeVar, overload

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from walink._receive.events import IdentityChanged, MessagesUpsert
from walink.auth.devices import DeviceHandle, DeviceInfo, DeviceStore, open_device_store
from walink.auth.errors import AuthStoreError, DeviceLeasedError
from walink.io._lease import LeaseGroup
from walink.io._support import Handlers
from walink.io._taskgroup import enter_task_group, exit_task_group
from walink.io.client import Client
from walink.io.config import ClientConfig
from walink.io.errors import ClientClosedError
from walink.io.events import (
    ClientEvent,
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    EventName,
    HistoryFailed,
    MessageFailed,
    MessageProcessed,
    NodeReceived,
    PairingCode,
    event_name,
)
from walink.protocol.history import HistorySet, HistoryStatus

__all__ = [
    "ConnectLimiter",
    "DeviceClaimed",
    "DeviceEvent",
    "DeviceHandler",
    "DeviceReleased",
    "Fleet",
    "FleetConfig",
    "FleetEvent",
]

_log = logging.getLogger("walink.fleet")

# ends after which the device may be claimed again once its lease is free: the store, not the
# account, was the trouble (a lease is only ever taken fenced, so claiming again is safe)
_CLAIM_AGAIN = frozenset({"LEASE_LOST", "STORE_ERROR"})


class ConnectLimiter:
    """A token bucket: at most ``burst`` connects at once, then ``rate`` per second.

    Waiters reserve their slot when they arrive (a later waiter never passes an earlier one),
    then each also waits a random ``0..jitter`` seconds, so devices released together do not
    dial in lockstep. Over any window of ``w`` seconds at most ``burst + rate * (w + jitter)``
    waiters pass. Runs on anyio's clock (trio's ``MockClock`` makes the waits instant).
    """

    def __init__(
        self, rate: float, burst: int = 1, *, jitter: float = 0.0, rng: random.Random | None = None
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)) or burst < 1 or jitter < 0:
            raise ValueError("the rate must be positive, the burst at least 1, jitter >= 0")
        self.rate = rate
        self.burst = burst
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._tokens = float(burst)
        self._updated: float | None = None
        self.passed = 0
        """How many waiters have passed (for tests and metrics)."""

    def _reserve(self) -> float:
        """Take a token (possibly one not there yet); the seconds until it is there."""
        now = anyio.current_time()
        if self._updated is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def wait(self) -> None:
        """Return when this caller may connect."""
        delay = self._reserve()
        if self.jitter:
            delay += self._rng.uniform(0.0, self.jitter)
        if delay > 0:
            await anyio.sleep(delay)
        else:
            await anyio.lowlevel.checkpoint()
        self.passed += 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetConfig:
    """How a fleet runs its devices; every value overridable."""

    client: ClientConfig = field(default_factory=ClientConfig)
    """Every device's client configuration (one shared object)."""
    connect_rate: float = 20.0
    """Connection attempts per second, process-wide, after the burst."""
    connect_burst: int = 20
    """Attempts that may start at once."""
    connect_jitter: float = 0.5
    """Each attempt also waits a random 0..jitter seconds."""
    claim_interval: float = 10.0
    """Seconds between looks for free devices."""
    claim_batch: int = 100
    """The most devices claimed per look: fleets that start together take turns, and so
    split the devices between them instead of the first one taking all."""
    max_devices: int | None = None
    """The most devices this fleet runs at once (None: no limit)."""
    event_buffer: int = 10_000
    """Events that wait for the application before a device's task waits with them (their
    messages are acked only once the application took them and asked for the next one)."""
    close_concurrency: int = 100
    """The most clients ``aclose()`` closes at once: each client's close bound starts when its
    own close does, so a thousand clients closing in one process never starve each other of
    the event loop past their bounds (the fleet's close takes as long either way)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceEvent:
    """A client event of one device; handled (its message acked, its history chunk recorded)
    once the application asks the fleet for the next event."""

    device: str
    """The device's JID."""
    event: ClientEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceClaimed:
    """The fleet took a device's lease and starts running it."""

    device: str
    epoch: int
    """The lease's fencing epoch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceReleased:
    """The fleet stopped running a device and gave its lease back."""

    device: str
    epoch: int
    reason: str | None
    """The ``CloseReason`` name of the client's last close (None if it never connected)."""


FleetEvent: TypeAlias = DeviceEvent | DeviceClaimed | DeviceReleased

E = TypeVar("E")

DeviceHandler = Callable[[str, E], Awaitable[None] | None]
"""A fleet's callback for one device's events of type ``E``: called with the device's JID and
the event (a ``DeviceEvent``'s two fields, in order), a plain function or a coroutine function.
``fleet.on("messages.upsert", handler)`` takes a ``DeviceHandler[MessagesUpsert]``, and so on
for each name of ``Client.on``; a handler of every event takes ``ClientEvent``."""

# an event in the fleet's buffer, with what reports it handled (None: nothing waits on it)
_Buffered: TypeAlias = tuple[FleetEvent, Callable[[], None] | None]


class _FleetEvents:
    """``async for`` over a fleet's buffer: each step reports the event handed out before as
    handled, then waits for the next one; ends once the fleet stopped and the buffer is empty."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet

    def __aiter__(self) -> _FleetEvents:
        return self

    async def __anext__(self) -> FleetEvent:
        return await self._fleet._next_event()


class Fleet:
    """Many devices of one device store in one process (see the module docstring).

    ``async for event in fleet`` has one consumer; a device's message is acked only once that
    consumer handled the ``DeviceEvent`` carrying it (asked for the next event), as with a
    ``Client``.

    ``fleet.on(name, handler)`` is the other way: ``handler(device, event)`` for every device's
    events of that name, each device's in order, a slow device delaying no other.

    ``store`` is a ``DeviceStore`` (used, not closed) or a URL (opened, and closed on exit).
    """

    def __init__(
        self,
        store: DeviceStore | str,
        config: FleetConfig | None = None,
        *,
        limiter: ConnectLimiter | None = None,
    ) -> None:
        self.config = config if config is not None else FleetConfig()
        self._store_arg = store
        self._store: DeviceStore | None = store if isinstance(store, DeviceStore) else None
        self.limiter = limiter or ConnectLimiter(
            self.config.connect_rate, self.config.connect_burst, jitter=self.config.connect_jitter
        )
        self._send: MemoryObjectSendStream[_Buffered] | None = None
        self._receive: MemoryObjectReceiveStream[_Buffered] | None = None
        # reports the event the application was handed last as handled (its message acked)
        self._current: Callable[[], None] | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._clients: dict[str, Client] = {}
        self._epochs: dict[str, int] = {}
        self._retired: set[str] = set()
        self._running = 0
        self._all_stopped = anyio.Event()
        self._stopping = anyio.Event()
        self._claim_now = anyio.Event()
        self._leases: LeaseGroup | None = None
        # the sends waiting for room in a full event buffer, given up when the fleet stops
        self._waiting_sends: set[anyio.CancelScope] = set()
        self._handlers = Handlers()
        # set once what the buffer held before the first handler came went to the handlers:
        # the devices' own events wait for it, so each device's stay in order
        self._backlog_done = anyio.Event()
        self._handler_error: Exception | None = None
        self._closed = anyio.Event()

    @property
    def leases(self) -> LeaseGroup:
        """What renews and releases the leases this fleet holds (its counters are metrics)."""
        if self._leases is None:
            raise RuntimeError("the fleet is not running: use `async with Fleet(...)`")
        return self._leases

    @property
    def store(self) -> DeviceStore:
        if self._store is None:
            raise RuntimeError("the fleet is not running: use `async with Fleet(...)`")
        return self._store

    @property
    def held(self) -> dict[str, int]:
        """The devices this fleet runs now, by id, with their lease epochs."""
        return dict(self._epochs)

    @property
    def clients(self) -> dict[str, Client]:
        """The running clients, by device id."""
        return dict(self._clients)

    async def __aenter__(self) -> Fleet:
        if isinstance(self._store_arg, str):
            self._store = await anyio.to_thread.run_sync(open_device_store, self._store_arg)
        self._send, self._receive = anyio.create_memory_object_stream[_Buffered](
            self.config.event_buffer
        )
        self._task_group = task_group = await enter_task_group()
        task_group.start_soon(self._claimer)
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
            if self._send is not None:
                self._send.close()
            if isinstance(self._store_arg, str) and self._store is not None:
                await anyio.to_thread.run_sync(self._store.close)
        error = self._handler_error
        if error is not None and exc is None:
            # raised as itself: a handler's error is the application's, not a group of ours
            self._handler_error = None
            raise error
        return None

    async def aclose(self) -> None:
        """Close every client (each releases its lease) and stop claiming; idempotent.

        Clients are closed ``close_concurrency`` at a time; their leases are given back
        together (a few statements for a thousand)."""
        self._stopping.set()
        self._claim_now.set()
        for waiting in list(self._waiting_sends):
            waiting.cancel()
        limit = anyio.CapacityLimiter(self.config.close_concurrency)

        async def close(client: Client) -> None:
            async with limit:
                await client.aclose()

        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as closing:
                for client in list(self._clients.values()):
                    closing.start_soon(close, client)
            if self._running:
                with anyio.move_on_after(30.0):
                    await self._all_stopped.wait()
        if self._send is not None:
            self._send.close()
        self._closed.set()

    async def wait_closed(self) -> None:
        """Return once the fleet stopped: ``aclose()`` returned (a handler that raised closes the
        fleet too; its exception then comes out of ``async with``). What a block that runs on
        ``on()`` handlers awaits."""
        await self._closed.wait()

    def claim_now(self) -> None:
        """Look for free devices now instead of at the next interval."""
        self._claim_now.set()

    # -- events ---------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[FleetEvent]:
        return self.events()

    def events(self) -> AsyncIterator[FleetEvent]:
        """Every device's events and the fleet's claims and releases, until the fleet stops.

        One consumer only: iterating and ``on()`` handlers exclude each other (``RuntimeError``).
        An event counts as handled (its message acked, its history chunk recorded) once the
        loop asks for the next event, i.e. once the loop body finished; the event a loop
        stopped on (``break``, an exception) stays unhandled until events are asked for again,
        and a new loop continues where the last one stopped. Events the fleet closes with
        unhandled are delivered again at the next run.
        """
        if self._receive is None:
            raise RuntimeError("the fleet is not running: use `async with Fleet(...)`")
        self._handlers.iterate()
        return _FleetEvents(self)

    @overload
    def on(
        self, name: Literal["connection.update"], handler: DeviceHandler[ConnectionUpdate]
    ) -> None: ...

    @overload
    def on(self, name: Literal["creds.update"], handler: DeviceHandler[CredsUpdate]) -> None: ...

    @overload
    def on(self, name: Literal["node"], handler: DeviceHandler[NodeReceived]) -> None: ...

    @overload
    def on(self, name: Literal["pairing_code"], handler: DeviceHandler[PairingCode]) -> None: ...

    @overload
    def on(self, name: Literal["closed"], handler: DeviceHandler[Closed]) -> None: ...

    @overload
    def on(self, name: Literal["message"], handler: DeviceHandler[MessageProcessed]) -> None: ...

    @overload
    def on(
        self, name: Literal["message.failed"], handler: DeviceHandler[MessageFailed]
    ) -> None: ...

    @overload
    def on(
        self, name: Literal["messages.upsert"], handler: DeviceHandler[MessagesUpsert]
    ) -> None: ...

    @overload
    def on(
        self, name: Literal["identity.changed"], handler: DeviceHandler[IdentityChanged]
    ) -> None: ...

    @overload
    def on(
        self, name: Literal["messaging-history.set"], handler: DeviceHandler[HistorySet]
    ) -> None: ...

    @overload
    def on(
        self, name: Literal["messaging-history.status"], handler: DeviceHandler[HistoryStatus]
    ) -> None: ...

    @overload
    def on(
        self, name: Literal["messaging-history.failed"], handler: DeviceHandler[HistoryFailed]
    ) -> None: ...

    @overload
    def on(self, name: EventName, handler: DeviceHandler[ClientEvent]) -> None: ...

    def on(self, name: EventName, handler: DeviceHandler[Any]) -> None:
        """Call ``handler(device, event)`` (a function or coroutine function) for every ``name``
        event of every device: ``device`` is the device's JID, ``event`` the client event.

        The names and their event types are ``Client.on``'s; a type checker holds the handler to
        them. The handler takes the device first and the event second, the two fields of the
        ``DeviceEvent`` that iteration yields, in their order: code moving from ``async for`` to
        handlers keeps its arguments, and one handler can serve every device.

        As with ``Client.on``: ``ValueError`` for an unknown name; ``RuntimeError`` once the
        fleet's events are iterated (one consumer); registering before or after entering
        ``async with`` both work (registered after, the handlers first get, in order, the
        events the fleet buffered until then). Each device's events go to the handlers in
        order, one at a time, in that device's own task: a slow handler delays its own device
        only (its backlog waits in its client, bounded by ``max_pending_events``, then
        ``SLOW_CONSUMER``), never another device; handlers of different devices run
        concurrently. An event is handled (a message acked, a history chunk recorded) once
        every handler for its name returned (no handler: once dispatched). An exception in a
        handler closes the fleet and is raised, as itself, out of its ``async with`` block;
        the event it was handling stays unhandled, delivered again at the next run, and no
        handler of any device is called after it. With handlers, ``DeviceClaimed`` and
        ``DeviceReleased`` are not delivered (``held`` says what runs). Await
        ``wait_closed()`` in the block.
        """
        if self._handlers.register(name, handler):
            if self._task_group is None:
                self._backlog_done.set()  # nothing was buffered yet
            else:
                self._task_group.start_soon(self._dispatch_backlog)

    async def _dispatch_backlog(self) -> None:
        """Hand what the buffer held when the first handler came to the handlers, in order
        (nothing is added to it afterwards: the devices' tasks call the handlers themselves)."""
        try:
            while self._receive is not None:
                try:
                    # a device task waiting for room hands its event over to this receive too
                    event, handled = self._receive.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    return
                if isinstance(event, DeviceEvent) and not await self._handle(
                    event.device, event.event, handled
                ):
                    return
        finally:
            self._backlog_done.set()

    async def _handle(
        self, device: str, event: ClientEvent, handled: Callable[[], None] | None
    ) -> bool:
        """Call the handlers of ``event``, then report it handled: True. A handler that raised
        closes the fleet (its error is raised out of ``async with``) and leaves the event
        unhandled: False. Once a handler raised, no handler is called again (as with a
        ``Client``): the fleet is closing, and what was not handled comes again next run."""
        if self._handler_error is not None:
            return False
        try:
            await self._handlers.call(event_name(event), device, event)
        except Exception as error:
            _log.error("an on() handler raised %r for %s: closing the fleet", error, device)
            if self._handler_error is None:
                self._handler_error = error
            if self._task_group is not None:
                self._task_group.start_soon(self.aclose)
            return False
        if handled is not None:
            handled()
        return True

    async def _next_event(self) -> FleetEvent:
        if self._receive is None:
            raise RuntimeError("the fleet is not running: use `async with Fleet(...)`")
        # asking for the next event: the application is done with the one it holds
        handled, self._current = self._current, None
        if handled is not None:
            handled()
        try:
            event, self._current = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        return event

    async def _emit(self, event: FleetEvent, handled: Callable[[], None] | None = None) -> None:
        if self._send is None or self._handlers.dispatching:
            return  # handlers take device events straight from the devices' tasks, nothing else
        item: _Buffered = (event, handled)
        # nobody listens any more when the fleet is stopping
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            try:
                self._send.send_nowait(item)
                return
            except anyio.WouldBlock:
                pass
            if not self._stopping.is_set():
                # the buffer is full: wait for the application, unless the fleet starts stopping
                with anyio.CancelScope() as waiting:
                    self._waiting_sends.add(waiting)
                    try:
                        await self._send.send(item)
                    finally:
                        self._waiting_sends.discard(waiting)
                if not waiting.cancelled_caught:
                    return
            # an application that stopped reading must not hold every client's close (and the
            # release of its lease) until the fleet's bound; a dropped event was never handled,
            # so its message is not acked and comes again at the next run
            _log.debug("event dropped while stopping (nobody reads): %r", event)

    # -- claiming -------------------------------------------------------------------------------

    async def _claimer(self) -> None:
        # the renewal runs beside the clients until the fleet's task group is cancelled: the
        # clients still closing after the last claim keep their leases while they save
        self._leases = LeaseGroup(self.store, _log)
        assert self._task_group is not None
        self._task_group.start_soon(self._leases.run)
        while not self._stopping.is_set():
            try:
                await self._claim_once()
            except AuthStoreError as error:
                _log.warning("looking for free devices failed (retrying): %s", error)
            with anyio.move_on_after(self.config.claim_interval):
                await self._claim_now.wait()
            self._claim_now = anyio.Event()

    def _wanted(self, devices: list[DeviceInfo]) -> list[DeviceInfo]:
        free = [
            info
            for info in devices
            if info.jid is not None
            and not info.logged_out
            and info.id not in self._epochs
            and info.id not in self._retired
            and (info.holder is None or info.holder == self.store.owner)
        ]
        room = math.inf if self.config.max_devices is None else self.config.max_devices
        room = min(room - len(self._epochs), self.config.claim_batch)
        # a random order, so fleets starting together do not all race for the same devices
        random.shuffle(free)
        return free[: max(0, int(min(room, len(free))))]

    async def _claim_once(self) -> None:
        store = self.store
        devices = await anyio.to_thread.run_sync(store.devices)
        for info in self._wanted(devices):
            if self._stopping.is_set():
                return
            handle = DeviceHandle(store, info.id)
            try:
                epoch = await anyio.to_thread.run_sync(handle.acquire)
            except DeviceLeasedError:
                continue  # another fleet was quicker
            self._epochs[info.id] = epoch
            self._running += 1
            self._all_stopped = anyio.Event()
            assert self._task_group is not None
            self._task_group.start_soon(self._run_device, handle, info.name, epoch)

    async def _run_device(self, handle: DeviceHandle, name: str, epoch: int) -> None:
        reason: str | None = None
        try:
            await self._emit(DeviceClaimed(device=name, epoch=epoch))
            client = Client(
                handle,
                self.config.client,
                connect_gate=self.limiter.wait,
                lease=self.leases.keeper(handle),
            )
            try:
                async with client:
                    self._clients[handle.id] = client
                    if self._stopping.is_set():
                        await client.aclose()
                    # each event travels with what reports it handled: the message is acked
                    # once the application is done with it, not once it is in the buffer
                    async for event, handled in client.relay():
                        if not self._handlers.dispatching:
                            await self._emit(DeviceEvent(device=name, event=event), handled)
                            continue
                        # handlers: called here, so a slow one holds this device only
                        await self._backlog_done.wait()
                        if not await self._handle(name, event, handled):
                            break  # the fleet closes; the event stays unhandled
            except (AuthStoreError, ClientClosedError) as error:
                _log.warning("device %s stopped: %s", name, error)
            closed = client.last_closed
            if closed is not None:
                reason = closed.disconnect.reason.name
            if not self._stopping.is_set() and reason not in _CLAIM_AGAIN:
                # it ended for good (logged out, replaced by a client outside any lease...):
                # not ours to restart
                self._retired.add(handle.id)
        finally:
            self._clients.pop(handle.id, None)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(handle.close)
                self._epochs.pop(handle.id, None)
                await self._emit(DeviceReleased(device=name, epoch=epoch, reason=reason))
            self._running -= 1
            if not self._running:
                self._all_stopped.set()
