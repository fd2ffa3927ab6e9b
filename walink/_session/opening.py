"""Held until open: nothing a connection delivered is published before that connection's open.

Theory of operation
-------------------
After ``<success>`` the login still runs a chain of queries (the pre-key count, an upload of 812
pre-keys on a new login, passive mode, the digest check) before the connection opens, and the
server does not wait for it: the offline backlog, the phone's history notifications and live
traffic arrive meanwhile. Their processing starts at once (jobs go out: decrypting, committing
the Signal state, downloading history), but what the application sees of them — the events
made of a message, a stub, a history chunk, a raw node — is *published* only after the
``ConnectionUpdate`` that says ``"open"``. An application that waits for the open by reading and
dropping events therefore drops none of them.

Only an attempt that logs in opens: an attempt that registers a new device (QR or pairing code)
ends with the 515 restart instead, so what it delivers (the pairing notifications are the
session's own) is published as it comes.

Each connection attempt is an ``Origin``. A part that has something to publish about what an
attempt delivered hands the gate its origin and an action (the publication, with the
bookkeeping that goes with it: the message registered as waiting for the application, a raw
node's ack):

- origin open: the action runs now;
- origin still logging in: the action waits in the origin's list, and runs right after the
  origin's open update, in the order the actions came;
- origin ended without opening: the action is dropped, unrun. Nothing it would have done
  happened (no event, no receipt, no ack, nothing registered), so the server delivers the
  stanza again on a later connection and it is published then; a job outcome of that dead
  connection can never reach the next one.

A job outcome of a connection that did open is published whenever it comes, even after that
connection ended (its receipts and ack are the message pipeline's business: they only go out on
the connection the stanza arrived on).

Memory: the held actions live on their ``Origin``, which only the attempt and its unfinished
jobs reference: an ended origin holds nothing, and goes with its last job. While anything is held
the offline part asks for no further backlog batch, so of the backlog (which can run to
thousands) at most the server's first push and one batch (``offline_batch_size``) wait, plus
what arrives live while the login runs: three queries in a row (four with an upload), each of
which moves on after ``query_timeout`` without an answer, so the window is bounded by a few
query timeouts (unbounded only with ``query_timeout=None``, as long as the server stalls the
login while it keeps pushing).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["OpenGate", "Origin", "Publication"]

Publication = Callable[[], None]
"""An action that publishes (and registers) what an attempt delivered."""


class Origin:
    """One connection attempt as the source of what it delivered; held publications wait here."""

    __slots__ = ("_held", "ended", "number", "opened")

    def __init__(self, number: int, *, opened: bool = False) -> None:
        self.number = number
        """The attempt's number."""
        self.opened = opened
        """The attempt published its open update (or, registering, has none to wait for)."""
        self.ended = False
        """The attempt is over."""
        self._held: list[Publication] = []

    @property
    def held(self) -> int:
        """How many publications wait for this origin's open."""
        return len(self._held)

    def publish(self, action: Publication) -> None:
        """Run ``action`` now (open), hold it until the open (logging in), or drop it (ended
        without opening)."""
        if self.opened:
            action()
        elif not self.ended:
            self._held.append(action)

    def after_held(self, action: Publication) -> None:
        """Run ``action`` once what is held now is published: at once when nothing is held
        (or open), else right after the held ones (dropped with them)."""
        if self.opened or not self._held:
            action()
        elif not self.ended:
            self._held.append(action)

    def open(self) -> None:
        """The open update is published: run the held actions, oldest first."""
        if self.opened or self.ended:
            return
        self.opened = True
        held, self._held = self._held, []
        for action in held:
            action()

    def end(self) -> None:
        """The attempt is over: what still waits (it never opened) is dropped."""
        self.ended = True
        self._held = []

    def __repr__(self) -> str:
        state = "open" if self.opened else "ended" if self.ended else "logging in"
        return f"Origin({self.number}, {state}, held={len(self._held)})"


class OpenGate:
    """The current attempt's ``Origin``: made at ``start``, opened at open, ended at close."""

    def __init__(self) -> None:
        self._current: Origin | None = None

    @property
    def current(self) -> Origin | None:
        """The running attempt's origin; None between attempts."""
        return self._current

    @property
    def holding(self) -> bool:
        """Whether publications wait for the running attempt's open."""
        return self._current is not None and self._current.held > 0

    def attempt_started(self, number: int, *, login: bool) -> Origin:
        """A new attempt; ``login`` False: it registers a new device, and never opens (pairing
        ends it with the 515 restart), so nothing it delivers waits."""
        self.attempt_ended()
        self._current = Origin(number, opened=not login)
        return self._current

    def opened(self) -> None:
        if self._current is not None:
            self._current.open()

    def attempt_ended(self) -> None:
        if self._current is not None:
            self._current.end()
            self._current = None

    def after_held(self, action: Publication) -> None:
        """Run ``action`` once what the running attempt holds now is published (at once when
        nothing is held)."""
        if self._current is None:
            action()
        else:
            self._current.after_held(action)

    def publish(self, origin: Origin | None, action: Publication) -> None:
        """Publish ``action`` for ``origin`` (None: no attempt ran when it arrived; now)."""
        if origin is None:
            action()
        else:
            origin.publish(action)
