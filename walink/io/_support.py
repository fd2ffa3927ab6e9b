"""The ``Client``'s small parts: store opening, error mapping, per-attempt state, waiters, and the
``on()`` handler registry a ``Client`` and a ``Fleet`` share."""

from __future__ import annotations

import inspect
import logging
import os
import random
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, TypeVarTuple

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from walink._session.config import SessionConfig
from walink._session.core import ClientSession
from walink._session.events import (
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    NodeReceived,
    PairingCode,
    PairingCodeError,
    QueryError,
    QueryFailure,
    QueryResult,
    SaveRequest,
    SessionEvent,
)
from walink.auth.memory_store import MemoryStore
from walink.auth.model import Creds
from walink.auth.opening import open_store
from walink.auth.store import AuthStore
from walink.fsm.reasons import CloseReason, UpgradeRejected
from walink.fsm.reasons import WebSocketClosed as ClosedCause
from walink.io.errors import (
    InvalidNodeError,
    PairingInputError,
    QueryClosedError,
    QueryFailedError,
    QueryServerError,
    QueryTimeoutError,
)
from walink.io.errors import (
    PairingCodeError as PairingCodeRefused,
)
from walink.io.events import EVENT_NAMES, ClientEvent, EventQueue
from walink.io.websocket import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    HandshakeRejectedError,
    MessageTooBigError,
    WebSocketClosed,
    WebSocketConnection,
    WebSocketProtocolError,
)
from walink.protocol.binary import Node, encode_node, render_node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.frames import MAX_PAYLOAD
from walink.protocol.pairing_code import validate_custom_code, validate_phone_number

if TYPE_CHECKING:
    from walink.capture import CaptureWriter

__all__ = [
    "Attempt",
    "EventIterator",
    "EventRouter",
    "RelayIterator",
    "StoreAccess",
    "Waiter",
    "cancel_when_set",
    "check_node",
    "check_pairing_input",
    "make_session",
    "node_tracer",
    "open_store",
    "pairing_error",
    "print_qr",
    "query_error",
    "redacted_node",
    "transport_cause",
]


T = TypeVar("T")
Args = TypeVarTuple("Args")


class StoreAccess:
    """A ``Client``'s credential store: given, opened from a path, or a fresh ``MemoryStore``.

    Every call runs in a worker thread, so disk I/O never blocks the event loop; a
    ``MemoryStore`` is called inline (it never blocks, and a thread would only add latency and,
    under trio's ``MockClock``, an idle moment that autojumps the clock).
    """

    def __init__(self, auth: AuthStore | str | os.PathLike[str] | None) -> None:
        self._auth = auth
        self._store: AuthStore | None = None
        self._owned = False

    async def open(self) -> AuthStore:
        auth = self._auth
        if auth is None:
            store: AuthStore = MemoryStore()
            self._owned = True
        elif isinstance(auth, (str, os.PathLike)):
            store = await anyio.to_thread.run_sync(open_store, auth)
            self._owned = True
        else:
            store = auth  # the caller's: used, never closed here
        self._store = store
        return store

    @property
    def store(self) -> AuthStore | None:
        """The open store (None before ``open`` and after ``close``)."""
        return self._store

    async def close(self) -> None:
        store = self._store
        if store is not None and self._owned:
            await self.run(store.close)
        self._store = None

    async def run(self, function: Callable[[*Args], T], *args: *Args) -> T:
        if isinstance(self._store, MemoryStore):
            return function(*args)
        return await anyio.to_thread.run_sync(function, *args)

    def save_creds(self, creds: Creds) -> None:
        """Write ``creds`` alone (called through ``run``)."""
        store = self._store
        assert store is not None
        store.save(creds)

    def save(self, request: SaveRequest) -> None:
        """Write what a ``SaveRequest`` carries (called through ``run``)."""
        store = self._store
        assert store is not None
        if request.keys is not None:
            store.set_keys(request.keys)
        if request.creds is not None:
            store.save(request.creds)


