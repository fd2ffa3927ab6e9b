"""``Health``: a snapshot of a ``Client`` for dashboards, health checks and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from walink._session.core import ClientSession
from walink.fsm.reasons import Disconnect

__all__ = ["Health"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """``client.health``: what the client is doing now and how it last ended a connection."""

    state: str
    """The lifecycle state (``"awaiting_qr"``, ``"open"``, ``"backing_off"``, ``"logged_out"``…)."""
    connection: str
    """Baileys' ``connection``: ``"connecting"``, ``"open"`` or ``"close"``."""
    is_connected: bool
    """True while a connection is open (logged in and ready for ``send_node``/``query``)."""
    is_online: bool
    """Whether this client last announced itself as ``available``."""
    last_disconnect: Disconnect | None
    """The latest end of a connection, including the 515 restart (``RESTART_REQUIRED``), which
    the connection updates do not show as a close."""
    seconds_since_last_frame: float | None
    """Seconds since bytes last arrived on the current connection; None without one."""
    server_time_offset: float
    """Server time minus the local clock, in seconds (from the login's ``<success t>``)."""
    reconnect_in: float | None
    """Seconds until the next connection attempt while backing off; None otherwise."""
    connections: int
    """Connection attempts started since the client was entered."""
    pending_events: int
    """Events queued for the application and not yet taken."""
    finished: bool
    """The lifecycle ended for good (logged out, closed, stopped by a terminal reason)."""

    @classmethod
    def of(
        cls, session: ClientSession | None, *, now: float, connections: int, pending_events: int
    ) -> Health:
        """The snapshot of ``session`` at ``now`` (its clock); an idle one before any session."""
        if session is None:
            return cls(
                state="idle",
                connection="close",
                is_connected=False,
                is_online=False,
                last_disconnect=None,
                seconds_since_last_frame=None,
                server_time_offset=0.0,
                reconnect_in=None,
                connections=connections,
                pending_events=pending_events,
                finished=False,
            )
        last = session.last_received_at
        reconnect_at = session.reconnect_at
        return cls(
            state=session.state,
            connection=session.connection,
            is_connected=session.connection == "open",
            is_online=session.is_online,
            last_disconnect=session.last_disconnect,
            seconds_since_last_frame=None if last is None else max(0.0, now - last),
            server_time_offset=session.server_time_offset,
            reconnect_in=None if reconnect_at is None else max(0.0, reconnect_at - now),
            connections=connections,
            pending_events=pending_events,
            finished=session.finished,
        )
