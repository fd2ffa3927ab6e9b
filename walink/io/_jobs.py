"""The ``Client``'s job workers: message processing and history downloads, run in order.

Theory of operation
-------------------
The sans-IO session never runs slow work itself. It emits a *job* event (``ProcessMessage``:
decrypt and commit one ``<message>``; ``DownloadHistory``: fetch and open one history chunk)
and waits for the outcome to come back through one of its inputs (``message_processed`` /
``message_failed``, ``history_downloaded`` / ``history_download_failed``). A worker here is the
other half of that contract, one per kind of job:

- ``route(event)`` is called from the client's pump (synchronously: it never waits). A job event
  is queued for the worker's task; an outcome event the session published (``MessageProcessed``,
  ``HistoryReceived``...) goes to the application's event queue, the last event made of a job
  carrying an ``on_handled`` callback.
- The worker's task (``start``) takes the jobs one at a time, in the order the session emitted
  them, and runs each (``run``: the processor in the store's worker thread; the downloader, then
  the CPU work in a thread). Whatever the job raises is its outcome, never the task's: it is
  reported to the session as the job's failure.
- Before reporting, the worker checks that the job is still worth an answer: the lifecycle has
  not ended (the session, its saver and its capture are gone then) and the session still waits
  for that token (a job of a connection that ended is dropped: the next run does it again).
  Then it reports and pumps, so what the outcome released goes out at once.
- ``handled(token)`` is the ``on_handled`` callback. It runs in the consumer's task (the event
  queue calls it once the application handled the event) and tells the session, which then
  sends the receipt and ack (a message) or records the chunk as processed (history). A failure
  of ours there, or while reporting an outcome, must become neither the application's exception
  nor an ``ExceptionGroup`` out of the client: it stops the client through ``JobHost.fail``.

What a worker needs from its client is the small ``JobHost``; it never reaches into the client.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, Protocol, TypeVar

import anyio
import anyio.abc
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from walink._receive.events import derived_events
from walink._session.events import (
    DownloadHistory,
    HistoryFailed,
    HistoryReceived,
    HistoryStatusChanged,
    MessageFailed,
    MessageProcessed,
    ProcessMessage,
)
from walink._session.messages import MessageProcessor, ProcessedMessage
from walink.auth.model import Creds
from walink.io.events import EventQueue
from walink.io.media import Downloader, MediaGoneError
from walink.protocol.binary import Node
from walink.protocol.history import decode_history
from walink.protocol.media import MediaIntegrityError
from walink.protocol.proto import e2e_pb2

__all__ = ["HistoryJobs", "JobHost", "JobSession", "MessageJobs", "OrderedJobs", "open_chunk"]

J = TypeVar("J")
R = TypeVar("R")

ProcessRunner = Callable[[Callable[[Node], ProcessedMessage], Node], Awaitable[ProcessedMessage]]
"""Runs the processor's blocking ``process(node)`` off the event loop (the store's runner)."""


class JobSession(Protocol):
    """What the workers read and report of the sans-IO session (``ClientSession`` has it)."""

    @property
    def creds(self) -> Creds: ...

    @property
    def finished(self) -> bool: ...

    @property
    def jobs_pending(self) -> frozenset[int]: ...

    def message_processed(self, token: int, processed: ProcessedMessage, *, now: float) -> None: ...

    def message_failed(self, token: int, error: BaseException, *, now: float) -> None: ...

    @property
    def messages_unhandled(self) -> frozenset[int]: ...

    def message_handled(self, token: int, *, now: float) -> None: ...

    @property
    def history_downloads_pending(self) -> frozenset[int]: ...

    def history_downloaded(self, token: int, sync: e2e_pb2.HistorySync, *, now: float) -> None: ...

    def history_download_failed(
        self, token: int, error: Exception, *, reupload: bool, now: float
    ) -> None: ...

    @property
    def history_unhandled(self) -> frozenset[int]: ...

    def history_handled(self, token: int, *, now: float) -> None: ...


@dataclass(frozen=True, slots=True, eq=False)
class JobHost:
    """What a job worker needs from its client: a small typed view, nothing private.

    ``pump`` hands the session's new events out (the client's pump); ``done`` is set when the
    client's lifecycle ended; ``fail(message, error)`` stops the client on a failure of ours
    (logged at ERROR with its traceback).
    """

    session: JobSession
    queue: EventQueue
    log: logging.Logger
    now: Callable[[], float]
    pump: Callable[[], None]
    done: anyio.Event
    fail: Callable[[str, Exception], None]


class OrderedJobs(ABC, Generic[J, R]):
    """One kind of job, run one at a time in order by its own task (see the module docstring).

    A subclass says how a job runs (``run``), whether the session still waits for it
    (``pending``), and how each outcome is reported (``succeeded``, ``failed``).
    """

    def __init__(self, host: JobHost) -> None:
        self._host = host
        self._send: MemoryObjectSendStream[J] | None = None

    def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start the worker's task in ``task_group`` (once)."""
        if self._send is not None:
            raise RuntimeError("the worker is already started")
        send, receive = anyio.create_memory_object_stream[J](math.inf)
        self._send = send
        task_group.start_soon(self._work, receive)

    def submit(self, job: J) -> None:
        """Queue ``job`` behind the others (synchronous: the pump calls it)."""
        if self._send is None:
            raise RuntimeError("the worker was not started")
        self._send.send_nowait(job)

    def close(self) -> None:
        """No more jobs: the task ends once it went through those already queued (the client
        calls it when its lifecycle ended, so their outcomes are dropped)."""
        if self._send is not None:
            self._send.close()

    @abstractmethod
    async def run(self, job: J) -> R:
        """Do the job; what it raises is the job's failure."""

    @abstractmethod
    def pending(self, job: J) -> bool:
        """Whether the session still waits for ``job``'s outcome."""

    @abstractmethod
    def succeeded(self, job: J, result: R) -> None:
        """Report ``job``'s result to the session."""

    @abstractmethod
    def failed(self, job: J, error: Exception) -> None:
        """Report ``job``'s failure to the session."""

    async def _work(self, jobs: MemoryObjectReceiveStream[J]) -> None:
        host = self._host
        async with jobs:
            async for job in jobs:
                report = await self._outcome(job)
                if not host.done.is_set() and self.pending(job):
                    try:
                        report()
                        host.pump()
                    except Exception as error:
                        # the client stops; the task stays, so that the pump can still queue
                        host.fail("reporting a job's outcome failed", error)
                # else its lifecycle or its connection ended: the next run does it again
                # idle until the next job: keep no reference to this one (a chunk may be large)
                del job, report

    async def _outcome(self, job: J) -> Callable[[], None]:
        """Run ``job``; return how its outcome is reported (whatever it raised is a failure)."""
        try:
            result = await self.run(job)
        except Exception as error:  # a user processor or downloader may raise anything
            return partial(self.failed, job, error)
        return partial(self.succeeded, job, result)

    def _report_handled(
        self, waiting: frozenset[int], report: Callable[..., None], token: int
    ) -> None:
        # runs in the consumer's task (the queue calls it): a failure of ours must not become
        # the application's exception, so it stops the client like any internal error
        if token not in waiting:
            return
        try:
            report(token, now=self._host.now())
            self._host.pump()
        except Exception as error:
            self._host.fail("reporting an event handled failed", error)