def make_session(
    creds: Creds,
    rng: random.Random,
    config: SessionConfig,
    *,
    capture: str | os.PathLike[str] | None,
    redact: bool,
) -> tuple[ClientSession, CaptureWriter | None]:
    """A ``ClientSession``, or a ``CapturingSession`` and the ``CaptureWriter`` it writes to."""
    if capture is None:
        return ClientSession(creds=creds, rng=rng, config=config), None
    from walink.capture import CaptureWriter, CapturingSession  # loaded only when capturing

    writer = CaptureWriter(capture, redact=redact, source="walink client")
    return CapturingSession(creds=creds, rng=rng, config=config, capture=writer), writer


_AEAD_TAG = 16
"""Bytes the Noise transport adds to every frame's plaintext (the AES-GCM tag)."""

_ID_ALLOWANCE = 64
"""Room left for the ``id`` attribute a query gets when it has none."""


def check_node(node: Node, *, query: bool = False) -> None:
    """``InvalidNodeError`` unless ``node`` encodes and fits one frame.

    The node is encoded once here, before the connection sees it: a node the codec refuses
    would otherwise leave the connection's transport in its sticky error state, and the next
    ping or received byte would fail the whole client. ``query``: keep room for an ``id``.
    """
    if not isinstance(node, Node):
        raise InvalidNodeError(f"not a Node: {type(node).__name__}")
    try:
        size = len(encode_node(node))
    except LocalProtocolError as error:
        raise InvalidNodeError(str(error)) from None
    except RecursionError:  # a cycle of children, or a depth the codec's check never reaches
        raise InvalidNodeError("cannot encode node: its children nest too deep") from None
    if query and node.attr("id") is None:
        size += _ID_ALLOWANCE
    if size + _AEAD_TAG > MAX_PAYLOAD:
        raise InvalidNodeError(
            f"the node encodes to {size} bytes: a frame carries at most "
            f"{MAX_PAYLOAD - _AEAD_TAG} (16 MiB)"
        )


def check_pairing_input(phone_number: str, custom_code: str | None) -> None:
    """``PairingInputError`` for a phone number or custom code the session would refuse."""
    try:
        validate_phone_number(phone_number)
        if custom_code is not None:
            validate_custom_code(custom_code)
    except LocalProtocolError as error:
        raise PairingInputError(str(error), text=str(error)) from None


def pairing_error(outcome: PairingCodeError) -> PairingCodeRefused:
    """The exception for the session's ``PairingCodeError`` event."""
    return PairingCodeRefused(
        f"pairing code refused: {outcome.code} {outcome.text}".rstrip(),
        code=outcome.code,
        text=outcome.text,
        retry=outcome.retry,
        failure=outcome.failure,
        node=outcome.node,
    )


def transport_cause(error: BaseException) -> BaseException | ClosedCause | UpgradeRejected:
    """What the session should classify for a transport error (HTTP status, close code...)."""
    if isinstance(error, WebSocketClosed):
        return ClosedCause(code=error.code, reason=error.reason)
    if isinstance(error, HandshakeRejectedError):
        return UpgradeRejected(status=error.status)
    if isinstance(error, ConnectTimeoutError):
        return TimeoutError(str(error))
    if isinstance(error, ConnectError):
        # refused, unreachable, TLS: Baileys reports these socket errors as 408
        return ConnectionError(str(error))
    if isinstance(error, ConnectionLostError):
        return ClosedCause()  # the stream ended without a close frame: an EOF
    if isinstance(error, (MessageTooBigError, WebSocketProtocolError)):
        return RemoteProtocolError(str(error))
    return error


