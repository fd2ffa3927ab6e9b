"""X25519 key pairs and XEdDSA signatures in WhatsApp's (libsignal's) flavour.

WhatsApp signs with Curve25519 keys, never with Ed25519 keys: the certificate chain, the signed
pre-key, the pair-success account and device signatures are all "XEdDSA" as libsignal makes them
(``curve25519-js``). libsignal does not follow the XEdDSA spec to the letter:

- it signs with the *unnegated* Edwards key and stores that key's sign bit in bit 7 of ``sig[63]``
  (free, because ``s < 2^253``);
- its verifier reads the sign bit back from ``sig[63]``, clears it, converts the Montgomery key to
  the Edwards point with that sign, then runs a plain Ed25519 verification.

A spec-strict verifier (sign bit always 0) rejects about half of libsignal's signatures, so
``xeddsa_verify`` honours ``sig[63]``. ``xeddsa_sign`` forces the Edwards sign bit of our key to 0
(negating the scalar when needed), so ``sig[63]`` bit 7 is 0 and both kinds of verifier accept it.

Randomness is injectable everywhere (``rng`` takes a byte count, like ``os.urandom``) so the
emulator and the tests can be deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import xeddsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

__all__ = [
    "KEY_BUNDLE_TYPE",
    "KeyPair",
    "SignedKeyPair",
    "generate_adv_secret",
    "generate_registration_id",
    "generate_signed_pre_key",
    "signal_public_key",
    "xeddsa_sign",
    "xeddsa_verify",
]

Rng = Callable[[int], bytes]

#: The one-byte key type Signal prefixes to a Curve25519 public key ("DJB" type).
KEY_BUNDLE_TYPE = b"\x05"

_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_NONCE_SIZE = 64
_SIGN_BIT = 0x80
_REGISTRATION_ID_MAX = 16380


def _take(rng: Rng, size: int) -> bytes:
    """Draw exactly ``size`` bytes, refusing an rng that returns something else."""
    data = rng(size)
    if not isinstance(data, bytes) or len(data) != size:
        raise ValueError(f"rng must return exactly {size} bytes")
    return data


@dataclass(frozen=True, slots=True, repr=False)
class KeyPair:
    """An X25519 key pair as raw 32-byte strings (the form Baileys' creds store)."""

    private: bytes
    """The 32-byte X25519 private scalar, unclamped as generated (X25519 clamps when used)."""
    public: bytes
    """The 32-byte Montgomery-u public key (no ``05`` prefix)."""

    def __post_init__(self) -> None:
        if len(self.private) != _KEY_SIZE or len(self.public) != _KEY_SIZE:
            raise ValueError("X25519 keys are 32 bytes")

    @classmethod
    def generate(cls, rng: Rng = os.urandom) -> KeyPair:
        """A fresh key pair whose private key is ``rng(32)``."""
        return cls.from_private(_take(rng, _KEY_SIZE))

    @classmethod
    def from_private(cls, private: bytes) -> KeyPair:
        """The key pair of a known private key (used when loading stored credentials)."""
        if len(private) != _KEY_SIZE:
            raise ValueError("X25519 private keys are 32 bytes")
        public = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
        return cls(private=private, public=public)

    def __repr__(self) -> str:
        # The private key must never reach a log line or a traceback.
        return f"KeyPair(public={self.public.hex()}, private=<redacted>)"


@dataclass(frozen=True, slots=True)
class SignedKeyPair:
    """A Signal signed pre-key: a key pair, the identity key's signature over it, and its id."""

    key_pair: KeyPair
    """The pre-key pair (its repr hides the private key)."""
    signature: bytes
    """64-byte XEdDSA signature by the identity key over ``05 || key_pair.public``."""
    key_id: int
    """The pre-key id (Baileys' fresh credentials use 1); sent as 3 bytes big-endian."""


def signal_public_key(public_key: bytes) -> bytes:
    """The 33-byte Signal form ``05 || key`` of a 32-byte public key (33-byte input passes)."""
    if len(public_key) == _KEY_SIZE + 1 and public_key[:1] == KEY_BUNDLE_TYPE:
        return public_key
    if len(public_key) != _KEY_SIZE:
        raise ValueError("a public key is 32 bytes, or 33 with a 05 prefix")
    return KEY_BUNDLE_TYPE + public_key


def generate_signed_pre_key(identity: KeyPair, key_id: int, rng: Rng = os.urandom) -> SignedKeyPair:
    """A new pre-key signed by ``identity`` over its Signal form (Baileys' ``signedKeyPair``)."""
    key_pair = KeyPair.generate(rng)
    signature = xeddsa_sign(
        identity.private, signal_public_key(key_pair.public), random=_take(rng, _NONCE_SIZE)
    )
    return SignedKeyPair(key_pair=key_pair, signature=signature, key_id=key_id)


def generate_registration_id(rng: Rng = os.urandom) -> int:
    """A Signal registration id, uniform in 1..16380.

    Baileys masks a 16-bit value with 16383 (and, through a typed-array quirk, really draws one
    byte); we sample the whole documented range without bias by rejection.
    """
    while True:
        candidate = int.from_bytes(_take(rng, 2), "big") & 0x3FFF
        if 1 <= candidate <= _REGISTRATION_ID_MAX:
            return candidate


def generate_adv_secret(rng: Rng = os.urandom) -> bytes:
    """The 32-byte ADV secret: the HMAC key the server uses for the pair-success identity."""
    return _take(rng, _KEY_SIZE)


def xeddsa_sign(private_key: bytes, message: bytes, *, random: bytes | None = None) -> bytes:
    """Sign ``message`` with an X25519 private key; libsignal's ``verifySignature`` accepts it.

    ``random`` is the 64-byte XEdDSA nonce input (hashed with the key and the message); pass it
    for reproducible signatures, leave it out to draw it from ``os.urandom``.
    """
    if len(private_key) != _KEY_SIZE:
        raise ValueError("an X25519 private key is 32 bytes")
    if random is None:
        random = os.urandom(_NONCE_SIZE)
    elif len(random) != _NONCE_SIZE:
        raise ValueError("the XEdDSA nonce input is 64 bytes")
    # Sign bit 0 leaves sig[63] bit 7 clear: right for libsignal's convention and the spec's.
    scalar = xeddsa.priv_force_sign(private_key, False)
    return bytes(xeddsa.ed25519_priv_sign(scalar, bytes(message), random))


def xeddsa_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid libsignal-style XEdDSA signature of ``message``.

    ``public_key`` is the 32-byte Montgomery key or its 33-byte ``05``-prefixed Signal form.
    Malformed input (wrong sizes, a wrong prefix) is simply "not valid": this never raises for
    ``bytes`` arguments.
    """
    if len(public_key) == _KEY_SIZE + 1:
        if public_key[:1] != KEY_BUNDLE_TYPE:
            return False
        public_key = public_key[1:]
    if len(public_key) != _KEY_SIZE or len(signature) != _SIGNATURE_SIZE:
        return False
    sign_bit = bool(signature[63] & _SIGN_BIT)
    ed25519_signature = signature[:63] + bytes([signature[63] & ~_SIGN_BIT & 0xFF])
    try:
        edwards_key = xeddsa.curve25519_pub_to_ed25519_pub(bytes(public_key), sign_bit)
        return bool(xeddsa.ed25519_verify(ed25519_signature, edwards_key, bytes(message)))
    except (ValueError, xeddsa.XEdDSAException):
        return False
