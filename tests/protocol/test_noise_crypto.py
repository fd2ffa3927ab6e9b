"""The handshake's symmetric primitives: the reference against RFC 5869 and cryptography, the C
twin byte for byte against the reference, and the choice between them."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import os
import shutil
import subprocess
import sys
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol import _builds, _noise_crypto
from walink.protocol._noise_crypto import PURE, Primitives
from walink.protocol.noise import NOISE_MODE

_TWIN = importlib.import_module(_noise_crypto.C_MODULE) if _noise_crypto.ACCELERATED else None
C = _noise_crypto.LOADED if _noise_crypto.ACCELERATED else None

# Every behaviour test runs on the reference and, where it is built, on the C twin.
IMPLEMENTATIONS = [pytest.param(PURE, id="pure")]
if C is not None:
    IMPLEMENTATIONS.append(pytest.param(C, id="c"))
needs_twin = pytest.mark.skipif(C is None, reason="the C twin is not built here")

keys = st.binary(min_size=32, max_size=32)
counters = st.integers(min_value=0, max_value=2**32 - 1)


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _rfc5869(salt: bytes, ikm: bytes, length: int) -> bytes:
    """RFC 5869's construction, empty info, on the standard library's HMAC."""
    prk = _hmac_sha256(salt, ikm)
    output, block = b"", b""
    for index in range(1, -(-length // 32) + 1):
        block = _hmac_sha256(prk, block + bytes([index]))
        output += block
    return output[:length]


def _iv(counter: int) -> bytes:
    return bytes(8) + counter.to_bytes(4, "big")


# --- each implementation against the standards --------------------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_hkdf_matches_the_rfc5869_sha256_vector_without_salt_and_info(impl: Primitives) -> None:
    # RFC 5869, appendix A.3 (test case 3): the one SHA-256 case with empty info. The first 42
    # bytes of a longer output are the same, as each block only depends on the ones before it.
    ikm = bytes([0x0B]) * 22
    okm = bytes.fromhex(
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )
    first, second = impl.hkdf(b"", ikm)
    assert (first + second)[:42] == okm
    assert _rfc5869(b"", ikm, 42) == okm


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(salt=st.binary(max_size=160), ikm=st.binary(max_size=200))
def test_hkdf_is_byte_exact_with_rfc5869(impl: Primitives, salt: bytes, ikm: bytes) -> None:
    # Salts longer than a SHA-256 block (64) are hashed first, as HMAC keys are.
    expected = _rfc5869(salt, ikm, 64)
    assert impl.hkdf(salt, ikm) == (expected[:32], expected[32:])
    reference = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=b"").derive(ikm)
    assert reference == expected


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(ikm=st.binary(max_size=64))
def test_hkdf_with_the_protocol_name_as_salt(impl: Primitives, ikm: bytes) -> None:
    # The first MixKey of every handshake: the protocol name is the chaining key.
    expected = _rfc5869(NOISE_MODE, ikm, 64)
    assert impl.hkdf(NOISE_MODE, ikm) == (expected[:32], expected[32:])


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(
    key=keys,
    counter=counters,
    plaintext=st.binary(max_size=300),
    h=st.binary(max_size=64),
)
def test_seal_is_aes_gcm_under_the_noise_nonce_then_mix_hash(
    impl: Primitives, key: bytes, counter: int, plaintext: bytes, h: bytes
) -> None:
    ciphertext, next_h = impl.seal(key, counter, plaintext, h)
    assert ciphertext == AESGCM(key).encrypt(_iv(counter), plaintext, h)
    assert next_h == hashlib.sha256(h + ciphertext).digest()
    assert impl.unseal(key, counter, ciphertext, h) == (plaintext, next_h)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(
    key=keys,
    counter=counters,
    plaintext=st.binary(max_size=100),
    h=st.binary(max_size=40),
    data=st.data(),
)
def test_unseal_returns_none_for_any_single_change(
    impl: Primitives, key: bytes, counter: int, plaintext: bytes, h: bytes, data: st.DataObject
) -> None:
    ciphertext, _ = impl.seal(key, counter, plaintext, h)
    position = data.draw(st.integers(0, len(ciphertext) - 1), label="position")
    flipped = bytearray(ciphertext)
    flipped[position] ^= data.draw(st.integers(1, 255), label="xor")
    assert impl.unseal(key, counter, bytes(flipped), h) is None
    assert impl.unseal(key, (counter + 1) % 2**32, ciphertext, h) is None  # another nonce
    assert impl.unseal(key, counter, ciphertext, h + b"x") is None  # other associated data
    other_key = bytes([key[0] ^ 1]) + key[1:]
    assert impl.unseal(other_key, counter, ciphertext, h) is None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("size", [0, 1, 15])
def test_unseal_of_less_than_a_tag_returns_none(impl: Primitives, size: int) -> None:
    assert impl.unseal(bytes(32), 0, b"\x00" * size, b"h") is None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(h=st.binary(max_size=64), data=st.binary(max_size=300))
def test_mix_is_sha256_of_the_concatenation(impl: Primitives, h: bytes, data: bytes) -> None:
    assert impl.mix(h, data) == hashlib.sha256(h + data).digest()


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("key_size", [0, 16, 24, 31, 33])
def test_a_key_of_other_than_32_bytes_is_refused(impl: Primitives, key_size: int) -> None:
    # AES-GCM also takes 16- and 24-byte keys: the handshake's are AES-256 and only that.
    with pytest.raises(ValueError, match="key is 32 bytes"):
        impl.seal(bytes(key_size), 0, b"", b"")
    with pytest.raises(ValueError, match="key is 32 bytes"):
        impl.unseal(bytes(key_size), 0, bytes(16), b"")


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("counter", [-1, 2**32, 2**64, 2**80])
def test_a_counter_outside_32_bits_is_refused(impl: Primitives, counter: int) -> None:
    with pytest.raises(ValueError, match=r"counter is in 0\.\.2\^32-1"):
        impl.seal(bytes(32), counter, b"", b"")
    with pytest.raises(ValueError, match=r"counter is in 0\.\.2\^32-1"):
        impl.unseal(bytes(32), counter, bytes(16), b"")


# --- the C twin against the reference -----------------------------------------------------------


@needs_twin
@given(salt=st.binary(max_size=160), ikm=st.binary(max_size=200))
def test_the_twin_hkdf_is_the_references(salt: bytes, ikm: bytes) -> None:
    assert C is not None
    assert C.hkdf(salt, ikm) == PURE.hkdf(salt, ikm)


@needs_twin
@given(key=keys, counter=counters, plaintext=st.binary(max_size=2000), h=st.binary(max_size=64))
def test_the_twin_seals_and_unseals_as_the_reference(
    key: bytes, counter: int, plaintext: bytes, h: bytes
) -> None:
    assert C is not None
    sealed = C.seal(key, counter, plaintext, h)
    assert sealed == PURE.seal(key, counter, plaintext, h)
    assert C.unseal(key, counter, sealed[0], h) == PURE.unseal(key, counter, sealed[0], h)


@needs_twin
@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("hkdf", (b"salt",), "takes 2 arguments"),
        ("hkdf", (bytearray(b"salt"), b""), "argument 1 must be bytes, not bytearray"),
        ("seal", (bytes(32), 0, b""), "takes 4 arguments"),
        ("seal", (bytes(32), b"0", b"", b""), "argument 2 must be int, not bytes"),
        ("seal", (bytes(32), 0, memoryview(b"x"), b""), "argument 3 must be bytes"),
        ("unseal", (bytes(32), 0, bytes(16), None), "argument 4 must be bytes, not NoneType"),
        ("mix", (b"h", "text"), "argument 2 must be bytes, not str"),
    ],
)
def test_the_twin_refuses_what_is_not_bytes(
    name: str, args: tuple[object, ...], message: str
) -> None:
    assert _TWIN is not None
    with pytest.raises(TypeError, match=message):
        getattr(_TWIN, name)(*args)


# --- choosing the implementation ----------------------------------------------------------------


def _chosen_in_a_fresh_interpreter(**env: str) -> str:
    code = "from walink.protocol import _noise_crypto as n; print(n.ACCELERATED, n.hkdf.__module__)"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_walink_pure_python_forces_the_reference() -> None:
    assert _chosen_in_a_fresh_interpreter(WALINK_PURE_PYTHON="1") == (
        "False walink.protocol._noise_crypto"
    )


def test_without_a_built_twin_the_reference_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert _noise_crypto.load_accelerated() is None


@needs_twin
def test_a_twin_built_from_another_source_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_noise_crypto, "source_sha256", lambda: "0" * 64)
    with pytest.warns(RuntimeWarning, match="stale: _noise_crypto.c changed"):
        assert _noise_crypto.load_accelerated() is None


def test_a_twin_that_does_not_load_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> ModuleType:
        raise ImportError("undefined symbol: EVP_MD_fetch")

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.warns(RuntimeWarning, match="does not load .*EVP_MD_fetch"):
        assert _noise_crypto.load_accelerated() is None


@needs_twin
def test_the_loaded_twin_was_built_from_this_source() -> None:
    assert _TWIN is not None
    assert _noise_crypto.source_sha256() == _TWIN.SOURCE_SHA256


def test_ci_runs_the_twin() -> None:
    """In CI (an editable install with a C compiler and the OpenSSL headers) the twin loads."""
    if os.environ.get("CI") != "true" or os.environ.get(_builds.PURE_ENV_VAR):
        pytest.skip("only checked under CI=true")
    if os.environ.get("WALINK_NO_C_EXTENSION") or shutil.which("cc") is None:
        pytest.skip("the C extension is disabled or there is no C compiler")
    assert _noise_crypto.ACCELERATED
    assert _chosen_in_a_fresh_interpreter() == "True walink.protocol._noise_crypto_c"