class Attempt:
    """One connection attempt's shared state: its socket, its wake-ups, its task group."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.ws: WebSocketConnection | None = None
        self.closed = False
        self.scope: anyio.CancelScope | None = None
        self.write_wake = anyio.Event()
        self.timer_wake = anyio.Event()
        self.reader_done = anyio.Event()
        """Set when the reader has handed over everything it received and stopped."""

    def wake(self) -> None:
        self.write_wake.set()
        self.timer_wake.set()

    def end(self) -> None:
        """The session said ``Closed``: let the writer say goodbye, or stop a dial at once."""
        self.closed = True
        if self.ws is None and self.scope is not None:
            self.scope.cancel()
        self.wake()


class EventIterator:
    """``async for`` over the event queue; ends once the queue is closed and drained."""

    def __init__(self, queue: EventQueue) -> None:
        self._queue = queue

    def __aiter__(self) -> EventIterator:
        return self

    async def __anext__(self) -> ClientEvent:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event


class RelayIterator:
    """``async for`` over the event queue yielding ``(event, on_handled)`` (``EventQueue.take``):
    the consumer reports each event handled itself; ends once the queue is closed and drained."""

    def __init__(self, queue: EventQueue) -> None:
        self._queue = queue

    def __aiter__(self) -> RelayIterator:
        return self

    async def __anext__(self) -> tuple[ClientEvent, Callable[[], None] | None]:
        item = await self._queue.take()
        if item is None:
            raise StopAsyncIteration
        return item


class Handlers:
    """The ``on()`` handlers of one event consumer (a ``Client``, a ``Fleet``), by event name, and
    the rule that iterating and handlers exclude each other (one consumer only: an event handed
    to a loop and to handlers would be acked by whichever finished first)."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[Callable[..., Awaitable[None] | None]]] = {}
        self.dispatching = False
        """A handler was registered: events go to the handlers."""
        self.iterating = False
        """Events were asked for by iteration (or relayed)."""

    def iterate(self) -> None:
        """Iteration starts; ``RuntimeError`` if handlers take the events."""
        if self.dispatching:
            raise RuntimeError("events are delivered to on() handlers: iterate or register")
        self.iterating = True

    def register(self, name: str, handler: Callable[..., Awaitable[None] | None]) -> bool:
        """Add ``handler`` for ``name``; True for the first handler (the caller starts
        dispatching). ``ValueError`` for an unknown name, ``RuntimeError`` while iterating."""
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event name {name!r}")
        if self.iterating:
            raise RuntimeError("events are being iterated: iterate or register handlers")
        self._by_name.setdefault(name, []).append(handler)
        first, self.dispatching = not self.dispatching, True
        return first

    async def call(self, name: str, *args: Any) -> None:
        """Call every handler of ``name`` with ``args``, in order, each awaited when it returns an
        awaitable; the first exception stops the rest and is raised as is. Once it returns,
        the event is handled (no handler: at once)."""
        # a copy: a handler may register another one
        for handler in list(self._by_name.get(name, ())):
            result = handler(*args)
            if inspect.isawaitable(result):
                await result


