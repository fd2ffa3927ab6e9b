"""Capture and deterministic replay of a session's traffic (format ``walink-capture``, version 1).

Writing: ``CapturingSession`` is a ``ClientSession`` that records into a ``CaptureWriter``::

    writer = CaptureWriter("run.jsonl", redact=True, source="walink connect")
    session = CapturingSession(creds=creds, rng=rng, config=config, capture=writer)
    ...  # drive it exactly as a ClientSession
    writer.close(at=now)

Reading and replaying: ``read_capture(path)`` then ``replay_capture(capture)``, or
``walink replay FILE [--json]``.

The format (version 1)
----------------------
A UTF-8 JSON Lines file. Every line is one JSON object with a kind ``"k"``; all lines but the
header have ``"t"``, the session's clock in seconds (unix time for a live client), never
decreasing. A reader refuses a file whose header names another format or version.

- ``{"k": "header", "format": "walink-capture", "version": 1, "walink": "0.1.0", "seed": int,
  "redacted": [rule, ...], "creds": {...}, "config": {...}, "source": str}``: first line.
  ``seed`` seeds the replay's randomness (it is drawn for the capture, unrelated to any key).
  ``redacted`` lists the redaction rules applied (empty: written with ``redact=False``).
  ``creds`` holds only non-secret fields: ``me`` (``id``, ``lid``, ``name``), ``platform``, the
  pre-key counters, ``last_prop_hash``, ``last_account_sync_timestamp``, ``has_routing_info``.
  ``config`` holds the session's timers, flags, push name and policy numbers; the options added
  later only when they differ from the defaults (absent: the defaults, which is what every
  capture written before them ran with): the pairing-code timers (``pairing_code_timeout``,
  ``pairing_ready_timeout``), ``offline_batch_size``, ``offline_batch_delay``,
  ``process_messages``, ``max_history_size``, ``history_paused_timeout``,
  ``history_reupload_wait``, ``history_reuploads``, ``sync_full_history``, and
  ``"history_gate": "custom"`` when the run decided with its own function which history to
  sync (replay cannot run it: it uses the default and says so).
  ``registration_id`` (the device's Signal registration id) only in an unredacted capture.
- ``start``: ``session.start``. ``connected``: ``connection_made`` (the handshake follows; it is not
  recorded: captures hold decrypted nodes). ``tick``: ``handle_timeout`` ran.
  ``lost`` with ``"cause"``: ``connection_lost``; the cause is ``{"kind": "eof"}``,
  ``{"kind": "websocket_close", "code", "reason"}``, ``{"kind": "upgrade_rejected", "status"}``,
  ``{"kind": "reason", "reason": CloseReason name}`` (``session.abort``; with ``"message"`` when
  the abort gave one) or ``{"kind": "error", "class", "text"}``.
- ``in`` / ``out`` with ``"node"``: a node received or sent, after decryption.
- ``command`` with ``"name"``: the application's ``logout``, ``close``, ``presence`` (``"kind"``),
  ``query`` (``"node"``, ``"timeout"``: seconds, null for the default, ``"never"``), ``send`` and
  ``ack`` (``"node"``), ``pairing_code`` (``request_pairing_code``: ``"phone"`` as the caller
  gave it, ``"code"``: the canonical code, ``"[redacted pairing code]"``, or null when the call
  was refused before a code existed; ``"refused": true`` when the session raised, so replay
  skips it); and the caller's ``saved`` (``"token"``:
  ``confirm_saved``) and ``save_failed`` (``"token"``, ``"error"``), so replay releases held
  output where the live run did (without them, replay confirms every save at once);
  ``lease_lost`` (``"message"``: text or null); ``cancel_query`` (``"id"``: the query's id,
  ``"query"``: its number, 1 for the capture's first ``query`` line), written only when the
  call could still take a waiting query back (the I/O client calls ``cancel_query`` after every
  query: once its outcome was published, the call changes nothing and is not recorded), so
  replay gives up its own query of that number at the same point.
- ``command`` lines for the job workers' outcomes and the application's handled reports, each
  with the ``"token"`` of its job or event, written before the call (the receipts and acks they
  release follow them): ``message_processed`` (``"redelivered"``, ``"history_sync"``,
  ``"decrypted"``: the decrypted ``Message`` of each ``<enc>``, serialized and base64, or null
  when the processor's result has none), ``message_failed`` (``"error"``),
  ``message_handled``, ``history_downloaded`` (``"sync"``: the ``HistorySync``, serialized and
  base64), ``history_download_failed`` (``"error"``, ``"reupload"``), ``history_handled``. An
  ``"error"`` is ``{"blame": "remote"|"lease"|"local", "class", "text"}``: the message's or the
  blob's fault (``RemoteProtocolError``), a lost device lease, or anything else (the store's);
  replay rebuilds an error the session classifies the same way, with the same text.
- ``event`` with ``"event"``: what the session reported, encoded as ``walink replay --json``
  prints it (without ``"v"``), so a replay compares its events with the recorded run's. Names:
  ``connection.update``, ``creds.update``, ``save.request``, ``node``, ``query.result``,
  ``query.error``, ``pairing_code`` (``request``, ``code``, ``phone``, ``expires_at``),
  ``pairing_code.error`` (``request``, ``failure``, ``code``, ``text``, ``retry``, ``node``),
  ``closed``; ``message.job`` (``token``, ``node``), ``message.processed`` (``token``, ``node``,
  ``offline``, ``redelivered``: never the decrypted content), ``message.failed`` (``node``,
  ``error``: its text, ``retry_count``, ``gave_up``), ``history.download`` (``token``,
  ``message_id``, ``direct_path``, ``file_length``, ``hosts``, ``max_size``: never the media
  key), ``history.chunk`` (``token``, ``message_id``, ``sync_type``, ``chunk_order``,
  ``progress``, ``is_latest`` and the counts of ``chats``, ``contacts``, ``messages`` and
  ``lid_pn_mappings``), ``history.status`` (``sync_type``, ``status``, ``explicit``),
  ``history.failed`` (``message_id``, ``sync_type``, ``error``, ``reupload``, ``final``);
  ``unknown`` (with ``type`` only) for an event newer than the writer.
- ``end``: the capture's last line (absent after a crash; the reader does not need it).

A node is ``{"tag": str, "attrs": {...}}`` plus at most one of ``"text"`` (str content),
``"b64"`` (bytes content, base64), ``"children"`` (list of nodes) or ``"redacted"``
(``{"what": rule, "type": "bytes"|"text", "len": n}``). Attribute order is the object's order.

Redaction (the default; ``redact=False`` opts out): the contents of ``<device-identity>`` (the
ADV blob: HMAC, signatures), ``<ref>`` (QR refs: live pairing tokens that with the ADV secret
make the QR), ``<identity>``, ``<value>``, ``<signature>`` and ``<registration>`` (the pre-key
upload), and every child of ``<link_code_companion_reg>`` (pairing-code material). Events show a
QR as ``"[redacted qr]"`` and a pairing code as ``"[redacted pairing code]"`` (so does the
``pairing_code`` command); creds are never written, only the fields above. Private keys and the
ADV secret never reach a capture, redacted or not: they are not in any node. Message
ciphertexts (``<enc>``) are kept: they are end-to-end encrypted and no capture holds their keys.
Phone numbers and JIDs are kept (replay needs them): a capture is private data (files are 0600).
A job's outcome is redacted too: of a processed message's decrypted ``Message`` only the history
sync notification and app-state key shares are kept (what the session reads), with the media key
and the shared keys' data replaced by zero bytes of the same length and the inline chunk
redacted; of a history chunk only its type, order, progress, JIDs, and each message's key and
timestamp (no names, no contents). Without redaction both are kept whole: message plaintext and
the history's media keys are then in the file.

Version 1 covers all of the above: a reader older than the job lines never misreads a file
that has them: it refuses it (an unknown command), or, for a run whose jobs never reported,
replays without processing messages and says that the events differ. Every older file replays
as before. The same holds for ``cancel_query``: an older reader refuses a file that has one
(an unknown command); files without one are written byte for byte as before.

Replay starts after the handshake with synthetic keys and verifies nothing it cannot, and says
so in ``replay.note`` lines: a pair-success's identity is replaced by one signed for the
replay's keys; a redacted pairing code is replaced by one derived from the seed, and the phone's
primary_hello (wrapped with the live code) by a stand-in wrapped with that one; redacted message
results and history chunks are replayed as their placeholders (same JIDs, keys, counts). What
then differs from the live run's nodes is what carries the device's keys (the pairing signature,
the pre-key upload: its one-time keys are drawn at the upload, and matching them would take
their private halves, which no capture holds) or a redacted secret (a ``server-error`` receipt,
encrypted with the blob's media key); every receipt and ack of a message is sent the same. A
``server-error`` receipt's IV (12 random bytes, sent in clear) is taken from the recorded
receipt, so an unredacted capture's receipt, encrypted by the replay, is the recorded one.
``ReplayResult.sent`` lists the replay's nodes encoded as the ``out`` lines are, for that
comparison, and ``ReplayResult.creds`` the replay's final credentials (the history records it
saved compare with the live run's). Events are encoded with the capture's own redaction (its
header's ``redacted``); an unredacted capture's QR strings, made of the live keys, are shown as
recorded (matched by their ref).
"""

from __future__ import annotations

from walink._capture.events import PAIRING_CODE_MARKER, QR_MARKER, encode_event
from walink._capture.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Capture,
    CaptureFormatError,
    Header,
    Record,
    parse_capture,
    read_capture,
)
from walink._capture.jobs import ReplayedError, ReplayedResult
from walink._capture.nodes import REDACTION_RULES, NodeFormatError, decode_node, encode_node
from walink._capture.replay import ReplayResult, replay_capture
from walink._capture.writer import CaptureWriter, CapturingSession, Direction

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "PAIRING_CODE_MARKER",
    "QR_MARKER",
    "REDACTION_RULES",
    "Capture",
    "CaptureFormatError",
    "CaptureWriter",
    "CapturingSession",
    "Direction",
    "Header",
    "NodeFormatError",
    "Record",
    "ReplayResult",
    "ReplayedError",
    "ReplayedResult",
    "decode_node",
    "encode_event",
    "encode_node",
    "parse_capture",
    "read_capture",
    "replay_capture",
]
