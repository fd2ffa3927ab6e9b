"""Framing: intro header, 3-byte length frames, incremental reassembly, limits, invariant."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.frames import (
    MAX_PAYLOAD,
    MAX_ROUTING_INFO,
    WA_HEADER,
    FrameDecoder,
    encode_frame,
    intro_header,
)


def test_intro_headers() -> None:
    assert intro_header() == bytes.fromhex("57410603") == WA_HEADER
    assert intro_header(b"") == WA_HEADER
    assert intro_header(b"\x01\x02\x03") == bytes.fromhex(
        "45440001" + "000003" + "010203" + "57410603"
    )
    assert intro_header(bytes(70000))[4:7] == bytes.fromhex("011170")


def test_encode_frame() -> None:
    assert encode_frame(b"") == b"\x00\x00\x00"
    assert encode_frame(b"abc") == b"\x00\x00\x03abc"
    assert encode_frame(bytes(0x012345))[:3] == bytes.fromhex("012345")
    assert len(encode_frame(bytes(MAX_PAYLOAD))) == MAX_PAYLOAD + 3
    with pytest.raises(LocalProtocolError):
        encode_frame(bytes(MAX_PAYLOAD + 1))


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_split_and_merged_frames(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(payload) for payload in payloads)
    points = sorted({cut % (len(stream) + 1) for cut in cuts} | {0, len(stream)})
    decoder = FrameDecoder()
    received: list[bytes] = []
    for start, stop in itertools.pairwise(points):
        received += decoder.feed(stream[start:stop])
    assert received == payloads
    assert decoder.buffered == 0


@given(payloads=st.lists(st.binary(max_size=50), max_size=4), cut=st.integers(min_value=0))
def test_payloads_are_bytes_whatever_is_fed(payloads: list[bytes], cut: int) -> None:
    stream = b"".join(encode_frame(payload) for payload in payloads)
    cut %= len(stream) + 1
    decoder = FrameDecoder()
    received = decoder.feed(bytearray(stream[:cut])) + decoder.feed(memoryview(stream)[cut:])
    assert received == payloads
    assert all(type(payload) is bytes for payload in received)
    assert decoder.buffered == 0


def test_byte_by_byte() -> None:
    stream = encode_frame(b"hello") + encode_frame(b"") + encode_frame(b"world")
    decoder = FrameDecoder()
    received = [payload for byte in stream for payload in decoder.feed(bytes([byte]))]
    assert received == [b"hello", b"", b"world"]


def test_oversized_frame_is_rejected_before_buffering() -> None:
    decoder = FrameDecoder(max_payload=1000)
    assert decoder.feed(b"\x00\x03") == []
    with pytest.raises(RemoteProtocolError, match="exceeds 1000"):
        decoder.feed(b"\xe9")  # 1001 declared
    assert decoder.buffered == 0
    with pytest.raises(RemoteProtocolError):  # sticky
        decoder.feed(encode_frame(b"x"))
    with pytest.raises(LocalProtocolError):
        FrameDecoder(max_payload=MAX_PAYLOAD + 1)


def test_buffer_is_capped_by_the_declared_length() -> None:
    decoder = FrameDecoder(max_payload=100)
    assert decoder.feed(b"\x00\x00\x64" + bytes(99)) == []
    assert decoder.buffered == 102
    assert decoder.feed(bytes(1) + b"\x00\x00") == [bytes(100)]
    assert decoder.buffered == 2


@pytest.mark.parametrize("routing", [None, b"", b"\x08\x02\x12\x04edge", bytes(300)])
def test_server_side_intro(routing: bytes | None) -> None:
    stream = intro_header(routing) + encode_frame(b"hello") + encode_frame(b"again")
    whole = FrameDecoder(expect_intro=True)
    assert whole.feed(stream) == [b"hello", b"again"]
    assert whole.routing_info == (routing or None)
    split = FrameDecoder(expect_intro=True)
    assert [p for byte in stream for p in split.feed(bytes([byte]))] == [b"hello", b"again"]
    assert split.routing_info == whole.routing_info


@pytest.mark.parametrize(
    "stream",
    [
        bytes.fromhex("57410602"),  # dictionary version 2
        bytes.fromhex("00000003"),  # a frame without intro
        bytes.fromhex("45440002000000"),  # bad ED constant
        bytes.fromhex("45440001000001aa57410503"),  # ED not followed by the WA header
        bytes.fromhex("45440001") + (MAX_ROUTING_INFO + 1).to_bytes(3, "big"),
    ],
)
def test_bad_intro(stream: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        FrameDecoder(expect_intro=True).feed(stream)
    decoder = FrameDecoder(expect_intro=True)
    with pytest.raises(RemoteProtocolError):
        for byte in stream:
            decoder.feed(bytes([byte]))


@given(data=st.binary(max_size=400), trailing=st.binary(max_size=8), intro=st.booleans())
def test_parser_invariant(data: bytes, trailing: bytes, intro: bool) -> None:
    """Arbitrary bytes give frames or RemoteProtocolError: whole, byte by byte, with more data."""
    for chunks in ([data], [bytes([b]) for b in data], [data, trailing]):
        decoder = FrameDecoder(max_payload=256, expect_intro=intro)
        try:
            for chunk in chunks:
                for payload in decoder.feed(chunk):
                    assert isinstance(payload, bytes) and len(payload) <= 256
        except RemoteProtocolError:
            continue
        assert decoder.buffered <= 3 + 256 + (7 + MAX_ROUTING_INFO + 4 if intro else 0)
