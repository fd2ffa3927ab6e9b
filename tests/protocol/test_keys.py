"""X25519 key pairs and libsignal-flavoured XEdDSA, checked both ways against libsignal itself."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.peer_bridge import PeerBridge
from walink.protocol.keys import (
    KeyPair,
    SignedKeyPair,
    generate_adv_secret,
    generate_registration_id,
    generate_signed_pre_key,
    signal_public_key,
    xeddsa_sign,
    xeddsa_verify,
)

keys32 = st.binary(min_size=32, max_size=32)
messages = st.binary(min_size=1, max_size=200)


def deterministic(seed: int) -> DeterministicRng:
    return DeterministicRng(seed)


class DeterministicRng:
    """A reproducible stand-in for os.urandom."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def __call__(self, size: int) -> bytes:
        return self._random.randbytes(size)


@pytest.fixture(scope="module")
def curve(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "keys-bridge.mjs") as bridge:
        yield bridge


# --- key material ---------------------------------------------------------------------------


def test_key_pair_is_x25519_and_agrees() -> None:
    alice, bob = KeyPair.generate(), KeyPair.generate()
    shared_a = X25519PrivateKey.from_private_bytes(alice.private).exchange(
        X25519PublicKey.from_public_bytes(bob.public)
    )
    shared_b = X25519PrivateKey.from_private_bytes(bob.private).exchange(
        X25519PublicKey.from_public_bytes(alice.public)
    )
    assert shared_a == shared_b
    assert len(alice.private) == len(alice.public) == 32


def test_key_pair_uses_the_injected_rng() -> None:
    assert KeyPair.generate(deterministic(7)) == KeyPair.generate(deterministic(7))
    assert KeyPair.generate(deterministic(7)).private == deterministic(7)(32)
    with pytest.raises(ValueError):
        KeyPair.generate(lambda n: b"\x00" * (n - 1))


def test_key_pair_repr_hides_the_private_key() -> None:
    pair = KeyPair.generate()
    signed = generate_signed_pre_key(pair, 1)
    for text in (repr(pair), repr(signed), str(pair)):
        assert pair.private.hex() not in text
        assert signed.key_pair.private.hex() not in text
    assert pair.public.hex() in repr(pair)


def test_key_pair_rejects_wrong_sizes() -> None:
    with pytest.raises(ValueError):
        KeyPair(private=b"\x01" * 31, public=b"\x02" * 32)
    with pytest.raises(ValueError):
        KeyPair.from_private(b"\x01" * 33)


def test_registration_id_range_and_rejection() -> None:
    ids = {generate_registration_id() for _ in range(2000)}
    assert min(ids) >= 1 and max(ids) <= 16380
    assert len(ids) > 1500  # really spread over the range, unlike Baileys' one-byte quirk
    # 0 and 16381..16383 are redrawn, not clamped.
    draws = iter([b"\x00\x00", b"\x3f\xfd", b"\xff\xff", b"\x00\x2a"])
    assert generate_registration_id(lambda n: next(draws)) == 42
    assert generate_registration_id(lambda n: b"\x3f\xfc") == 16380


def test_adv_secret() -> None:
    assert len(generate_adv_secret()) == 32
    assert generate_adv_secret(deterministic(1)) == deterministic(1)(32)


def test_signal_public_key() -> None:
    key = bytes(range(32))
    assert signal_public_key(key) == b"\x05" + key
    assert signal_public_key(b"\x05" + key) == b"\x05" + key
    with pytest.raises(ValueError):
        signal_public_key(b"\x06" + key)


# --- XEdDSA on our own ----------------------------------------------------------------------


@given(private=keys32, message=messages, nonce=st.binary(min_size=64, max_size=64))
def test_sign_then_verify(private: bytes, message: bytes, nonce: bytes) -> None:
    public = KeyPair.from_private(private).public
    signature = xeddsa_sign(private, message, random=nonce)
    assert len(signature) == 64
    assert signature[63] & 0x80 == 0
    assert xeddsa_verify(public, message, signature)
    assert xeddsa_verify(b"\x05" + public, message, signature)
    assert not xeddsa_verify(public, message + b"x", signature)
    assert xeddsa_sign(private, message, random=nonce) == signature


@given(private=keys32, message=messages, index=st.integers(0, 63), flip=st.integers(1, 255))
def test_any_changed_signature_byte_fails(
    private: bytes, message: bytes, index: int, flip: int
) -> None:
    public = KeyPair.from_private(private).public
    signature = bytearray(xeddsa_sign(private, message))
    signature[index] ^= flip
    assert not xeddsa_verify(public, message, bytes(signature))


@given(
    public=st.one_of(keys32, st.binary(min_size=33, max_size=33), st.binary(max_size=40)),
    message=st.binary(max_size=40),
    sig=st.one_of(st.binary(min_size=64, max_size=64), st.binary(max_size=70)),
)
def test_verify_never_raises(public: bytes, message: bytes, sig: bytes) -> None:
    # Random 32-byte keys include points off the curve and of small order.
    assert xeddsa_verify(public, message, sig) in (True, False)


