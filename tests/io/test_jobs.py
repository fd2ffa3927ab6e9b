"""walink.io._jobs: the client's job workers on their own, against a recording session double.

The worker's contract (asyncio and trio): jobs run one at a time in the order they came; an
outcome is reported only while the lifecycle runs and the session still waits for the job; what
a job raises is reported as its failure and the worker goes on; a failure of ours while
reporting stops the client (``JobHost.fail``) without ending the worker; a cancellation ends the
worker without a report. Then each kind: the message jobs (processor in the store's runner,
derived events, the ack's callback) and the history jobs (a real encrypted blob, the
``reupload`` rule for each kind of failure, the chunk's callback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walink._session.events import (
    DownloadHistory,
    HistoryFailed,
    HistoryReceived,
    MessageFailed,
    MessageProcessed,
    ProcessMessage,
)
from walink._session.messages import ProcessedMessage
from walink.auth.model import Creds
from walink.io._jobs import HistoryJobs, JobHost, MessageJobs, OrderedJobs
from walink.io.events import ClientEvent, EventQueue
from walink.io.media import MediaForbiddenError, MediaGoneError
from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.history import HistoryDownload, HistorySet
from walink.protocol.media import EncryptedHashMismatchError
from walink.protocol.proto import e2e_pb2
from walink.testing.history import encode_history_sync, encrypted_blob

pytestmark = pytest.mark.anyio

_log = logging.getLogger("tests.jobs")
MEDIA_KEY = bytes(range(32))


@dataclass
class RecordingSession:
    """A ``JobSession`` double: every report it gets, in order; the tokens it waits for."""

    creds: Creds = field(default_factory=Creds.new)
    finished: bool = False
    jobs_pending: frozenset[int] = frozenset()
    messages_unhandled: frozenset[int] = frozenset()
    history_downloads_pending: frozenset[int] = frozenset()
    history_unhandled: frozenset[int] = frozenset()
    reports: list[tuple[str, int, Any]] = field(default_factory=list)
    broken: bool = False
    """Every report raises (a bug of ours inside the session)."""

    def _report(self, kind: str, token: int, value: Any = None) -> None:
        if self.broken:
            raise RuntimeError(f"{kind} failed")
        self.reports.append((kind, token, value))

    def message_processed(self, token: int, processed: ProcessedMessage, *, now: float) -> None:
        self._report("processed", token, processed)

    def message_failed(self, token: int, error: BaseException, *, now: float) -> None:
        self._report("failed", token, error)

    def message_handled(self, token: int, *, now: float) -> None:
        self._report("message_handled", token)

    def history_downloaded(self, token: int, sync: e2e_pb2.HistorySync, *, now: float) -> None:
        self._report("downloaded", token, sync)

    def history_download_failed(
        self, token: int, error: Exception, *, reupload: bool, now: float
    ) -> None:
        self._report("download_failed", token, (error, reupload))

    def history_handled(self, token: int, *, now: float) -> None:
        self._report("history_handled", token)


@dataclass
class Host:
    """A ``JobHost`` and what it saw: pumps and the client-stopping failures."""

    session: RecordingSession = field(default_factory=RecordingSession)
    queue: EventQueue = field(default_factory=lambda: EventQueue(100))
    done: anyio.Event = field(default_factory=anyio.Event)
    pumps: int = 0
    failures: list[tuple[str, Exception]] = field(default_factory=list)

    def pump(self) -> None:
        self.pumps += 1

    def fail(self, message: str, error: Exception) -> None:
        self.failures.append((message, error))

    def host(self) -> JobHost:
        return JobHost(
            session=self.session,
            queue=self.queue,
            log=_log,
            now=lambda: 1_780_000_000.0,
            pump=self.pump,
            done=self.done,
            fail=self.fail,
        )

    async def take(self) -> ClientEvent | None:
        """The next queued event, as a consumer takes it (reporting the one before handled)."""
        with anyio.fail_after(5):
            return await self.queue.get()


@dataclass(frozen=True)
class Job:
    token: int
    steps: int
    """Checkpoints the job yields at before it ends: a later job that could overlap would."""
    error: Exception | None = None


class Probe(OrderedJobs[Job, int]):
    """An ``OrderedJobs`` whose jobs yield ``steps`` times, then return their token or raise."""

    def __init__(self, host: JobHost, session: RecordingSession) -> None:
        super().__init__(host)
        self.session = session
        self.running = 0
        self.started: list[int] = []
        self.gate: anyio.Event | None = None
        """While set to an unset event, every job waits for it after it started."""

    async def run(self, job: Job) -> int:
        assert self.running == 0, "two jobs ran at once"
        self.running += 1
        try:
            self.started.append(job.token)
            if self.gate is not None:
                await self.gate.wait()
            for _ in range(job.steps):
                await anyio.lowlevel.checkpoint()
            if job.error is not None:
                raise job.error
            return job.token
        finally:
            self.running -= 1

    def pending(self, job: Job) -> bool:
        return job.token in self.session.jobs_pending

    def succeeded(self, job: Job, result: int) -> None:
        self.session.message_processed(job.token, ProcessedMessage(result=result), now=0.0)

    def failed(self, job: Job, error: Exception) -> None:
        self.session.message_failed(job.token, error, now=0.0)


async def settle(condition: Callable[[], bool]) -> None:
    """Let the worker run until ``condition`` holds (no clock involved)."""
    with anyio.fail_after(5):
        while not condition():
            await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize("backend_name", ["asyncio", "trio"])
@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=12),
    failing=st.sets(st.integers(min_value=0, max_value=11)),
)
def test_jobs_run_one_at_a_time_and_report_in_order(
    backend_name: str, steps: list[int], failing: set[int]
) -> None:
    # each example runs its own event loop, on each backend
    async def main() -> None:
        state = Host()
        state.session.jobs_pending = frozenset(range(len(steps)))
        probe = Probe(state.host(), state.session)
        jobs = [
            Job(token, n, ValueError(token) if token in failing else None)
            for token, n in enumerate(steps)
        ]
        async with anyio.create_task_group() as task_group:
            probe.start(task_group)
            for job in jobs:
                probe.submit(job)
            await settle(lambda: len(state.session.reports) == len(jobs))
            probe.close()
        assert probe.started == list(range(len(jobs)))
        assert [(kind, token) for kind, token, _ in state.session.reports] == [
            ("failed" if job.error is not None else "processed", job.token) for job in jobs
        ]
        for job, (_, _, value) in zip(jobs, state.session.reports, strict=True):
            # a failure is reported as the job's own exception, a result as it came
            if job.error is not None:
                assert value is job.error
            else:
                assert value == ProcessedMessage(result=job.token)
        assert state.pumps == len(jobs) and state.failures == []

    anyio.run(main, backend=backend_name)


async def test_a_job_of_a_dead_lifecycle_or_connection_is_dropped(anyio_backend: str) -> None:
    state = Host()
    state.session.jobs_pending = frozenset({1, 3})  # job 2's connection ended meanwhile
    probe = Probe(state.host(), state.session)
    probe.gate = anyio.Event()
    async with anyio.create_task_group() as task_group:
        probe.start(task_group)
        for token in (1, 2, 3, 4):
            probe.submit(Job(token, 1))
        await settle(lambda: probe.started == [1])
        probe.gate.set()
        await settle(lambda: probe.started == [1, 2, 3, 4] and probe.running == 0)
        assert [token for _, token, _ in state.session.reports] == [1, 3]
        assert state.pumps == 2  # a dropped job pumps nothing
        # the lifecycle ends while job 5 runs: its outcome goes nowhere
        state.session.jobs_pending = frozenset({5})
        probe.gate = anyio.Event()
        probe.submit(Job(5, 1))
        await settle(lambda: probe.started[-1] == 5)
        state.done.set()
        probe.gate.set()
        probe.close()  # the client closes its workers when its lifecycle ended
    assert [token for _, token, _ in state.session.reports] == [1, 3]
    assert state.pumps == 2


async def test_a_failure_while_reporting_stops_the_client_not_the_worker(
    anyio_backend: str,
) -> None:
    state = Host()
    state.session.jobs_pending = frozenset({1, 2})
    state.session.broken = True
    probe = Probe(state.host(), state.session)
    async with anyio.create_task_group() as task_group:
        probe.start(task_group)
        probe.submit(Job(1, 0))
        probe.submit(Job(2, 0, OSError("disk")))
        await settle(lambda: len(state.failures) == 2)
        probe.close()
    assert [message for message, _ in state.failures] == ["reporting a job's outcome failed"] * 2
    assert all(isinstance(error, RuntimeError) for _, error in state.failures)
    assert probe.started == [1, 2] and state.pumps == 0


async def test_cancellation_ends_the_worker_without_a_report(anyio_backend: str) -> None:
    state = Host()
    state.session.jobs_pending = frozenset({1, 2})
    probe = Probe(state.host(), state.session)
    probe.gate = anyio.Event()  # never set: job 1 runs until cancelled
    with anyio.fail_after(5):
        async with anyio.create_task_group() as task_group:
            probe.start(task_group)
            probe.submit(Job(1, 0))
            probe.submit(Job(2, 0))
            await settle(lambda: probe.started == [1])
            task_group.cancel_scope.cancel()
    # the cancellation was not taken for the job's failure, and job 2 never started
    assert state.session.reports == [] and state.failures == []
    assert probe.started == [1] and probe.running == 0


async def test_a_worker_is_started_once_and_only_takes_jobs_once_started(
    anyio_backend: str,
) -> None:
    state = Host()
    probe = Probe(state.host(), state.session)
    with pytest.raises(RuntimeError):
        probe.submit(Job(1, 0))
    async with anyio.create_task_group() as task_group:
        probe.start(task_group)
        with pytest.raises(RuntimeError):
            probe.start(task_group)
        probe.close()
    probe.close()  # idempotent


# -- the message jobs --------------------------------------------------------------------------


def message(node_id: str) -> Node:
    return Node("message", {"id": node_id, "from": "15550002222@s.whatsapp.net", "t": "1"})


class Processor:
    """A ``MessageProcessor`` double: ``bad`` ids fail to decrypt, ``disk`` ids fail the store."""

    def process(self, node: Node) -> ProcessedMessage:
        node_id = node.attr("id") or ""
        if node_id.startswith("bad"):
            raise RemoteProtocolError("no session")
        if node_id.startswith("disk"):
            raise OSError(28, "No space left on device")
        return ProcessedMessage(result=f"text of {node_id}")


async def inline(function: Callable[[Node], ProcessedMessage], node: Node) -> ProcessedMessage:
    """The store runner of a store in memory: the call runs inline."""
    await anyio.lowlevel.checkpoint()
    return function(node)


async def test_message_jobs_report_every_outcome_in_order(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = Host()
    state.session.jobs_pending = frozenset({1, 2, 3})
    jobs = MessageJobs(state.host(), Processor(), inline)
    async with anyio.create_task_group() as task_group:
        jobs.start(task_group)
        for token, node_id in ((1, "ok1"), (2, "bad2"), (3, "disk3")):
            jobs.route(ProcessMessage(token=token, node=message(node_id)))
        await settle(lambda: len(state.session.reports) == 3)
        jobs.close()
    kinds = [(kind, token) for kind, token, _ in state.session.reports]
    assert kinds == [("processed", 1), ("failed", 2), ("failed", 3)]
    assert state.session.reports[0][2] == ProcessedMessage(result="text of ok1")
    assert isinstance(state.session.reports[1][2], RemoteProtocolError)
    assert isinstance(state.session.reports[2][2], OSError)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("bad2 could not be processed" in w for w in warnings)
    assert any("disk3 could not be processed" in w for w in warnings)


async def test_a_processed_message_is_acked_once_its_last_event_is_handled(
    anyio_backend: str,
) -> None:
    state = Host()
    jobs = MessageJobs(state.host(), Processor(), inline)
    processed = MessageProcessed(
        token=7, node=message("M7"), result="x", offline=False, redelivered=False
    )
    failed = MessageFailed(
        node=message("bad8"), error=RemoteProtocolError("no"), retry_count=1, gave_up=False
    )
    state.session.messages_unhandled = frozenset({7})
    jobs.route(processed)
    jobs.route(failed)
    assert await state.take() is processed
    assert state.session.reports == []  # handed out, not handled yet
    assert await state.take() is failed  # asking for the next one handles the one before
    assert state.session.reports == [("message_handled", 7, None)] and state.pumps == 1
    state.queue.handled()  # a failed message holds nothing back
    assert len(state.session.reports) == 1 and state.pumps == 1


async def test_a_message_is_reported_handled_only_while_the_session_waits_for_it(
    anyio_backend: str,
) -> None:
    state = Host()
    jobs = MessageJobs(state.host(), Processor(), inline)
    jobs.handled(7)  # not waiting for it (handled already, or its connection ended)
    assert state.session.reports == [] and state.pumps == 0
    state.session.messages_unhandled = frozenset({7})
    state.done.set()
    jobs.handled(7)  # after the lifecycle ended: never acked (the server delivers it again)
    assert state.session.reports == [] and state.pumps == 0


async def test_a_failure_while_reporting_handled_stops_the_client(anyio_backend: str) -> None:
    state = Host()
    state.session.messages_unhandled = frozenset({7})
    state.session.broken = True
    jobs = MessageJobs(state.host(), Processor(), inline)
    jobs.route(
        MessageProcessed(token=7, node=message("M7"), result="x", offline=False, redelivered=False)
    )
    await state.take()
    state.queue.handled()  # in the consumer's task: it must not raise there
    [(text, error)] = state.failures
    assert text == "reporting an event handled failed" and isinstance(error, RuntimeError)


# -- the history jobs --------------------------------------------------------------------------


def sync() -> e2e_pb2.HistorySync:
    return e2e_pb2.HistorySync(sync_type=e2e_pb2.HistorySync.RECENT, chunk_order=3)


def blob() -> tuple[HistoryDownload, bytes]:
    return encrypted_blob(encode_history_sync(sync()), MEDIA_KEY)


class Downloader:
    """A ``Downloader`` double: each call pops the next answer (bytes, or an exception)."""

    def __init__(self, answers: list[bytes | Exception]) -> None:
        self.answers = answers
        self.hosts: list[tuple[str, ...]] = []

    async def download(self, request: HistoryDownload, hosts: Sequence[str]) -> bytes:
        self.hosts.append(tuple(hosts))
        await anyio.lowlevel.checkpoint()
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_history_jobs_open_a_chunk_and_classify_each_failure(anyio_backend: str) -> None:
    request, data = blob()
    tampered = bytearray(data)
    tampered[-3] ^= 4
    answers: list[bytes | Exception] = [
        data,
        MediaGoneError("404", status=404),
        bytes(tampered),
        MediaForbiddenError("403", status=403),
        ValueError("a user downloader's own bug"),
    ]
    state = Host()
    state.session.history_downloads_pending = frozenset(range(1, len(answers) + 1))
    downloader = Downloader(answers)
    jobs = HistoryJobs(state.host(), downloader)
    async with anyio.create_task_group() as task_group:
        jobs.start(task_group)
        for token in range(1, len(answers) + 1):
            jobs.route(
                DownloadHistory(token=token, request=request, hosts=("h",), max_size=1 << 20)
            )
        await settle(lambda: len(state.session.reports) == 5)
        jobs.close()
    [ok, *failures] = state.session.reports
    assert ok[:2] == ("downloaded", 1) and ok[2] == sync()
    # gone or failing a check: the phone uploads it again; anything else waits for a login
    assert [(token, type(error), reupload) for _, token, (error, reupload) in failures] == [
        (2, MediaGoneError, True),
        (3, EncryptedHashMismatchError, True),
        (4, MediaForbiddenError, False),
        (5, ValueError, False),
    ]
    assert downloader.hosts == [("h",)] * 5


async def test_a_chunk_over_the_cap_fails_without_a_reupload(anyio_backend: str) -> None:
    request, data = blob()
    state = Host()
    state.session.history_downloads_pending = frozenset({1})
    jobs = HistoryJobs(state.host(), Downloader([data]))
    async with anyio.create_task_group() as task_group:
        jobs.start(task_group)
        jobs.route(DownloadHistory(token=1, request=request, hosts=(), max_size=1))
        await settle(lambda: len(state.session.reports) == 1)
        jobs.close()
    [(kind, token, (_, reupload))] = state.session.reports
    assert (kind, token, reupload) == ("download_failed", 1, False)


async def test_a_chunk_is_recorded_once_handled_while_the_session_runs(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = Host()
    jobs = HistoryJobs(state.host(), Downloader([]))
    chunk = HistorySet(
        chats=(),
        contacts=(),
        messages=(),
        lid_pn_mappings=(),
        is_latest=False,
        progress=None,
        sync_type="RECENT",
        chunk_order=None,
    )
    failure = HistoryFailed(
        message_id="H2",
        sync_type="RECENT",
        error=MediaGoneError("404", status=404),
        reupload=True,
        final=False,
    )
    jobs.route(HistoryReceived(token=4, history=chunk, message_id="H1"))
    jobs.route(failure)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "H2" in text and "upload it again" in text
    state.session.history_unhandled = frozenset({4})
    state.session.finished = True
    jobs.handled(4)  # a finished session records nothing: the next run publishes it again
    assert state.session.reports == []
    state.session.finished = False
    assert await state.take() is chunk
    assert await state.take() is failure  # the chunk handled: recorded
    assert state.session.reports == [("history_handled", 4, None)]
    state.queue.handled()  # a failure holds nothing back
    assert len(state.session.reports) == 1
