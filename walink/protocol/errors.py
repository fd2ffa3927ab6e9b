"""Protocol errors, split by blame (the h11 convention).

``LocalProtocolError``: the caller misused the API (bad input, wrong state).
``RemoteProtocolError``: the peer sent something wrong (bad bytes, bad signature, limit exceeded).
Every parser in ``walink.protocol`` either parses its input or raises ``RemoteProtocolError``;
nothing else escapes. After any error a connection object is in a sticky error state.
Modules may subclass these for finer causes (a certificate defect, a bad AEAD tag).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every error the protocol core raises on purpose."""


class LocalProtocolError(ProtocolError):
    """The caller did something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""