class MessageJobs(OrderedJobs[ProcessMessage, ProcessedMessage]):
    """The message worker: every ``<message>`` through the ``MessageProcessor``, in order.

    The processor commits before it returns (in the store's worker thread for a store on disk),
    so the session may then publish and ack. A decrypt failure (``RemoteProtocolError``) is the
    message's; any other exception is the store's, and the session stops on it
    (``STORE_ERROR``) without acking the message. A message committed after its lifecycle ended
    is never acked: the server delivers it again at the next run, and the committed result
    answers it there.
    """

    def __init__(self, host: JobHost, processor: MessageProcessor, run: ProcessRunner) -> None:
        super().__init__(host)
        self._processor = processor
        self._run = run

    def route(self, event: ProcessMessage | MessageProcessed | MessageFailed) -> None:
        """A job goes to the worker; an outcome to the application (with its derived events)."""
        if isinstance(event, ProcessMessage):
            self.submit(event)
            return
        # what users read: the decrypted messages (or the stub), identity changes
        events = [event, *derived_events(event, self._host.session.creds)]
        for published in events[:-1]:
            self._host.queue.put(published)
        # the events of one message are handed out in a row: handled with the last one
        on_handled = None
        if isinstance(event, MessageProcessed):
            on_handled = partial(self.handled, event.token)
        self._host.queue.put(events[-1], on_handled=on_handled)

    def handled(self, token: int) -> None:
        """The application handled message ``token``'s events: its receipt and ack may go."""
        session = self._host.session
        if self._host.done.is_set():
            return  # not acked: the server delivers it again at the next run
        self._report_handled(session.messages_unhandled, session.message_handled, token)

    async def run(self, job: ProcessMessage) -> ProcessedMessage:
        try:
            return await self._run(self._processor.process, job.node)
        except Exception as error:
            self._host.log.warning(
                "message %s could not be processed: %s", job.node.attr("id"), error
            )
            raise

    def pending(self, job: ProcessMessage) -> bool:
        return job.token in self._host.session.jobs_pending

    def succeeded(self, job: ProcessMessage, result: ProcessedMessage) -> None:
        self._host.session.message_processed(job.token, result, now=self._host.now())

    def failed(self, job: ProcessMessage, error: Exception) -> None:
        self._host.session.message_failed(job.token, error, now=self._host.now())


