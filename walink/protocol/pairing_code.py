"""Pairing-code login cryptography, for both the companion and the phone
(docs/protocol/pairing.md#pairing-code).

Theory of operation. The user reads an 8-character code off the companion's screen and types it
on the phone; the code never travels. Each side proves it knows the code by wrapping a fresh
X25519 ephemeral public key under a PBKDF2 key of the code (AES-256-CTR, so a wrong code is *not*
noticed at unwrap time: it merely yields a wrong key). The companion then sends a key bundle
(its identity key, the phone's identity key and 32 random bytes) sealed with AES-256-GCM under a
key derived from the ephemeral agreement; that GCM tag is the first place a wrong code shows.
Both sides finally derive the ADV secret, the HMAC key of the pair-success that follows, from
both agreements and the random bytes.

Everything here is a pure function of its inputs. Randomness comes in through ``rng`` (a byte
count in, bytes out, like ``os.urandom``), drawn in the same order Baileys draws it, so fixed
inputs give byte-exact vectors. PBKDF2 with 131072 iterations costs about 20 ms, on purpose:
call it once per wrap or unwrap, never in a loop.

Input conventions: a pairing code given by the caller is normalised by ``validate_custom_code``
(case-folded to upper case, one dash allowed), and bad caller input raises
``LocalProtocolError``. Bytes received from the peer that cannot be right raise
``RemoteProtocolError`` (``WrongPairingCodeError`` when the key bundle does not authenticate).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.keys import KeyPair

__all__ = [
    "ADV_SECRET_INFO",
    "KEY_BUNDLE_INFO",
    "KEY_BUNDLE_SIZE",
    "PAIRING_CODE_ALPHABET",
    "PAIRING_CODE_ITERATIONS",
    "PAIRING_CODE_LENGTH",
    "WRAPPED_EPHEMERAL_SIZE",
    "CompanionFinish",
    "OpenedKeyBundle",
    "PrimaryHello",
    "WrongPairingCodeError",
    "companion_finish",
    "derive_pairing_code_key",
    "format_code_for_display",
    "generate_pairing_code",
    "phone_open_key_bundle",
    "phone_primary_hello",
    "seal_key_bundle",
    "unwrap_ephemeral",
    "validate_custom_code",
    "validate_phone_number",
    "wrap_ephemeral",
    "wrap_ephemeral_random",
]

Rng = Callable[[int], bytes]

#: Crockford-like base32 without 0, O, I and U, so no two symbols look alike on a phone keyboard.
PAIRING_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
PAIRING_CODE_LENGTH = 8
#: ``2 << 16`` in Baileys: slow enough to make guessing the 40-bit code offline expensive.
PAIRING_CODE_ITERATIONS = 131072
#: ``salt(32) || iv(16) || AES-CTR(ephemeral public key)(32)``.
WRAPPED_EPHEMERAL_SIZE = 80
#: ``salt(32) || iv(12) || AES-GCM(identity || primary identity || random)(96 + 16 tag)``.
KEY_BUNDLE_SIZE = 156
KEY_BUNDLE_INFO = b"link_code_pairing_key_bundle_encryption_key"
ADV_SECRET_INFO = b"adv_secret"

_KEY_SIZE = 32
_SALT_SIZE = 32
_CTR_IV_SIZE = 16
_GCM_IV_SIZE = 12
_RANDOM_SIZE = 32
_CODE_BYTES = 5  # 40 bits = 8 symbols of 5 bits
_SYMBOL_BITS = 5

# Separators people type between the digits of a phone number; anything else is refused rather
# than silently dropped, so a typo never turns into a different number.
_PHONE_SEPARATORS = re.compile(r"[\s\-.()]")
_PHONE_DIGITS = re.compile(r"[0-9]+", re.ASCII)
# E.164 allows at most 15 digits; whatsmeow refuses 6 digits or fewer.
_PHONE_MIN_DIGITS = 7
_PHONE_MAX_DIGITS = 15


class WrongPairingCodeError(RemoteProtocolError):
    """The key bundle failed AES-GCM authentication: the two sides used different codes.

    AES-CTR cannot tell a wrong code when the ephemeral keys are unwrapped, so this is where a
    mistyped code (or a tampered bundle) first becomes visible, on the phone's side.
    """


class PrimaryHello(NamedTuple):
    """What the phone computes when the user has typed the code
    (docs/protocol/server.md#pairing-code, step 2)."""

    primary_ephemeral: KeyPair
    """The phone's fresh ephemeral key pair; keep it for ``phone_open_key_bundle``."""
    wrapped_primary_ephemeral: bytes
    """80 bytes for ``link_code_pairing_wrapped_primary_ephemeral_pub``."""
    companion_ephemeral_public: bytes
    """The companion's ephemeral key as unwrapped with the typed code (wrong if the code is)."""


class CompanionFinish(NamedTuple):
    """The companion's answer to primary_hello (docs/protocol/pairing.md#companion-finish)."""

    wrapped_key_bundle: bytes
    """156 bytes for ``link_code_pairing_wrapped_key_bundle``."""
    adv_secret: bytes
    """The new 32-byte ADV secret, replacing the one in the credentials."""


class OpenedKeyBundle(NamedTuple):
    """What the phone learns from a key bundle that authenticated."""

    companion_identity_public: bytes
    """The companion's 32-byte identity key, to sign into the pair-success."""
    adv_secret: bytes
    """The 32-byte ADV secret, the HMAC key of the pair-success container."""


def _take(rng: Rng, size: int) -> bytes:
    data = rng(size)
    if not isinstance(data, bytes) or len(data) != size:
        raise LocalProtocolError(f"rng must return exactly {size} bytes")
    return data


def _require_size(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise LocalProtocolError(f"{name} must be {size} bytes, got {len(value)}")


def generate_pairing_code(rng: Rng = os.urandom) -> str:
    """A fresh code: 5 random bytes read MSB-first as 8 symbols of 5 bits (Baileys, whatsmeow)."""
    value = int.from_bytes(_take(rng, _CODE_BYTES), "big")
    return "".join(
        PAIRING_CODE_ALPHABET[(value >> (_SYMBOL_BITS * index)) & 0x1F]
        for index in reversed(range(PAIRING_CODE_LENGTH))
    )


def validate_custom_code(code: str) -> str:
    """The canonical form of a code given by a person or a caller: 8 upper-case alphabet symbols.

    A single dash is accepted anywhere (the ``XXXX-XXXX`` display form) and lower case is folded
    to upper case, because the phone shows and accepts the code in upper case and PBKDF2 would
    otherwise derive a different key from the same code. Anything else raises
    ``LocalProtocolError``.
    """
    if not isinstance(code, str):
        raise LocalProtocolError("a pairing code is a str")
    canonical = code.replace("-", "", 1).upper()
    if len(canonical) != PAIRING_CODE_LENGTH:
        raise LocalProtocolError(
            f"a pairing code has {PAIRING_CODE_LENGTH} characters (a dash allowed), got {code!r}"
        )
    bad = sorted({char for char in canonical if char not in PAIRING_CODE_ALPHABET})
    if bad:
        raise LocalProtocolError(
            f"a pairing code uses only {PAIRING_CODE_ALPHABET}; {''.join(bad)!r} are not allowed"
        )
    return canonical


def format_code_for_display(code: str) -> str:
    """The code as ``XXXX-XXXX``, whatsmeow's display form (Baileys shows the bare 8 symbols)."""
    canonical = validate_custom_code(code)
    return f"{canonical[:4]}-{canonical[4:]}"


def validate_phone_number(phone: str) -> str:
    """The phone number as the bare digits the JID needs (``<digits>@s.whatsapp.net``).

    A leading ``+`` and the separators people type (spaces, dashes, dots, parentheses) are
    removed. What remains must be 7 to 15 ASCII digits (E.164 length; whatsmeow refuses 6 or
    fewer) and must not start with 0, which would be a national trunk prefix rather than a
    country code. Anything else raises ``LocalProtocolError``.
    """
    if not isinstance(phone, str):
        raise LocalProtocolError("a phone number is a str")
    stripped = _PHONE_SEPARATORS.sub("", phone.strip())
    stripped = stripped.removeprefix("+")
    if not _PHONE_DIGITS.fullmatch(stripped):
        raise LocalProtocolError(
            f"a phone number is digits with its country code (like 4915123456789), got {phone!r}"
        )
    if stripped.startswith("0"):
        raise LocalProtocolError(f"a phone number starts with its country code, not 0: {phone!r}")
    if not _PHONE_MIN_DIGITS <= len(stripped) <= _PHONE_MAX_DIGITS:
        raise LocalProtocolError(
            f"a phone number has {_PHONE_MIN_DIGITS} to {_PHONE_MAX_DIGITS} digits, got {phone!r}"
        )
    return stripped


def derive_pairing_code_key(code: str, salt: bytes) -> bytes:
    """PBKDF2-HMAC-SHA256(code as ASCII, salt, 131072 iterations) → 32 bytes."""
    canonical = validate_custom_code(code)
    _require_size("the PBKDF2 salt", salt, _SALT_SIZE)
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=_KEY_SIZE,
        salt=bytes(salt),
        iterations=PAIRING_CODE_ITERATIONS,
    )
    return kdf.derive(canonical.encode("ascii"))


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    # CTR is its own inverse: the same call wraps and unwraps.
    transform = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return transform.update(data) + transform.finalize()


def wrap_ephemeral(code: str, ephemeral_public: bytes, salt: bytes, iv: bytes) -> bytes:
    """``salt || iv || AES-256-CTR(PBKDF2(code, salt), iv, ephemeral_public)``, 80 bytes."""
    _require_size("the ephemeral public key", ephemeral_public, _KEY_SIZE)
    _require_size("the CTR iv", iv, _CTR_IV_SIZE)
    key = derive_pairing_code_key(code, salt)
    return bytes(salt) + bytes(iv) + _aes_ctr(key, bytes(iv), bytes(ephemeral_public))


def wrap_ephemeral_random(code: str, ephemeral_public: bytes, rng: Rng = os.urandom) -> bytes:
    """``wrap_ephemeral`` with a fresh salt then a fresh iv from ``rng`` (Baileys' order)."""
    salt = _take(rng, _SALT_SIZE)
    iv = _take(rng, _CTR_IV_SIZE)
    return wrap_ephemeral(code, ephemeral_public, salt, iv)


def unwrap_ephemeral(code: str, wrapped: bytes) -> bytes:
    """The 32-byte ephemeral public key inside a wrapped one from the peer.

    Like both reference clients, only the first 80 bytes are read (whatsmeow requires at least
    80, Baileys slices); fewer is a ``RemoteProtocolError``. A wrong code is not detected here.
    """
    if len(wrapped) < WRAPPED_EPHEMERAL_SIZE:
        raise RemoteProtocolError(
            f"a wrapped ephemeral key is {WRAPPED_EPHEMERAL_SIZE} bytes, got {len(wrapped)}"
        )
    wrapped = bytes(wrapped)
    salt = wrapped[:_SALT_SIZE]
    iv = wrapped[_SALT_SIZE : _SALT_SIZE + _CTR_IV_SIZE]
    ciphertext = wrapped[_SALT_SIZE + _CTR_IV_SIZE : WRAPPED_EPHEMERAL_SIZE]
    return _aes_ctr(derive_pairing_code_key(code, salt), iv, ciphertext)


def _agree(private: bytes, peer_public: bytes) -> bytes:
    """X25519; a peer key of small order (all-zero secret) is the peer's fault."""
    try:
        return X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(peer_public)
        )
    except ValueError as exc:
        raise RemoteProtocolError(f"unusable X25519 public key from the peer: {exc}") from exc


