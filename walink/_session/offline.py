"""Offline delivery: what the server queued while this device was away.

The server announces its backlog with ``<ib><offline_preview/></ib>`` and delivers it on request
(``<ib><offline_batch count=…/></ib>``); ``<ib><offline/></ib>`` says the backlog is over, and
only then does ``received_pending_notifications`` turn true.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walink.protocol.binary import Node

if TYPE_CHECKING:
    from walink._session.context import PartContext

__all__ = ["OFFLINE_BATCH", "Offline"]

OFFLINE_BATCH = 100
"""Stanzas asked for per ``offline_batch`` request (Baileys asks once for 100)."""


class Offline:
    """The offline backlog of the running attempt."""

    def __init__(self, ctx: PartContext) -> None:
        self._ctx = ctx
        self.received_pending = False
        """True once the server said the backlog is delivered."""

    def attempt_started(self) -> None:
        self.received_pending = False

    def on_preview(self, child: Node, now: float) -> bool:
        batch = Node("ib", {}, [Node("offline_batch", {"count": str(OFFLINE_BATCH)})])
        self._ctx.send(batch)
        return True

    def on_offline(self, child: Node, now: float) -> bool:
        self.received_pending = True
        self._ctx.changed()
        return True
