"""What a ``Client`` publishes, and the bounded queue that carries it to the application.

The events are the session's own frozen dataclasses, in Baileys' shape:

- ``ConnectionUpdate``: Baileys' ``connection.update`` as a full snapshot (``connection``,
  ``last_disconnect``, ``is_new_login``, ``qr``, ``received_pending_notifications``,
  ``is_online``);
- ``CredsUpdate``: Baileys' ``creds.update`` (already saved, or being saved, by the client);
- ``NodeReceived``: every other received node (messages, receipts, notifications, calls);
- ``MessageProcessed`` / ``MessageFailed`` (only for a client given a message processor): a
  ``<message>`` after its commit (its receipt and ack are sent once the application handled
  it), or one that could not be decrypted (a stub carrying the error; a retry receipt asked for
  it again);
- ``MessagesUpsert`` (Baileys' ``messages.upsert``, with the default ``SignalProcessor``): the
  decrypted messages of a ``MessageProcessed``, ``type`` ``"notify"`` live or ``"append"`` (the
  offline backlog, our own other devices); a ``MessageFailed`` is upserted too, as a CIPHERTEXT
  stub carrying the error; ``IdentityChanged``: a sender's identity key changed;
- ``HistorySet`` / ``HistoryStatus`` (with a message processor): Baileys'
  ``messaging-history.set`` (one history chunk from our phone, recorded in the creds once the
  application handled it) and
  ``messaging-history.status`` (a kind of sync complete, or paused); ``HistoryFailed``: a chunk
  that could not be had (its blob gone or corrupt: the phone was asked to upload it again);
- ``PairingCode``: the code of a ``request_pairing_code`` the server accepted (show it to the
  user; its ``code`` is kept out of its repr), also what that call returns;
- ``Closed``: one per connection, right after its close update: the policy's decision
  (reconnect or not, when), ``final`` and ``requested``; not a Baileys event, but what a caller
  needs to tell a reconnect from the end.

The queue is bounded by ``ClientConfig.max_pending_events`` without ever dropping: the client
puts every event, and when the backlog goes over the bound it closes the connection with
``SLOW_CONSUMER`` (so the backlog stops growing and nothing is lost or silently skipped). The
bound is checked after each batch of session events (what one read carried): the events of a
batch are all put, so the backlog can pass the bound by one batch before the close.

The queue also tells when the application is done with an event: an event may carry an
``on_handled`` callback (the client acks a message, records a history chunk, from it), called
once the consumer reports the event handled. The one consumer hands events out one at a time:
``handled()`` reports the event it was handed last, and asking for the next event (``get``)
reports it first, so an ``async for`` body that finished is a handled event, and an event the
consumer stopped on (a ``break``, an exception, a cancellation) is not. A consumer that only
passes events on (a fleet) ``take``s each event with its callback instead, and calls it once
its own consumer is done with the event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeVar

import anyio
import anyio.lowlevel

from walink._receive.events import IdentityChanged, MessagesUpsert
from walink._session.events import (
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    HistoryFailed,
    MessageFailed,
    MessageProcessed,
    NodeReceived,
    PairingCode,
)
from walink.protocol.history import HistorySet, HistoryStatus

__all__ = [
    "EVENT_NAMES",
    "EVENT_NAME_BY_TYPE",
    "ClientEvent",
    "Closed",
    "ConnectionUpdate",
    "CredsUpdate",
    "EventHandler",
    "EventName",
    "Handler",
    "HistoryFailed",
    "HistorySet",
    "HistoryStatus",
    "IdentityChanged",
    "MessageFailed",
    "MessageProcessed",
    "MessagesUpsert",
    "NodeReceived",
    "PairingCode",
    "event_name",
]

ClientEvent = (
    ConnectionUpdate
    | CredsUpdate
    | NodeReceived
    | MessageProcessed
    | MessageFailed
    | MessagesUpsert
    | IdentityChanged
    | HistorySet
    | HistoryStatus
    | HistoryFailed
    | PairingCode
    | Closed
)
"""Everything ``client.events()`` yields."""

EventName = Literal[
    "connection.update",
    "creds.update",
    "node",
    "message",
    "message.failed",
    "messages.upsert",
    "identity.changed",
    "messaging-history.set",
    "messaging-history.status",
    "messaging-history.failed",
    "pairing_code",
    "closed",
]
"""Names for ``client.on(name, handler)``: Baileys' names (``messages.upsert`` too), plus
``node``, ``message``, ``message.failed``, ``identity.changed``, ``pairing_code`` and
``closed``; ``messaging-history.set`` and ``messaging-history.status`` are Baileys' names,
``messaging-history.failed`` a history chunk that could not be had."""

EVENT_NAME_BY_TYPE: Mapping[type[ClientEvent], EventName] = MappingProxyType(
    {
        ConnectionUpdate: "connection.update",
        CredsUpdate: "creds.update",
        NodeReceived: "node",
        MessageProcessed: "message",
        MessageFailed: "message.failed",
        MessagesUpsert: "messages.upsert",
        IdentityChanged: "identity.changed",
        HistorySet: "messaging-history.set",
        HistoryStatus: "messaging-history.status",
        HistoryFailed: "messaging-history.failed",
        PairingCode: "pairing_code",
        Closed: "closed",
    }
)
"""The ``on()`` name of each ``ClientEvent`` type: the one place a new event gets its name
(``EVENT_NAMES`` and ``event_name`` follow from it; a test holds it to ``ClientEvent`` and
``EventName``)."""

EVENT_NAMES: frozenset[str] = frozenset(EVENT_NAME_BY_TYPE.values())
"""Every valid ``EventName``."""

E = TypeVar("E")

Handler = Callable[[E], Awaitable[None] | None]
"""A callback for events of type ``E``: a plain function or a coroutine function.
``client.on("connection.update", handler)`` takes a ``Handler[ConnectionUpdate]``, and so on
for each name (the overloads of ``Client.on`` say which); a handler of every event takes
``ClientEvent``."""

EventHandler = Handler[ClientEvent]
"""A callback of every event: a plain function or a coroutine function, called with it."""


def event_name(event: ClientEvent) -> EventName:
    """The ``on()`` name of an event (of a subclass too: its nearest named base decides).

    Raises ``TypeError`` for an object that is no ``ClientEvent``.
    """
    for cls in type(event).__mro__:
        name = EVENT_NAME_BY_TYPE.get(cls)
        if name is not None:
            return name
    raise TypeError(f"not a client event: {type(event).__name__}")


@dataclass(frozen=True, slots=True)
class _Queued:
    event: ClientEvent
    on_handled: Callable[[], None] | None


class EventQueue:
    """A FIFO with one consumer, never blocking the producer; ``over_limit`` tells the bound;
    ``handled`` reports the consumer done with the event it was handed last."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[_Queued] = deque()
        self._ready = anyio.Event()
        self._drained = anyio.Event()
        self._closed = False
        self._current: Callable[[], None] | None = None
        self.peak = 0
        """The most events that ever waited at once (for tests and the health view)."""

    def __len__(self) -> int:
        return len(self._items)

    @property
    def over_limit(self) -> bool:
        """More events wait than the bound allows: the producer must stop the inflow."""
        return len(self._items) > self.limit

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, event: ClientEvent, *, on_handled: Callable[[], None] | None = None) -> None:
        """Append (producer side, synchronous: the protocol never waits for the consumer);
        ``on_handled`` is called once the consumer reports ``event`` handled (never if it never
        does)."""
        self._items.append(_Queued(event, on_handled))
        self.peak = max(self.peak, len(self._items))
        self._ready.set()

    def close(self) -> None:
        """No more events: ``get`` returns None once the queue is drained."""
        self._closed = True
        self._ready.set()

    def handled(self) -> None:
        """The consumer is done with the event it was handed last (a no-op the second time):
        its ``on_handled`` runs now, in the consumer's task."""
        callback, self._current = self._current, None
        if callback is not None:
            callback()

    async def get(self) -> ClientEvent | None:
        """The oldest event; None once closed and drained. Asking for it reports the event
        handed out before as handled (``handled``).

        A cancelled consumer gets its cancellation even while events wait: otherwise it would
        keep being handed events until the queue ran dry.
        """
        self.handled()
        queued = await self._pop()
        if queued is None:
            return None
        self._current = queued.on_handled
        return queued.event

    async def take(self) -> tuple[ClientEvent, Callable[[], None] | None] | None:
        """The oldest event with its ``on_handled``, for a consumer that passes the event on
        and reports it handled itself, later, by calling it (a fleet, once its own consumer
        is done with the event); None once closed and drained.

        The queue keeps no note of what it handed out this way: asking again reports nothing,
        so a taker reports (or never reports) each event through its callback alone.
        """
        queued = await self._pop()
        if queued is None:
            return None
        return queued.event, queued.on_handled

    async def _pop(self) -> _Queued | None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        while not self._items:
            if self._closed:
                return None
            await self._ready.wait()
            if not self._items and not self._closed:
                self._ready = anyio.Event()
        queued = self._items.popleft()
        if not self._items and not self._closed:
            self._ready = anyio.Event()
        if len(self._items) <= self.limit // 2:
            self._drained.set()
        return queued

    async def wait_drained(self) -> None:
        """Return once at most half the bound waits (at once if so already)."""
        while len(self._items) > self.limit // 2:
            self._drained = anyio.Event()
            await self._drained.wait()