def _hkdf(ikm: bytes, salt: bytes | None, info: bytes) -> bytes:
    # salt=None is RFC 5869's default of hash-length zeros, which is what Baileys' hkdf uses.
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_SIZE, salt=salt, info=info).derive(ikm)


def _adv_secret(companion_shared: bytes, identity_shared: bytes, random: bytes) -> bytes:
    return _hkdf(companion_shared + identity_shared + random, None, ADV_SECRET_INFO)


def seal_key_bundle(
    *,
    pairing_ephemeral: KeyPair,
    identity: KeyPair,
    primary_identity_public: bytes,
    primary_ephemeral_public: bytes,
    random: bytes,
    salt: bytes,
    iv: bytes,
) -> CompanionFinish:
    """The deterministic core of companion_finish (docs/protocol/pairing.md#companion-finish, steps
    2 to 8)."""
    _require_size("the primary identity key", primary_identity_public, _KEY_SIZE)
    _require_size("the primary ephemeral key", primary_ephemeral_public, _KEY_SIZE)
    _require_size("the bundle random", random, _RANDOM_SIZE)
    _require_size("the bundle salt", salt, _SALT_SIZE)
    _require_size("the GCM iv", iv, _GCM_IV_SIZE)
    companion_shared = _agree(pairing_ephemeral.private, bytes(primary_ephemeral_public))
    bundle_key = _hkdf(companion_shared, bytes(salt), KEY_BUNDLE_INFO)
    plaintext = identity.public + bytes(primary_identity_public) + bytes(random)
    sealed = AESGCM(bundle_key).encrypt(bytes(iv), plaintext, None)
    identity_shared = _agree(identity.private, bytes(primary_identity_public))
    return CompanionFinish(
        wrapped_key_bundle=bytes(salt) + bytes(iv) + sealed,
        adv_secret=_adv_secret(companion_shared, identity_shared, bytes(random)),
    )


