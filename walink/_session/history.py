"""History sync, the session's part: from a processed notification to ``HistoryReceived``.

Theory of operation
-------------------
The message pipeline decrypts and commits every ``<message>``; a peer message from our own phone
that carries a history sync notification comes back flagged (``ProcessedMessage.history_sync``)
with its decrypted ``Message``s. The core hands it here BEFORE the pipeline sends its receipts
and ack, so every save this part asks for holds them back: the server redelivers a notification
until what we made of it is on disk.

- The ``hist_sync`` receipt goes out for every notification (the pipeline sends it), whatever
  happens here: otherwise the phone uploads it again and again.
- A notification already recorded in ``creds.processed_history_messages`` (a redelivery after a
  crash) or already pending is not processed twice. The gate (``SessionConfig.should_sync_history``,
  Baileys' default when None) and the processable types decide whether it is processed at all.
- An inline chunk is inflated (capped) and parsed at once. A blob becomes a ``DownloadHistory``
  job for the I/O layer (the core never fetches), with the ``media_conn`` hosts this part asks
  the server for once per connection. Before the ack can leave, the notification is saved in the
  creds as pending (``extra["walinkPendingHistory"]``, a field other clients ignore), so a kill
  -9 during the download loses nothing: the next login resumes every pending notification.
- A chunk in hand is published at once (``HistoryReceived`` with a token), and recorded in
  ``processed_history_messages`` (Baileys' ``{key, messageTimestamp}``) and dropped from the
  pending list only when the I/O layer reports it handled (``handled(token)``). A process killed
  before that save lands publishes the chunk again at its next run: a blob chunk is resumed from
  the pending list, an inline one comes back with the notification, whose ack waits for the
  application as well (its ``HistoryReceived`` is published before its ``MessageProcessed``, and
  the application handles events in order). A chunk handled and recorded is never published
  again. Within one session a chunk that waits for the application is not resumed nor decoded a
  second time.
- A blob that is gone (404/410) or fails a check is answered with the ``server-error`` receipt
  (the phone uploads it again), reported (``HistoryFailed``) and downloaded again after
  ``history_reupload_wait``, at most ``history_reuploads`` times; then it is given up, reported
  ``final`` and dropped from the pending list. Any other download failure is reported and the
  notification stays pending until the next login. Nothing is skipped silently.
- What a notification becomes for the application (``HistoryReceived``, the statuses it
  completes, ``HistoryFailed``) is published only once the connection it arrived on is open
  (``walink._session.opening``); a blob's chunk, once the connection that downloaded it is. Held
  until then, and dropped if that connection ends without opening — with what goes with it (the
  chunk registered as waiting, a give-up's save): the notification is still pending, or its
  message unacked, so a later connection takes it again. The resumption at open runs after the
  held chunks are published, so a chunk downloaded while logging in is not fetched twice.
- ``HistoryStatusTracker`` turns the processed chunks into ``HistoryStatusChanged``: complete,
  or paused after ``history_paused_timeout`` without a RECENT chunk, on the session's clock.
- The phone-number/LID pairs a chunk names are stored (``lid-mapping``) in the save that
  records the chunk as processed.
- App-state sync key shares from our own phone are stored under ``app-state-sync-key`` and the
  newest becomes ``creds.my_app_state_key_id``, as Baileys does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from google.protobuf.message import DecodeError

from walink._session.events import (
    DownloadHistory,
    HistoryFailed,
    HistoryReceived,
    HistoryStatusChanged,
)
from walink.auth.model import AppStateSyncKeyData, AppStateSyncKeyFingerprint
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.history import (
    HistoryDownload,
    HistoryStatusTracker,
    app_state_key_shares,
    decode_history,
    history_notification,
    history_set,
    history_source,
    is_latest,
    is_processable,
    record_processed,
    server_error_receipt,
    should_sync_history,
    sync_type_name,
    was_processed,
)
from walink.protocol.media import media_conn_query, parse_media_conn
from walink.protocol.messages import MessageKey
from walink.protocol.proto import e2e_pb2
from walink.protocol.signal.address import LID_MAPPING, lid_mapping_entries

if TYPE_CHECKING:
    from walink._session.context import PartContext
    from walink._session.messages import ProcessedMessage
    from walink._session.opening import Origin
    from walink.auth.bufferjson import JSONValue
    from walink.auth.key_values import KeyValue
    from walink.auth.model import Creds
    from walink.protocol.binary import Node

__all__ = ["PENDING_FIELD", "HistorySync", "pending_history"]

PENDING_FIELD = "walinkPendingHistory"
"""The creds field that keeps the notifications whose chunk is not published yet."""

_Notification = e2e_pb2.Message.HistorySyncNotification


@runtime_checkable
class _Decrypted(Protocol):
    """What this part reads of a processor's result: the decrypted ``Message`` of each
    ``<enc>`` (the Signal processor's ``ReceivedMessage`` has it)."""

    @property
    def decrypted(self) -> Sequence[e2e_pb2.Message]: ...


@dataclass(frozen=True, slots=True)
class _Published:
    """A chunk published and waiting for the application: recorded (with the LID mappings it
    names) once handled."""

    pending: _Pending
    mappings: Mapping[str, KeyValue | None]


@dataclass(frozen=True, slots=True)
class _Pending:
    key: MessageKey
    timestamp: int
    notification: _Notification

    def to_json(self) -> JSONValue:
        return {
            "id": self.key.id,
            "remoteJid": self.key.remote_jid,
            "t": self.timestamp,
            "notification": self.notification.SerializeToString(),
        }

    @classmethod
    def from_json(cls, value: object) -> _Pending | None:
        if not isinstance(value, dict):
            return None
        message_id, chat, t, data = (
            value.get("id"),
            value.get("remoteJid"),
            value.get("t"),
            value.get("notification"),
        )
        if not (
            isinstance(message_id, str)
            and isinstance(chat, str)
            and isinstance(t, int)
            and isinstance(data, bytes)
        ):
            return None
        try:
            notification = _Notification.FromString(data)
        except DecodeError:
            return None
        return cls(MessageKey(remote_jid=chat, from_me=True, id=message_id), t, notification)


def pending_history(creds: Creds) -> tuple[str, ...]:
    """The message ids of the history notifications saved as pending in ``creds``."""
    return tuple(p.key.id for p in _read_pending(creds))


def _read_pending(creds: Creds) -> list[_Pending]:
    raw = creds.extra.get(PENDING_FIELD)
    entries = raw if isinstance(raw, list) else []
    return [p for entry in entries if (p := _Pending.from_json(entry)) is not None]


def _with_pending(creds: Creds, pending: Sequence[_Pending]) -> Creds:
    extra = dict(creds.extra)
    if pending:
        extra[PENDING_FIELD] = [p.to_json() for p in pending]
    else:
        extra.pop(PENDING_FIELD, None)
    return replace(creds, extra=MappingProxyType(extra))


@dataclass(slots=True)
class _Download:
    pending: _Pending
    request: HistoryDownload
    reuploads: int = 0
    retry_at: float | None = None


class HistorySync:
    """Our phone's history notifications: gating, inline decoding, download jobs, publication,
    pending notifications across restarts, re-upload requests, and the sync status."""

    def __init__(self, ctx: PartContext) -> None:
        self._ctx = ctx
        self._tracker = HistoryStatusTracker(paused_timeout=ctx.config.history_paused_timeout)
        self._downloads: dict[int, _Download] = {}
        self._next_token = 1
        self._attempt_first_token = 1
        self._hosts: tuple[str, ...] | None = None
        self._asking_hosts = False
        self._waiting_hosts: list[_Download] = []
        self._unhandled: dict[int, _Published] = {}
        self._next_publication = 1
        self._published_any = False

    @property
    def unhandled(self) -> frozenset[int]:
        """Tokens of published ``HistoryReceived`` events not reported handled yet."""
        return frozenset(self._unhandled)

    def handled(self, token: int) -> None:
        """The application handled ``HistoryReceived(token=token)``: record the chunk as
        processed and drop it from the pending list (one save)."""
        published = self._unhandled.pop(token, None)
        if published is None:
            raise LocalProtocolError(f"no published history chunk {token} waits to be handled")
        pending = published.pending
        ctx = self._ctx
        creds = ctx.creds
        processed = record_processed(
            creds.processed_history_messages, pending.key, pending.timestamp, pending.notification
        )
        updated = replace(
            creds, processed_history_messages=cast("tuple[JSONValue, ...]", processed)
        )
        ctx.save_creds(
            _with_pending(updated, _without(_read_pending(creds), pending.key.id)),
            why=f"history chunk {pending.key.id} handled",
            keys={LID_MAPPING: dict(published.mappings)} if published.mappings else None,
        )

    @property
    def downloads_pending(self) -> frozenset[int]:
        """Tokens of ``DownloadHistory`` jobs whose outcome was not reported yet."""
        if self._ctx.attempt_number == 0:
            return frozenset()  # outcomes now would be dropped: the next login resumes them
        return frozenset(t for t, d in self._downloads.items() if d.retry_at is None)

    # -- the session's hooks ---------------------------------------------------------------------

    def attempt_started(self) -> None:
        # Downloads belong to their connection: what was in flight is resumed from the pending
        # list at the next login, and a late outcome of an older job is ignored. The media_conn
        # hosts are asked again on every connection (they expire).
        self._downloads.clear()
        self._waiting_hosts.clear()
        self._attempt_first_token = self._next_token
        self._hosts = None
        self._asking_hosts = False

    def on_processed(
        self, node: Node, processed: ProcessedMessage, now: float, origin: Origin | None
    ) -> None:
        """A committed message: take what our phone sent (history, app-state keys). ``origin``:
        the attempt it arrived on (what it becomes is published once that attempt is open)."""
        if node.attr("category") != "peer":
            return  # only our own phone sends these
        if self._ctx.attempt_number == 0:
            # No connection: the message is not acked, so the server delivers it again at the
            # next login, and it is taken then (a save now could outlive the client's store).
            return
        result = processed.result
        if not isinstance(result, _Decrypted):
            return
        for message in result.decrypted:
            self._store_app_state_keys(message)
            notification = history_notification(message, from_me=True)
            if notification is not None and processed.history_sync:
                self._on_notification(node, notification, now, origin)

    def opened(self, now: float) -> None:
        """The login is complete: resume every notification a previous run left pending."""
        # a download started during the login may still wait for the media hosts: it is on its
        # way as much as a running job, and starting it again would publish its chunk twice
        in_flight = {d.pending.key.id for d in (*self._downloads.values(), *self._waiting_hosts)}
        in_flight |= self._waiting_ids()
        for pending in _read_pending(self._ctx.creds):
            if pending.key.id not in in_flight:
                self._start(pending, now)

    def downloaded(self, token: int, sync: e2e_pb2.HistorySync, now: float) -> None:
        """Job ``token`` has its verified, inflated, parsed chunk."""
        download = self._take(token)
        if download is not None and self._ctx.attempt_number != 0:
            self._publish(download.pending, sync, now, self._ctx.origin)
        # else: no connection any more; the notification stays pending for the next login

    def download_failed(self, token: int, error: Exception, *, reupload: bool, now: float) -> None:
        """Job ``token`` failed; ``reupload``: the blob is gone or failed a check."""
        download = self._take(token)
        if download is None or _no_attempt(self._ctx):
            return
        pending, ctx = download.pending, self._ctx
        kind = sync_type_name(pending.notification.sync_type)
        me = ctx.creds.me
        origin = ctx.origin
        if not reupload or me is None or not self._connected():
            # a network failure: the notification stays pending for the next login
            self._report(origin, _failed(pending, kind, error, reupload=False, final=False))
            return
        if download.reuploads >= ctx.config.history_reuploads:
            ctx.publish(origin, lambda: self._give_up(pending, kind, error))
            return
        ctx.send(
            server_error_receipt(
                pending.key.id, me.id, pending.notification.media_key, ctx.rng.randbytes(12)
            )
        )
        self._report(origin, _failed(pending, kind, error, reupload=True, final=False))
        download.reuploads += 1
        download.retry_at = now + ctx.config.history_reupload_wait
        self._downloads[token] = download

    def _give_up(self, pending: _Pending, kind: str, error: Exception) -> None:
        ctx = self._ctx
        ctx.save_creds(
            _with_pending(ctx.creds, _without(_read_pending(ctx.creds), pending.key.id)),
            why=f"history chunk {pending.key.id} given up",
        )
        ctx.emit(_failed(pending, kind, error, reupload=False, final=True))

    def _report(self, origin: Origin | None, failure: HistoryFailed) -> None:
        self._ctx.publish(origin, lambda: self._ctx.emit(failure))

    def next_deadline(self) -> float | None:
        candidates = [d.retry_at for d in self._downloads.values() if d.retry_at is not None]
        paused = self._tracker.next_deadline()
        if paused is not None:
            candidates.append(paused)
        return min(candidates) if candidates else None

    def handle_timeout(self, now: float) -> None:
        for token, download in list(self._downloads.items()):
            if download.retry_at is not None and download.retry_at <= now:
                download.retry_at = None
                del self._downloads[token]
                self._request(download, now)
        for status in self._tracker.handle_timeout(now):
            self._ctx.emit(HistoryStatusChanged(status=status))

    # -- notifications ---------------------------------------------------------------------------

    def _on_notification(
        self, node: Node, notification: _Notification, now: float, origin: Origin | None
    ) -> None:
        ctx = self._ctx
        key = MessageKey(remote_jid=node.attr("from") or "", from_me=True, id=node.attr("id") or "")
        creds = ctx.creds
        if was_processed(creds.processed_history_messages, key):
            return  # published before a restart: the server delivered it again
        if any(p.key.id == key.id for p in _read_pending(creds)) or key.id in self._waiting_ids():
            return  # already on its way (resumed at login, delivered twice, or published)
        if not is_processable(notification) or not self._wanted(notification):
            return  # its hist_sync receipt is all it gets
        t = node.attr("t") or ""
        pending = _Pending(key, int(t) if t.isdigit() else 0, notification)
        try:
            source = history_source(notification, key.id)
        except RemoteProtocolError as error:
            kind = sync_type_name(notification.sync_type)
            self._report(origin, _failed(pending, kind, error, reupload=False, final=True))
            return
        if isinstance(source, bytes):
            self._decode_inline(pending, source, now, origin)
            return
        # saved before the ack can leave: a crash during the download loses nothing
        ctx.save_creds(
            _with_pending(creds, [*_read_pending(creds), pending]),
            why=f"history notification {key.id} pending",
        )
        self._start(pending, now, source)

    def _wanted(self, notification: _Notification) -> bool:
        config = self._ctx.config
        if config.should_sync_history is not None:
            return config.should_sync_history(notification)
        return should_sync_history(notification, sync_full_history=config.payload.sync_full_history)

    def _decode_inline(
        self, pending: _Pending, payload: bytes, now: float, origin: Origin | None
    ) -> None:
        try:
            sync = decode_history(payload, max_size=self._ctx.config.max_history_size)
        except RemoteProtocolError as error:
            kind = sync_type_name(pending.notification.sync_type)
            self._report(origin, _failed(pending, kind, error, reupload=False, final=True))
            return
        self._publish(pending, sync, now, origin)

    def _publish(
        self, pending: _Pending, sync: e2e_pb2.HistorySync, now: float, origin: Origin | None
    ) -> None:
        """Publish the chunk once ``origin`` is open (see the module docstring)."""
        self._ctx.publish(origin, lambda: self._publish_open(pending, sync, now))

    def _publish_open(self, pending: _Pending, sync: e2e_pb2.HistorySync, now: float) -> None:
        ctx = self._ctx
        creds = ctx.creds
        try:
            # the first chunk these creds ever publish (one published this session and not
            # handled yet is not recorded in them, but came first all the same)
            latest = is_latest(creds.processed_history_messages) and not self._published_any
            chunk = history_set(sync, pending.notification, is_latest=latest)
        except RemoteProtocolError as error:
            kind = sync_type_name(pending.notification.sync_type)
            ctx.save_creds(
                _with_pending(creds, _without(_read_pending(creds), pending.key.id)),
                why=f"history chunk {pending.key.id} malformed",
            )
            ctx.emit(_failed(pending, kind, error, reupload=False, final=True))
            return
        # the PN<->LID pairs the chunk names are kept with it when it is recorded: later
        # messages from these accounts are decrypted under their LID (walink._receive.lid)
        mappings: dict[str, KeyValue | None] = {}
        for lid, pn in chunk.lid_pn_mappings:
            mappings.update(lid_mapping_entries(lid, pn))
        statuses = self._tracker.on_notification(pending.notification, now)
        token = self._next_publication
        self._next_publication += 1
        self._unhandled[token] = _Published(pending, mappings)
        self._published_any = True
        ctx.emit(HistoryReceived(token=token, history=chunk, message_id=pending.key.id))
        for status in statuses:
            ctx.emit(HistoryStatusChanged(status=status))

    def _waiting_ids(self) -> set[str]:
        """Notifications whose chunk is published and waits for the application."""
        return {p.pending.key.id for p in self._unhandled.values()}

    # -- downloads -------------------------------------------------------------------------------

    def _start(self, pending: _Pending, now: float, source: HistoryDownload | None = None) -> None:
        if source is None:
            try:
                found = history_source(pending.notification, pending.key.id)
            except RemoteProtocolError:
                return  # it was checked before it was saved as pending
            if isinstance(found, bytes):
                self._decode_inline(pending, found, now, self._ctx.origin)
                return
            source = found
        self._request(_Download(pending, source), now)

    def _request(self, download: _Download, now: float) -> None:
        if not self._connected():
            return  # no connection to ask media_conn on: the next login resumes it
        hosts = self._hosts
        if hosts is not None:
            self._emit_job(download, hosts)
            return
        self._waiting_hosts.append(download)
        if not self._asking_hosts:
            self._asking_hosts = True
            self._ctx.ask(media_conn_query(), now, self._on_media_conn)

    def _on_media_conn(self, reply: Node | None, now: float) -> None:
        self._asking_hosts = False
        hosts: tuple[str, ...] = ()
        if reply is not None and reply.attr("type") == "result":
            try:
                hosts = parse_media_conn(reply).hosts
            except RemoteProtocolError:
                hosts = ()  # the downloader falls back to the default media host
        self._hosts = hosts
        waiting, self._waiting_hosts = self._waiting_hosts, []
        for download in waiting:
            self._emit_job(download, hosts)

    def _emit_job(self, download: _Download, hosts: tuple[str, ...]) -> None:
        token = self._next_token
        self._next_token += 1
        self._downloads[token] = download
        self._ctx.emit(
            DownloadHistory(
                token=token,
                request=download.request,
                hosts=hosts,
                max_size=self._ctx.config.max_history_size,
            )
        )

    def _take(self, token: int) -> _Download | None:
        if token < self._attempt_first_token:
            return None  # a job of an earlier connection: resumed from the pending list
        download = self._downloads.get(token)
        if download is None or download.retry_at is not None:
            raise LocalProtocolError(f"no history download {token} is waiting")
        del self._downloads[token]
        return download

    def _connected(self) -> bool:
        ctx = self._ctx
        return ctx.attempt_number != 0 and ctx.require_attempt().authenticated

    # -- app-state keys --------------------------------------------------------------------------

    def _store_app_state_keys(self, message: e2e_pb2.Message) -> None:
        try:
            shares = app_state_key_shares(message, from_me=True)
        except RemoteProtocolError:
            return  # a malformed share carries nothing usable
        if not shares:
            return
        ctx = self._ctx
        values = {
            share.store_id: AppStateSyncKeyData(
                key_data=share.key_data,
                fingerprint=AppStateSyncKeyFingerprint(
                    raw_id=share.raw_id,
                    current_index=share.current_index,
                    device_indexes=share.device_indexes,
                ),
                timestamp=share.timestamp,
            )
            for share in shares
        }
        newest = shares[-1].store_id
        ctx.save_creds(
            replace(ctx.creds, my_app_state_key_id=newest),
            why="app-state sync keys shared by our phone",
            keys={"app-state-sync-key": values},
        )


def _no_attempt(ctx: PartContext) -> bool:
    """No attempt runs: what a job reports now waits for the next login's resumption."""
    return ctx.attempt_number == 0


def _without(pending: Sequence[_Pending], message_id: str) -> list[_Pending]:
    return [p for p in pending if p.key.id != message_id]


def _failed(
    pending: _Pending, kind: str, error: Exception, *, reupload: bool, final: bool
) -> HistoryFailed:
    return HistoryFailed(
        message_id=pending.key.id,
        sync_type=kind,
        error=error,
        reupload=reupload,
        final=final,
        notification=pending.notification,
    )
