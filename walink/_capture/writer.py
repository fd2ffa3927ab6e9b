"""Writing a capture: ``CaptureWriter`` (the file) and ``CapturingSession`` (a ``ClientSession``
that records its inputs, nodes (through the session's node tap) and events into one).
"""

from __future__ import annotations

import json
import math
import os
import random
from types import TracebackType
from typing import IO, Any

from walink._capture.events import PAIRING_CODE_MARKER, encode_event
from walink._capture.format import (
    Header,
    config_to_json,
    creds_to_json,
    encode_cause,
)
from walink._capture.jobs import encode_error, encode_processed, encode_sync
from walink._capture.nodes import REDACTION_RULES, encode_node
from walink._version import __version__
from walink.auth.model import Creds
from walink.fsm.policy import ReconnectHistory
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError
from walink.protocol.proto import e2e_pb2
from walink.session import (
    ABORT_REASONS,
    ClientSession,
    Direction,
    NodeTransport,
    ProcessedMessage,
    QueryError,
    QueryResult,
    SessionConfig,
    SessionEvent,
    TransportCause,
)

__all__ = ["CaptureWriter", "CapturingSession", "Direction"]


class CaptureWriter:
    """One capture file, written line by line (each line flushed: a crash keeps what was seen).

    ``begin(creds=, config=)`` writes the header (``CapturingSession`` calls it); every other
    method appends one record at ``at`` (the session's clock). The file is created 0600: even
    redacted, it holds phone numbers and message metadata.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        redact: bool = True,
        seed: int | None = None,
        source: str = "",
    ) -> None:
        """``redact=False`` keeps secret contents (refs, device identities, key uploads) whole.
        ``seed`` seeds the replay's randomness (default: a fresh random one, unrelated to keys)."""
        self.path = os.fspath(path)
        self.redact = redact
        self.seed = seed if seed is not None else random.SystemRandom().getrandbits(63)
        self.source = source
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file: IO[str] | None = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        self._begun = False
        self._last_t: float | None = None

    # -- the header ----------------------------------------------------------------------------

    def begin(self, *, creds: Creds, config: SessionConfig) -> None:
        """Write the header: format, versions, seed, redaction, non-secret creds, the config."""
        if self._begun:
            raise LocalProtocolError("the capture's header is already written")
        header = Header(
            walink=__version__,
            seed=self.seed,
            redacted=REDACTION_RULES if self.redact else (),
            creds=creds_to_json(creds),
            config=config_to_json(config),
            source=self.source,
            registration_id=None if self.redact else creds.registration_id,
        )
        self._begun = True
        self._write(header.to_json())

    # -- records -------------------------------------------------------------------------------

    def record(self, direction: Direction, node: Node, at: float) -> None:
        """A node received (``"in"``) or sent (``"out"``), decrypted, at ``at``."""
        self._line(direction, at, node=encode_node(node, redact=self.redact))

    def start(self, at: float) -> None:
        """``session.start``: an attempt begins."""
        self._line("start", at)

    def connected(self, at: float) -> None:
        """``session.connection_made``: the socket opened (the handshake follows)."""
        self._line("connected", at)

    def tick(self, at: float) -> None:
        """``session.handle_timeout`` ran (replay runs the timers at exactly these times)."""
        self._line("tick", at)

    def lost(self, cause: TransportCause, at: float) -> None:
        """``session.connection_lost``: the transport ended (EOF, close frame, error)."""
        self._line("lost", at, cause=encode_cause(cause))

    def aborted(self, reason: CloseReason, at: float, message: str | None = None) -> None:
        """``session.abort``: a ``lost`` whose cause is the reason (and its text, if given)."""
        cause = encode_cause(reason)
        if message is not None:
            cause["message"] = message
        self._line("lost", at, cause=cause)

    def command(self, name: str, at: float, **data: Any) -> None:
        """A caller command: logout, close, presence, query, cancel_query, send, ack,
        pairing_code, saved, save_failed, lease_lost, or a job's outcome (message_processed,
        message_failed, message_handled, history_downloaded, history_download_failed,
        history_handled)."""
        self._line("command", at, name=name, **data)

    def event(self, event: SessionEvent, at: float) -> None:
        """An event the session reported (replay compares its own with these)."""
        self._line("event", at, event=encode_event(event, redact=self.redact))

    def close(self, at: float | None = None) -> None:
        """Write the ``end`` line (at ``at``, default the last record's time) and close."""
        if self._file is None:
            return
        if self._begun:
            end = at if at is not None else self._last_t
            self._line("end", end if end is not None else 0.0)
        self._file.close()
        self._file = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._file is None

    def _line(self, kind: str, at: float, /, **data: Any) -> None:
        if not self._begun:
            raise LocalProtocolError("write the capture's header first (begin)")
        if not math.isfinite(at):
            raise LocalProtocolError(f"a capture time must be finite, got {at!r}")
        # a clock that steps back a hair (two sources) must not make the file invalid
        t = at if self._last_t is None else max(at, self._last_t)
        self._last_t = t
        self._write({"k": kind, "t": t, **data})

    def _write(self, obj: dict[str, Any]) -> None:
        if self._file is None:
            raise LocalProtocolError("the capture is closed")
        self._file.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()


