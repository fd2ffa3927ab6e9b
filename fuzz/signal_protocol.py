"""Fuzz target: the Signal core (``walink.protocol.signal``) on every kind of input it parses.

Invariant (the sans-IO core's parser rule): arbitrary bytes are parsed or raise
``RemoteProtocolError``; nothing else escapes. Besides, for the decrypt functions:

- the stored state handed in is unchanged afterwards, whether the call failed or not (the API
  is copy-on-write), and a failure consumes no pre-key;
- a session or sender-key record that loads writes back to a record that loads to the same value.

Input: byte 0 picks the entry point, the rest is its input:
0 ``decrypt_message`` on an established session; 1 ``decrypt_prekey_message`` with no record;
2 ``decrypt_prekey_message`` on that session's record; 3 ``group_decrypt``;
4 ``process_distribution``; 5 ``SessionRecord.from_json`` (the input as JSON text);
6 ``SenderKeyRecord.from_baileys``; 7 ``unpad``.

Keys, clocks and random sources are fixed, so every input replays identically.

Run: ``python fuzz/signal_protocol.py -max_total_time=60`` (atheris; see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from collections.abc import Callable
from functools import cache

from _atheris import fuzz, instrumented

with instrumented(__name__):
    from walink.protocol.errors import RemoteProtocolError
    from walink.protocol.keys import KeyPair, generate_signed_pre_key
    from walink.protocol.signal import (
        PreKeyBundle,
        SenderKeyRecord,
        SessionRecord,
        create_sender_key,
        decrypt_message,
        decrypt_prekey_message,
        encrypt,
        group_decrypt,
        group_encrypt,
        process_distribution,
        start_session,
        unpad,
    )

ENTRY_POINTS = 8


def _rng(seed: str) -> Callable[[int], bytes]:
    counter = itertools.count()

    def rng(size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(f"{seed}:{next(counter)}".encode()).digest()
        return out[:size]

    return rng


def _key(label: str) -> KeyPair:
    return KeyPair.from_private(hashlib.sha256(label.encode()).digest())


ALICE = _key("fuzz:alice")
BOB = _key("fuzz:bob")
BOB_SIGNED = generate_signed_pre_key(BOB, 1, _rng("fuzz:spk"))
BOB_ONE_TIME = _key("fuzz:opk")


def _signed(key_id: int) -> KeyPair | None:
    return BOB_SIGNED.key_pair if key_id == 1 else None


def _one_time(key_id: int) -> KeyPair | None:
    return BOB_ONE_TIME if key_id == 7 else None


@cache
def _fixture() -> tuple[SessionRecord, list[bytes], list[bytes], SenderKeyRecord, list[bytes]]:
    """Bob's record after alice's first pkmsg, alice's pkmsgs and msgs, a sender-key record."""
    bundle = PreKeyBundle(
        registration_id=2,
        identity_key=BOB.public,
        signed_pre_key_id=1,
        signed_pre_key=BOB_SIGNED.key_pair.public,
        signed_pre_key_signature=BOB_SIGNED.signature,
        pre_key_id=7,
        pre_key=BOB_ONE_TIME.public,
    )
    rng = _rng("fuzz:conversation")
    alice = start_session(None, bundle, identity=ALICE, randbytes=rng, now_ms=1)
    pkmsgs = []
    for text in (b"first", b"second"):
        sent = encrypt(alice, text, identity=ALICE, registration_id=1, now_ms=2)
        alice = sent.record
        pkmsgs.append(sent.ciphertext)
    bob = decrypt_prekey_message(
        None,
        pkmsgs[0],
        identity=BOB,
        signed_pre_key=_signed,
        one_time_pre_key=_one_time,
        randbytes=rng,
        now_ms=3,
    ).record
    answer = encrypt(bob, b"answer", identity=BOB, registration_id=2, now_ms=4)
    bob = answer.record
    alice = decrypt_message(
        alice, answer.ciphertext, identity=ALICE, randbytes=rng, now_ms=5
    ).record
    msgs = []
    for text in (b"three", b"four " * 10):
        sent = encrypt(alice, text, identity=ALICE, registration_id=1, now_ms=6)
        alice = sent.record
        msgs.append(sent.ciphertext)
    sender, skdm = create_sender_key(rng)
    skmsgs = []
    for text in (b"g1", b"g2"):
        body, sender = group_encrypt(sender, text, randbytes=rng)
        skmsgs.append(body)
    return bob, pkmsgs, msgs, process_distribution(None, skdm), [skdm, *skmsgs]


def _check_session_round_trip(record: SessionRecord) -> None:
    assert SessionRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def _run(mode: int, payload: bytes, bob: SessionRecord, receiver: SenderKeyRecord) -> None:
    if mode == 0:
        result = decrypt_message(bob, payload, identity=BOB, randbytes=_rng("d"), now_ms=9)
        _check_session_round_trip(result.record)
    elif mode in (1, 2):
        decrypt_prekey_message(
            None if mode == 1 else bob,
            payload,
            identity=BOB,
            signed_pre_key=_signed,
            one_time_pre_key=_one_time,
            randbytes=_rng("p"),
            now_ms=9,
        )
    elif mode == 3:
        group_decrypt(receiver, payload)
    elif mode == 4:
        process_distribution(receiver, payload)
    elif mode == 5:
        try:
            value = json.loads(payload)
        except ValueError:
            return  # not JSON: the store's problem, not the loader's
        _check_session_round_trip(SessionRecord.from_json(value))
    elif mode == 6:
        loaded = SenderKeyRecord.from_baileys(payload)
        assert SenderKeyRecord.from_baileys(loaded.to_baileys()) == loaded
    else:
        unpad(payload)


def target(data: bytes) -> None:
    """Run the entry point ``data[0]`` picks on ``data[1:]``; check the invariants above."""
    if not data:
        return
    bob, _, _, receiver, _ = _fixture()
    before = json.dumps(bob.to_json())
    sender_before = receiver.to_baileys()
    # A failure returns nothing, so it cannot report a consumed pre-key: the copy-on-write
    # check below is what proves that no state moved.
    with contextlib.suppress(RemoteProtocolError):
        _run(data[0] % ENTRY_POINTS, data[1:], bob, receiver)
    assert json.dumps(bob.to_json()) == before, "a decrypt changed the record it was given"
    assert receiver.to_baileys() == sender_before, "a decrypt changed the sender-key record"


def seeds() -> list[bytes]:
    """Each entry point with valid input (the seed corpus)."""
    bob, pkmsgs, msgs, receiver, group = _fixture()
    return [
        *(b"\x00" + m for m in msgs),
        *(b"\x01" + m for m in pkmsgs),
        b"\x02" + pkmsgs[1],
        *(b"\x03" + m for m in group[1:]),
        b"\x04" + group[0],
        b"\x05" + json.dumps(bob.to_json()).encode(),
        b"\x06" + receiver.to_baileys(),
        b"\x07hello\x02\x02",
    ]


def main() -> None:
    """The atheris entry point: ``python fuzz/signal_protocol.py [libFuzzer flags] [corpus]``."""
    fuzz("signal_protocol", target, seeds)


if __name__ == "__main__":
    main()
