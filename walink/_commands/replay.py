"""``walink replay FILE [--json]``: feed a capture's inbound nodes into a fresh sans-IO session.

Prints the session's events and policy decisions, one per line (``--json``: one JSON object with
``"v": 1`` per line; otherwise a readable timeline with times relative to the capture's start),
plus ``replay.note`` lines for what could not be verified and a ``replay.end`` summary. Nothing
depends on the wall clock or on unseeded randomness: the same file gives the same bytes.
Exit 0 when the file was replayed to the recorded events (or recorded none to compare),
whatever the connection's outcome; 1 when the replayed events differ from the recording (the
first difference is a ``replay.note`` line, and a line on stderr says so); 2 when it is
unreadable or invalid (the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from walink._commands.output import emit_json, emit_text

EXIT_OK = 0
EXIT_DIFFERENT = 1
EXIT_INVALID = 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="replay a capture file into the sans-IO session and print its events",
        description=(
            "Replay a capture through the sans-IO session and print its events. Exit codes: "
            "0 the events match the recording, 1 they differ, 2 an unreadable or invalid file."
        ),
    )
    parser.add_argument("file", type=Path, help="a capture (JSON Lines, walink-capture v1)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from walink.capture import CaptureFormatError, read_capture, replay_capture

    path: Path = args.file
    try:
        capture = read_capture(path)
        result = replay_capture(capture)
    except CaptureFormatError as error:
        print(f"walink replay: {path}: invalid capture: {error}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        reason = error.strerror or type(error).__name__
        print(f"walink replay: {path}: cannot read: {reason}", file=sys.stderr)
        return EXIT_INVALID
    start = result.lines[0]["t"] if result.lines else 0.0
    for line in result.lines:
        if args.json:
            emit_json(line)
        else:
            emit_text(render_line(line, start))
    if result.recorded and result.events != result.recorded:
        # a replay exists to check the code against the recording: a difference is a failure
        print(f"walink replay: {path}: the events differ from the recording", file=sys.stderr)
        return EXIT_DIFFERENT
    return EXIT_OK


def _yes(value: object) -> str:
    return "yes" if value else "no"


def render_line(line: dict[str, Any], start: float) -> str:
    """One readable timeline line: ``+SECONDS  what  details``."""
    kind = line.get("event")
    stamp = f"+{line.get('t', start) - start:9.3f}s"
    if kind == "replay.start":
        redacted = ", ".join(line["redacted"]) or "nothing"
        text = (
            f"replay of {line['source'] or 'a capture'} (format {line['format']}, "
            f"walink {line['walink']}, seed {line['seed']}); redacted: {redacted}"
        )
    elif kind == "replay.note":
        text = f"note: {line['note']}"
    elif kind == "replay.end":
        match = line["events_match"]
        compared = (
            "no recorded events to compare"
            if match is None
            else ("events match the recording" if match else "events DIFFER from the recording")
        )
        text = (
            f"end: {line['events']} events, {line['nodes_in']} nodes in, "
            f"{line['nodes_out_replayed']} out ({line['nodes_out_unmatched']} recorded "
            f"unmatched); state {line['state']}; {compared}"
        )
    elif kind == "connection.update":
        text = (
            f"connection {line['connection']}: qr {'shown' if line['qr'] else '-'}, "
            f"new login {_yes(line['is_new_login'])}, "
            f"offline done {_yes(line['received_pending_notifications'])}, "
            f"online {_yes(line['is_online'])}"
        )
        if "reason" in line:
            text += f"; {line['reason']} {line['status']}: {line['message']}"
    elif kind == "closed":
        if line["reconnect"]:
            decision = f"reconnect in {line['delay']:g} s"
        else:
            decision = "stop" + (" (final)" if line["final"] else "")
        text = (
            f"closed {line['reason']} {line['status']}: {line['message']} -> {decision}"
            f"{' (requested)' if line['requested'] else ''}; {line['explanation']}"
        )
    elif kind == "creds.update":
        creds = line["creds"]
        me = creds["me"]["id"] if creds.get("me") else "-"
        text = f"creds updated: me {me}, next pre-key {creds['next_pre_key_id']}"
    elif kind == "save.request":
        keys = ", ".join(f"{n} {kind_}" for kind_, n in line["keys"].items()) or "no keys"
        text = f"save #{line['token']} ({keys}): {line['why']}"
    elif kind in ("node", "query.result"):
        node = json.dumps(line["node"], ensure_ascii=False, separators=(",", ":"))
        prefix = "node" if kind == "node" else f"query {line['id']} result"
        text = f"{prefix} {node}"
    elif kind == "query.error":
        text = f"query {line['id']} failed ({line['failure']} {line['code']}): {line['text']}"
    elif kind == "pairing_code":
        text = (
            f"pairing code #{line['request']} for {line['phone']}: {line['code']} "
            f"(until +{line['expires_at'] - start:.3f}s)"
        )
    elif kind == "pairing_code.error":
        text = (
            f"pairing code #{line['request']} failed ({line['failure']} {line['code']}): "
            f"{line['text']}{' (may retry)' if line['retry'] else ''}"
        )
    else:
        text = _job_text(line)
    return f"{stamp}  {text}"


def _message_id(line: dict[str, Any]) -> str:
    node = line.get("node") or {}
    attrs = node.get("attrs") or {}
    return f"{attrs.get('id', '?')} from {attrs.get('from', '?')}"


def _job_text(line: dict[str, Any]) -> str:
    """The message and history events (and ``unknown``, as its JSON)."""
    kind = line.get("event")
    if kind == "message.job":
        return f"message job #{line['token']}: {_message_id(line)}"
    if kind == "message.processed":
        flags = "".join(
            (
                " (offline)" if line["offline"] else "",
                " (redelivered)" if line["redelivered"] else "",
            )
        )
        return f"message #{line['token']} processed: {_message_id(line)}{flags}"
    if kind == "message.failed":
        end = "gave up" if line["gave_up"] else f"retry receipt {line['retry_count']}"
        return f"message {_message_id(line)} failed ({end}): {line['error']}"
    if kind == "history.download":
        return f"history download #{line['token']}: {line['message_id']}"
    if kind == "history.chunk":
        order = f" chunk {line['chunk_order']}" if line["chunk_order"] is not None else ""
        progress = f" ({line['progress']}%)" if line["progress"] is not None else ""
        return (
            f"history #{line['token']} {line['sync_type']}{order}{progress}: "
            f"{line['chats']} chats, {line['contacts']} contacts, {line['messages']} messages"
        )
    if kind == "history.status":
        return f"history {line['sync_type']} sync {line['status']}"
    if kind == "history.failed":
        again = " (asked the phone to upload it again)" if line["reupload"] else ""
        final = " (given up)" if line["final"] else ""
        return (
            f"history {line['sync_type']} chunk {line['message_id']} failed{again}{final}: "
            f"{line['error']}"
        )
    # "unknown": an event type newer than the encoder
    return json.dumps(line, ensure_ascii=False)
