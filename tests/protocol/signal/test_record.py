"""Session records (walink.protocol.signal.record): Baileys' JSON, read and written exactly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocol.signal.conversation import established
from walink.protocol.signal import CorruptRecordError, SessionRecord


def _text(record: SessionRecord) -> str:
    return json.dumps(record.to_json(), separators=(",", ":"))


def test_round_trip_is_byte_identical() -> None:
    alice, bob = established("record")
    for i in (3, 0):  # skipped keys stored
        del i
    sent = [alice.send(b"%d" % i) for i in range(12)]
    bob.receive(*sent[11])
    assert bob.record is not None
    text = _text(bob.record)
    assert _text(SessionRecord.from_json(json.loads(text))) == text
    assert SessionRecord.from_json(json.loads(text)) == bob.record


def test_message_keys_in_javascript_order() -> None:
    alice, bob = established("order")
    sent = [alice.send(b"%d" % i) for i in range(12)]
    bob.receive(*sent[11])
    assert bob.record is not None
    chains = [c for s in bob.record.to_json()["_sessions"].values() for c in s["_chains"].values()]
    keys = [list(c["messageKeys"]) for c in chains if c["messageKeys"]]
    assert keys == [[str(i) for i in range(11)]]  # "10" after "9", as JSON.stringify writes


def test_closed_chain_has_no_key_and_pending_pre_key_shape() -> None:
    alice, _bob = established("closed")
    assert alice.record is not None
    data = alice.record.to_json()
    (session,) = data["_sessions"].values()
    assert list(session) == ["registrationId", "currentRatchet", "indexInfo", "_chains"]
    closed = [c for c in session["_chains"].values() if "key" not in c["chainKey"]]
    assert len(closed) == 0 or all(c["chainType"] == 2 for c in closed)
    fresh, _ = established("pending")
    from tests.protocol.signal.conversation import pair

    initiator, _ = pair("pending-2")
    assert initiator.record is not None
    (pending_session,) = initiator.record.to_json()["_sessions"].values()
    assert list(pending_session["pendingPreKey"]) == ["signedKeyId", "baseKey", "preKeyId"]
    assert pending_session["indexInfo"]["baseKeyType"] == 1
    del fresh


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {},
        {"version": "v2", "_sessions": {}},
        {"version": "v1"},
        {"version": "v1", "_sessions": {"k": {}}},
    ],
)
def test_corrupt_records(value: object) -> None:
    with pytest.raises(CorruptRecordError):
        SessionRecord.from_json(value)


_KEYS = st.sampled_from(
    [
        "version",
        "_sessions",
        "registrationId",
        "currentRatchet",
        "ephemeralKeyPair",
        "pubKey",
        "privKey",
        "lastRemoteEphemeralKey",
        "previousCounter",
        "rootKey",
        "indexInfo",
        "baseKey",
        "baseKeyType",
        "closed",
        "used",
        "created",
        "remoteIdentityKey",
        "_chains",
        "chainKey",
        "counter",
        "key",
        "chainType",
        "messageKeys",
        "pendingPreKey",
        "signedKeyId",
        "preKeyId",
        "1",
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.sampled_from(["v1", "AAAA", "x", "01"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=30,
)


@given(_JSON)
def test_loader_parses_or_raises_corrupt_record(value: object) -> None:
    try:
        record = SessionRecord.from_json(value)
    except CorruptRecordError:
        return
    assert SessionRecord.from_json(record.to_json()) == record


def test_a_real_record_with_one_field_broken() -> None:
    _, bob = established("broken")
    assert bob.record is not None
    text = _text(bob.record)
    for field in ('"rootKey":', '"counter":', '"closed":', '"chainType":'):
        broken = text.replace(field, field + "{}" + ',"x":', 1)
        try:
            value = json.loads(broken)
        except ValueError:
            continue
        with pytest.raises(CorruptRecordError):
            SessionRecord.from_json(value)
