"""Events a ``walink.protocol.connection`` transport reports, one per fact, never a callback.

Every event is a frozen, keyword-only, slotted dataclass (the h11/wsproto style), so events can be
compared, hashed, logged and replayed. Which events a role can see:

===================== ====== ====== =====================================================
event                 client server when
===================== ====== ====== =====================================================
ClientHelloReceived            x    intro (WA or ED variant) and ClientHello parsed
ServerAuthenticated     x           ServerHello verified, ClientFinish queued
ClientAuthenticated            x    ClientFinish decrypted: the client's key and payload
NodeReceived            x      x    one decrypted, decoded node in the transport phase
ConnectionClosed        x      x    the peer closed cleanly (``receive_data(None)``)
===================== ====== ====== =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walink.protocol.binary import Node
    from walink.protocol.proto.wa_pb2 import ClientPayload

__all__ = [
    "ClientAuthenticated",
    "ClientHelloReceived",
    "ConnectionClosed",
    "Event",
    "NodeReceived",
    "ServerAuthenticated",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHelloReceived:
    """The server parsed the client's intro header and ClientHello, and queued its ServerHello."""

    routing_info: bytes | None
    """The routing bytes of an ``ED 00 01`` intro, or None for the plain ``WA 06 03`` intro."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerAuthenticated:
    """The client accepted the server's ServerHello and queued its ClientFinish.

    From here on the client may send nodes; the first node normally comes from the server.
    """

    server_static_key: bytes
    """The server's 32-byte Noise static public key, as proven by the handshake."""
    cert_chain: bytes
    """The decrypted ``CertChain`` protobuf the server presented (already verified)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientAuthenticated:
    """The server decrypted the client's ClientFinish: the handshake is complete on both sides."""

    client_static_key: bytes
    """The client's 32-byte Noise static public key (its long-term ``noiseKey``)."""
    payload: ClientPayload
    """The decoded ClientPayload: login (``username``) or registration (``devicePairingData``)."""
    payload_bytes: bytes
    """The ClientPayload exactly as the client encoded it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeReceived:
    """One binary node arrived in the transport phase."""

    node: Node
    """The decoded node."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """The peer ended the byte stream cleanly, with no partial frame left behind."""


Event = (
    ClientHelloReceived
    | ServerAuthenticated
    | ClientAuthenticated
    | NodeReceived
    | ConnectionClosed
)
"""Everything ``next_event()`` can return."""