class CapturingSession(ClientSession):
    """A ``ClientSession`` that records into ``capture`` everything replay needs.

    A drop-in replacement: the same caller protocol, plus ``capture.close(at=)`` at the end.
    Inputs (start, connection_made, connection_lost, handle_timeout, the application's
    commands, the job workers' outcomes and the handled reports), every node in and out (after
    decryption) and every event are recorded at the time of the call that caused them.
    """

    def __init__(
        self,
        *,
        creds: Creds,
        rng: random.Random,
        capture: CaptureWriter,
        config: SessionConfig | None = None,
        history: ReconnectHistory | None = None,
    ) -> None:
        super().__init__(
            creds=creds, rng=rng, config=config, history=history, tap=self._record_node
        )
        self.capture = capture
        self._capture_now = 0.0
        self._held_nodes: list[tuple[Direction, Node]] | None = None
        self._queries = 0
        """How many ``query`` command lines were written: a query's number, 1-based."""
        self._waiting: dict[str, list[int]] = {}
        """The numbers of the application queries with this id that have no outcome event yet
        (oldest first): the only ones a ``cancel_query`` can still take back."""
        capture.begin(creds=creds, config=self.config)

    def _record_node(self, direction: Direction, node: Node) -> None:
        # the session's tap: every node, at the time of the input that made it move
        if self._held_nodes is not None:
            self._held_nodes.append((direction, node))
            return
        self.capture.record(direction, node, self._capture_now)

    # -- inputs --------------------------------------------------------------------------------

    def start(self, *, now: float) -> None:
        self._capture_now = now
        self.capture.start(now)
        super().start(now=now)

    def connection_made(self, *, now: float, transport: NodeTransport | None = None) -> None:
        self._capture_now = now
        self.capture.connected(now)
        super().connection_made(now=now, transport=transport)

    def receive_data(self, data: bytes | None, *, now: float) -> None:
        self._capture_now = now
        super().receive_data(data, now=now)

    def receive_node(self, node: Node, *, now: float) -> None:
        self._capture_now = now
        super().receive_node(node, now=now)

    def connection_lost(self, cause: TransportCause = None, *, now: float) -> None:
        self._capture_now = now
        if self.attempt_alive:
            self.capture.lost(cause, now)
        super().connection_lost(cause, now=now)

    def abort(self, reason: CloseReason, *, now: float, message: str | None = None) -> None:
        self._capture_now = now
        if self.attempt_alive and reason in ABORT_REASONS:
            self.capture.aborted(reason, now, message)
        super().abort(reason, now=now, message=message)

    def handle_timeout(self, *, now: float) -> None:
        self._capture_now = now
        if self.attempt_alive:
            self.capture.tick(now)
        super().handle_timeout(now=now)

    # -- the application's commands --------------------------------------------------------

    def send_node(self, node: Node) -> None:
        self.capture.command("send", self._capture_now, node=self._encode(node))
        super().send_node(node)

    def ack(self, stanza: Node) -> None:
        self.capture.command("ack", self._capture_now, node=self._encode(stanza))
        super().ack(stanza)

    def query(self, node: Node, *, now: float, timeout: float | None = None) -> str:
        self._capture_now = now
        wait: float | str | None = (
            "never" if timeout is not None and math.isinf(timeout) else timeout
        )
        # the id is known only after the call; the command line must precede the node it sends
        command: dict[str, Any] = {"node": self._encode(node), "timeout": wait}
        self.capture.command("query", now, **command)
        self._queries += 1
        query_id = super().query(node, now=now, timeout=timeout)
        self._waiting.setdefault(query_id, []).append(self._queries)
        return query_id

    def cancel_query(self, query_id: str) -> None:
        # The I/O client calls this after every query, answered or not: only a call that may
        # still take a query back is an input (one whose outcome was published is a no-op), so
        # a run without a cancelled query writes the same file as before this line existed.
        waiting = self._waiting.get(query_id)
        if waiting:
            # the latest query with this id is the one that waits (the session refuses a second
            # while one waits); its number lets replay cancel its own id for the same query
            number = waiting.pop()
            if not waiting:
                del self._waiting[query_id]
            self.capture.command("cancel_query", self._capture_now, id=query_id, query=number)
        super().cancel_query(query_id)

    def request_pairing_code(
        self, phone_number: str, *, now: float, custom_code: str | None = None
    ) -> int:
        self._capture_now = now
        # The code is known only once the session drew it, but the command line must precede
        # the companion_hello the call may send: hold the nodes until the line is written.
        held: list[tuple[Direction, Node]] = []
        self._held_nodes = held
        code = custom_code
        refused: dict[str, bool] = {}
        try:
            request = super().request_pairing_code(phone_number, now=now, custom_code=custom_code)
            code = self._requested_code(request) or code
            return request
        except LocalProtocolError:
            # refused before it changed anything (bad input, wrong moment): replay skips it
            refused["refused"] = True
            raise
        finally:
            self._held_nodes = None
            shown = code if code is None or not self.capture.redact else PAIRING_CODE_MARKER
            self.capture.command("pairing_code", now, phone=phone_number, code=shown, **refused)
            for direction, node in held:
                self.capture.record(direction, node, now)

    def _requested_code(self, request: int) -> str | None:
        # the canonical code of the request just made (generated, or the custom one upper-cased)
        return self._requested_pairing_code(request)

    def send_presence_update(self, kind: str, *, now: float) -> None:
        self._capture_now = now
        self.capture.command("presence", now, kind=kind)
        super().send_presence_update(kind, now=now)

    def logout(self, *, now: float) -> None:
        self._capture_now = now
        self.capture.command("logout", now)
        super().logout(now=now)

    def close(self, *, now: float) -> None:
        self._capture_now = now
        self.capture.command("close", now)
        super().close(now=now)

    def confirm_saved(self, token: int) -> None:
        # recorded so that replay releases held output at the same point as the live run
        self.capture.command("saved", self._capture_now, token=token)
        super().confirm_saved(token)

    def save_failed(self, token: int, error: BaseException | str, *, now: float) -> None:
        self._capture_now = now
        self.capture.command("save_failed", now, token=token, error=str(error))
        super().save_failed(token, error, now=now)

    def lease_lost(self, *, now: float, message: str | None = None) -> None:
        self._capture_now = now
        self.capture.command("lease_lost", now, message=message)
        super().lease_lost(now=now, message=message)

    # -- the job workers' outcomes and the application's handled reports --------------------
    # Each is written before the call, so the receipts and acks it releases follow it in the
    # file; replay reports it at the same time, with what the capture kept of the outcome.

    def message_processed(self, token: int, processed: ProcessedMessage, *, now: float) -> None:
        self._capture_now = now
        fields = encode_processed(
            processed, redact=self.capture.redact, max_size=self.config.max_history_size
        )
        self.capture.command("message_processed", now, token=token, **fields)
        super().message_processed(token, processed, now=now)

    def message_failed(self, token: int, error: BaseException, *, now: float) -> None:
        self._capture_now = now
        self.capture.command("message_failed", now, token=token, error=encode_error(error))
        super().message_failed(token, error, now=now)

    def message_handled(self, token: int, *, now: float) -> None:
        self._capture_now = now
        self.capture.command("message_handled", now, token=token)
        super().message_handled(token, now=now)

    def history_downloaded(self, token: int, sync: e2e_pb2.HistorySync, *, now: float) -> None:
        self._capture_now = now
        chunk = encode_sync(sync, redact=self.capture.redact)
        self.capture.command("history_downloaded", now, token=token, sync=chunk)
        super().history_downloaded(token, sync, now=now)

    def history_download_failed(
        self, token: int, error: Exception, *, reupload: bool, now: float
    ) -> None:
        self._capture_now = now
        self.capture.command(
            "history_download_failed",
            now,
            token=token,
            error=encode_error(error),
            reupload=reupload,
        )
        super().history_download_failed(token, error, reupload=reupload, now=now)

    def history_handled(self, token: int, *, now: float) -> None:
        self._capture_now = now
        self.capture.command("history_handled", now, token=token)
        super().history_handled(token, now=now)

    # -- events ------------------------------------------------------------------------------

    def next_event(self) -> SessionEvent | None:
        event = super().next_event()
        if event is not None:
            if isinstance(event, (QueryResult, QueryError)):
                self._settled(event.id)
            self.capture.event(event, self._capture_now)
        return event

    def _settled(self, query_id: str) -> None:
        # an outcome settles the oldest query of its id (a newer one with the same id may have
        # been sent before the application read this event)
        waiting = self._waiting.get(query_id)
        if waiting:
            waiting.pop(0)
            if not waiting:
                del self._waiting[query_id]

    def _encode(self, node: Node) -> dict[str, Any]:
        return encode_node(node, redact=self.capture.redact)
