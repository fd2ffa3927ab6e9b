"""The sans-IO transport shared by both roles: intro header, 3-byte framing, Noise, node codec.

Theory of operation (docs/protocol/transport.md, docs/protocol/handshake.md; the h11 style). A
connection object owns no socket, no clock and no random source. The caller feeds it the bytes it
received (``receive_data``; None means the peer closed), reads what happened (``next_event`` /
``events``), asks it to send nodes (``send_node``), and drains what must go on the wire
(``data_to_send``): receiving causes output, since a ClientHello is answered by a ServerHello and a
ServerHello by a ClientFinish.

Phases, the same for both roles::

    HANDSHAKE ──(ClientFinish sent / received)──▶ TRANSPORT ──(receive_data(None))──▶ CLOSED
        └─────────────── any error, either side's fault ───────────────▶ ERROR

- Client: construction queues the intro header (plain ``WA 06 03``, or the ``ED`` routing variant)
  and the ClientHello. The ServerHello is decrypted, its certificate chain is verified against
  the caller's trust root at the caller's ``now`` (or by a verifier the caller injects), and the
  ClientFinish carrying the caller's ClientPayload bytes is queued: ``ServerAuthenticated``.
- Server: the intro (both variants) and the ClientHello give ``ClientHelloReceived`` and queue the
  ServerHello with the server's static key and certificate chain; the ClientFinish gives
  ``ClientAuthenticated`` with the client's static key and its decoded ClientPayload.
- Then both roles exchange nodes: each frame is AES-GCM of ``flags || node`` (``NodeReceived``).

Errors are split by blame. Whatever the peer sent wrong raises ``RemoteProtocolError`` (arbitrary
bytes either parse or raise it: nothing else escapes), a misuse raises ``LocalProtocolError``, and
after any error the connection is broken for good: every later call raises ``LocalProtocolError``.
Events decoded before bad bytes in the same ``receive_data`` stay readable: the peer's error is
then raised by ``next_event`` after them, so the outcome never depends on how bytes were split.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterator

from walink.protocol.binary import Node, decode_node, encode_node
from walink.protocol.certs import TrustRoot, verify_cert_chain
from walink.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from walink.protocol.events import (
    ClientAuthenticated,
    ClientHelloReceived,
    ConnectionClosed,
    Event,
    NodeReceived,
    ServerAuthenticated,
)
from walink.protocol.frames import FrameDecoder, encode_frame, intro_header
from walink.protocol.noise import (
    KeyPairLike,
    NoiseInitiator,
    NoiseResponder,
    RandomBytes,
    StaticKey,
    TransportCipher,
)
from walink.protocol.payload import parse_client_payload

__all__ = ["ClientConnection", "ServerConnection", "ServerVerifier"]

ServerVerifier = Callable[[bytes, bytes], object]
"""``verify(cert_chain_bytes, server_static_key)``: raise a ``RemoteProtocolError`` to reject."""


class _Phase(enum.Enum):
    HANDSHAKE = enum.auto()
    TRANSPORT = enum.auto()
    CLOSED = enum.auto()
    ERROR = enum.auto()


class _Connection:
    """What both roles share: the event queue, the outbox, framing, the transport and the errors."""

    def __init__(self, *, expect_intro: bool) -> None:
        self._phase = _Phase.HANDSHAKE
        self._events: deque[Event] = deque()
        self._outbox = bytearray()
        self._decoder = FrameDecoder(expect_intro=expect_intro)
        self._transport: TransportCipher | None = None
        self._error: ProtocolError | None = None
        # A peer error found after some events were decoded from the same bytes: it is raised by
        # next_event() once those events are read, so what the caller sees does not depend on
        # how the bytes were split (a stream:error followed by garbage is still a stream:error).
        self._deferred_error: RemoteProtocolError | None = None

    # -- public surface ----------------------------------------------------------------------

    def receive_data(self, data: bytes | None) -> None:
        """Feed bytes received from the peer, or None when the peer closed the stream."""
        self._check_usable("receive data")
        if self._deferred_error is not None:
            raise self._fail(LocalProtocolError("data received after a peer error"))
        if self._phase is _Phase.CLOSED:
            if data is None:
                return  # a second EOF changes nothing
            raise self._fail(LocalProtocolError("data received after the peer closed"))
        try:
            if data is None:
                self._receive_eof()
            else:
                self._receive_bytes(bytes(data))
        except RemoteProtocolError as exc:
            if not self._events:
                raise self._fail(exc) from None
            self._deferred_error = exc
        except ProtocolError as exc:
            raise self._fail(exc) from None

    def next_event(self) -> Event | None:
        """The oldest event not yet returned, or None when there is none for now.

        When ``receive_data`` decoded some events before meeting bad bytes, it returns quietly;
        the ``RemoteProtocolError`` is raised here, after those events have been read.
        """
        self._check_usable("read events")
        if self._events:
            return self._events.popleft()
        if self._deferred_error is not None:
            error, self._deferred_error = self._deferred_error, None
            raise self._fail(error)
        return None

    def events(self) -> Iterator[Event]:
        """Every queued event, oldest first (stops when the queue is empty)."""
        while (event := self.next_event()) is not None:
            yield event

    def send_node(self, node: Node) -> None:
        """Encrypt and frame one node; its bytes join the outbox."""
        self._check_usable("send a node")
        if self._deferred_error is not None:
            # The peer's error is pending behind events still being read: the connection ends
            # when they are, and its outbox with it, so what handlers send now goes nowhere.
            return
        if self._phase is not _Phase.TRANSPORT or self._transport is None:
            raise self._fail(
                LocalProtocolError(f"cannot send a node in phase {self._phase.name.lower()}")
            )
        try:
            self._outbox += encode_frame(self._transport.encrypt(encode_node(node)))
        except ProtocolError as exc:
            raise self._fail(exc) from None

    def data_to_send(self) -> bytes:
        """Take everything queued for the wire (empty when there is nothing)."""
        self._check_usable("take data to send")
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    @property
    def handshake_complete(self) -> bool:
        """Whether nodes can be sent (the transport phase has been reached)."""
        return self._transport is not None and self._phase is _Phase.TRANSPORT

    @property
    def closed(self) -> bool:
        """Whether the peer has closed the stream."""
        return self._phase is _Phase.CLOSED

    # -- shared machinery --------------------------------------------------------------------

    def _check_usable(self, action: str) -> None:
        if self._phase is _Phase.ERROR:
            raise LocalProtocolError(
                f"cannot {action}: the connection failed earlier ({self._error})"
            )

    def _fail(self, exc: ProtocolError) -> ProtocolError:
        self._phase = _Phase.ERROR
        self._error = exc
        self._transport = None
        self._outbox.clear()
        return exc

    def _receive_eof(self) -> None:
        if self._decoder.buffered:
            raise RemoteProtocolError(
                f"the peer closed in the middle of a frame ({self._decoder.buffered} bytes pending)"
            )
        self._phase = _Phase.CLOSED
        self._events.append(ConnectionClosed())

    def _receive_bytes(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            if self._phase is _Phase.TRANSPORT:
                self._receive_node_frame(frame)
            else:
                self._receive_handshake_frame(frame)

    def _receive_handshake_frame(self, frame: bytes) -> None:
        raise NotImplementedError

    def _receive_node_frame(self, frame: bytes) -> None:
        assert self._transport is not None
        node = decode_node(self._transport.decrypt(frame))
        self._events.append(NodeReceived(node=node))

    def _enter_transport(self, transport: TransportCipher) -> None:
        self._transport = transport
        self._phase = _Phase.TRANSPORT


class ClientConnection(_Connection):
    """The client role: intro and ClientHello at once, then ClientFinish, then nodes."""

    def __init__(
        self,
        *,
        noise_key: StaticKey,
        client_payload: bytes,
        trust_root: TrustRoot | None = None,
        now: float | None = None,
        verify_server: ServerVerifier | None = None,
        routing_info: bytes | None = None,
        ephemeral: KeyPairLike | None = None,
        rng: RandomBytes | None = None,
    ) -> None:
        """Start a connection; the intro and ClientHello are in ``data_to_send()`` at once.

        - ``noise_key``: the long-term Noise static key pair (``creds.noiseKey``).
        - ``client_payload``: the encoded ClientPayload (login or registration) for ClientFinish.
        - ``trust_root`` and ``now`` (unix seconds): check the server's certificate chain;
          or ``verify_server``, a callable that replaces that check. Exactly one of the two.
        - ``routing_info``: the stored ``edge_routing`` bytes; selects the ``ED`` intro.
        - ``ephemeral`` or ``rng`` (exactly one): the per-connection ephemeral key's source.
        """
        super().__init__(expect_intro=False)
        if (trust_root is None) == (verify_server is None):
            raise LocalProtocolError("give exactly one of trust_root (with now) or verify_server")
        if trust_root is not None:
            if now is None:
                raise LocalProtocolError("checking the certificate chain needs the current time")
            verify_server = _chain_verifier(trust_root, now)
        self._client_payload = bytes(client_payload)
        self._noise = NoiseInitiator(
            static=noise_key, ephemeral=ephemeral, rng=rng, verify_server=verify_server
        )
        self._outbox += intro_header(routing_info) + encode_frame(self._noise.client_hello())

    def _receive_handshake_frame(self, frame: bytes) -> None:
        hello = self._noise.receive_server_hello(frame)
        self._outbox += encode_frame(self._noise.client_finish(self._client_payload))
        self._enter_transport(self._noise.transport)
        self._events.append(
            ServerAuthenticated(server_static_key=hello.server_static, cert_chain=hello.cert_chain)
        )


def _chain_verifier(trust_root: TrustRoot, now: float) -> ServerVerifier:
    def verify(cert_chain: bytes, server_static: bytes) -> None:
        verify_cert_chain(cert_chain, server_static=server_static, now=now, trust_root=trust_root)

    return verify


class ServerConnection(_Connection):
    """The server role: intro and ClientHello in, ServerHello out, ClientFinish in, then nodes."""

    def __init__(
        self,
        *,
        static: StaticKey,
        cert_chain: bytes,
        ephemeral: KeyPairLike | None = None,
        rng: RandomBytes | None = None,
    ) -> None:
        """``static`` is the key named by the leaf of ``cert_chain`` (an encoded CertChain)."""
        super().__init__(expect_intro=True)
        self._cert_chain = bytes(cert_chain)
        self._noise = NoiseResponder(static=static, ephemeral=ephemeral, rng=rng)
        self._hello_seen = False

    def _receive_handshake_frame(self, frame: bytes) -> None:
        if not self._hello_seen:
            self._noise.receive_client_hello(frame)
            self._hello_seen = True
            self._outbox += encode_frame(self._noise.server_hello(self._cert_chain))
            self._events.append(ClientHelloReceived(routing_info=self._decoder.routing_info))
            return
        finish = self._noise.receive_client_finish(frame)
        payload = parse_client_payload(finish.payload)
        self._enter_transport(self._noise.transport)
        self._events.append(
            ClientAuthenticated(
                client_static_key=finish.client_static,
                payload=payload,
                payload_bytes=finish.payload,
            )
        )
