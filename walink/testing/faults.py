"""Scriptable server faults, as plain data the server role applies.

A fault names *what* goes wrong and *where* in the connection's life (a ``Step``); the server role
(``walink.testing.server``) turns it into bytes and a close request, and the socket layer turns
the close request into a WebSocket close or an abort. Faults are queued on the hub for the next
connections (``Hub.inject``), so a test scripts "the 1st connection drops after ClientHello, the
2nd gets a 503" as data, and the same script runs in memory and over sockets.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "Drop",
    "Failure",
    "Fault",
    "Garbage",
    "Silence",
    "SlowReads",
    "Step",
    "StreamError",
    "TruncatedFrame",
]


class Step(enum.Enum):
    """Where in a connection's life a fault strikes."""

    CONNECTED = "connected"
    """Before the server has read anything."""
    CLIENT_HELLO = "client_hello"
    """The ClientHello arrived; the fault replaces the ServerHello."""
    CLIENT_FINISH = "client_finish"
    """The ClientFinish arrived; the fault replaces the first node (pair-device, success)."""
    OPEN = "open"
    """The first node (pair-device, or success and the offline delivery) has been sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop:
    """The server aborts the connection: no close frame, no goodbye."""

    at: Step
    """When the connection is dropped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """The server stops answering (no bytes, no close) but keeps the connection open."""

    at: Step
    """From when on the server says nothing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Garbage:
    """The server sends bytes that are not a valid frame, then nothing more."""

    at: Step
    """When the garbage replaces the server's answer."""
    data: bytes = b"\x00\x00\x05garbage that is not a noise frame"
    """The bytes sent (the default frames 5 bytes that decrypt to nothing)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TruncatedFrame:
    """The server sends the first half of its answer's frame, then aborts."""

    at: Step
    """Which answer is cut (CLIENT_HELLO cuts the ServerHello)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamError:
    """The server sends ``<stream:error>`` and closes (1000).

    515 is ``code="515"``; 401 carries ``<conflict type="device_removed"/>``; 440 is the
    code-less ``<conflict type="replaced"/>`` that Baileys maps to 440; any other code is sent
    as the bare ``code`` attribute.
    """

    code: int
    """The status the client should derive: 515, 401, 440, 503 or any other."""
    at: Step = Step.OPEN
    """CLIENT_FINISH replaces the first node; OPEN comes after it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A login gets ``<failure reason=…/>`` instead of ``<success>``, then the server closes.

    Applies to login connections only; a registration connection ignores it.
    """

    reason: int
    """401 logged out, 402 temporary ban, 403 locked, 405 client outdated, 500 server error…"""
    attrs: Mapping[str, str] = field(default_factory=dict)
    """Extra attributes, e.g. ``{"expire": "3600"}`` for a 402 or ``{"code": "101"}``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SlowReads:
    """A flag for the socket layer: read the client slowly (the sans-IO server ignores it)."""

    delay: float = 0.5
    """Seconds the socket layer waits before each read."""


Fault = Drop | Silence | Garbage | TruncatedFrame | StreamError | Failure | SlowReads
"""Every fault the server role knows how to apply."""
