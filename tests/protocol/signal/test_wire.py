"""The Signal wire codec (walink.protocol.signal._wire): parse or InvalidMessageError, always."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol.errors import RemoteProtocolError
from walink.protocol.signal import InvalidMessageError
from walink.protocol.signal._wire import (
    PreKeySignalMessage,
    SenderKeyDistributionMessage,
    SenderKeyMessage,
    SignalMessage,
    encode_fields,
    parse_fields,
)

PARSERS = [
    SignalMessage.parse,
    PreKeySignalMessage.parse,
    SenderKeyMessage.parse,
    SenderKeyDistributionMessage.parse,
]


@pytest.mark.parametrize("parse", PARSERS)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise(parse: object, data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse(data)  # type: ignore[operator]


_FIELDS = st.lists(
    st.tuples(st.integers(1, 8), st.integers(0, 2**32 - 1) | st.binary(max_size=40)), max_size=8
)


@pytest.mark.parametrize("parse", PARSERS)
@given(fields=_FIELDS, version=st.integers(0, 255), tail=st.binary(max_size=70))
def test_well_formed_protobufs_with_any_fields(
    parse: object, fields: list[tuple[int, int | bytes]], version: int, tail: bytes
) -> None:
    with contextlib.suppress(InvalidMessageError):
        parse(bytes((version,)) + encode_fields(fields) + tail)  # type: ignore[operator]


def test_pkmsg_bytes_match_libsignal_field_order() -> None:
    message = PreKeySignalMessage(
        pre_key_id=7,
        base_key=b"\x05" + bytes(32),
        identity_key=b"\x05" + b"\x01" * 32,
        message=b"inner",
        registration_id=300,
        signed_pre_key_id=1,
    )
    encoded = message.encode()
    assert encoded[:3] == b"\x33\x08\x07"  # version, then preKeyId first
    assert encoded.endswith(b"\x28\xac\x02\x30\x01")  # registrationId 300, signedPreKeyId 1
    assert PreKeySignalMessage.parse(encoded) == message


def test_rules() -> None:
    assert parse_fields(b"\x08\x96\x01", {1: 0}) == {1: 150}
    assert parse_fields(b"\x08\x01\x08\x02", {1: 0}) == {1: 2}  # last one wins
    assert parse_fields(b"\x08" + b"\xff" * 9 + b"\x01", {1: 0}) == {1: 0xFFFFFFFF}
    assert parse_fields(b"\x1d\x00\x00\x00\x00\x10\x05", {2: 0}) == {2: 5}  # unknown fixed32
    for bad in (b"\x08", b"\x0a\x05ab", b"\x0b", b"\x08" + b"\xff" * 10, b"\x00\x01", b"\x0a\x00"):
        with pytest.raises(InvalidMessageError):
            parse_fields(bad, {1: 0})
    with pytest.raises(InvalidMessageError):
        SignalMessage.parse(b"\x33" + encode_fields([(2, 1)]) + bytes(8))  # no ratchet key
