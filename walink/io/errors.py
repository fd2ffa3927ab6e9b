"""The errors ``Client`` raises, named by cause (trio style)."""

from __future__ import annotations

from walink._session.events import QueryFailure
from walink.fsm.reasons import Disconnect
from walink.protocol.binary import Node

__all__ = [
    "ClientClosedError",
    "ClientError",
    "NotConnectedError",
    "QueryClosedError",
    "QueryFailedError",
    "QueryServerError",
    "QueryTimeoutError",
]


class ClientError(Exception):
    """Base class of the errors ``Client`` raises on purpose."""


class ClientClosedError(ClientError):
    """The client is not running: not entered yet, or its lifecycle ended."""


class NotConnectedError(ClientError):
    """No open connection right now (connecting, backing off): nothing can be sent."""


class QueryFailedError(ClientError):
    """A ``query`` got no result; the subclass says why."""

    def __init__(
        self,
        message: str,
        *,
        id: str,
        failure: QueryFailure,
        code: int | None,
        node: Node | None = None,
        disconnect: Disconnect | None = None,
    ) -> None:
        super().__init__(message)
        self.id = id
        """The query's id."""
        self.failure = failure
        """``SERVER_ERROR``, ``TIMEOUT`` or ``CLOSED``."""
        self.code = code
        """The ``<error code>``, 408 for a timeout, or the close's status."""
        self.node = node
        """The server's error reply, when there is one."""
        self.disconnect = disconnect
        """For a close: the ``Disconnect`` that failed the query."""


class QueryServerError(QueryFailedError):
    """The server answered ``<iq type="error">`` (``code`` and ``node`` say how)."""


class QueryTimeoutError(QueryFailedError):
    """No answer before the query's deadline (Baileys: 408 "Timed Out")."""


class QueryClosedError(QueryFailedError):
    """The connection ended while the query waited (Baileys: 428 "Connection Closed")."""
