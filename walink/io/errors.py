"""The errors ``Client`` raises, named by cause (trio style)."""

from __future__ import annotations

from walink._session.events import Closed, QueryFailure
from walink.fsm.reasons import Disconnect
from walink.protocol.binary import Node

__all__ = [
    "ClientClosedError",
    "ClientError",
    "InvalidNodeError",
    "LoggedOutError",
    "NoPushNameError",
    "NotConnectedError",
    "PairingCodeError",
    "PairingInputError",
    "QueryClosedError",
    "QueryFailedError",
    "QueryServerError",
    "QueryTimeoutError",
]


class ClientError(Exception):
    """Base class of the errors ``Client`` raises on purpose."""


class ClientClosedError(ClientError):
    """The client is not running: not entered yet, or its lifecycle ended (for good: retrying
    the call can never succeed; ``closed`` is the lifecycle's last ``Closed``, when there was
    one, and says why it ended)."""

    def __init__(self, message: str, *, closed: Closed | None = None) -> None:
        super().__init__(message)
        self.closed = closed
        """The lifecycle's last ``Closed`` event (its ``disconnect.reason``), or None."""


class NotConnectedError(ClientError):
    """No open connection right now (connecting, backing off): nothing can be sent yet, but
    the client is still running and may open again (``await client.wait_open()``)."""


class InvalidNodeError(ClientError, ValueError):
    """``send_node`` or ``query`` was given a node that cannot go on the wire: one the binary
    codec refuses (an attribute that is not a string, an empty tag, a lone surrogate, nesting
    deeper than 64, more than 65,535 attributes or children), one whose frame would exceed the
    16 MiB frame limit, or a query whose id is already waiting for its answer. Nothing was sent
    and the connection is unaffected."""


class NoPushNameError(ClientError):
    """A presence update (``available``/``unavailable``) needs this account's push name (the
    display name the phone sets): ``ClientConfig(push_name=...)``, or the name the server gave
    (``creds.me.name``). WhatsApp's own clients never send a presence without one; nothing was
    sent and the client stays open."""


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


class PairingCodeError(ClientError):
    """``request_pairing_code`` produced no code; ``retry`` says whether asking later may work.

    A 429 ``rate-overlimit`` from the server has ``code == 429`` and ``retry`` (wait, then ask
    again); so do a 5xx, a timeout and a close the client recovers from. A device that is already
    paired, a final close or another 4xx will not work on retry.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        text: str = "",
        retry: bool = False,
        failure: QueryFailure | None = None,
        node: Node | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        """The server's ``<error code>`` (429 when rate limited), 408 for a timeout, the close's
        status, or None (refused before anything was sent)."""
        self.text = text
        """The server's ``<error text>`` or a short explanation."""
        self.retry = retry
        """Whether a new request later may succeed."""
        self.failure = failure
        """Server error, timeout or close; None when refused before anything was sent."""
        self.node = node
        """The server's error reply, when there is one."""


class PairingInputError(PairingCodeError, ValueError):
    """The phone number or the custom code is invalid (nothing was sent)."""


class LoggedOutError(ClientClosedError):
    """The store's credentials are marked logged out (``Creds.logged_out``): the server removed
    this device, so ``Client`` refuses to start with them. Link again with a new store."""