def test_verify_rejects_malformed_shapes() -> None:
    pair = KeyPair.generate()
    signature = xeddsa_sign(pair.private, b"m")
    assert not xeddsa_verify(b"\x06" + pair.public, b"m", signature)
    assert not xeddsa_verify(pair.public[:31], b"m", signature)
    assert not xeddsa_verify(pair.public, b"m", signature[:63])
    assert not xeddsa_verify(pair.public, b"m", signature + b"\x00")


def test_sign_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        xeddsa_sign(b"\x01" * 31, b"m")
    with pytest.raises(ValueError):
        xeddsa_sign(b"\x01" * 32, b"m", random=b"\x00" * 32)


# --- against libsignal (the Baileys peer) ---------------------------------------------------


# libsignal's pure-JS curve costs about 8 ms per signature or check: keep the peer batches small.
peer_batches = st.lists(st.tuples(keys32, messages), min_size=1, max_size=4)


@settings(max_examples=30)
@given(items=peer_batches)
def test_libsignal_signs_walink_verifies(
    curve: PeerBridge, items: list[tuple[bytes, bytes]]
) -> None:
    sigs = curve.call("sign", items=[{"priv": p.hex(), "msg": m.hex()} for p, m in items])["sigs"]
    for (private, message), sig in zip(items, sigs, strict=True):
        public = KeyPair.from_private(private).public
        assert xeddsa_verify(public, message, bytes.fromhex(sig))
        assert not xeddsa_verify(public, message + b"\x00", bytes.fromhex(sig))


@settings(max_examples=30)
@given(items=peer_batches)
def test_walink_signs_libsignal_verifies(
    curve: PeerBridge, items: list[tuple[bytes, bytes]]
) -> None:
    batch = []
    for private, message in items:
        public = KeyPair.from_private(private).public
        sig = xeddsa_sign(private, message)
        batch.append({"pub": public.hex(), "msg": message.hex(), "sig": sig.hex()})
        tampered = bytearray(sig)
        tampered[0] ^= 1
        batch.append({"pub": public.hex(), "msg": message.hex(), "sig": bytes(tampered).hex()})
    results = curve.call("verify", items=batch)["results"]
    assert results == [True, False] * len(items)


def test_sign_bit_convention_over_many_libsignal_keys(curve: PeerBridge) -> None:
    """About half of libsignal's signatures set sig[63] bit 7; a strict verifier drops those."""
    pairs = curve.call("generate", n=80)["pairs"]
    messages_ = [os.urandom(1 + i % 50) for i in range(len(pairs))]
    sigs = curve.call(
        "sign",
        items=[{"priv": p["priv"], "msg": m.hex()} for p, m in zip(pairs, messages_, strict=True)],
    )["sigs"]
    with_bit = 0
    for pair, message, sig_hex in zip(pairs, messages_, sigs, strict=True):
        sig = bytes.fromhex(sig_hex)
        assert KeyPair.from_private(bytes.fromhex(pair["priv"])).public.hex() == pair["pub"]
        assert xeddsa_verify(bytes.fromhex(pair["pub"]), message, sig)
        with_bit += bool(sig[63] & 0x80)
    # Binomial(80, 1/2): outside 20..60 has probability below 1e-5.
    assert 20 < with_bit < 60
    ours = []
    for pair, message in zip(pairs, messages_, strict=True):
        ours.append(
            {
                "pub": pair["pub"],
                "msg": message.hex(),
                "sig": xeddsa_sign(bytes.fromhex(pair["priv"]), message).hex(),
            }
        )
    assert curve.call("verify", items=ours)["results"] == [True] * len(ours)


def test_our_signed_pre_key_verifies_in_libsignal(curve: PeerBridge) -> None:
    identity = KeyPair.generate()
    signed = generate_signed_pre_key(identity, 1)
    assert isinstance(signed, SignedKeyPair) and signed.key_id == 1
    assert xeddsa_verify(identity.public, b"\x05" + signed.key_pair.public, signed.signature)
    verdict = curve.call(
        "verify",
        items=[
            {
                "pub": identity.public.hex(),
                "msg": ("05" + signed.key_pair.public.hex()),
                "sig": signed.signature.hex(),
            }
        ],
    )["results"]
    assert verdict == [True]


def test_baileys_signed_pre_key_verifies_in_walink(curve: PeerBridge) -> None:
    identity = KeyPair.generate()
    theirs = curve.call(
        "signedKeyPair", priv=identity.private.hex(), pub=identity.public.hex(), keyId=1
    )
    public = bytes.fromhex(theirs["pub"])
    assert xeddsa_verify(identity.public, b"\x05" + public, bytes.fromhex(theirs["sig"]))
    assert not xeddsa_verify(identity.public, public, bytes.fromhex(theirs["sig"]))


def test_signed_pre_key_is_reproducible_with_an_injected_rng() -> None:
    identity = KeyPair.generate(deterministic(3))
    assert generate_signed_pre_key(identity, 5, deterministic(4)) == generate_signed_pre_key(
        identity, 5, deterministic(4)
    )
