"""What ``walink connect`` and ``walink demo`` print about a client's lifecycle, in both modes.

``--json`` (docs/protocol/architecture.md#command-line): every ``ConnectionUpdate`` becomes one
full-snapshot line ``{"v": 1, "event": "connection.update", "connection", "qr", "is_new_login",
"received_pending_notifications", "is_online"}``, plus ``"reason"``, ``"status"`` and
``"message"`` when ``connection`` is ``"close"``; a pairing code becomes
``{"v": 1, "event": "pairing_code", "code"}``. Other tools parse these lines: keep the keys,
their order and their types exactly as they are.

Plain mode: one readable, timestamped line per change, with the policy's decision after every
close ("reconnecting in 0.5 s", "not reconnecting").

``exit_code`` turns the lifecycle's last ``Closed`` into the command's exit status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from walink._commands.output import emit_json, emit_text

if TYPE_CHECKING:
    # only for annotations: ``walink --help`` and ``walink version`` stay free of the session
    from walink._session.events import Closed, ConnectionUpdate

__all__ = [
    "EXIT_ERROR",
    "EXIT_LOGGED_OUT",
    "EXIT_OK",
    "EXIT_QR_EXHAUSTED",
    "EXIT_USAGE",
    "Timeline",
    "exit_code",
    "update_json",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOGGED_OUT = 3
EXIT_QR_EXHAUSTED = 4

# CloseReason names. The server ended the device's registration: link it again (exit 3). The
# same reasons mark the stored creds logged out (walink._session.ending.LOGGED_OUT_REASONS).
_LOGGED_OUT_REASONS = frozenset({"LOGGED_OUT", "FORBIDDEN", "BANNED"})
# The login never happened in time: QR refs ran out, or the phone never finished the code (exit 4).
_LOGIN_EXPIRED_REASONS = frozenset({"QR_EXHAUSTED", "PAIRING_TIMEOUT"})


def update_json(update: ConnectionUpdate) -> dict[str, Any]:
    """The ``connection.update`` line of ``update``, without ``"v"`` (``emit_json`` adds it)."""
    line: dict[str, Any] = {
        "event": "connection.update",
        "connection": update.connection,
        "qr": update.qr,
        "is_new_login": update.is_new_login,
        "received_pending_notifications": update.received_pending_notifications,
        "is_online": update.is_online,
    }
    if update.connection == "close":
        disconnect = update.last_disconnect
        # a close update always follows a Disconnect; the fallback only keeps the shape total
        line["reason"] = disconnect.reason.name if disconnect else "LOCAL_CLOSE"
        line["status"] = disconnect.status if disconnect else 428
        line["message"] = disconnect.message if disconnect else ""
    return line


def exit_code(closed: Closed | None) -> int:
    """The exit status for a lifecycle whose last close was ``closed`` (None: it never ran)."""
    if closed is None:
        return EXIT_ERROR
    if closed.requested:
        # the user's own close or logout (the server answers a logout with 401: still normal)
        return EXIT_OK
    reason = closed.disconnect.reason.name
    if reason in _LOGGED_OUT_REASONS:
        return EXIT_LOGGED_OUT
    if reason in _LOGIN_EXPIRED_REASONS:
        return EXIT_QR_EXHAUSTED
    return EXIT_ERROR


class Timeline:
    """Prints a client's events on stdout: JSON lines, or readable lines with elapsed time.

    ``label`` prefixes the readable lines (the demo runs two clients); JSON lines never carry
    it, their shape is fixed.
    """

    def __init__(
        self,
        *,
        json_lines: bool,
        clock: Callable[[], float] = time.monotonic,
        label: str = "",
        started: float | None = None,
    ) -> None:
        self.json_lines = json_lines
        self._clock = clock
        self.started = clock() if started is None else started
        """Where the readable lines' elapsed time counts from (share it to align timelines)."""
        self.label = label
        self._previous: ConnectionUpdate | None = None

    def show(self, event: object) -> None:
        """Print what a person or a tool needs to know about one client event.

        Connection updates, closes, received messages (``messages.upsert``) and the history
        (``messaging-history.set``/``.status``); creds updates and nodes are not news.
        """
        from walink._commands.messages import message_text_line, upsert_json
        from walink._receive.events import MessagesUpsert
        from walink._session.events import Closed, ConnectionUpdate

        if isinstance(event, ConnectionUpdate):
            self._update(event)
        elif isinstance(event, Closed) and not self.json_lines:
            self.note(closed_text(event))
        elif isinstance(event, MessagesUpsert):
            if self.json_lines:
                emit_json(upsert_json(event))
            else:
                for message in event.messages:
                    self.note(message_text_line(message))
        else:
            self._history(event)

    def _history(self, event: object) -> None:
        """The history the phone sends: chunks, statuses, failures (``_commands.history``)."""
        from walink._commands.history import (
            history_failed_line,
            history_json,
            history_line,
            status_json,
            status_line,
        )
        from walink._session.events import HistoryFailed
        from walink.protocol.history import HistorySet, HistoryStatus

        if isinstance(event, HistorySet):
            if self.json_lines:
                emit_json(history_json(event))
            else:
                self.note(history_line(event))
        elif isinstance(event, HistoryStatus):
            if self.json_lines:
                emit_json(status_json(event))
            else:
                self.note(status_line(event))
        elif isinstance(event, HistoryFailed):
            self.note(history_failed_line(event))

    def pairing_code(self, code: str) -> None:
        if self.json_lines:
            emit_json({"event": "pairing_code", "code": code})
        else:
            self.note(f"pairing code {code}: on the phone, Linked devices > Link with phone number")

    def note(self, text: str) -> None:
        """A readable line (plain mode only: JSON mode prints nothing but its fixed lines)."""
        if self.json_lines:
            return
        elapsed = self._clock() - self.started
        label = f"{self.label} " if self.label else ""
        emit_text(f"{elapsed:7.2f}s  {label}{text}")

    def _update(self, update: ConnectionUpdate) -> None:
        previous, self._previous = self._previous, update
        if self.json_lines:
            emit_json(update_json(update))
            return
        self.note(update_text(update, previous))


def update_text(update: ConnectionUpdate, previous: ConnectionUpdate | None) -> str:
    """One readable line for a connection update: the state, then what changed."""
    parts = [f"{update.connection:<10}"]
    if update.qr is not None and (previous is None or previous.qr != update.qr):
        parts.append("new QR shown (drawn on stderr): scan it in WhatsApp > Linked devices")
    if update.is_new_login and (previous is None or not previous.is_new_login):
        parts.append("new login: the phone linked this device")
    if update.received_pending_notifications and (
        previous is None or not previous.received_pending_notifications
    ):
        parts.append("pending notifications received")
    if update.is_online != (previous.is_online if previous is not None else False):
        parts.append("online" if update.is_online else "offline")
    if update.connection == "close" and update.last_disconnect is not None:
        disconnect = update.last_disconnect
        parts.append(f"{disconnect.reason.name} ({disconnect.status}) {disconnect.message}")
    return "  ".join(parts).rstrip()


def closed_text(closed: Closed) -> str:
    """One readable line for the policy's decision after a close."""
    disconnect = closed.disconnect
    if closed.decision.restart:
        return f"{'restart':<10}  {disconnect.message} ({disconnect.status}): reconnecting now"
    if closed.decision.reconnect:
        return f"{'backoff':<10}  reconnecting in {closed.decision.delay:.2f} s"
    why = "as asked" if closed.requested else closed.decision.explanation
    return f"{'stopped':<10}  not reconnecting: {why}"