class HistoryJobs(OrderedJobs[DownloadHistory, e2e_pb2.HistorySync]):
    """The history worker: every history chunk downloaded and opened, in order.

    The download is the ``downloader``'s; verifying, decrypting, inflating and parsing are CPU
    work on up to hundreds of megabytes, done in a worker thread (``open_chunk``). A blob that
    is gone or fails a check is reported with ``reupload=True`` (the session asks the phone to
    upload it again); any other failure (the network, a user downloader's own exception, a
    chunk over the size cap) with ``reupload=False``.
    """

    def __init__(self, host: JobHost, downloader: Downloader) -> None:
        super().__init__(host)
        self._downloader = downloader

    def route(
        self, event: DownloadHistory | HistoryReceived | HistoryStatusChanged | HistoryFailed
    ) -> None:
        """A download goes to the worker; a chunk, a status or a failure to the application."""
        queue = self._host.queue
        if isinstance(event, DownloadHistory):
            self.submit(event)
        elif isinstance(event, HistoryReceived):
            queue.put(event.history, on_handled=partial(self.handled, event.token))
        elif isinstance(event, HistoryStatusChanged):
            queue.put(event.status)
        else:
            self._host.log.warning(
                "history chunk %s (%s) failed%s: %s",
                event.message_id,
                event.sync_type,
                ", asked the phone to upload it again" if event.reupload else "",
                event.error,
            )
            queue.put(event)

    def handled(self, token: int) -> None:
        """The application handled history chunk ``token``: it may be recorded as processed."""
        session = self._host.session
        if self._host.done.is_set() or session.finished:
            return  # not recorded: the next run publishes it again
        self._report_handled(session.history_unhandled, session.history_handled, token)

    async def run(self, job: DownloadHistory) -> e2e_pb2.HistorySync:
        data = await self._downloader.download(job.request, job.hosts)
        return await anyio.to_thread.run_sync(open_chunk, job, data)

    def pending(self, job: DownloadHistory) -> bool:
        return job.token in self._host.session.history_downloads_pending

    def succeeded(self, job: DownloadHistory, result: e2e_pb2.HistorySync) -> None:
        self._host.session.history_downloaded(job.token, result, now=self._host.now())

    def failed(self, job: DownloadHistory, error: Exception) -> None:
        reupload = isinstance(error, (MediaGoneError, MediaIntegrityError))
        self._host.session.history_download_failed(
            job.token, error, reupload=reupload, now=self._host.now()
        )


def open_chunk(job: DownloadHistory, data: bytes) -> e2e_pb2.HistorySync:
    """Verify and decrypt a downloaded blob, inflate it within the cap and parse it."""
    return decode_history(job.request.verify(data), max_size=job.max_size)
