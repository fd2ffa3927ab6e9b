"""The primitives of libsignal v3: HKDF, HMAC chain steps, AES-256-CBC, X25519 agreement.

HKDF is written out over ``hmac.digest`` (one C call per block) rather than through
``cryptography``'s HKDF object, whose set-up costs more than the derivation for 80 bytes.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from walink.protocol.signal.errors import InvalidKeyError, InvalidMessageError

ZERO_SALT = bytes(32)
_KEY_SIZE = 32
_BLOCK = 16
_DJB_TYPE = 0x05


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA256 (libsignal's salt is always 32 bytes)."""
    prk = hmac.digest(salt, ikm, "sha256")
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), "sha256")
        output += block
        counter += 1
    return output[:length]


def raw_public(key: bytes) -> bytes:
    """The 32-byte Montgomery key of a Signal public key: ``05 || key`` or (leniently) bare."""
    if len(key) == _KEY_SIZE + 1 and key[0] == _DJB_TYPE:
        return key[1:]
    if len(key) == _KEY_SIZE:
        return key
    raise InvalidKeyError(f"a public key is 33 bytes with a 05 prefix, got {len(key)} bytes")


def check_public(key: bytes) -> bytes:
    """``key`` itself after checking that it is a Signal public key."""
    raw_public(key)
    return key


def agree(private: bytes, public: bytes) -> bytes:
    """X25519(private, public); a low-order public key (all-zero result) is refused."""
    if len(private) != _KEY_SIZE:
        raise InvalidKeyError("an X25519 private key is 32 bytes")
    try:
        return X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(raw_public(public))
        )
    except ValueError as error:
        raise InvalidKeyError(f"key agreement failed: {error}") from None


def public_of(private: bytes) -> bytes:
    """The 32-byte public key of an X25519 private key."""
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    pad = _BLOCK - len(plaintext) % _BLOCK
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(plaintext + bytes((pad,)) * pad) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """AES-256-CBC with a strict PKCS#7 check (as Node's decipher does)."""
    if not ciphertext or len(ciphertext) % _BLOCK:
        raise InvalidMessageError("the ciphertext is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes((pad,)) * pad:
        raise InvalidMessageError("bad PKCS#7 padding")
    return padded[:-pad]
