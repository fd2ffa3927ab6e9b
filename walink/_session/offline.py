"""Offline delivery: the backlog the server queued while this device was away, pulled to the end.

Theory of operation
-------------------
The server announces a backlog with ``<ib><offline_preview count=…/></ib>``, pushes a few
stanzas, then waits: the rest is delivered only on request, ``<ib><offline_batch count=N/></ib>``
at a time, and ``<ib><offline count=…/></ib>`` says the backlog is over. Each backlog stanza
carries an ``offline`` attribute.

So the preview is answered with a request for ``offline_batch_size`` stanzas; every backlog
stanza that arrives is counted, and once the requested number has arrived the next request goes
out after ``offline_batch_delay`` (a short debounce, so the application's work on one batch
is not flooded by the next), and not before every message job of the batches so far has its
outcome and nothing waits for the open (``busy``): the backlog arrives no faster than it is
committed, and no more than a batch of it is held while the login runs. This repeats until
``<offline>``, and only then does ``received_pending_notifications`` turn true — never ahead of
the backlog's events held for the open (``walink._session.opening``): right after them. (A
message whose job is still running when ``<offline>`` arrives is published when its outcome is
reported, which may be later.) (Baileys asks
once for 100 and so can leave a large backlog undelivered; whatsapp-rust pulls batches until the
end, as here.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from walink.protocol.binary import Node

if TYPE_CHECKING:
    from walink._session.context import PartContext

__all__ = ["Offline"]


class Offline:
    """The offline backlog of the running attempt."""

    def __init__(self, ctx: PartContext, *, busy: Callable[[], bool]) -> None:
        """``busy``: whether received messages still wait for their outcome."""
        self._ctx = ctx
        self._busy = busy
        self.received_pending = False
        """True once the server said the backlog is delivered."""
        self._pulling = False
        self._asked = 0
        self._arrived = 0
        self._next_request_at: float | None = None
        self.requests = 0
        """``offline_batch`` requests sent on this attempt."""

    def attempt_started(self) -> None:
        self.received_pending = False
        self._pulling = False
        self._asked = 0
        self._arrived = 0
        self._next_request_at = None
        self.requests = 0

    def next_deadline(self) -> float | None:
        """When the next batch is asked for (None while a batch is still arriving, or while its
        messages wait for their outcome: reporting an outcome is a call that re-reads this)."""
        return None if self._busy() else self._next_request_at

    def handle_timeout(self, now: float) -> None:
        due = self.next_deadline()
        if due is not None and now >= due:
            self._request()

    def observe(self, node: Node, now: float) -> None:
        """Every node received: a backlog stanza counts toward the batch it belongs to."""
        if not self._pulling or node.attr("offline") is None:
            return
        self._arrived += 1
        if self._arrived >= self._asked and self._next_request_at is None:
            self._next_request_at = now + self._ctx.config.offline_batch_delay

    def on_preview(self, child: Node, now: float) -> bool:
        if not self._pulling:  # a repeated preview does not start a second pull
            self._pulling = True
            self._request()
        return True

    def on_offline(self, child: Node, now: float) -> bool:
        self._pulling = False
        self._next_request_at = None
        # never ahead of the backlog it closes: after its events, held until the open or not
        self._ctx.after_held(self._delivered)
        return True

    def _delivered(self) -> None:
        self.received_pending = True
        self._ctx.changed()

    def _request(self) -> None:
        size = self._ctx.config.offline_batch_size
        self._asked, self._arrived = size, 0
        self._next_request_at = None
        self.requests += 1
        self._ctx.send(Node("ib", {}, [Node("offline_batch", {"count": str(size)})]))
