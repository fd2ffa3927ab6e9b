"""The capture file: JSON Lines, a header first, then one record per line (format version 1).

See ``walink.capture`` for the format's documentation. This module owns the line kinds, the
header's contents (what replay needs: seed, non-secret creds fields, the session's timers and
policy), the encoding of transport causes, and the strict reader (``read_capture``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from walink.auth.model import Contact, Creds
from walink.fsm.policy import PolicyConfig
from walink.fsm.reasons import CloseReason, UpgradeRejected, WebSocketClosed
from walink.protocol.errors import RemoteProtocolError
from walink.session import SessionConfig, TransportCause

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "RECORD_KINDS",
    "Capture",
    "CaptureFormatError",
    "Header",
    "Record",
    "config_from_json",
    "config_to_json",
    "creds_from_json",
    "creds_to_json",
    "decode_cause",
    "encode_cause",
    "exception_from_json",
    "parse_capture",
    "read_capture",
]

FORMAT_NAME = "walink-capture"
FORMAT_VERSION = 1
RECORD_KINDS = frozenset(
    {"start", "connected", "in", "out", "tick", "lost", "command", "event", "end"}
)
"""Every line kind after the header (see ``walink.capture``)."""
_MAX_LINE = 1 << 26  # 64 MiB: far above any node the codec accepts, still bounded

_TIMERS = (
    "connect_timeout",
    "keepalive_interval",
    "keepalive_timeout",
    "query_timeout",
    "qr_first_timeout",
    "qr_next_timeout",
    "logout_timeout",
)
_FLAGS = ("mark_online_on_connect", "fire_init_queries", "auto_ack")
# Written only when they differ from the defaults: they were added after the first shipped
# captures, whose headers (and bytes) therefore stay the same; a reader takes the default for
# a timer that is absent, which is exactly what those sessions ran with.
_PAIRING_TIMERS = ("pairing_code_timeout", "pairing_ready_timeout")
# Likewise for the options of the offline backlog, message processing and history sync: the
# numbers first, then the flag (absent: the default, what earlier captures ran with).
_LATER_NUMBERS = (
    "offline_batch_size",
    "offline_batch_delay",
    "max_history_size",
    "history_paused_timeout",
    "history_reupload_wait",
    "history_reuploads",
)
_LATER_FLAGS = ("process_messages",)
_DEFAULT_CONFIG = SessionConfig()


class CaptureFormatError(ValueError):
    """The file is not a capture this version reads; ``str()`` names the line and the problem."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The first line: what the file is and what replay needs to start a session."""

    walink: str
    """The walink version that wrote the file."""
    seed: int
    """Seeds the replay's randomness (synthetic keys, ids, jitter); never the live run's."""
    redacted: tuple[str, ...]
    """The redaction rules applied (empty when the capture was written with ``redact=False``)."""
    creds: Mapping[str, Any]
    """The non-secret fields of the credentials at the start (``creds_to_json``)."""
    config: Mapping[str, Any]
    """The session's timers, flags and policy numbers (``config_to_json``)."""
    source: str = ""
    """Who wrote it (``walink connect``, a test scenario's name...)."""
    registration_id: int | None = None
    """The device's Signal registration id, in an unredacted capture only (a redacted one
    redacts it in the pre-key upload too): replay's retry receipts then carry the same one."""

    def to_json(self) -> dict[str, Any]:
        extra = {} if self.registration_id is None else {"registration_id": self.registration_id}
        return {
            "k": "header",
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "walink": self.walink,
            "seed": self.seed,
            "redacted": list(self.redacted),
            "creds": dict(self.creds),
            "config": dict(self.config),
            "source": self.source,
            **extra,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One line after the header."""

    kind: str
    """One of ``RECORD_KINDS``."""
    t: float
    """The session's clock (seconds) when it happened."""
    data: Mapping[str, Any]
    """The whole line as read."""
    line: int
    """Its 1-based line number, for messages."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    header: Header
    records: tuple[Record, ...]


# -- creds and config ------------------------------------------------------------------------


def creds_to_json(creds: Creds) -> dict[str, Any]:
    """The fields replay needs that are no secret: who we are, counters, hashes. No key, no
    signature, no ADV secret, no identity blob."""
    me = creds.me
    return {
        "me": None if me is None else {"id": me.id, "lid": me.lid, "name": me.name},
        "platform": creds.platform,
        "next_pre_key_id": creds.next_pre_key_id,
        "first_unuploaded_pre_key_id": creds.first_unuploaded_pre_key_id,
        "last_prop_hash": creds.last_prop_hash,
        "last_account_sync_timestamp": creds.last_account_sync_timestamp,
        "has_routing_info": creds.routing_info is not None,
    }


def creds_from_json(data: Mapping[str, Any], base: Creds) -> Creds:
    """``base`` (synthetic keys) with the capture's non-secret fields."""
    me = data.get("me")
    contact = None
    if me is not None:
        if not isinstance(me, dict) or not isinstance(me.get("id"), str):
            raise CaptureFormatError("header: creds.me must be null or have a string 'id'")
        contact = Contact(id=me["id"], lid=_opt_str(me, "lid"), name=_opt_str(me, "name"))
    try:
        return _with_fields(base, contact, data)
    except (TypeError, ValueError) as error:
        raise CaptureFormatError(f"header: invalid creds: {error}") from None


def _with_fields(base: Creds, contact: Contact | None, data: Mapping[str, Any]) -> Creds:
    return replace(
        base,
        me=contact,
        platform=_opt_str(data, "platform"),
        next_pre_key_id=_int(data, "next_pre_key_id", 1),
        first_unuploaded_pre_key_id=_int(data, "first_unuploaded_pre_key_id", 1),
        last_prop_hash=_opt_str(data, "last_prop_hash"),
        last_account_sync_timestamp=data.get("last_account_sync_timestamp")
        if isinstance(data.get("last_account_sync_timestamp"), int)
        else None,
        # the routing bytes only shape the next intro, which replay never sends
        routing_info=b"\0" if data.get("has_routing_info") else None,
    )


def config_to_json(config: SessionConfig) -> dict[str, Any]:
    """What changes the session's decisions: timers, flags, push name, the policy's numbers."""
    policy = config.policy
    policy_json: dict[str, Any] = {}
    for item in fields(policy):
        value = getattr(policy, item.name)
        if isinstance(value, frozenset):
            value = sorted(reason.name for reason in value)
        policy_json[item.name] = value
    later = {
        name: getattr(config, name)
        for name in (*_PAIRING_TIMERS, *_LATER_NUMBERS, *_LATER_FLAGS)
        if getattr(config, name) != getattr(_DEFAULT_CONFIG, name)
    }
    if config.payload.sync_full_history != _DEFAULT_CONFIG.payload.sync_full_history:
        later["sync_full_history"] = config.payload.sync_full_history
    if config.should_sync_history is not None:
        # a function cannot be written down: replay says it runs the default gate instead
        later["history_gate"] = "custom"
    return {
        **{name: getattr(config, name) for name in (*_TIMERS, *_FLAGS)},
        **later,
        "push_name": config.payload.push_name,
        "policy": policy_json,
    }


def config_from_json(data: Mapping[str, Any]) -> SessionConfig:
    """The ``SessionConfig`` a capture's header describes (defaults for what it leaves out)."""
    base = SessionConfig()
    changes: dict[str, Any] = {}
    for name in (*_TIMERS, *_PAIRING_TIMERS, *_LATER_NUMBERS):
        if name in data:
            value = data[name]
            if value is not None and not _is_number(value):
                raise CaptureFormatError(f"header: config.{name} must be a number")
            changes[name] = value
    for name in (*_FLAGS, *_LATER_FLAGS):
        if name in data:
            if not isinstance(data[name], bool):
                raise CaptureFormatError(f"header: config.{name} must be true or false")
            changes[name] = data[name]
    payload = base.payload
    push_name = data.get("push_name")
    if isinstance(push_name, str):
        payload = replace(payload, push_name=push_name)
    full = data.get("sync_full_history", payload.sync_full_history)
    if not isinstance(full, bool):
        raise CaptureFormatError("header: config.sync_full_history must be true or false")
    changes["payload"] = replace(payload, sync_full_history=full)
    policy = data.get("policy", {})
    if not isinstance(policy, dict):
        raise CaptureFormatError("header: config.policy must be an object")
    policy_changes: dict[str, Any] = {}
    known = {item.name for item in fields(PolicyConfig)}
    for name, value in policy.items():
        if name not in known:
            continue  # a newer writer's field: the defaults of this version apply
        if name == "stop_reasons":
            try:
                value = frozenset(CloseReason[reason] for reason in value)
            except (KeyError, TypeError):
                raise CaptureFormatError("header: unknown reason in policy.stop_reasons") from None
        elif not _is_number(value):
            raise CaptureFormatError(f"header: config.policy.{name} must be a number")
        policy_changes[name] = value
    try:
        changes["policy"] = replace(base.policy, **policy_changes)
        return replace(base, **changes)
    except (TypeError, ValueError) as error:
        raise CaptureFormatError(f"header: invalid config: {error}") from None


# -- transport causes ------------------------------------------------------------------------


def encode_cause(cause: TransportCause | CloseReason) -> dict[str, Any]:
    """What ended the transport, as data replay can turn back into the same cause."""
    if cause is None:
        return {"kind": "eof"}
    if isinstance(cause, WebSocketClosed):
        return {"kind": "websocket_close", "code": cause.code, "reason": cause.reason}
    if isinstance(cause, UpgradeRejected):
        return {"kind": "upgrade_rejected", "status": cause.status}
    if isinstance(cause, CloseReason):
        return {"kind": "reason", "reason": cause.name}
    return {"kind": "error", "class": type(cause).__name__, "text": str(cause)}


def decode_cause(data: object) -> TransportCause | CloseReason:
    """The cause ``encode_cause`` wrote; an exception comes back as the same builtin class
    (or ``RemoteProtocolError``), so the session classifies it exactly as it did live."""
    if not isinstance(data, dict):
        raise CaptureFormatError("'cause' must be an object")
    kind = data.get("kind")
    if kind == "eof":
        return None
    if kind == "websocket_close":
        code = data.get("code")
        if code is not None and not isinstance(code, int):
            raise CaptureFormatError("cause.code must be an integer or null")
        return WebSocketClosed(code=code, reason=str(data.get("reason", "")))
    if kind == "upgrade_rejected":
        status = data.get("status")
        if not isinstance(status, int):
            raise CaptureFormatError("cause.status must be an integer")
        return UpgradeRejected(status=status)
    if kind == "reason":
        try:
            return CloseReason[str(data.get("reason"))]
        except KeyError:
            raise CaptureFormatError(f"unknown close reason {data.get('reason')!r}") from None
    if kind == "error":
        return exception_from_json(str(data.get("class", "")), str(data.get("text", "")))
    raise CaptureFormatError(f"unknown cause kind {kind!r}")


def exception_from_json(name: str, text: str) -> Exception:
    """An exception of class ``name`` (a builtin, or ``RemoteProtocolError``) with ``text``;
    another class comes back as a plain exception whose text names it."""
    import builtins

    if name == RemoteProtocolError.__name__:
        return RemoteProtocolError(text)
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        try:
            return found(text)
        except TypeError:
            pass  # a builtin whose constructor takes other arguments (UnicodeDecodeError)
    # an exception class of a library we cannot rebuild: classify it as an unknown failure
    return _ForeignError(f"{name}: {text}")


class _ForeignError(Exception):
    """An exception of a class replay cannot rebuild (its text keeps the class's name)."""


# -- reading ---------------------------------------------------------------------------------


def read_capture(path: str | os.PathLike[str]) -> Capture:
    """Parse and check a whole capture file; ``CaptureFormatError`` says where it is wrong.

    ``OSError`` (missing, unreadable) is left to the caller.
    """
    with open(path, "rb") as file:
        raw = file.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CaptureFormatError(f"not UTF-8 text (byte {error.start})") from None
    return parse_capture(text)


def parse_capture(text: str) -> Capture:
    """Parse and check a capture's whole text (``read_capture`` without the file)."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CaptureFormatError("line 1: empty file: a capture starts with its header line")
    header = _read_header(_parse_line(lines[0], 1))
    records: list[Record] = []
    last_t = -math.inf
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        data = _parse_line(line, number)
        kind = data.get("k")
        if kind not in RECORD_KINDS:
            raise CaptureFormatError(f"line {number}: unknown record kind {kind!r}")
        t = data.get("t")
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise CaptureFormatError(f"line {number}: 't' must be a finite number")
        if t < last_t:
            raise CaptureFormatError(f"line {number}: time goes backwards ({t} < {last_t})")
        last_t = t
        records.append(Record(kind=kind, t=float(t), data=data, line=number))
    return Capture(header=header, records=tuple(records))


def _parse_line(line: str, number: int) -> dict[str, Any]:
    if len(line) > _MAX_LINE:
        raise CaptureFormatError(f"line {number}: longer than {_MAX_LINE} characters")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise CaptureFormatError(f"line {number}: not JSON: {error.msg}") from None
    except RecursionError:
        raise CaptureFormatError(f"line {number}: JSON nested too deep") from None
    if not isinstance(data, dict):
        raise CaptureFormatError(f"line {number}: a line is one JSON object")
    return data


def _read_header(data: dict[str, Any]) -> Header:
    if data.get("k") != "header" or data.get("format") != FORMAT_NAME:
        raise CaptureFormatError(f"line 1: not a walink capture (no '{FORMAT_NAME}' header)")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise CaptureFormatError(
            f"line 1: capture format version {version!r}; this walink reads {FORMAT_VERSION}"
        )
    seed = data.get("seed")
    redacted = data.get("redacted")
    creds, config = data.get("creds"), data.get("config")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise CaptureFormatError("line 1: 'seed' must be an integer")
    if not isinstance(redacted, list) or not all(isinstance(r, str) for r in redacted):
        raise CaptureFormatError("line 1: 'redacted' must be a list of rule names")
    if not isinstance(creds, dict) or not isinstance(config, dict):
        raise CaptureFormatError("line 1: 'creds' and 'config' must be objects")
    registration_id = data.get("registration_id")
    if registration_id is not None and (
        not isinstance(registration_id, int)
        or isinstance(registration_id, bool)
        or not 0 <= registration_id < 1 << 32
    ):
        raise CaptureFormatError("line 1: 'registration_id' must be a 32-bit unsigned integer")
    return Header(
        registration_id=registration_id,
        walink=str(data.get("walink", "")),
        seed=seed,
        redacted=tuple(redacted),
        creds=creds,
        config=config,
        source=str(data.get("source", "")),
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _opt_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


def _int(data: Mapping[str, Any], name: str, default: int) -> int:
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default
