"""The sans-IO client session: the whole linked-device lifecycle, bytes and time in, bytes,
events and deadlines out. No socket, no clock, no global randomness: the I/O layer
(``walink.io``) only feeds and times it, and replay drives it directly with a capture's clock.

Caller protocol
---------------
One ``ClientSession`` lives for the whole lifecycle (many connection attempts)::

    session = ClientSession(creds=store.load() or Creds.new(), rng=random.Random(), config=...)
    session.start(now=t)                  # attempt begins: open the socket (WebSocket) now
    session.connection_made(now=t)        # the socket is open
    loop:
        write session.data_to_send() to the socket (after EVERY call below, and before closing)
        handle every session.next_event()  (see "Events")
        sleep until session.next_deadline(), or until bytes arrive:
            session.receive_data(data, now=t)         # bytes from the socket
            session.handle_timeout(now=t)             # the deadline passed
            session.connection_lost(cause, now=t)     # EOF (None), WebSocketClosed, an exception
            session.abort(reason, now=t)              # a local cause: SLOW_CONSUMER, own timeout
    on Closed: write data_to_send(), close the socket; if event.reconnect_at is None, stop;
               else sleep until event.reconnect_at and call session.start(now=...) again.

``now`` is any monotonic-enough clock in seconds; the certificate check uses it as unix time, so
pass unix time (``time.time()``) or set ``SessionConfig.verify_server``.

Events (``next_event()`` / ``events()``):

- ``ConnectionUpdate``: Baileys' ``connection.update`` as a full snapshot, on every change.
  ``start`` always emits one (``"connecting"``); every close except the 515 restart emits exactly
  one with ``connection == "close"`` and ``last_disconnect`` set.
- ``CredsUpdate``: the credentials changed; a ``SaveRequest`` follows at once.
- ``SaveRequest``: persist ``keys`` (``store.set_keys``) then ``creds`` (``store.save``), then call
  ``confirm_saved(token)``; on failure ``save_failed(token, error, now=)`` (the session stops:
  ``STORE_ERROR``, status 500, final; ``LEASE_LOST``, 440, final, when the error is a
  ``LeaseLostError`` of a shared device store, which ``lease_lost(now=)`` also reports when a
  lease renewal fails).
  Output queued after the request (the pre-key upload, the pair-device-sign reply, the QR with a
  new ADV secret, anything later) is held back until the confirmation.
- Open first: on a connection that logs in, the ``ConnectionUpdate`` with ``"open"`` comes
  before every event made of what that connection delivered (``NodeReceived``,
  ``MessageProcessed``, ``MessageFailed``, ``HistoryReceived``, ``HistoryStatusChanged``,
  ``HistoryFailed``). What arrives while the login runs is processed at once (the jobs go out)
  but its events are held and come right after the open update, in order; a connection that
  ends before it opens drops them unpublished and unacked (the server delivers them again).
  ``received_pending_notifications`` turns true only after the held events.
- ``NodeReceived``: every node the session does not consume (messages, receipts,
  notifications...). Those that need an ack are acked as they are reported
  (``SessionConfig.auto_ack``).
- ``ProcessMessage`` (with ``SessionConfig.process_messages``): a job for each ``<message>``.
  Run the jobs one at a time, in order, through a ``MessageProcessor`` (decrypt, then commit the
  Signal state and the message in one store batch), then call
  ``message_processed(token, processed, now=)``, or ``message_failed(token, error, now=)``.
  The message's event (``MessageProcessed``, or the stub ``MessageFailed`` with a retry
  receipt) comes only after that. A ``MessageProcessed``'s receipt and ack wait further: call
  ``message_handled(event.token, now=)`` once the application handled it (every event made of
  it), and only then do they go out; nothing is acked before the application has it. A stub's
  retry receipt goes out at once.
- ``QueryResult`` / ``QueryError``: the outcome of ``query(node)``.
- ``PairingCode`` / ``PairingCodeError``: the outcome of ``request_pairing_code``.
- ``Closed``: the attempt is over, with its ``Disconnect`` (reason, status, message, node), the
  policy's ``Decision``, ``reconnect_at``, ``final`` and ``requested`` (the application asked:
  a ``close`` or a ``logout`` — exit code 0 rather than 3).

The application's commands: ``send_node``, ``query``, ``send_presence_update``, ``ack`` (with
``auto_ack`` off), ``request_pairing_code``, ``logout``, ``close``; the job runner's:
``message_processed``, ``message_failed`` (``jobs_pending`` lists the jobs not reported yet);
the application's consumer: ``message_handled`` and ``history_handled`` (``messages_unhandled``
and ``history_unhandled`` list the tokens still waiting).
Replay: ``connection_made(now=, transport=recorder)`` then ``receive_node(node, now=)`` for each
captured inbound node. Misuse raises ``LocalProtocolError``; nothing the server sends raises: it
ends the attempt with a reason.

Watching the protocol: ``ClientSession(tap=)`` and ``SessionConfig.trace`` are both called with
``("in", node)`` for every node received (before the session acts on it) and ``("out", node)``
for every node sent, decrypted, whatever the transport; the tap first. Nothing else reaches them.
A capture records through the tap; a client logs the trace.

Pairing-code login: on a new device's attempt, ``request_pairing_code(phone, now=)`` (before or
after pair-device) returns a number; ``PairingCode`` with that number carries the code to show
once the server accepted it, ``PairingCodeError`` says why not (``retry`` for a 429). The QR stops
for that attempt; it ends in ``open`` after the phone pairs and the 515 restart, or with
``PAIRING_TIMEOUT`` (final) after ``SessionConfig.pairing_code_timeout``.

History sync (with ``process_messages``): our phone's history notifications become
``DownloadHistory`` jobs for blobs (fetch, verify, inflate, parse; answer with
``history_downloaded(token, sync, now=)`` or ``history_download_failed(token, error, reupload=,
now=)``), ``HistoryReceived`` per chunk (call ``history_handled(event.token, now=)`` once the
application handled it: only then is the chunk recorded as processed), ``HistoryStatusChanged``
(complete or paused) and ``HistoryFailed`` for a chunk that could not be had.
"""

