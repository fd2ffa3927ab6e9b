"""The Double Ratchet and X3DH (walink.protocol.signal.ratchet), walink against itself.

libsignal-node interop is in test_peer.py; here: delivery orders (Hypothesis), every failure
typed and leaving the state unchanged (every byte of a few messages flipped in turn), and the
limits (2,000 skipped keys per chain, the per-record key cap, 40 sessions tried MRU first).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.protocol.determinism import counter_rng
from tests.protocol.signal.conversation import Party, established, pair
from tests.protocol.signal.peer import Device
from walink.protocol.errors import LocalProtocolError
from walink.protocol.signal import (
    MAX_RECORD_MESSAGE_KEYS,
    MAX_SESSIONS,
    MAX_SKIP,
    BadMacError,
    DuplicateMessageError,
    InvalidMessageError,
    NoSessionError,
    PreKeyError,
    SessionNotOpenError,
    SessionRecord,
    SignalError,
    TooFarInFutureError,
    UntrustedIdentityError,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    start_session,
)


def _snapshot(record: SessionRecord | None) -> str:
    return "null" if record is None else json.dumps(record.to_json(), sort_keys=True)


@settings(max_examples=30)
@given(order=st.permutations(range(6)), turns=st.integers(1, 3))
def test_any_delivery_order_decrypts(order: list[int], turns: int) -> None:
    alice, bob = established("orders")
    for turn in range(turns):
        sent = [alice.send(b"%d:%d" % (turn, i)) for i in range(6)]
        for i in order:
            assert bob.receive(*sent[i]) == b"%d:%d" % (turn, i)
        assert alice.receive(*bob.send(b"turn")) == b"turn"


def test_pkmsgs_repeat_until_answered_and_reuse_the_session() -> None:
    alice, bob = pair("repeat")
    first, second = alice.send(b"1"), alice.send(b"2")
    assert first[0] == second[0] == "pkmsg"
    assert bob.receive(*second) == b"2"
    assert bob.receive(*first) == b"1"
    assert bob.consumed == {1}
    assert bob.record is not None and len(bob.record.sessions) == 1
    assert alice.receive(*bob.send(b"answer")) == b"answer"
    assert alice.send(b"3")[0] == "msg"


def test_no_one_time_pre_key() -> None:
    alice, bob = pair("no-opk", pre_key_id=None)
    assert bob.receive(*alice.send(b"x")) == b"x"
    assert bob.consumed == set()


def _flips(data: bytes) -> list[bytes]:
    return [data[:i] + bytes((data[i] ^ 0x01,)) + data[i + 1 :] for i in range(len(data))]


def test_every_flipped_byte_of_a_msg_is_rejected_without_a_state_change() -> None:
    alice, bob = established("tamper-msg")
    for text in (b"short", b"a longer message " * 5):
        kind, body = alice.send(text)
        before = _snapshot(bob.record)
        # Byte 0 is the version byte, outside the MAC: 0x32 is accepted (as libsignal does).
        for forged in _flips(body)[1:]:
            with pytest.raises(SignalError):
                decrypt_message(
                    bob.record, forged, identity=bob.device.identity, randbytes=bob.rng, now_ms=9
                )
            assert _snapshot(bob.record) == before
        assert bob.receive(kind, body) == text


def test_every_flipped_byte_of_a_pkmsg_is_rejected_and_consumes_nothing() -> None:
    alice, bob = pair("tamper-pkmsg")
    kind, body = alice.send(b"first")
    accepted = 0
    for forged in _flips(body):
        try:
            result = decrypt_prekey_message(
                None,
                forged,
                identity=bob.device.identity,
                signed_pre_key=bob.device.signed_lookup,
                one_time_pre_key=bob.one_time,
                randbytes=bob.rng,
                now_ms=5,
            )
        except SignalError:
            continue
        # Outside the MAC: both version bytes (0x32 is accepted) and the registration id.
        accepted += 1
        assert result.plaintext == b"first"
    assert accepted <= 4
    assert bob.consumed == set()
    assert bob.receive(kind, body) == b"first"


def test_a_replayed_msg_is_a_duplicate_and_changes_nothing() -> None:
    alice, bob = established("duplicate")
    message = alice.send(b"once")
    assert bob.receive(*message) == b"once"
    before = _snapshot(bob.record)
    with pytest.raises(DuplicateMessageError):
        bob.receive(*message)
    assert _snapshot(bob.record) == before


def test_too_far_in_the_future() -> None:
    alice, bob = established("future")
    # The new chain's counter is -1 (nothing derived): counter 1999 derives 2,000 keys, the
    # most one message may make us derive (libsignal's limit, to the key).
    sent = [alice.send(b"%d" % i) for i in range(MAX_SKIP + 1)]
    before = _snapshot(bob.record)
    with pytest.raises(TooFarInFutureError):
        bob.receive(*sent[MAX_SKIP])
    assert _snapshot(bob.record) == before
    assert bob.receive(*sent[MAX_SKIP - 1]) == b"%d" % (MAX_SKIP - 1)
    assert bob.receive(*sent[7]) == b"7"


def test_stored_message_keys_are_capped_per_record() -> None:
    alice, bob = established("cap")
    for _ in range(3):
        sent = [alice.send(b"x") for _ in range(MAX_SKIP)]
        bob.receive(*sent[-1])
        alice.receive(*bob.send(b"turn"))
    assert bob.record is not None
    stored = sum(
        len(chain.message_keys)
        for session in bob.record.sessions.values()
        for chain in session.chains.values()
    )
    assert stored == MAX_RECORD_MESSAGE_KEYS


def test_sessions_are_capped_at_40_and_tried_most_recently_used_first() -> None:
    bob = Party(Device.make("many-bob", 22, pre_keys=0))
    alices = []
    for index in range(MAX_SESSIONS + 1):
        alice = Party(Device.make("many-alice", 11, pre_keys=0))
        alice.rng = counter_rng(f"alice-{index}")
        alice.record = start_session(
            None,
            bob.device.bundle(None),
            identity=alice.device.identity,
            randbytes=alice.rng,
            now_ms=alice.tick(),
        )
        assert bob.receive(*alice.send(b"hi %d" % index)) == b"hi %d" % index
        assert alice.receive(*bob.send(b"answer")) == b"answer"  # alice now sends msg
        alices.append(alice)
    assert bob.record is not None
    assert len(bob.record.sessions) == MAX_SESSIONS
    assert sum(session.is_open for session in bob.record.sessions.values()) == 1
    # An older, closed session still decrypts, and becomes the most recently used.
    kind, body = alices[5].send(b"late")
    assert kind == "msg"
    assert bob.receive(kind, body) == b"late"
    assert alices[5].record is not None
    (alice_session,) = alices[5].record.sessions.values()
    assert bob.record.by_recency()[0].base_key == alice_session.base_key
    # The first session was the oldest closed one: it was dropped.
    kind, body = alices[0].send(b"gone")
    with pytest.raises(BadMacError):
        bob.receive(kind, body)


def test_typed_errors_for_missing_state() -> None:
    alice, bob = pair("missing")
    _kind, body = alice.send(b"x")
    with pytest.raises(PreKeyError):
        decrypt_prekey_message(
            None,
            body,
            identity=bob.device.identity,
            signed_pre_key=bob.device.signed_lookup,
            one_time_pre_key=lambda _: None,
            randbytes=bob.rng,
            now_ms=1,
        )
    with pytest.raises(PreKeyError):
        decrypt_prekey_message(
            None,
            body,
            identity=bob.device.identity,
            signed_pre_key=lambda _: None,
            one_time_pre_key=bob.one_time,
            randbytes=bob.rng,
            now_ms=1,
        )
    with pytest.raises(UntrustedIdentityError):
        decrypt_prekey_message(
            None,
            body,
            identity=bob.device.identity,
            signed_pre_key=bob.device.signed_lookup,
            one_time_pre_key=bob.one_time,
            randbytes=bob.rng,
            now_ms=1,
            trusted_identity=bob.device.identity.public,
        )
    trusted = decrypt_prekey_message(
        None,
        body,
        identity=bob.device.identity,
        signed_pre_key=bob.device.signed_lookup,
        one_time_pre_key=bob.one_time,
        randbytes=bob.rng,
        now_ms=1,
        trusted_identity=alice.device.identity.public,
    )
    assert trusted.remote_identity == b"\x05" + alice.device.identity.public
    established_alice, _established_bob = established("missing-2")
    msg = established_alice.send(b"y")
    with pytest.raises(NoSessionError):
        decrypt_message(None, msg[1], identity=bob.device.identity, randbytes=bob.rng, now_ms=1)
    with pytest.raises(BadMacError):  # a session, but not the one the message belongs to
        decrypt_message(
            trusted.record, msg[1], identity=bob.device.identity, randbytes=bob.rng, now_ms=1
        )
    with pytest.raises(SessionNotOpenError):
        encrypt(None, b"x", identity=bob.device.identity, registration_id=1, now_ms=1)
    assert issubclass(SessionNotOpenError, LocalProtocolError)


def test_a_message_on_our_own_sending_chain_is_invalid() -> None:
    alice, _bob = established("own-chain")
    kind, body = alice.send(b"mine")
    with pytest.raises(SignalError):
        alice.receive(kind, body)


def test_version_bytes_libsignal_accepts() -> None:
    alice, bob = established("versions")
    _kind, body = alice.send(b"v")
    for byte in (0x43, 0x30, 0xF3):  # the MAC covers 0x33, not the byte sent
        assert (
            decrypt_message(
                bob.record,
                bytes((byte,)) + body[1:],
                identity=bob.device.identity,
                randbytes=bob.rng,
                now_ms=1,
            ).plaintext
            == b"v"
        )
    for byte in (0x23, 0x34, 0x00):
        with pytest.raises(InvalidMessageError):
            decrypt_message(
                bob.record,
                bytes((byte,)) + body[1:],
                identity=bob.device.identity,
                randbytes=bob.rng,
                now_ms=1,
            )


def test_the_input_record_is_never_mutated() -> None:
    alice, bob = established("cow")
    record_before = bob.record
    snapshot = _snapshot(record_before)
    bob.receive(*alice.send(b"a"))
    alice.receive(*bob.send(b"b"))
    assert _snapshot(record_before) == snapshot
    assert bob.record is not record_before
    assert replace(record_before) == record_before  # type: ignore[type-var]
