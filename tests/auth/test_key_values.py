"""walink.auth.key_values: typed key values and Baileys' JSON shapes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from tests.auth.strategies import app_state_keys, every_key_type, json_values, key_pairs
from walink.auth import KEY_TYPES, AppStateSyncKeyData, KeyPair, bufferjson
from walink.auth.bufferjson import JSONValue
from walink.auth.key_values import key_from_json, key_to_json


def _round_trip(key_type: str, value: Any) -> Any:
    return key_from_json(key_type, bufferjson.loads(bufferjson.dumps(key_to_json(key_type, value))))


def test_the_examples_cover_every_baileys_type() -> None:
    assert set(every_key_type()) == set(KEY_TYPES)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_every_type_round_trips(key_type: str) -> None:
    for value in every_key_type()[key_type].values():
        assert _round_trip(key_type, value) == value


@given(key_pairs)
def test_pre_keys_are_key_pairs(pair: KeyPair) -> None:
    assert key_to_json("pre-key", pair) == {"private": pair.private, "public": pair.public}
    assert _round_trip("pre-key", pair) == pair


@given(app_state_keys)
def test_app_state_sync_keys_round_trip(value: AppStateSyncKeyData) -> None:
    assert _round_trip("app-state-sync-key", value) == value


def test_app_state_sync_key_json_is_protobufjs_to_json() -> None:
    value = every_key_type()["app-state-sync-key"]["AAAAAGNi"]
    obj = key_to_json("app-state-sync-key", value)
    assert isinstance(obj, dict)
    assert obj["fingerprint"] == {"rawId": 5, "currentIndex": 2, "deviceIndexes": [0, 1]}
    assert obj["timestamp"] == "1700000000123"
    assert isinstance(obj["keyData"], str)


def test_app_state_sync_key_accepts_buffers_numbers_and_longs() -> None:
    parsed = key_from_json(
        "app-state-sync-key",
        {"keyData": b"\x01", "timestamp": {"low": -1, "high": 0, "unsigned": True}},
    )
    assert parsed == AppStateSyncKeyData(key_data=b"\x01", timestamp=2**32 - 1)
    parsed = key_from_json("app-state-sync-key", {"keyData": "AQ==", "timestamp": 5})
    assert parsed == AppStateSyncKeyData(key_data=b"\x01", timestamp=5)


@given(json_values)
def test_other_types_are_kept_verbatim(value: JSONValue) -> None:
    assert _round_trip("session", value) == value
    assert _round_trip("some-future-type", value) == value


@pytest.mark.parametrize(
    ("key_type", "value"),
    [
        ("pre-key", {"private": b"\x00" * 32}),
        ("pre-key", "nope"),
        ("app-state-sync-key", {"keyData": 5}),
        ("app-state-sync-key", {"keyData": "AQ==", "timestamp": "soon"}),
        ("app-state-sync-key", {"keyData": "AQ==", "fingerprint": []}),
    ],
)
def test_malformed_typed_values_are_value_errors(key_type: str, value: object) -> None:
    with pytest.raises(ValueError):
        key_from_json(key_type, value)


def test_wrong_python_types_are_refused_on_write() -> None:
    with pytest.raises(TypeError):
        key_to_json("pre-key", b"\x00" * 64)
    with pytest.raises(TypeError):
        key_to_json("session", KeyPair.generate())
