"""The Noise handshake's symmetric primitives: HKDF, AES-GCM with MixHash, MixHash.

Theory of operation. ``noise.py``'s symmetric state does everything through four functions::

    hkdf(salt, ikm) -> (first, second)                 MixKey and Split
    seal(key, counter, plaintext, h) -> (ciphertext, sha256(h + ciphertext))    EncryptAndHash
    unseal(key, counter, ciphertext, h) -> (plaintext, sha256(h + ciphertext)) | None
    mix(h, data) -> sha256(h + data)                   MixHash

``hkdf`` is RFC 5869 HKDF-SHA256 with empty info and 64 bytes of output, returned as its two
halves. ``seal`` and ``unseal`` are AES-256-GCM with ``h`` as the associated data and the Noise
nonce (8 zero bytes, then the counter as a big-endian 32-bit number); ``unseal`` returns None when
the tag does not verify, and the caller raises its own typed error. A key is 32 bytes and a
counter is in 0..2^32-1, else ``ValueError``. Arguments are ``bytes``.

There are two implementations with the same results. The pure-Python one below, on hashlib and
cryptography's ``AESGCM``, is the reference. Its twin in C (``_noise_crypto.c``, built by setup.py
where a C compiler and the OpenSSL 3 headers exist) makes each primitive one call instead of the
dozen-odd Python-level calls each costs here: a handshake pair runs eight HKDFs and eight AEAD
operations, and those calls were a third of a pair's time beyond its X25519 operations.

The twin is used when it is built, when it was built from the ``_noise_crypto.c`` next to it
(setup.py records the source's SHA-256 in it; an editable install keeps a stale build after an
edit), and when ``WALINK_PURE_PYTHON`` is not set. A built twin that is refused or fails to load
gives a ``RuntimeWarning``, then the pure functions.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from walink.protocol._builds import file_sha256, pure_python_forced

__all__ = [
    "ACCELERATED",
    "LOADED",
    "PURE",
    "Primitives",
    "hkdf",
    "load_accelerated",
    "mix",
    "seal",
    "source_sha256",
    "unseal",
]

C_MODULE = "walink.protocol._noise_crypto_c"
C_SOURCE = Path(__file__).with_name("_noise_crypto.c")

_KEY_SIZE = 32
_MAX_COUNTER = 2**32 - 1
_IV_PREFIX = bytes(8)
_SHA256_BLOCK = 64
_HMAC_INNER = bytes(byte ^ 0x36 for byte in range(256))
_HMAC_OUTER = bytes(byte ^ 0x5C for byte in range(256))

_sha256 = hashlib.sha256


class Primitives(NamedTuple):
    """One implementation's four functions."""

    hkdf: Callable[[bytes, bytes], tuple[bytes, bytes]]
    seal: Callable[[bytes, int, bytes, bytes], tuple[bytes, bytes]]
    unseal: Callable[[bytes, int, bytes, bytes], tuple[bytes, bytes] | None]
    mix: Callable[[bytes, bytes], bytes]


# --- the pure-Python reference --------------------------------------------------------------------


def _hmac_key_block(key: bytes) -> bytes:
    if len(key) > _SHA256_BLOCK:  # RFC 2104: a key longer than a block is hashed first
        key = _sha256(key).digest()
    return key.ljust(_SHA256_BLOCK, b"\x00")


def _pure_hkdf(salt: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    # HMAC spelled out on hashlib (the construction of hmac.py): the padded PRK's hash states
    # are made once and copied for both expand blocks.
    salt_block = _hmac_key_block(salt)
    inner = _sha256(salt_block.translate(_HMAC_INNER) + ikm).digest()
    prk = _sha256(salt_block.translate(_HMAC_OUTER) + inner).digest()
    padded_prk = prk.ljust(_SHA256_BLOCK, b"\x00")
    expand_inner = _sha256(padded_prk.translate(_HMAC_INNER))
    expand_outer = _sha256(padded_prk.translate(_HMAC_OUTER))
    first_inner = expand_inner.copy()
    first_inner.update(b"\x01")
    first_outer = expand_outer.copy()
    first_outer.update(first_inner.digest())
    first = first_outer.digest()
    expand_inner.update(first + b"\x02")
    expand_outer.update(expand_inner.digest())
    return first, expand_outer.digest()


def _aead(key: bytes, counter: int, what: str) -> tuple[AESGCM, bytes]:
    if len(key) != _KEY_SIZE:
        raise ValueError(f"{what}(): the key is {_KEY_SIZE} bytes, not {len(key)}")
    if not 0 <= counter <= _MAX_COUNTER:
        raise ValueError(f"{what}(): the counter is in 0..2^32-1")
    return AESGCM(key), _IV_PREFIX + counter.to_bytes(4, "big")


def _pure_seal(key: bytes, counter: int, plaintext: bytes, h: bytes) -> tuple[bytes, bytes]:
    aead, iv = _aead(key, counter, "seal")
    ciphertext = aead.encrypt(iv, plaintext, h)
    return ciphertext, _sha256(h + ciphertext).digest()


def _pure_unseal(
    key: bytes, counter: int, ciphertext: bytes, h: bytes
) -> tuple[bytes, bytes] | None:
    aead, iv = _aead(key, counter, "unseal")
    try:
        plaintext = aead.decrypt(iv, ciphertext, h)
    except InvalidTag:
        return None
    return plaintext, _sha256(h + ciphertext).digest()


def _pure_mix(h: bytes, data: bytes) -> bytes:
    return _sha256(h + data).digest()


PURE = Primitives(hkdf=_pure_hkdf, seal=_pure_seal, unseal=_pure_unseal, mix=_pure_mix)
"""The reference implementation, always available."""


# --- choosing the implementation ----------------------------------------------------------------


def source_sha256() -> str | None:
    """The hash setup.py records in the C twin, of the source next to this file (None: absent)."""
    return file_sha256(C_SOURCE)


def load_accelerated() -> ModuleType | None:
    """The C twin when it is built and current, else None (with a warning if it was refused).

    ``WALINK_PURE_PYTHON`` is not consulted here: see ``_choose``.
    """
    if importlib.util.find_spec(C_MODULE) is None:
        return None  # not built: no compiler or no OpenSSL headers where it was installed
    try:
        module = importlib.import_module(C_MODULE)
    except ImportError as exc:  # built for another interpreter or libcrypto
        warnings.warn(
            f"walink: the Noise accelerator does not load ({exc}); using pure Python",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    current = source_sha256()
    if current is not None and current != getattr(module, "SOURCE_SHA256", None):
        warnings.warn(
            "walink: the Noise accelerator is stale: _noise_crypto.c changed since it was built"
            " (reinstall); using pure Python",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return module


def _choose() -> tuple[Primitives, bool]:
    if pure_python_forced():
        return PURE, False
    module = load_accelerated()
    if module is None:
        return PURE, False
    return Primitives(module.hkdf, module.seal, module.unseal, module.mix), True


LOADED, ACCELERATED = _choose()
"""The primitives in use, and whether they are the C twin's."""

hkdf = LOADED.hkdf
seal = LOADED.seal
unseal = LOADED.unseal
mix = LOADED.mix
