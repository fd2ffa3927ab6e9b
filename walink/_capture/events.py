"""Session events as JSON objects: the capture's ``event`` lines and ``walink replay``'s output.

One encoding for both, so a replay's events compare with the recorded run's line for line. It
never carries a secret: creds are summarised by their public fields, keys by their counts, a QR
by a marker, nodes through the capture's redaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from walink._capture.format import creds_to_json
from walink._capture.nodes import encode_node
from walink.fsm.reasons import Disconnect
from walink.protocol.binary import Node
from walink.session import (
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
    QueryResult,
    SaveRequest,
    SessionEvent,
)

__all__ = ["PAIRING_CODE_MARKER", "QR_MARKER", "encode_event"]

QR_MARKER = "[redacted qr]"
"""Stands for a QR string: it carries the ADV secret (and in a replay, a synthetic one)."""
PAIRING_CODE_MARKER = "[redacted pairing code]"
"""Stands for a pairing code: with the wrapped keys of the capture it would open them."""


def _same(value: str) -> str:
    return value


def encode_event(
    event: SessionEvent,
    *,
    redact: bool,
    query_id: Callable[[str], str] = _same,
) -> dict[str, Any]:
    """``event`` as JSON-ready data. ``query_id`` maps a session's query id to the one shown
    (replay shows the recorded ids, so its output compares with the recording)."""
    if isinstance(event, ConnectionUpdate):
        out: dict[str, Any] = {
            "event": "connection.update",
            "connection": event.connection,
            "qr": None if event.qr is None else (QR_MARKER if redact else event.qr),
            "is_new_login": event.is_new_login,
            "received_pending_notifications": event.received_pending_notifications,
            "is_online": event.is_online,
        }
        if event.connection == "close" and event.last_disconnect is not None:
            out.update(_disconnect(event.last_disconnect))
        return out
    if isinstance(event, CredsUpdate):
        return {"event": "creds.update", "creds": creds_to_json(event.creds)}
    if isinstance(event, SaveRequest):
        keys = {kind: len(values) for kind, values in (event.keys or {}).items()}
        return {
            "event": "save.request",
            "token": event.token,
            "creds": event.creds is not None,
            "keys": keys,
            "why": event.why,
        }
    if isinstance(event, NodeReceived):
        return {"event": "node", "node": encode_node(event.node, redact=redact)}
    if isinstance(event, QueryResult):
        return {
            "event": "query.result",
            "id": query_id(event.id),
            "node": encode_node(event.node, redact=redact),
        }
    if isinstance(event, QueryError):
        return {
            "event": "query.error",
            "id": query_id(event.id),
            "failure": event.failure.value,
            "code": event.code,
            "text": event.text,
        }
    if isinstance(event, PairingCode):
        return {
            "event": "pairing_code",
            "request": event.request,
            "code": PAIRING_CODE_MARKER if redact else event.code,
            "phone": event.phone,
            "expires_at": event.expires_at,
        }
    if isinstance(event, PairingCodeError):
        return {
            "event": "pairing_code.error",
            "request": event.request,
            "failure": event.failure.value,
            "code": event.code,
            "text": event.text,
            "retry": event.retry,
            "node": None if event.node is None else encode_node(event.node, redact=redact),
        }
    jobs = _job_event(event, redact=redact)
    if jobs is not None:
        return jobs
    if not isinstance(event, Closed):
        # an event type newer than this encoder: its name only, never fields that may be secret
        return {"event": "unknown", "type": type(event).__name__}
    decision = event.decision
    return {
        "event": "closed",
        **_disconnect(event.disconnect),
        "terminal": event.disconnect.terminal,
        "reconnect": decision.reconnect,
        "restart": decision.restart,
        "delay": decision.delay,
        "counted": decision.counted,
        "failures": decision.failures,
        "loop_detected": decision.loop_detected,
        "explanation": decision.explanation,
        "reconnect_at": event.reconnect_at,
        "final": event.final,
        "requested": event.requested,
    }


def _job_event(event: SessionEvent, *, redact: bool) -> dict[str, Any] | None:
    """The message and history events (None for another one). Never a decrypted content: a
    processed message shows its stanza, a history chunk its counts."""
    if isinstance(event, ProcessMessage):
        return {"event": "message.job", "token": event.token, "node": _node(event.node, redact)}
    if isinstance(event, MessageProcessed):
        return {
            "event": "message.processed",
            "token": event.token,
            "node": _node(event.node, redact),
            "offline": event.offline,
            "redelivered": event.redelivered,
        }
    if isinstance(event, MessageFailed):
        return {
            "event": "message.failed",
            "node": _node(event.node, redact),
            "error": str(event.error),
            "retry_count": event.retry_count,
            "gave_up": event.gave_up,
        }
    if isinstance(event, DownloadHistory):
        request = event.request
        return {
            "event": "history.download",
            "token": event.token,
            "message_id": request.message_id,
            "direct_path": request.direct_path,
            "file_length": request.file_length,
            "hosts": list(event.hosts),
            "max_size": event.max_size,
        }
    if isinstance(event, HistoryReceived):
        chunk = event.history
        return {
            "event": "history.chunk",
            "token": event.token,
            "message_id": event.message_id,
            "sync_type": chunk.sync_type,
            "chunk_order": chunk.chunk_order,
            "progress": chunk.progress,
            "is_latest": chunk.is_latest,
            "chats": len(chunk.chats),
            "contacts": len(chunk.contacts),
            "messages": len(chunk.messages),
            "lid_pn_mappings": len(chunk.lid_pn_mappings),
        }
    if isinstance(event, HistoryStatusChanged):
        status = event.status
        return {
            "event": "history.status",
            "sync_type": status.sync_type,
            "status": status.status,
            "explicit": status.explicit,
        }
    if isinstance(event, HistoryFailed):
        return {
            "event": "history.failed",
            "message_id": event.message_id,
            "sync_type": event.sync_type,
            "error": str(event.error),
            "reupload": event.reupload,
            "final": event.final,
        }
    return None


def _node(node: Node, redact: bool) -> dict[str, Any]:
    return encode_node(node, redact=redact)


def _disconnect(disconnect: Disconnect) -> dict[str, Any]:
    return {
        "reason": disconnect.reason.name,
        "status": disconnect.status,
        "message": disconnect.message,
    }
