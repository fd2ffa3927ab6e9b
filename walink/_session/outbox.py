"""Output held behind unconfirmed saves: the session's "persist before you send" barrier.

Every save request opens a barrier. Whatever is queued after it (bytes for the wire, or a deferred
action such as showing a QR) waits behind it until the save is confirmed; then everything up to the
next unconfirmed barrier is released, in order. Confirmations may come in any order: a barrier
only falls once every barrier before it has fallen too, so the wire order never changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Outbox"]

Deferred = Callable[[], None]


@dataclass(slots=True)
class _Segment:
    token: int
    confirmed: bool = False
    items: list[bytes | Deferred] = field(default_factory=list)


class Outbox:
    """Released bytes, and segments held behind save tokens."""

    def __init__(self) -> None:
        self._released = bytearray()
        self._held: deque[_Segment] = deque()

    def write(self, data: bytes) -> None:
        """Queue bytes for the wire behind every open barrier."""
        if not data:
            return
        if self._held:
            self._held[-1].items.append(data)
        else:
            self._released += data

    def defer(self, action: Deferred) -> None:
        """Run ``action`` now if nothing is held, else when the barriers before it fall."""
        if self._held:
            self._held[-1].items.append(action)
        else:
            action()

    def barrier(self, token: int) -> None:
        """Hold everything queued from now on until ``confirm(token)``."""
        self._held.append(_Segment(token))

    def confirm(self, token: int) -> bool:
        """Mark ``token`` saved and release what it freed; False when it holds nothing here."""
        for segment in self._held:
            if segment.token == token:
                segment.confirmed = True
                break
        else:
            return False
        while self._held and self._held[0].confirmed:
            segment = self._held.popleft()
            for item in segment.items:
                if isinstance(item, bytes):
                    # a later barrier may already exist: released bytes go before it
                    self._released += item
                else:
                    self._run_released(item)
        return True

    def _run_released(self, action: Deferred) -> None:
        # The action's own output belongs at its place in the queue, ahead of later segments.
        later = self._held
        self._held = deque()
        try:
            action()
        finally:
            # a barrier the action opened comes before the segments that were already waiting
            self._held.extend(later)

    def take(self) -> bytes:
        """Everything released so far (empty when nothing is)."""
        out = bytes(self._released)
        self._released.clear()
        return out

    @property
    def holding(self) -> bool:
        """Whether some output waits for a save."""
        return any(segment.items for segment in self._held)

    def discard(self) -> None:
        """Drop everything not yet taken: the connection it was meant for is gone."""
        self._released.clear()
        self._held.clear()
