"""What one connection attempt holds: its transport, timers, QR refs, ids and pending queries.

A new ``Attempt`` is made by every ``start``; nothing here outlives the attempt, so a close is
dropping the object (after failing its queries). The session owns the lifecycle; this module only
keeps the attempt's data and computes its deadlines.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from walink.protocol.binary import Node
from walink.protocol.events import Event

if TYPE_CHECKING:
    from walink._session.pairing_code import PairingCodeState

__all__ = ["Attempt", "NodeTransport", "OnAnswer", "PendingQuery"]


class NodeTransport(Protocol):
    """What the session needs from its transport; ``ClientConnection`` is the real one.

    Replay (and tests) may pass their own to ``connection_made``: one that records the nodes
    sent instead of encrypting them.
    """

    def receive_data(self, data: bytes | None) -> None: ...

    def events(self) -> Iterator[Event]: ...

    def send_node(self, node: Node) -> None: ...

    def data_to_send(self) -> bytes: ...


OnAnswer = Callable[[Node | None, float], None]
"""An internal query's continuation: the reply (an error reply too; None after a timeout), and
now."""


@dataclass(slots=True, kw_only=True)
class PendingQuery:
    """A query waiting for the iq with its id."""

    id: str
    deadline: float | None
    """When it times out; None: never."""
    on_answer: OnAnswer | None = None
    """Internal queries continue here; None: the application's query (reported as events)."""


@dataclass(slots=True, kw_only=True)
class Attempt:
    """One connection attempt, from ``start`` to its ``Closed`` event."""

    started_at: float
    login: bool
    """True when the login payload is sent (``creds.me`` known), False for a registration."""
    connect_deadline: float | None
    """Until the first node after the handshake arrives (then keepalive takes over)."""
    conn: NodeTransport | None = None
    """The transport, from ``connection_made``."""
    authenticated: bool = False
    """The handshake is complete: nodes can be sent."""
    last_received: float = 0.0
    """When bytes last arrived (every frame counts, as Baileys' ``lastDateRecv``)."""
    keepalive: bool = False
    """Whether the keepalive timers run (from the first node on)."""
    ping_outstanding: bool = False
    """A keepalive ping went out and nothing has arrived since."""
    refs: list[str] = field(default_factory=list)
    """The pair-device refs, shown one after the other."""
    qr_index: int = 0
    """How many refs were shown."""
    qr_deadline: float | None = None
    pairing: PairingCodeState | None = None
    """The pairing-code mode, from the first ``request_pairing_code`` (then no QR is shown)."""
    logout_deadline: float | None = None
    logging_out: bool = False
    queries: dict[str, PendingQuery] = field(default_factory=dict)
    tag_prefix: str = ""
    tag_counter: int = 0
    logging_in: bool = False
    """``<success>`` arrived: the initial queries run (a second ``<success>`` is not ours)."""
    opened: bool = False
    """``<success>`` and the initial queries are done: the connection is open."""

    def new_id(self) -> str:
        """The next message tag ``"<u16>.<u16>-<n>"`` (Baileys' form)."""
        self.tag_counter += 1
        return f"{self.tag_prefix}-{self.tag_counter}"

    def seed_ids(self, rng: random.Random) -> None:
        # Baileys draws 4 random bytes once per socket and reads them as two big-endian u16
        self.tag_prefix = f"{rng.getrandbits(16)}.{rng.getrandbits(16)}"
        self.tag_counter = 0

    def ping_at(self, interval: float) -> float | None:
        """When the next keepalive ping is due (None while one waits for traffic)."""
        if not self.keepalive:
            return None
        if self.ping_outstanding:
            return None
        return self.last_received + interval

    def dead_at(self, interval: float, timeout: float) -> float | None:
        """When the silence becomes a keepalive timeout."""
        if not self.keepalive:
            return None
        return self.last_received + interval + timeout

    def next_deadline(self, interval: float, timeout: float) -> float | None:
        """The earliest of every timer of this attempt."""
        candidates = [
            self.connect_deadline,
            self.qr_deadline,
            self.pairing.next_deadline() if self.pairing is not None else None,
            self.logout_deadline,
            self.ping_at(interval),
            self.dead_at(interval, timeout),
            *(query.deadline for query in self.queries.values()),
        ]
        present = [deadline for deadline in candidates if deadline is not None]
        return min(present) if present else None
