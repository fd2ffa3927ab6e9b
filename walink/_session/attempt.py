"""What one connection attempt holds in the core: its transport, its own timers, ids, queries.

A new ``Attempt`` is made by every ``start``; nothing here outlives the attempt, so a close is
dropping the object (after failing its queries). The parts keep their own per-attempt state and
reset it when the core tells them an attempt starts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from walink._session.queries import QueryTable
from walink.protocol.binary import Node
from walink.protocol.events import Event

__all__ = ["Attempt", "NodeTransport"]


class NodeTransport(Protocol):
    """What the session needs from its transport; ``ClientConnection`` is the real one.

    Replay (and tests) may pass their own to ``connection_made``: one that records the nodes
    sent instead of encrypting them.
    """

    def receive_data(self, data: bytes | None) -> None: ...

    def events(self) -> Iterator[Event]: ...

    def send_node(self, node: Node) -> None: ...

    def data_to_send(self) -> bytes: ...


@dataclass(slots=True, kw_only=True)
class Attempt:
    """One connection attempt, from ``start`` to its ``Closed`` event."""

    number: int
    """Increases with every ``start``."""
    started_at: float
    login: bool
    """True when the login payload is sent (``creds.me`` known), False for a registration."""
    connect_deadline: float | None
    """Until the first node after the handshake arrives (then keepalive takes over)."""
    queries: QueryTable
    conn: NodeTransport | None = None
    """The transport, from ``connection_made``."""
    authenticated: bool = False
    """The handshake is complete: nodes can be sent."""
    logout_deadline: float | None = None
    logging_out: bool = False
    tag_prefix: str = ""
    tag_counter: int = 0

    def new_id(self) -> str:
        """The next message tag ``"<u16>.<u16>-<n>"`` (Baileys' form)."""
        self.tag_counter += 1
        return f"{self.tag_prefix}-{self.tag_counter}"

    def seed_ids(self, rng: random.Random) -> None:
        # Baileys draws 4 random bytes once per socket and reads them as two big-endian u16
        self.tag_prefix = f"{rng.getrandbits(16)}.{rng.getrandbits(16)}"
        self.tag_counter = 0
