"""Keepalive: Baileys' ping after silence, the timeout after more silence, the server's pings.

Theory of operation
-------------------
Every frame that arrives counts as life (Baileys' ``lastDateRecv``). From the attempt's first
node on, ``keepalive_interval`` of silence sends a ``w:p`` ping (one at a time), and
``keepalive_timeout`` more of silence ends the attempt with ``KEEPALIVE_TIMEOUT``. The server's
own ``urn:xmpp:ping`` iqs are answered at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walink._session.nodes import SERVER_JID, iq_result
from walink.fsm.reasons import CloseReason, classify
from walink.protocol.binary import Node

if TYPE_CHECKING:
    from walink._session.context import PartContext

__all__ = ["Keepalive"]


class Keepalive:
    """The keepalive timers of the running attempt."""

    def __init__(self, ctx: PartContext) -> None:
        self._ctx = ctx
        self.last_received = 0.0
        """When bytes last arrived on the current attempt."""
        self._armed = False
        self._ping_outstanding = False

    def attempt_started(self, now: float) -> None:
        """The socket opened: silence is counted from now, the timers wait for the first node."""
        self.last_received = now
        self._armed = False
        self._ping_outstanding = False

    def arm(self) -> None:
        """The first node arrived: the connect timeout is over, keepalive takes the watch."""
        self._armed = True

    def traffic(self, now: float) -> None:
        """Bytes arrived: whatever ping was out is answered by them."""
        self.last_received = now
        self._ping_outstanding = False

    def ping_at(self) -> float | None:
        """When the next ping is due (None while one waits for traffic)."""
        if not self._armed or self._ping_outstanding:
            return None
        return self.last_received + self._ctx.config.keepalive_interval

    def dead_at(self) -> float | None:
        """When the silence becomes a keepalive timeout."""
        if not self._armed:
            return None
        config = self._ctx.config
        return self.last_received + config.keepalive_interval + config.keepalive_timeout

    def check_dead(self, now: float) -> bool:
        """End the attempt if the silence lasted too long; True when it did."""
        dead_at = self.dead_at()
        if dead_at is None or now < dead_at:
            return False
        silence = now - self.last_received
        message = f"connection was lost (nothing received for {silence:g} s)"
        self._ctx.end(classify(CloseReason.KEEPALIVE_TIMEOUT, at=now, message=message))
        return True

    def maybe_ping(self, now: float) -> None:
        """Send the ping when it is due; silence is judged by the timers, not by its answer."""
        ping_at = self.ping_at()
        if ping_at is None or now < ping_at:
            return
        self._ping_outstanding = True
        ping = Node("iq", {"to": SERVER_JID, "type": "get", "xmlns": "w:p"}, [Node("ping")])
        self._ctx.query(ping, None, lambda reply, at: None)

    def on_iq(self, node: Node, now: float) -> bool:
        """The server's ping: answered at once."""
        if node.attr("type") == "get" and node.attr("xmlns") == "urn:xmpp:ping":
            self._ctx.send(iq_result(node))
            return True
        return False
