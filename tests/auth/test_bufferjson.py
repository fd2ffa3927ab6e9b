"""walink.auth.bufferjson against fixed vectors, Hypothesis round trips, and Baileys itself."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.auth.strategies import json_values
from tests.peer_bridge import PeerBridge
from walink.auth import bufferjson
from walink.auth.bufferjson import JSONValue


def test_bytes_become_buffer_objects_with_standard_base64() -> None:
    assert bufferjson.dumps({"k": b"\xfb\xff\x00"}) == '{"k":{"type":"Buffer","data":"+/8A"}}'


def test_dumps_is_compact_and_keeps_unicode_like_json_stringify() -> None:
    assert bufferjson.dumps({"a": [1, "é", None, True]}) == '{"a":[1,"é",null,true]}'


def test_loads_revives_buffers_anywhere() -> None:
    text = '[{"x":{"type":"Buffer","data":"AQI="}},{"type":"Buffer","data":""}]'
    assert bufferjson.loads(text) == [{"x": b"\x01\x02"}, b""]


def test_legacy_integer_keyed_objects_are_buffers_in_javascript_key_order() -> None:
    # JavaScript orders array-index keys numerically, so {"1":2,"0":1} is Buffer [1, 2].
    assert bufferjson.loads('{"1":2,"0":1}') == b"\x01\x02"
    # Values wrap modulo 256 like Buffer.from(array); parseInt("3x") is 3, so "3x" counts.
    assert bufferjson.loads('{"0":256,"3x":-1}') == b"\x00\xff"


def test_objects_that_are_not_buffers_stay_objects() -> None:
    assert bufferjson.loads("{}") == {}
    assert bufferjson.loads('{"0":"a"}') == {"0": "a"}
    assert bufferjson.loads('{"0":true}') == {"0": True}
    assert bufferjson.loads('{"type":"Buffer","data":[1,2]}') == {"type": "Buffer", "data": [1, 2]}


def test_base64_is_decoded_leniently_like_node() -> None:
    assert bufferjson.decode_base64("-_8") == b"\xfb\xff"
    assert bufferjson.decode_base64("AQ I=\n") == b"\x01\x02"
    assert bufferjson.decode_base64("AQ==garbage") == b"\x01"
    assert bufferjson.decode_base64("AQIDB") == b"\x01\x02\x03"


@pytest.mark.parametrize("text", ["", "{", '{"a":1', "NaN", '{"a":Infinity}', "[1,]"])
def test_bad_json_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        bufferjson.loads(text)


def test_dumps_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(TypeError):
        bufferjson.dumps({"a": object()})
    with pytest.raises(ValueError):
        bufferjson.dumps(float("nan"))


@given(json_values)
def test_round_trip(value: JSONValue) -> None:
    assert bufferjson.loads(bufferjson.dumps(value)) == value


@pytest.fixture(scope="module")
def baileys(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "auth-bridge.mjs") as bridge:
        yield bridge


@pytest.mark.peer
@settings(max_examples=60)
@given(json_values)
def test_baileys_reads_what_we_write_and_we_read_what_it_writes(
    baileys: PeerBridge, value: JSONValue
) -> None:
    text = bufferjson.dumps(value)
    echoed = baileys.call("bufferjson", text=text)["out"]
    decoded = bufferjson.loads(echoed)
    # JavaScript has one number type, so 1.0 comes back as 1: compare numbers by value.
    assert _floats_equal(decoded, value)


def _floats_equal(left: JSONValue, right: JSONValue) -> bool:
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_floats_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_floats_equal(left[k], right[k]) for k in left)
    return left == right


@pytest.mark.peer
@pytest.mark.parametrize(
    "text", ['{"1":2,"0":1}', '{"0":256,"3x":-1}', '{"type":"Buffer","data":"-_8"}', '{"0":"a"}']
)
def test_reviver_quirks_match_baileys(baileys: PeerBridge, text: str) -> None:
    assert bufferjson.loads(baileys.call("bufferjson", text=text)["out"]) == bufferjson.loads(text)


@given(st.binary(max_size=64))
def test_decode_base64_inverts_standard_base64(data: bytes) -> None:
    assert bufferjson.decode_base64(base64.b64encode(data).decode()) == data