class Waiter(Generic[T]):
    """A caller waiting for one session event (a query's reply, a pairing code's outcome);
    ``done`` with no ``outcome`` means the client stopped first."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.outcome: T | None = None

    def settle(self, outcome: T) -> None:
        self.outcome = outcome
        self.done.set()


LOUD_REASONS: frozenset[CloseReason] = frozenset(
    {CloseReason.CERTIFICATE_REJECTED, CloseReason.INTERNAL_ERROR, CloseReason.STORE_ERROR}
)
"""Closes logged at ERROR: the server could not prove who it is, walink failed, the store
failed. Each needs a person to look; the others are the normal weather of a connection."""


class EventRouter:
    """Where each session event goes: the application's queue, a waiting caller, the saver.

    ``route`` is synchronous (it runs inside the client's pump) and never blocks: the queue
    and the saves' stream are unbounded, the bound is enforced by closing (``SLOW_CONSUMER``).
    """

    def __init__(self, queue: EventQueue, log: logging.Logger, draw_qr: bool) -> None:
        self.queue = queue
        self.log = log
        self.draw_qr = draw_qr
        self.saves: MemoryObjectSendStream[SaveRequest] | None = None
        """The saver task's inbox (set once the client runs)."""
        self.queries: dict[str, Waiter[QueryResult | QueryError]] = {}
        """``query`` callers by query id."""
        self.pairings: dict[int, Waiter[PairingCode | PairingCodeError]] = {}
        """``request_pairing_code`` callers by request number."""
        self.last_qr: str | None = None
        self.last_closed: Closed | None = None

    def route(self, event: SessionEvent) -> bool:
        """Deliver ``event``; True when it is the attempt's ``Closed``."""
        log = self.log
        if isinstance(event, ConnectionUpdate):
            log.info("connection update: %r", event)  # its repr hides the QR
            if event.qr is not None and event.qr != self.last_qr and self.draw_qr:
                print_qr(event.qr)
            self.last_qr = event.qr
            self.queue.put(event)
        elif isinstance(event, (CredsUpdate, NodeReceived)):
            self.queue.put(event)  # a node was traced (config.trace) as it arrived
        elif isinstance(event, SaveRequest):
            log.debug("saving: %s", event.why)
            assert self.saves is not None
            self.saves.send_nowait(event)
        elif isinstance(event, (QueryResult, QueryError)):
            query = self.queries.get(event.id)
            if query is not None:
                query.settle(event)
        elif isinstance(event, (PairingCode, PairingCodeError)):
            if isinstance(event, PairingCode):
                # the code itself stays out of the log (it links a device to the account)
                log.info("pairing code ready for %s, until %.0f", event.phone, event.expires_at)
                self.queue.put(event)
            else:
                log.info("pairing code request failed: %s %s", event.code, event.text)
            pairing = self.pairings.get(event.request)
            if pairing is not None:
                pairing.settle(event)
        elif isinstance(event, Closed):
            self.last_closed = event
            disconnect = event.disconnect
            level = logging.ERROR if disconnect.reason in LOUD_REASONS else logging.INFO
            log.log(
                level,
                "connection closed: %s (%d) %s; %s",
                disconnect.reason.name,
                disconnect.status,
                disconnect.message,
                event.decision.explanation,
            )
            self.queue.put(event)
            return True
        return False

    def release_waiters(self) -> None:
        """The client stopped: every caller still waiting wakes without an outcome."""
        for query in self.queries.values():
            query.done.set()
        for pairing in self.pairings.values():
            pairing.done.set()


async def cancel_when_set(event: anyio.Event, task_group: anyio.abc.TaskGroup) -> None:
    await event.wait()
    task_group.cancel_scope.cancel()


def query_error(outcome: QueryError) -> QueryFailedError:
    kinds: dict[QueryFailure, type[QueryFailedError]] = {
        QueryFailure.SERVER_ERROR: QueryServerError,
        QueryFailure.TIMEOUT: QueryTimeoutError,
        QueryFailure.CLOSED: QueryClosedError,
    }
    return kinds[outcome.failure](
        f"query {outcome.id} failed: {outcome.code} {outcome.text}".rstrip(),
        id=outcome.id,
        failure=outcome.failure,
        code=outcome.code,
        node=outcome.node,
        disconnect=outcome.disconnect,
    )


def print_qr(qr: str) -> None:
    """Draw the QR on stderr (never stdout: ``--json`` output stays clean)."""
    import segno  # only when asked: drawing is the one use

    segno.make(qr, error="l").terminal(out=sys.stderr, compact=True)


SECRET_TAGS: frozenset[str] = frozenset(
    {
        "device-identity",  # the ADV blob: HMAC, account and device signatures
        "ref",  # QR refs: live pairing tokens
        "identity",  # pre-key upload
        "registration",
        "key",
        "skey",
        "value",
        "signature",
    }
)
"""Tags whose contents (their whole subtree) a trace masks; ``link_code_*`` tags too."""


def _is_secret(tag: str) -> bool:
    return tag in SECRET_TAGS or tag.startswith("link_code_")


def redacted_node(node: Node, *, hidden: bool = False) -> Node:
    """``node`` with every bytes or text content under a secret tag replaced by its length.

    Tags and attributes stay (a trace still shows which node went where); the masked values
    are the pairing and pre-key material, signatures and refs (``SECRET_TAGS``).
    """
    hidden = hidden or _is_secret(node.tag)
    content = node.content
    if isinstance(content, list):
        children = [redacted_node(child, hidden=hidden) for child in content]
        return Node(node.tag, node.attrs, children)
    if hidden and content is not None:
        kind = "bytes" if isinstance(content, bytes) else "chars"
        return Node(node.tag, node.attrs, f"[redacted {len(content)} {kind}]")
    return node


def node_tracer(log: logging.Logger) -> Callable[[str, Node], None]:
    """The session's ``trace``: every node in (``in``) and out (``out``) at DEBUG, masked."""

    def trace(direction: str, node: Node) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", direction, render_node(redacted_node(node)))

    return trace
