"""WhatsApp's plaintext padding (walink.protocol.signal.padding): vectors and the strict check."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocol.determinism import counter_rng
from walink.protocol.signal import InvalidPaddingError, pad, unpad, unpad_for_version


@pytest.mark.parametrize(
    ("padded", "message"),
    [
        (b"\x0a\x02hi\x01", b"\x0a\x02hi"),
        (b"\x0a\x02hi" + b"\x10" * 16, b"\x0a\x02hi"),
        (b"\x05" * 5, b""),
        (b"\x0a\x00" + b"\x03" * 3, b"\x0a\x00"),
    ],
)
def test_vectors(padded: bytes, message: bytes) -> None:
    assert unpad(padded) == message
    assert unpad_for_version(padded, "2") == message
    assert unpad_for_version(padded, "3") == padded


@pytest.mark.parametrize(
    "padded",
    [b"", b"hi\x00", b"hi\x11" + b"\x11" * 16, b"hi\x02\x03", b"\x0a\x01\x02\x03\x03", b"\x04" * 3],
)
def test_malformed_padding(padded: bytes) -> None:
    with pytest.raises(InvalidPaddingError):
        unpad(padded)


def test_unknown_enc_version() -> None:
    with pytest.raises(InvalidPaddingError):
        unpad_for_version(b"x\x01", "4")


@given(st.binary(max_size=64), st.text(max_size=3))
def test_pad_round_trip(message: bytes, seed: str) -> None:
    padded = pad(message, counter_rng(seed))
    assert 1 <= len(padded) - len(message) <= 16
    assert unpad(padded) == message


@given(st.binary(max_size=40))
def test_unpad_parses_or_raises(data: bytes) -> None:
    with contextlib.suppress(InvalidPaddingError):
        unpad(data)
