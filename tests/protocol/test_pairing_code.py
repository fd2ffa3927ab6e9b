"""Pairing-code crypto: the code, PBKDF2 + AES-CTR wrapping, the key bundle and the ADV secret.

PBKDF2 costs ~20 ms a call, so PBKDF2-bound tests use a handful of fixed cases; Hypothesis runs
only over the PBKDF2-free core (``seal_key_bundle`` / ``phone_open_key_bundle``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.peer_bridge import PeerBridge
from tests.protocol.determinism import Rng, counter_rng, key_pair
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.keys import KeyPair
from walink.protocol.pairing_code import (
    KEY_BUNDLE_SIZE,
    PAIRING_CODE_ALPHABET,
    WRAPPED_EPHEMERAL_SIZE,
    WrongPairingCodeError,
    companion_finish,
    derive_pairing_code_key,
    format_code_for_display,
    generate_pairing_code,
    phone_open_key_bundle,
    phone_primary_hello,
    seal_key_bundle,
    unwrap_ephemeral,
    validate_custom_code,
    validate_phone_number,
    wrap_ephemeral,
    wrap_ephemeral_random,
)


def replaying_rng(raw: bytes) -> Rng:
    """An rng that hands out ``raw`` once, whatever size is asked (the callee checks the size)."""
    return lambda size: raw


CODE = "A1B2C3D4"
SALT = bytes(range(32))
IV = bytes(range(100, 116))
COMPANION_EPHEMERAL = key_pair("companion ephemeral")
COMPANION_IDENTITY = key_pair("companion identity")
PHONE_IDENTITY = key_pair("phone identity")

# Pinned vectors. Each was produced by walink and is checked against Baileys below (the peer tests
# recompute the same value with Baileys' own functions), so a change here is a wire change.
PBKDF2_KEY = "74c68c8a0b8fb95cebbf985d9b4211c1e37d0744171c109b7a47e67351429f6c"
WRAPPED_COMPANION = (
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "6465666768696a6b6c6d6e6f70717273"
    "9d8c2c5aa081cfdf248509ca68258e6f668b4f608010822bf748398f36a48072"
)
PINNED_BUNDLE = (
    "6c95b166f73d69832768b28f581f48cf0d271c6bf654bae116e3b90e507a3750"
    "67f908cf099bf2327af63520"
    "b7ec0c3c411b5194c1bcde1821b935612472206f897daab142b86261f8e33164"
    "5e33a0b5cd693fad6292352650b58d0963b102dc569e1aeaaebca7b036eba223"
    "48cdd5e816cd6944a38a372ece0ceb797008f47dcca5129d0e3c4dffb69b3710"
    "6dd97ce196a478a391431a03358aa7d4"
)
PINNED_ADV_SECRET = "1246d176f1eaa42e8a012a80f0e406a9dc263193d09a2ab6d1fdada177bb64e9"


@pytest.fixture(scope="module")
def peer(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "pairing-bridge.mjs") as bridge:
        yield bridge


# --- the code ---------------------------------------------------------------------------------


def test_alphabet_has_32_unambiguous_symbols() -> None:
    assert len(PAIRING_CODE_ALPHABET) == len(set(PAIRING_CODE_ALPHABET)) == 32
    assert not set("0OIU") & set(PAIRING_CODE_ALPHABET)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (bytes(5), "11111111"),
        (b"\xff" * 5, "ZZZZZZZZ"),
        (bytes([0, 1, 2, 3, 4]), "111H51R5"),
        (b"\x84\x21\x08\x42\x10", "HHHHHHHH"),
    ],
)
def test_generate_pairing_code_vectors(raw: bytes, code: str) -> None:
    assert generate_pairing_code(lambda size: raw[:size]) == code


@given(st.binary(min_size=5, max_size=5))
def test_generate_pairing_code_is_msb_first_base32(raw: bytes) -> None:
    code = generate_pairing_code(lambda size: raw)
    assert len(code) == 8
    value = 0
    for char in code:
        value = (value << 5) | PAIRING_CODE_ALPHABET.index(char)
    assert value.to_bytes(5, "big") == raw
    assert validate_custom_code(code) == code


def test_generate_pairing_code_refuses_a_short_rng() -> None:
    with pytest.raises(LocalProtocolError):
        generate_pairing_code(lambda size: b"\x00" * (size - 1))


@pytest.mark.parametrize(
    ("given_code", "canonical"),
    [("ABCDEFGH", "ABCDEFGH"), ("abcd-efgh", "ABCDEFGH"), ("ZZZZZZZ-Z", "ZZZZZZZZ")],
)
def test_validate_custom_code_normalises(given_code: str, canonical: str) -> None:
    assert validate_custom_code(given_code) == canonical


@pytest.mark.parametrize(
    "bad",
    ["ABCDEFG", "ABCDEFGHJ", "ABCD--EFGH", "ABCDEFG0", "OBCDEFGH", "ABCDIFGH", "ABCUEFGH", ""],
)
def test_validate_custom_code_refuses(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        validate_custom_code(bad)


def test_format_code_for_display() -> None:
    assert format_code_for_display("abcdefgh") == "ABCD-EFGH"
    assert format_code_for_display("ABCD-EFGH") == "ABCD-EFGH"


@pytest.mark.parametrize(
    ("phone", "digits"),
    [
        ("4915123456789", "4915123456789"),
        ("+49 151 2345-6789", "4915123456789"),
        ("+1 (555) 123.4567", "15551234567"),
        (" 1234567 ", "1234567"),
        ("123456789012345", "123456789012345"),
    ],
)
def test_validate_phone_number_accepts(phone: str, digits: str) -> None:
    assert validate_phone_number(phone) == digits


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "+",
        "0151234567",
        "+0151234567",
        "123456",
        "1234567890123456",
        "49151abc56789",
        "4915123456789@s.whatsapp.net",
        "٤٩١٥١٢٣٤٥٦٧",
        "++4915123456789",
    ],
)
def test_validate_phone_number_refuses(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        validate_phone_number(bad)


# --- PBKDF2 and the CTR wrapping ----------------------------------------------------------------


def test_pbkdf2_key_vector() -> None:
    key = derive_pairing_code_key(CODE, SALT)
    assert key.hex() == PBKDF2_KEY
    # An independent implementation of the same parameters
    # (docs/protocol/pairing.md#pairing-code-alphabet).
    assert key == hashlib.pbkdf2_hmac("sha256", CODE.encode(), SALT, 131072, 32)
    assert derive_pairing_code_key(CODE.lower(), SALT) == key


def test_pbkdf2_refuses_a_wrong_salt_size() -> None:
    with pytest.raises(LocalProtocolError):
        derive_pairing_code_key(CODE, SALT[:31])


def test_wrap_vector_and_round_trip() -> None:
    wrapped = wrap_ephemeral(CODE, COMPANION_EPHEMERAL.public, SALT, IV)
    assert len(wrapped) == WRAPPED_EPHEMERAL_SIZE
    assert wrapped.hex() == WRAPPED_COMPANION
    assert unwrap_ephemeral(CODE, wrapped) == COMPANION_EPHEMERAL.public
    # Trailing bytes are ignored, as both reference clients read only the first 80.
    assert unwrap_ephemeral(CODE, wrapped + b"\x00") == COMPANION_EPHEMERAL.public


def test_wrap_random_draws_salt_then_iv() -> None:
    drawn = [SALT, IV]
    wrapped = wrap_ephemeral_random(CODE, COMPANION_EPHEMERAL.public, lambda size: drawn.pop(0))
    assert wrapped.hex() == WRAPPED_COMPANION


def test_unwrap_with_a_wrong_code_gives_a_wrong_key_silently() -> None:
    wrapped = bytes.fromhex(WRAPPED_COMPANION)
    assert unwrap_ephemeral("ZZZZZZZZ", wrapped) != COMPANION_EPHEMERAL.public


def test_unwrap_refuses_a_short_wrapped_key() -> None:
    with pytest.raises(RemoteProtocolError):
        unwrap_ephemeral(CODE, bytes(79))


@pytest.mark.parametrize(("public", "iv"), [(bytes(31), IV), (COMPANION_EPHEMERAL.public, IV[:12])])
def test_wrap_refuses_bad_sizes(public: bytes, iv: bytes) -> None:
    with pytest.raises(LocalProtocolError):
        wrap_ephemeral(CODE, public, SALT, iv)


# --- the key bundle and the ADV secret -----------------------------------------------------------


def run_pairing(companion_code: str, phone_code: str, seed: str) -> tuple[bytes, bytes, bytes]:
    """Both sides end to end; returns (bundle, companion's ADV secret, phone's ADV secret)."""
    wrapped_companion = wrap_ephemeral_random(
        companion_code, COMPANION_EPHEMERAL.public, counter_rng(seed + "/companion hello")
    )
    hello = phone_primary_hello(phone_code, wrapped_companion, counter_rng(seed + "/phone"))
    finish = companion_finish(
        companion_code,
        pairing_ephemeral=COMPANION_EPHEMERAL,
        identity=COMPANION_IDENTITY,
        primary_identity_public=PHONE_IDENTITY.public,
        wrapped_primary_ephemeral=hello.wrapped_primary_ephemeral,
        rng=counter_rng(seed + "/companion finish"),
    )
    opened = phone_open_key_bundle(
        primary_ephemeral=hello.primary_ephemeral,
        phone_identity=PHONE_IDENTITY,
        companion_ephemeral_public=hello.companion_ephemeral_public,
        wrapped_key_bundle=finish.wrapped_key_bundle,
    )
    assert opened.companion_identity_public == COMPANION_IDENTITY.public
    return finish.wrapped_key_bundle, finish.adv_secret, opened.adv_secret


def test_both_sides_agree_on_the_adv_secret_vector() -> None:
    bundle, companion_secret, phone_secret = run_pairing(CODE, CODE.lower(), "vector")
    assert len(bundle) == KEY_BUNDLE_SIZE
    assert companion_secret == phone_secret
    assert bundle.hex() == PINNED_BUNDLE
    assert companion_secret.hex() == PINNED_ADV_SECRET


def test_a_wrong_code_fails_at_the_key_bundle() -> None:
    with pytest.raises(WrongPairingCodeError):
        run_pairing(CODE, "ZZZZ-ZZZZ", "wrong code")


def bundle_parts(seed: str) -> tuple[KeyPair, bytes]:
    """A primary ephemeral pair and a bundle sealed to it, without PBKDF2."""
    primary_ephemeral = key_pair(seed + " primary ephemeral")
    finish = seal_key_bundle(
        pairing_ephemeral=COMPANION_EPHEMERAL,
        identity=COMPANION_IDENTITY,
        primary_identity_public=PHONE_IDENTITY.public,
        primary_ephemeral_public=primary_ephemeral.public,
        random=bytes(32),
        salt=bytes(32),
        iv=bytes(12),
    )
    return primary_ephemeral, finish.wrapped_key_bundle


@pytest.mark.parametrize("position", [0, 32, 44, 100, KEY_BUNDLE_SIZE - 1])
def test_a_tampered_bundle_does_not_authenticate(position: int) -> None:
    primary_ephemeral, bundle = bundle_parts("tamper")
    tampered = bytearray(bundle)
    tampered[position] ^= 1
    with pytest.raises(WrongPairingCodeError):
        phone_open_key_bundle(
            primary_ephemeral=primary_ephemeral,
            phone_identity=PHONE_IDENTITY,
            companion_ephemeral_public=COMPANION_EPHEMERAL.public,
            wrapped_key_bundle=bytes(tampered),
        )


@pytest.mark.parametrize("size", [0, KEY_BUNDLE_SIZE - 1, KEY_BUNDLE_SIZE + 1])
def test_a_bundle_of_the_wrong_size_is_refused(size: int) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        phone_open_key_bundle(
            primary_ephemeral=key_pair("size"),
            phone_identity=PHONE_IDENTITY,
            companion_ephemeral_public=COMPANION_EPHEMERAL.public,
            wrapped_key_bundle=bytes(size),
        )
    assert not isinstance(caught.value, WrongPairingCodeError)


def test_a_bundle_for_another_phone_is_refused() -> None:
    primary_ephemeral, bundle = bundle_parts("other phone")
    with pytest.raises(RemoteProtocolError, match="another phone"):
        phone_open_key_bundle(
            primary_ephemeral=primary_ephemeral,
            phone_identity=key_pair("another phone identity"),
            companion_ephemeral_public=COMPANION_EPHEMERAL.public,
            wrapped_key_bundle=bundle,
        )


@settings(max_examples=50)
@given(st.binary(min_size=KEY_BUNDLE_SIZE, max_size=KEY_BUNDLE_SIZE))
def test_an_arbitrary_bundle_does_not_authenticate(bundle: bytes) -> None:
    with pytest.raises(WrongPairingCodeError):
        phone_open_key_bundle(
            primary_ephemeral=key_pair("arbitrary"),
            phone_identity=PHONE_IDENTITY,
            companion_ephemeral_public=COMPANION_EPHEMERAL.public,
            wrapped_key_bundle=bundle,
        )


def test_a_small_order_peer_key_is_the_peers_fault() -> None:
    with pytest.raises(RemoteProtocolError):
        seal_key_bundle(
            pairing_ephemeral=COMPANION_EPHEMERAL,
            identity=COMPANION_IDENTITY,
            primary_identity_public=PHONE_IDENTITY.public,
            primary_ephemeral_public=bytes(32),
            random=bytes(32),
            salt=bytes(32),
            iv=bytes(12),
        )


def test_companion_finish_refuses_a_short_primary_identity() -> None:
    with pytest.raises(RemoteProtocolError):
        companion_finish(
            CODE,
            pairing_ephemeral=COMPANION_EPHEMERAL,
            identity=COMPANION_IDENTITY,
            primary_identity_public=bytes(31),
            wrapped_primary_ephemeral=bytes.fromhex(WRAPPED_COMPANION),
        )


@settings(max_examples=50)
@given(
    companion_ephemeral=st.binary(min_size=32, max_size=32),
    companion_identity=st.binary(min_size=32, max_size=32),
    phone_identity=st.binary(min_size=32, max_size=32),
    primary_ephemeral=st.binary(min_size=32, max_size=32),
    random=st.binary(min_size=32, max_size=32),
    salt=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=12, max_size=12),
)
def test_seal_and_open_agree(
    companion_ephemeral: bytes,
    companion_identity: bytes,
    phone_identity: bytes,
    primary_ephemeral: bytes,
    random: bytes,
    salt: bytes,
    iv: bytes,
) -> None:
    companion_pair = KeyPair.from_private(companion_ephemeral)
    identity = KeyPair.from_private(companion_identity)
    phone = KeyPair.from_private(phone_identity)
    primary = KeyPair.from_private(primary_ephemeral)
    finish = seal_key_bundle(
        pairing_ephemeral=companion_pair,
        identity=identity,
        primary_identity_public=phone.public,
        primary_ephemeral_public=primary.public,
        random=random,
        salt=salt,
        iv=iv,
    )
    assert finish.wrapped_key_bundle[:44] == salt + iv
    opened = phone_open_key_bundle(
        primary_ephemeral=primary,
        phone_identity=phone,
        companion_ephemeral_public=companion_pair.public,
        wrapped_key_bundle=finish.wrapped_key_bundle,
    )
    assert opened.companion_identity_public == identity.public
    assert opened.adv_secret == finish.adv_secret


# --- against Baileys --------------------------------------------------------------------------


@pytest.mark.peer
def test_code_generation_matches_baileys(peer: PeerBridge) -> None:
    rng = counter_rng("crockford")
    for _ in range(30):
        raw = rng(5)
        expected = peer.call("crockford", bytes=raw.hex())["code"]
        assert generate_pairing_code(replaying_rng(raw)) == expected


@pytest.mark.peer
@pytest.mark.parametrize(
    ("code", "salt"),
    [(CODE, SALT), ("11111111", bytes(32)), ("ZZZZZZZZ", b"\xff" * 32)],
)
def test_pbkdf2_matches_baileys(peer: PeerBridge, code: str, salt: bytes) -> None:
    expected = peer.call("pbkdf2", code=code, salt=salt.hex())["key"]
    assert derive_pairing_code_key(code, salt).hex() == expected
    if code == CODE:
        assert expected == PBKDF2_KEY


@pytest.mark.peer
def test_wrapping_matches_baileys(peer: PeerBridge) -> None:
    baileys_wrapped = peer.call(
        "wrap", code=CODE, pub=COMPANION_EPHEMERAL.public.hex(), salt=SALT.hex(), iv=IV.hex()
    )["wrapped"]
    assert baileys_wrapped == WRAPPED_COMPANION
    # The other direction: Baileys unwraps what the phone side wraps.
    phone_ephemeral = key_pair("phone ephemeral")
    ours = wrap_ephemeral(CODE, phone_ephemeral.public, SALT[::-1], IV[::-1])
    assert peer.call("unwrap", code=CODE, wrapped=ours.hex())["pub"] == phone_ephemeral.public.hex()


@pytest.mark.peer
def test_companion_finish_matches_baileys(peer: PeerBridge) -> None:
    hello = phone_primary_hello(CODE, bytes.fromhex(WRAPPED_COMPANION), counter_rng("vector/phone"))
    drawn = counter_rng("peer finish")
    random, salt, iv = drawn(32), drawn(32), drawn(12)
    baileys = peer.call(
        "companion_finish",
        code=CODE,
        pairingPriv=COMPANION_EPHEMERAL.private.hex(),
        identityPriv=COMPANION_IDENTITY.private.hex(),
        identityPub=COMPANION_IDENTITY.public.hex(),
        primaryIdentityPub=PHONE_IDENTITY.public.hex(),
        wrappedPrimary=hello.wrapped_primary_ephemeral.hex(),
        random=random.hex(),
        salt=salt.hex(),
        iv=iv.hex(),
    )
    replay = [random, salt, iv]
    ours = companion_finish(
        CODE,
        pairing_ephemeral=COMPANION_EPHEMERAL,
        identity=COMPANION_IDENTITY,
        primary_identity_public=PHONE_IDENTITY.public,
        wrapped_primary_ephemeral=hello.wrapped_primary_ephemeral,
        rng=lambda size: replay.pop(0),
    )
    assert ours.wrapped_key_bundle.hex() == baileys["bundle"]
    assert ours.adv_secret.hex() == baileys["advSecret"]
    # The phone side opens Baileys' bundle and derives Baileys' ADV secret.
    opened = phone_open_key_bundle(
        primary_ephemeral=hello.primary_ephemeral,
        phone_identity=PHONE_IDENTITY,
        companion_ephemeral_public=hello.companion_ephemeral_public,
        wrapped_key_bundle=bytes.fromhex(baileys["bundle"]),
    )
    assert opened.adv_secret.hex() == baileys["advSecret"]
    assert opened.companion_identity_public == COMPANION_IDENTITY.public


@pytest.mark.peer
def test_pinned_bundle_vector_matches_baileys(peer: PeerBridge) -> None:
    # Recompute the pinned end-to-end vector with Baileys' companion logic.
    wrapped_companion = wrap_ephemeral_random(
        CODE, COMPANION_EPHEMERAL.public, counter_rng("vector/companion hello")
    )
    hello = phone_primary_hello(CODE, wrapped_companion, counter_rng("vector/phone"))
    drawn = counter_rng("vector/companion finish")
    baileys = peer.call(
        "companion_finish",
        code=CODE,
        pairingPriv=COMPANION_EPHEMERAL.private.hex(),
        identityPriv=COMPANION_IDENTITY.private.hex(),
        identityPub=COMPANION_IDENTITY.public.hex(),
        primaryIdentityPub=PHONE_IDENTITY.public.hex(),
        wrappedPrimary=hello.wrapped_primary_ephemeral.hex(),
        random=drawn(32).hex(),
        salt=drawn(32).hex(),
        iv=drawn(12).hex(),
    )
    assert baileys["bundle"] == PINNED_BUNDLE
    assert baileys["advSecret"] == PINNED_ADV_SECRET
