"""What ``walink connect`` and ``walink demo`` print for the history the phone sends.

``--json``: one line per chunk, exactly::

    {"v": 1, "event": "messaging-history.set", "sync_type": str, "chunk_order": int|null,
     "progress": int|null, "is_latest": bool, "chats": int, "contacts": int, "messages": int}

and one per status::

    {"v": 1, "event": "messaging-history.status", "sync_type": str, "status": "complete"|"paused"}

``sync_type`` is the ``HistorySync.HistorySyncType`` name as the enum spells it
(``"INITIAL_BOOTSTRAP"``, ``"RECENT"``, ``"PUSH_NAME"``…); the counts are those of that chunk
(``messages`` counts every message of every conversation in it). Readable: one line per chunk
(``history RECENT chunk 1 (50%): 2 chats, 2 contacts, 2 messages``) and per status; a chunk that
could not be had is a line too (``history RECENT chunk … failed: …``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from walink._session.events import HistoryFailed
    from walink.protocol.history import HistorySet, HistoryStatus

__all__ = ["history_failed_line", "history_json", "history_line", "status_json", "status_line"]


def history_json(chunk: HistorySet) -> dict[str, Any]:
    """The ``messaging-history.set`` line of ``chunk``, without ``"v"`` (``emit_json`` adds it)."""
    return {
        "event": "messaging-history.set",
        "sync_type": chunk.sync_type,
        "chunk_order": chunk.chunk_order,
        "progress": chunk.progress,
        "is_latest": chunk.is_latest,
        "chats": len(chunk.chats),
        "contacts": len(chunk.contacts),
        "messages": len(chunk.messages),
    }


def status_json(status: HistoryStatus) -> dict[str, Any]:
    """The ``messaging-history.status`` line, without ``"v"``."""
    return {
        "event": "messaging-history.status",
        "sync_type": status.sync_type,
        "status": status.status,
    }


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def history_line(chunk: HistorySet) -> str:
    """One readable line for one chunk."""
    order = f" chunk {chunk.chunk_order}" if chunk.chunk_order is not None else ""
    progress = f" ({chunk.progress}%)" if chunk.progress is not None else ""
    counts = ", ".join(
        (
            _plural(len(chunk.chats), "chat"),
            _plural(len(chunk.contacts), "contact"),
            _plural(len(chunk.messages), "message"),
        )
    )
    return f"history {chunk.sync_type}{order}{progress}: {counts}"


def status_line(status: HistoryStatus) -> str:
    """One readable line for a status."""
    return f"history {status.sync_type} sync {status.status}"


def history_failed_line(failed: HistoryFailed) -> str:
    """One readable line for a chunk that could not be had."""
    again = " (asked the phone to upload it again)" if failed.reupload else ""
    return f"history {failed.sync_type} chunk {failed.message_id} failed{again}: {failed.error}"
