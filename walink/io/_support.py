"""The ``Client``'s small parts: store opening, error mapping, per-attempt state, waiters."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import anyio.abc

from walink._session.events import QueryError, QueryFailure, QueryResult
from walink.auth.multifile_store import MultiFileStore
from walink.auth.sqlite_store import SQLiteStore
from walink.auth.store import AuthStore
from walink.fsm.reasons import UpgradeRejected
from walink.fsm.reasons import WebSocketClosed as ClosedCause
from walink.io.errors import (
    QueryClosedError,
    QueryFailedError,
    QueryServerError,
    QueryTimeoutError,
)
from walink.io.events import ClientEvent, EventQueue
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
from walink.protocol.errors import RemoteProtocolError

__all__ = [
    "Attempt",
    "EventIterator",
    "QueryWaiter",
    "cancel_when_set",
    "open_store",
    "print_qr",
    "query_error",
    "transport_cause",
]


def open_store(path: str | os.PathLike[str]) -> AuthStore:
    """The store at ``path``: a folder is Baileys' multi-file layout, anything else SQLite."""
    return MultiFileStore(path) if Path(path).is_dir() else SQLiteStore(path)


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


class QueryWaiter:
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.outcome: QueryResult | QueryError | None = None


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