def companion_finish(
    code: str,
    *,
    pairing_ephemeral: KeyPair,
    identity: KeyPair,
    primary_identity_public: bytes,
    wrapped_primary_ephemeral: bytes,
    rng: Rng = os.urandom,
) -> CompanionFinish:
    """The companion's whole reaction to primary_hello, drawing random, salt, iv in Baileys' order.

    ``primary_identity_public`` and ``wrapped_primary_ephemeral`` come from the server's
    notification; a short key is a ``RemoteProtocolError``.
    """
    if len(primary_identity_public) != _KEY_SIZE:
        raise RemoteProtocolError(
            f"primary_identity_pub must be {_KEY_SIZE} bytes, got {len(primary_identity_public)}"
        )
    primary_ephemeral_public = unwrap_ephemeral(code, wrapped_primary_ephemeral)
    random = _take(rng, _RANDOM_SIZE)
    salt = _take(rng, _SALT_SIZE)
    iv = _take(rng, _GCM_IV_SIZE)
    return seal_key_bundle(
        pairing_ephemeral=pairing_ephemeral,
        identity=identity,
        primary_identity_public=primary_identity_public,
        primary_ephemeral_public=primary_ephemeral_public,
        random=random,
        salt=salt,
        iv=iv,
    )


def phone_primary_hello(
    code: str, wrapped_companion_ephemeral: bytes, rng: Rng = os.urandom
) -> PrimaryHello:
    """The phone's side once the code is typed: unwrap, make an ephemeral pair, wrap it.

    ``rng`` is drawn for the key pair (32), then the salt (32), then the iv (16).
    """
    companion_ephemeral_public = unwrap_ephemeral(code, wrapped_companion_ephemeral)
    primary_ephemeral = KeyPair.generate(rng)
    wrapped = wrap_ephemeral_random(code, primary_ephemeral.public, rng)
    return PrimaryHello(
        primary_ephemeral=primary_ephemeral,
        wrapped_primary_ephemeral=wrapped,
        companion_ephemeral_public=companion_ephemeral_public,
    )


