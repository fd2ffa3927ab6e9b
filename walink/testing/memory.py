"""A ``ClientSession`` wired to the server role in memory, with a fake clock (h11's ConnectionPair).

``MemoryPair`` plays the I/O layer exactly as ``walink.session`` describes it: it starts attempts,
"dials" the ``Hub`` (``hub.connect``), moves bytes both ways until nothing moves, persists every
``SaveRequest`` into an ``AuthStore`` and confirms it, closes the server side when the session
reports ``Closed``, carries the server's close requests to the session, and reconnects at the
policy's ``reconnect_at``. With a ``processor`` it runs every ``ProcessMessage`` job at once,
synchronously, and reports the outcome (without one, the jobs wait in ``pending_jobs``); every
published message and history chunk is reported handled at once (``auto_handle``). History
downloads (``DownloadHistory``) are served from the hub's blob store at once, verified, inflated
and parsed as a client does (``hold_downloads``: they wait in ``pending_downloads``).
Time passes only through ``advance``: it jumps from deadline to deadline (the client's, the
server's, the reconnect), so minutes of keepalive and backoff run in microseconds and every run
with the same seeds is identical.

    hub = Hub(rng=random.Random(1).randbytes, now=T0)
    pair = MemoryPair.create(hub, seed=2, now=T0)
    pair.start()
    pair.scan_qr()                    # the simulated phone scans the QR on screen
    pair.run_until(lambda: pair.session.connection == "open", limit=60)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from walink._receive.processor import CredsListener
from walink.auth.memory_store import MemoryStore
from walink.auth.model import Creds
from walink.auth.store import AuthStore
from walink.fsm.reasons import WebSocketClosed
from walink.io.media import MediaGoneError, MediaUnavailableError
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.history import decode_history
from walink.protocol.media import MediaIntegrityError
from walink.session import (
    ClientSession,
    Closed,
    ConnectionUpdate,
    DownloadHistory,
    HistoryReceived,
    MessageProcessed,
    MessageProcessor,
    ProcessMessage,
    SaveRequest,
    SessionConfig,
    SessionEvent,
)
from walink.testing.hub import Hub
from walink.testing.server import ServerSession

__all__ = ["MemoryPair"]

_MAX_STEPS = 100_000


class MemoryPair:
    """One client session and the hub's server sessions, connected in memory."""

    def __init__(
        self,
        session: ClientSession,
        hub: Hub,
        *,
        now: float,
        store: AuthStore | None = None,
        auto_confirm: bool = True,
        auto_reconnect: bool = True,
    ) -> None:
        """``auto_confirm``: persist and confirm every save at once (False: ``confirm_saves``).
        ``auto_reconnect``: start the next attempt at the policy's ``reconnect_at``."""
        self.session = session
        self.hub = hub
        self.now = now
        self.store: AuthStore = store if store is not None else MemoryStore()
        self.auto_confirm = auto_confirm
        self.auto_reconnect = auto_reconnect
        self.events: list[SessionEvent] = []
        """Every event the session reported, in order."""
        self.pending_saves: list[SaveRequest] = []
        """Save requests not confirmed yet (only with ``auto_confirm=False``)."""
        self.server: ServerSession | None = None
        """The server side of the current attempt (None between attempts)."""
        self.servers: list[ServerSession] = []
        """Every server session, one per attempt that reached the server."""
        self.sent_bytes = 0
        """Bytes the client wrote to the server (all attempts)."""
        self._lost_delivered = False
        self.processor: MessageProcessor | None = None
        """Runs the message jobs as they come (None: they wait in ``pending_jobs``)."""
        self.pending_jobs: list[ProcessMessage] = []
        """Message jobs not run (only without a ``processor``)."""
        self.hold_downloads = False
        """Keep history download jobs in ``pending_downloads`` instead of running them."""
        self.pending_downloads: list[DownloadHistory] = []
        self.auto_handle = True
        """Report every ``MessageProcessed`` and ``HistoryReceived`` handled as it is published,
        as an application that takes each event at once (False: they wait in ``unhandled``)."""
        self.unhandled: list[MessageProcessed | HistoryReceived] = []
        """Published events not reported handled (only with ``auto_handle=False``)."""

    @classmethod
    def create(
        cls,
        hub: Hub,
        *,
        seed: int,
        now: float,
        creds: Creds | None = None,
        config: SessionConfig | None = None,
        store: AuthStore | None = None,
        auto_confirm: bool = True,
        auto_reconnect: bool = True,
    ) -> MemoryPair:
        """A pair whose session trusts ``hub``'s root and draws from ``random.Random(seed)``."""
        rng = random.Random(seed)
        if creds is None:
            creds = Creds.new(rng.randbytes)
        config = replace(config or SessionConfig(), trust_root=hub.client_trust_root)
        session = ClientSession(creds=creds, rng=rng, config=config)
        return cls(
            session,
            hub,
            now=now,
            store=store,
            auto_confirm=auto_confirm,
            auto_reconnect=auto_reconnect,
        )

    # -- views -------------------------------------------------------------------------------

    @property
    def updates(self) -> list[ConnectionUpdate]:
        """The ``ConnectionUpdate`` events so far."""
        return [e for e in self.events if isinstance(e, ConnectionUpdate)]

    @property
    def closes(self) -> list[Closed]:
        """The ``Closed`` events so far (one per attempt)."""
        return [e for e in self.events if isinstance(e, Closed)]

    @property
    def qr(self) -> str | None:
        """The QR currently on screen."""
        updates = self.updates
        return updates[-1].qr if updates else None

    # -- driving -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start an attempt now and dial the hub."""
        self._dial()
        self.pump()

    def _dial(self) -> None:
        self.session.start(now=self.now)
        self._collect()
        self.server = server = self.hub.connect(now=self.now)
        self.servers.append(server)
        self._lost_delivered = False
        if server.close_requested is not None:
            # dropped before anything was read: the socket never opened
            self.server = None
            self.session.connection_lost(ConnectionRefusedError("dropped"), now=self.now)
        else:
            self.session.connection_made(now=self.now)

    def scan_qr(self, qr: str | None = None) -> str:
        """Have the hub's phone scan ``qr`` (default: the one on screen); returns the JID."""
        shown = qr if qr is not None else self.qr
        if shown is None:
            raise RuntimeError("no QR is on screen")
        jid = self.hub.phone.scan_qr(shown, now=self.now)
        self.pump()
        return jid

    def confirm_saves(self) -> None:
        """Persist and confirm every pending save, oldest first."""
        while self.pending_saves:
            self._save(self.pending_saves.pop(0))
        self.pump()

    def pump(self) -> None:
        """Move bytes and events both ways until nothing moves."""
        for _ in range(_MAX_STEPS):
            if self._step():
                continue
            if not self._reconnect_due():
                return
            self._dial()
        raise RuntimeError("the pair did not settle (a loop between client and server?)")

    def _reconnect_due(self) -> bool:
        session = self.session
        reconnect_at = session.reconnect_at
        return (
            self.auto_reconnect
            and not session.attempt_alive
            and reconnect_at is not None
            and reconnect_at <= self.now
            and not session.finished
        )

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, running every deadline that falls inside, in order."""
        target = self.now + seconds
        for _ in range(_MAX_STEPS):
            due = self._next_due()
            if due is None or due > target:
                break
            self._tick(max(self.now, due))
        else:
            raise RuntimeError("too many deadlines: the session may be spinning")
        self.now = max(self.now, target)
        self.pump()

    def run_until(self, predicate: Callable[[], bool], *, limit: float) -> bool:
        """Advance deadline by deadline until ``predicate()`` or ``limit`` seconds passed."""
        end = self.now + limit
        self.pump()
        for _ in range(_MAX_STEPS):
            if predicate():
                return True
            due = self._next_due()
            if due is None or due > end:
                self.advance(end - self.now)
                return predicate()
            self._tick(max(self.now, due))
        raise RuntimeError("too many deadlines: the session may be spinning")

    # -- machinery ---------------------------------------------------------------------------

    def _next_due(self) -> float | None:
        candidates = [self.session.next_deadline()]
        if self.server is not None and not self.server.ended:
            candidates.append(self.server.next_deadline())
        if self.auto_reconnect and not self.session.attempt_alive:
            candidates.append(self.session.reconnect_at)
        present = [c for c in candidates if c is not None]
        return min(present) if present else None

    def _tick(self, now: float) -> None:
        self.now = now
        session = self.session
        deadline = session.next_deadline()
        if deadline is not None and deadline <= now:
            session.handle_timeout(now=now)
        server = self.server
        if server is not None and not server.ended:
            server_deadline = server.next_deadline()
            if server_deadline is not None and server_deadline <= now:
                server.handle_timeout(now)
        self.pump()

    def _step(self) -> bool:
        moved = self._collect()
        session, server = self.session, self.server
        out = session.data_to_send()
        if out:
            moved = True
            self.sent_bytes += len(out)
            if server is not None and not server.ended:
                server.receive_data(out, now=self.now)
        if server is None:
            return moved
        inbound = server.data_to_send()
        if inbound:
            moved = True
            session.receive_data(inbound, now=self.now)
        if not session.attempt_alive:
            # the session reported Closed: its socket closes, the server sees the EOF
            out = session.data_to_send()
            if out and not server.ended:
                server.receive_data(out, now=self.now)
            if not server.ended:
                server.receive_data(None, now=self.now)
            self.server = None
            self._collect()
            return True
        request = server.close_requested
        if request is not None and not inbound and not self._lost_delivered:
            self._lost_delivered = True
            cause: BaseException | WebSocketClosed = (
                ConnectionResetError("connection aborted by the server")
                if request.abort
                else WebSocketClosed(code=request.code, reason=request.reason)
            )
            session.connection_lost(cause, now=self.now)
            moved = True
        return self._collect() or moved

    def _collect(self) -> bool:
        got = False
        while (event := self.session.next_event()) is not None:
            got = True
            self.events.append(event)
            if isinstance(event, SaveRequest):
                if self.auto_confirm:
                    self._save(event)
                else:
                    self.pending_saves.append(event)
            elif isinstance(event, ProcessMessage):
                if self.processor is not None:
                    self._run_job(self.processor, event)
                else:
                    self.pending_jobs.append(event)
            elif isinstance(event, (MessageProcessed, HistoryReceived)):
                if self.auto_handle:
                    self.handle(event)
                else:
                    self.unhandled.append(event)
            elif isinstance(event, DownloadHistory):
                if self.hold_downloads:
                    self.pending_downloads.append(event)
                else:
                    self.run_download(event)
        return got

    def handle(self, event: MessageProcessed | HistoryReceived) -> None:
        """Report ``event`` handled by the application (drops it from ``unhandled``)."""
        self.unhandled = [e for e in self.unhandled if e is not event]
        if isinstance(event, MessageProcessed):
            self.session.message_handled(event.token, now=self.now)
        else:
            self.session.history_handled(event.token, now=self.now)

    def run_download(self, job: DownloadHistory) -> None:
        """Serve a history download from the hub's blobs, as a client's downloader would: a
        404/410 or a failed check asks for a re-upload, a truncated body does not."""
        path = job.request.direct_path
        if "://" in path:
            path = "/" + path.split("://", 1)[1].split("/", 1)[1]
        answer = self.hub.blobs.answer(path)
        session = self.session
        if answer.status in (404, 410):
            error: Exception = MediaGoneError(f"history blob gone ({answer.status})")
            session.history_download_failed(job.token, error, reupload=True, now=self.now)
            return
        if answer.status != 200 or (
            answer.content_length is not None and answer.content_length > len(answer.body)
        ):
            error = MediaUnavailableError(f"history blob not served whole ({answer.status})")
            session.history_download_failed(job.token, error, reupload=False, now=self.now)
            return
        try:
            sync = decode_history(job.request.verify(answer.body), max_size=job.max_size)
        except MediaIntegrityError as failed:
            session.history_download_failed(job.token, failed, reupload=True, now=self.now)
        except RemoteProtocolError as malformed:
            session.history_download_failed(job.token, malformed, reupload=False, now=self.now)
        else:
            session.history_downloaded(job.token, sync, now=self.now)

    def _run_job(self, processor: MessageProcessor, job: ProcessMessage) -> None:
        # what a client's job runner does, synchronously: a decrypt failure is the message's,
        # any other exception the store's (the session tells them apart)
        try:
            processed = processor.process(job.node)
        except Exception as error:
            self.session.message_failed(job.token, error, now=self.now)
        else:
            self.session.message_processed(job.token, processed, now=self.now)

    def _save(self, request: SaveRequest) -> None:
        if request.keys is not None:
            self.store.set_keys(request.keys)
        if request.creds is not None:
            self.store.save(request.creds)
            if isinstance(self.processor, CredsListener):
                self.processor.creds_saved(request.creds)
        self.session.confirm_saved(request.token)