from __future__ import annotations

from walink._session.config import SessionConfig
from walink._session.core import (
    ABORT_REASONS,
    ClientSession,
    Direction,
    NodeTap,
    NodeTransport,
    TransportCause,
)
from walink._session.events import (
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    DownloadHistory,
    HistoryFailed,
    HistoryReceived,
    HistoryStatusChanged,
    MessageFailed,
    MessageProcessed,
    NodeReceived,
    PairingCode,
    PairingCodeError,
    ProcessMessage,
    QueryError,
    QueryFailure,
    QueryResult,
    SaveRequest,
    SessionEvent,
)
from walink._session.login import INITIAL_PREKEY_COUNT, MIN_PREKEY_COUNT
from walink._session.messages import MAX_RETRIES, MessageProcessor, ProcessedMessage

__all__ = [
    "ABORT_REASONS",
    "INITIAL_PREKEY_COUNT",
    "MAX_RETRIES",
    "MIN_PREKEY_COUNT",
    "ClientSession",
    "Closed",
    "ConnectionUpdate",
    "CredsUpdate",
    "Direction",
    "DownloadHistory",
    "HistoryFailed",
    "HistoryReceived",
    "HistoryStatusChanged",
    "MessageFailed",
    "MessageProcessed",
    "MessageProcessor",
    "NodeReceived",
    "NodeTap",
    "NodeTransport",
    "PairingCode",
    "PairingCodeError",
    "ProcessMessage",
    "ProcessedMessage",
    "QueryError",
    "QueryFailure",
    "QueryResult",
    "SaveRequest",
    "SessionConfig",
    "SessionEvent",
    "TransportCause",
]