def phone_open_key_bundle(
    *,
    primary_ephemeral: KeyPair,
    phone_identity: KeyPair,
    companion_ephemeral_public: bytes,
    wrapped_key_bundle: bytes,
) -> OpenedKeyBundle:
    """The phone's side of companion_finish: authenticate the bundle, derive the ADV secret.

    Raises ``WrongPairingCodeError`` when the bundle does not authenticate (the codes differed)
    and ``RemoteProtocolError`` when it is malformed or names another phone's identity key.
    """
    if len(wrapped_key_bundle) != KEY_BUNDLE_SIZE:
        raise RemoteProtocolError(
            f"a wrapped key bundle is {KEY_BUNDLE_SIZE} bytes, got {len(wrapped_key_bundle)}"
        )
    bundle = bytes(wrapped_key_bundle)
    salt = bundle[:_SALT_SIZE]
    iv = bundle[_SALT_SIZE : _SALT_SIZE + _GCM_IV_SIZE]
    sealed = bundle[_SALT_SIZE + _GCM_IV_SIZE :]
    # A wrong code gives the phone a wrong companion ephemeral key, hence a wrong bundle key.
    companion_shared = _agree(primary_ephemeral.private, bytes(companion_ephemeral_public))
    bundle_key = _hkdf(companion_shared, salt, KEY_BUNDLE_INFO)
    try:
        plaintext = AESGCM(bundle_key).decrypt(iv, sealed, None)
    except InvalidTag as exc:
        raise WrongPairingCodeError(
            "the key bundle did not authenticate: the pairing code typed on the phone is wrong"
        ) from exc
    companion_identity_public = plaintext[:_KEY_SIZE]
    named_primary_identity = plaintext[_KEY_SIZE : 2 * _KEY_SIZE]
    random = plaintext[2 * _KEY_SIZE :]
    if named_primary_identity != phone_identity.public:
        raise RemoteProtocolError("the key bundle names another phone's identity key")
    identity_shared = _agree(phone_identity.private, companion_identity_public)
    return OpenedKeyBundle(
        companion_identity_public=companion_identity_public,
        adv_secret=_adv_secret(companion_shared, identity_shared, random),
    )
