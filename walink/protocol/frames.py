"""Transport framing (docs/protocol/transport.md#intro-header, docs/protocol/transport.md#frames):
the intro header and 3-byte length frames.

The client sends the intro once, before its first frame: ``57 41 06 03`` ("WA", magic 6,
dictionary version 3), or with routing info ``45 44 00 01`` + 24-bit length + routing info +
``57 41 06 03``. Every frame is a 3-byte big-endian payload length, then the payload.
``FrameDecoder`` reassembles frames split across or merged within WebSocket messages; on the
server side it first consumes the client's intro.
"""

from __future__ import annotations

from typing import Final

from walink.protocol.errors import LocalProtocolError, RemoteProtocolError

WA_HEADER: Final = b"WA\x06\x03"
"""The normal intro, and always the Noise prologue (never the ED prefix)."""
ROUTING_MAGIC: Final = b"ED\x00\x01"
MAX_PAYLOAD: Final = (1 << 24) - 1
LENGTH_SIZE: Final = 3
MAX_ROUTING_INFO: Final = 4096
"""Routing info from WhatsApp is a few dozen bytes; the 24-bit field allows far more."""


def intro_header(routing_info: bytes | None = None) -> bytes:
    """The intro the client sends before its first frame (with the ED prefix if routed)."""
    if not routing_info:
        return WA_HEADER
    if len(routing_info) > MAX_PAYLOAD:
        raise LocalProtocolError(f"routing info of {len(routing_info)} bytes does not fit 24 bits")
    return ROUTING_MAGIC + len(routing_info).to_bytes(3, "big") + routing_info + WA_HEADER


def encode_frame(payload: bytes) -> bytes:
    """``len3 || payload``; ``LocalProtocolError`` for payloads over 2^24-1 bytes."""
    length = len(payload)
    if length > MAX_PAYLOAD:
        raise LocalProtocolError(f"frame payload of {length} bytes exceeds {MAX_PAYLOAD}")
    return length.to_bytes(3, "big") + payload


class FrameDecoder:
    """Incremental frame reassembly: ``feed(bytes)`` returns the payloads completed so far.

    ``max_payload`` caps a frame's declared length (a larger one is a ``RemoteProtocolError``
    at once), so at most ``3 + max_payload`` bytes are ever buffered. With
    ``expect_intro=True`` (the server side) the stream must start with the client's intro;
    ``routing_info`` then holds the ED prefix's bytes, or None when there was none.
    After an error the decoder stays broken: every later ``feed`` raises again.
    """

    def __init__(self, *, max_payload: int = MAX_PAYLOAD, expect_intro: bool = False) -> None:
        if not 0 <= max_payload <= MAX_PAYLOAD:
            raise LocalProtocolError(f"max_payload must be within 0..{MAX_PAYLOAD}")
        self._buffer = bytearray()
        self._max_payload = max_payload
        self._need_intro = expect_intro
        self._error: RemoteProtocolError | None = None
        self.routing_info: bytes | None = None

    @property
    def buffered(self) -> int:
        """Bytes held back, waiting for the rest of a frame (or of the intro)."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        if self._error is not None:
            raise self._error
        try:
            return self._feed(data)
        except RemoteProtocolError as exc:
            self._error = exc
            self._buffer.clear()
            raise

    def _feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        buffer = self._buffer
        if buffer or self._need_intro:
            buffer += data
            if self._need_intro and not self._consume_intro():
                return []
            data = bytes(buffer)
            buffer.clear()
        elif not isinstance(data, bytes):
            data = bytes(data)
        # Frames are sliced straight out of the bytes received (one copy each); only a frame
        # cut off at the end waits in the buffer, which is the rare case: a WebSocket message
        # usually carries whole frames.
        payloads: list[bytes] = []
        start = 0
        available = len(data)
        max_payload = self._max_payload
        while available - start >= LENGTH_SIZE:
            length = (data[start] << 16) | (data[start + 1] << 8) | data[start + 2]
            if length > max_payload:
                raise RemoteProtocolError(f"frame of {length} bytes exceeds {max_payload}")
            end = start + LENGTH_SIZE + length
            if end > available:
                break
            payloads.append(data[start + LENGTH_SIZE : end])
            start = end
        if start < available:
            buffer += memoryview(data)[start:]
        return payloads

    def _consume_intro(self) -> bool:
        """Strip the intro from the buffer; False while it is still incomplete."""
        buffer = self._buffer
        head = bytes(buffer[:4])
        if head[:1] == ROUTING_MAGIC[:1]:
            if head != ROUTING_MAGIC[: len(head)]:
                raise RemoteProtocolError(f"bad connection intro {head.hex()}")
            if len(buffer) < 7:
                return False
            length = int.from_bytes(buffer[4:7], "big")
            if length > MAX_ROUTING_INFO:
                raise RemoteProtocolError(
                    f"routing info of {length} bytes exceeds {MAX_ROUTING_INFO}"
                )
            header_end = 7 + length + len(WA_HEADER)
            tail = bytes(buffer[7 + length : header_end])
            if tail != WA_HEADER[: len(tail)]:
                raise RemoteProtocolError("routing intro is not followed by the WA header")
            if len(buffer) < header_end:
                return False
            self.routing_info = bytes(buffer[7 : 7 + length])
            del buffer[:header_end]
        else:
            if head != WA_HEADER[: len(head)]:
                raise RemoteProtocolError(f"bad connection intro {head.hex()}")
            if len(head) < len(WA_HEADER):
                return False
            del buffer[: len(WA_HEADER)]
        self._need_intro = False
        return True
