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
  ``config`` holds the session's timers, flags, push name and policy numbers; the pairing-code
  timers (``pairing_code_timeout``, ``pairing_ready_timeout``) only when they differ from the
  defaults (absent: the defaults, which is what every capture written before them ran with).
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
  output where the live run did (without them, replay confirms every save at once).
- ``event`` with ``"event"``: what the session reported, encoded as ``walink replay --json``
  prints it (without ``"v"``), so a replay compares its events with the recorded run's. Names:
  ``connection.update``, ``creds.update``, ``save.request``, ``node``, ``query.result``,
  ``query.error``, ``pairing_code`` (``request``, ``code``, ``phone``, ``expires_at``),
  ``pairing_code.error`` (``request``, ``failure``, ``code``, ``text``, ``retry``, ``node``),
  ``closed``; ``unknown`` (with ``type`` only) for an event newer than the writer.
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

Replay starts after the handshake with synthetic keys and verifies nothing it cannot, and says
so in ``replay.note`` lines: a pair-success's identity is replaced by one signed for the replay's
keys; a redacted pairing code is replaced by one derived from the seed, and the phone's
primary_hello (wrapped with the live code) by a stand-in wrapped with that one. Events are
encoded with the capture's own redaction (its header's ``redacted``); an unredacted capture's
QR strings, made of the live keys, are shown as recorded (matched by their ref).
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
    "decode_node",
    "encode_event",
    "encode_node",
    "parse_capture",
    "read_capture",
    "replay_capture",
]
