"""The narrow interface between the session's core and its parts.

Theory of operation
-------------------
The session is split into parts (login, QR pairing, pairing code, keepalive, presence, offline
delivery, account notices, the message pipeline), each a class in its own module that owns its
own state. A part never sees the ``ClientSession`` object: it gets a ``PartContext``, which is
all it may do to the rest of the session — send a node or an ack, ask an internal query, request
that creds be saved, publish an event, say that its piece of the connection snapshot changed,
move the lifecycle machine, end the attempt, publish what an attempt delivered once that attempt
is open (``walink._session.opening``) — and all it may read: the config, the creds, the machine's
state, the attempt's number and origin, the rng, the server clock offset.

The core owns the lifecycle (attempts, the transport, the save barrier, the policy) and hands
each node to the parts through one dispatch table keyed by tag. A handler returns True when it
consumed the node; a node no handler consumed is reported (``NodeReceived``).

Parts never import the core, and the core is the only module that imports every part: the
import graph of ``walink._session`` has no circle.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from walink._session.config import SessionConfig
    from walink._session.events import SessionEvent
    from walink._session.opening import Origin, Publication
    from walink.auth.model import Creds
    from walink.auth.store import KeyUpdates
    from walink.fsm.reasons import Disconnect
    from walink.protocol.binary import Node

__all__ = [
    "AttemptView",
    "Deferred",
    "Handler",
    "OnAnswer",
    "PartContext",
]

OnAnswer = Callable[["Node | None", float], None]
"""An internal query's continuation: the reply (an error reply too; None after a timeout), and
now."""
Handler = Callable[["Node", float], bool]
"""A part's handler of a node (or of an ``<ib>`` child): True when it consumed it."""
Deferred = Callable[[], None]
"""An action run once every save requested before it is confirmed (the QR a save carries)."""


class AttemptView(Protocol):
    """What a part may read of the running attempt."""

    @property
    def login(self) -> bool:
        """True when this attempt logs in (``creds.me`` known), False when it registers."""
        ...

    @property
    def authenticated(self) -> bool:
        """The handshake is complete: nodes can be sent."""
        ...


class PartContext(Protocol):
    """All a part may do to the session, and all it may read of it."""

    @property
    def config(self) -> SessionConfig: ...

    @property
    def rng(self) -> random.Random:
        """The session's only randomness."""
        ...

    @property
    def creds(self) -> Creds: ...

    @property
    def state(self) -> str:
        """The lifecycle machine's state id."""
        ...

    @property
    def attempt_number(self) -> int:
        """Increases with every ``start``: a deferred action checks it is still its attempt's.
        0 while no attempt runs."""
        ...

    @property
    def origin(self) -> Origin | None:
        """The running attempt as the source of what it delivers (None while none runs): a part
        keeps it with what arrived, to publish about it through ``publish``."""
        ...

    @property
    def server_offset(self) -> float:
        """Server time minus the caller's clock, in seconds."""
        ...

    def set_server_time(self, server_t: int, now: float) -> None:
        """The server said its time is ``server_t`` (unix seconds) at ``now``."""
        ...

    def require_attempt(self) -> AttemptView:
        """The running attempt; ``LocalProtocolError`` when none runs."""
        ...

    def new_id(self) -> str:
        """The attempt's next message tag."""
        ...

    def send(self, node: Node) -> None:
        """Send ``node`` (behind every save requested before)."""
        ...

    def ack(self, stanza: Node, *, error: int | None = None) -> None:
        """Send the ``<ack>`` ``stanza`` needs (``error``: a nack with that code)."""
        ...

    def query(self, node: Node, deadline: float | None, on_answer: OnAnswer) -> str:
        """Send an internal query; ``on_answer`` gets its reply, or None at ``deadline``."""
        ...

    def ask(self, node: Node, now: float, then: OnAnswer) -> str:
        """An internal query with the default deadline (``config.query_timeout``); ``then`` is
        called only while the attempt that asked is still running."""
        ...

    def save_creds(self, creds: Creds, why: str, keys: KeyUpdates | None = None) -> None:
        """Adopt ``creds``: ``CredsUpdate``, then a ``SaveRequest`` that holds later output."""
        ...

    def emit(self, event: SessionEvent) -> None:
        """Publish an event."""
        ...

    def publish(self, origin: Origin | None, action: Publication) -> None:
        """Run ``action`` (it emits the events made of what ``origin`` delivered, and does what
        goes with them) once ``origin`` is open: now if it is, after its open update if it is
        still logging in, never if it ended without opening (the server delivers it again)."""
        ...

    def after_held(self, action: Publication) -> None:
        """Run ``action`` once everything the running attempt holds for its open is published:
        at once when nothing is held (a change that must not overtake what it closes)."""
        ...

    def changed(self) -> None:
        """A part's piece of the connection snapshot changed: a ``ConnectionUpdate`` if it did."""
        ...

    def defer(self, action: Deferred) -> None:
        """Run ``action`` once the saves requested so far are confirmed (now if none waits)."""
        ...

    def fire(self, event: str) -> None:
        """Send a lifecycle event to the machine."""
        ...

    def end(self, disconnect: Disconnect) -> None:
        """End the attempt with ``disconnect``."""
        ...

    def opened(self, now: float) -> None:
        """The login is complete: the machine opens and the policy learns it."""
        ...
