"""Fuzz target: the transport framing, ``FrameDecoder`` with and without the client's intro.

Invariant (docs/protocol/architecture.md#sans-io): arbitrary bytes are parsed or raise
``RemoteProtocolError``; nothing else escapes. The target also checks what makes a decoder
trustworthy on a real socket, where the same bytes arrive in any split:

- the stream fed whole, byte by byte, or in uneven chunks (with empty feeds between) gives the
  same frames, the same routing info, the same leftover and the same verdict;
- an error is sticky (every later ``feed`` raises again) and drops the buffer;
- what was parsed re-encodes to exactly the bytes consumed, the leftover being an incomplete
  frame (trailing data is held, never lost or invented);
- the buffer never holds more than one frame or one intro.

Input: byte 0 chooses the decoder (bit 0: server side, the intro first; bit 1: a small
``max_payload`` so that the length check fires); the rest is the stream.

Run: ``python fuzz/frames.py -max_total_time=60`` (atheris; see fuzz/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from _atheris import fuzz, instrumented

with instrumented(__name__):
    from walink.protocol.errors import RemoteProtocolError
    from walink.protocol.frames import (
        LENGTH_SIZE,
        MAX_PAYLOAD,
        MAX_ROUTING_INFO,
        ROUTING_MAGIC,
        WA_HEADER,
        FrameDecoder,
        encode_frame,
        intro_header,
    )

SMALL_MAX_PAYLOAD = 300
"""Small enough that random length fields exceed it; large enough for real handshake frames."""
BYTE_BY_BYTE_LIMIT = 4096
"""Longer streams are fed byte by byte only up to here (the rest in one piece), to stay fast."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    frames: tuple[bytes, ...]
    routing_info: bytes | None
    buffered: int
    failed: bool


def _decoder_config(mode: int) -> tuple[bool, int]:
    return bool(mode & 1), SMALL_MAX_PAYLOAD if mode & 2 else MAX_PAYLOAD


def _uneven_chunks(stream: bytes) -> Iterator[bytes]:
    """Chunks of 1..7 bytes, each after an empty one, sized by the stream itself (deterministic)."""
    position = 0
    while position < len(stream):
        size = stream[position] % 7 + 1
        yield b""
        yield stream[position : position + size]
        position += size


def _byte_chunks(stream: bytes) -> Iterator[bytes]:
    head = stream[:BYTE_BY_BYTE_LIMIT]
    for index in range(len(head)):
        yield head[index : index + 1]
    if len(stream) > BYTE_BY_BYTE_LIMIT:
        yield stream[BYTE_BY_BYTE_LIMIT:]


def _feed_all(chunks: Iterator[bytes], expect_intro: bool, max_payload: int) -> _Outcome:
    decoder = FrameDecoder(max_payload=max_payload, expect_intro=expect_intro)
    buffer_bound = LENGTH_SIZE + max_payload
    if expect_intro:
        buffer_bound = max(buffer_bound, 7 + MAX_ROUTING_INFO + len(WA_HEADER))
    frames: list[bytes] = []
    for chunk in chunks:
        try:
            frames += decoder.feed(chunk)
        except RemoteProtocolError:
            _check_sticky(decoder)
            return _Outcome(tuple(frames), decoder.routing_info, decoder.buffered, True)
        assert decoder.buffered <= buffer_bound, f"{decoder.buffered} bytes buffered"
    return _Outcome(tuple(frames), decoder.routing_info, decoder.buffered, False)


def _check_sticky(decoder: FrameDecoder) -> None:
    assert decoder.buffered == 0, "a failed decoder keeps its buffer"
    for later in (b"", WA_HEADER + encode_frame(b"x")):
        try:
            decoder.feed(later)
        except RemoteProtocolError:
            continue
        raise AssertionError("a failed FrameDecoder accepted more data")


def _intro_of(routing_info: bytes | None) -> bytes:
    if routing_info is None:
        return WA_HEADER
    # built by hand: intro_header(b"") sends the plain header, but ED 00 01 000000 is valid input
    return ROUTING_MAGIC + len(routing_info).to_bytes(3, "big") + routing_info + WA_HEADER


def target(data: bytes) -> None:
    """Feed ``data[1:]`` to a FrameDecoder configured by ``data[0]``, three ways; compare."""
    if not data:
        return
    expect_intro, max_payload = _decoder_config(data[0])
    stream = data[1:]
    whole = _feed_all(iter((stream,)), expect_intro, max_payload)
    for chunks in (_byte_chunks(stream), _uneven_chunks(stream)):
        split = _feed_all(chunks, expect_intro, max_payload)
        assert split.failed == whole.failed, "the verdict depends on how the bytes were split"
        if not whole.failed:
            assert split == whole, "the frames depend on how the bytes were split"
    if whole.failed:
        return
    consumed = stream[: len(stream) - whole.buffered]
    rebuilt = b"".join(encode_frame(frame) for frame in whole.frames)
    if expect_intro and consumed:
        rebuilt = _intro_of(whole.routing_info) + rebuilt
    assert rebuilt == consumed, "the frames do not re-encode to the bytes they came from"
    assert len(stream) == len(consumed) + whole.buffered


def seeds() -> list[bytes]:
    """Valid and nearly valid streams for each decoder configuration (the seed corpus)."""
    frames = encode_frame(b"") + encode_frame(b"\x00\xf8\x01\x13") + encode_frame(bytes(40))
    routed = intro_header(b"\x08\x02\x10\x03")
    return [
        b"\x00" + frames,
        b"\x00" + frames[:-5],
        b"\x01" + WA_HEADER + frames,
        b"\x01" + routed + frames,
        b"\x01" + ROUTING_MAGIC + b"\x00\x00\x00" + WA_HEADER + encode_frame(b"hi"),
        b"\x02" + encode_frame(bytes(SMALL_MAX_PAYLOAD)) + encode_frame(bytes(301)),
        b"\x03" + routed + b"\xff\xff\xff",
    ]


def main() -> None:
    """The atheris entry point: ``python fuzz/frames.py [libFuzzer flags] [corpus dirs]``."""
    fuzz("frames", target, seeds)


if __name__ == "__main__":
    main()
