"""Sender keys (walink.protocol.signal.group): skmsg, SKDM, limits, Baileys' stored JSON."""

from __future__ import annotations

import contextlib
import hmac
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.protocol.determinism import counter_rng
from walink.protocol.signal import (
    MAX_SENDER_KEY_STATES,
    CorruptRecordError,
    DuplicateMessageError,
    InvalidSignatureError,
    NoSenderKeyError,
    SenderKeyRecord,
    SessionNotOpenError,
    SignalError,
    TooFarInFutureError,
    create_sender_key,
    distribution_message,
    group_decrypt,
    group_encrypt,
    process_distribution,
)
from walink.protocol.signal.group import MAX_SENDER_MESSAGE_KEYS


def _sender(seed: str) -> tuple[SenderKeyRecord, bytes]:
    return create_sender_key(counter_rng(seed))


def _messages(record: SenderKeyRecord, count: int) -> tuple[list[bytes], SenderKeyRecord]:
    rng = counter_rng("group-messages")
    bodies = []
    for index in range(count):
        body, record = group_encrypt(record, b"m%d" % index, randbytes=rng)
        bodies.append(body)
    return bodies, record


@settings(max_examples=30)
@given(order=st.permutations(range(6)))
def test_any_delivery_order(order: list[int]) -> None:
    sender, skdm = _sender("orders")
    bodies, _ = _messages(sender, 6)
    receiver = process_distribution(None, skdm)
    for index in order:
        plaintext, receiver = group_decrypt(receiver, bodies[index])
        assert plaintext == b"m%d" % index


def test_every_flipped_byte_is_rejected_without_a_state_change() -> None:
    sender, skdm = _sender("tamper")
    bodies, _ = _messages(sender, 2)
    receiver = process_distribution(None, skdm)
    stored = receiver.to_baileys()
    for body in bodies:
        for index in range(len(body)):
            forged = body[:index] + bytes((body[index] ^ 0x01,)) + body[index + 1 :]
            with pytest.raises(SignalError):
                group_decrypt(receiver, forged)
            assert receiver.to_baileys() == stored
    assert group_decrypt(receiver, bodies[1])[0] == b"m1"


def test_duplicate_future_and_unknown_key() -> None:
    sender, skdm = _sender("limits")
    bodies, sender = _messages(sender, 2)
    receiver = process_distribution(None, skdm)
    _, receiver = group_decrypt(receiver, bodies[0])
    with pytest.raises(DuplicateMessageError):
        group_decrypt(receiver, bodies[0])
    with pytest.raises(NoSenderKeyError):
        group_decrypt(None, bodies[0])
    with pytest.raises(NoSenderKeyError):
        group_decrypt(process_distribution(None, _sender("other")[1]), bodies[0])
    # A sender whose chain is 2,001 steps ahead: too far.
    state = sender.states[-1]
    for _ in range(MAX_SENDER_MESSAGE_KEYS):
        state = replace(
            state, iteration=state.iteration + 1, seed=hmac.digest(state.seed, b"\x02", "sha256")
        )
    far = SenderKeyRecord(states=(state,))
    body, _ = group_encrypt(far, b"far", randbytes=counter_rng("far"))
    with pytest.raises(TooFarInFutureError):
        group_decrypt(receiver, body)


def test_wrong_signing_key() -> None:
    sender, _skdm = _sender("signing")
    _other, other_skdm = _sender("signing-other")
    bodies, _ = _messages(sender, 1)
    impostor = process_distribution(None, other_skdm)
    # Same key id, other signing key: the signature fails.
    state = impostor.states[0]
    forged_state = replace(sender.states[0], signing_public=state.signing_public)
    with pytest.raises(InvalidSignatureError):
        group_decrypt(SenderKeyRecord(states=(forged_state,)), bodies[0])


def test_five_states_per_sender_and_first_match_wins() -> None:
    record = None
    skdms = [_sender(f"state-{i}")[1] for i in range(MAX_SENDER_KEY_STATES + 2)]
    for skdm in skdms:
        record = process_distribution(record, skdm)
    assert record is not None
    assert len(record.states) == MAX_SENDER_KEY_STATES
    assert record.states[0].key_id == process_distribution(None, skdms[2]).states[0].key_id


def test_skipped_keys_are_capped_per_state() -> None:
    sender, skdm = _sender("skipped")
    receiver = process_distribution(None, skdm)
    bodies, _ = _messages(sender, 3)
    _, receiver = group_decrypt(receiver, bodies[2])
    assert [it for it, _ in receiver.states[0].message_keys] == [0, 1]


def test_our_own_record_needs_our_signing_key() -> None:
    _, skdm = _sender("theirs")
    with pytest.raises(SessionNotOpenError):
        group_encrypt(process_distribution(None, skdm), b"x", randbytes=counter_rng("x"))
    sender, skdm = _sender("ours")
    assert distribution_message(sender) == skdm


def test_baileys_json_shape_and_round_trip() -> None:
    sender, _ = _sender("json")
    value = sender.to_baileys()
    data = json.loads(value)
    assert list(data[0]) == [
        "senderKeyId",
        "senderChainKey",
        "senderSigningKey",
        "senderMessageKeys",
    ]
    assert data[0]["senderChainKey"]["seed"]["type"] == "Buffer"
    assert isinstance(data[0]["senderChainKey"]["seed"]["data"], list)
    assert SenderKeyRecord.from_baileys(value) == sender
    for bad in (b"", b"{}", b"[1]", b'[{"senderKeyId": "x"}]', b"\xff"):
        with pytest.raises(CorruptRecordError):
            SenderKeyRecord.from_baileys(bad)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "senderKeyId",
                        "senderChainKey",
                        "senderSigningKey",
                        "senderMessageKeys",
                        "iteration",
                        "seed",
                        "public",
                        "private",
                        "type",
                        "data",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_loader_parses_or_raises_corrupt_record(value: object) -> None:
    try:
        text = json.dumps(value).encode()
    except ValueError:
        return
    with contextlib.suppress(CorruptRecordError):
        SenderKeyRecord.from_baileys(text)
