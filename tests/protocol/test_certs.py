"""Certificate chain checks: a good chain passes, every defect fails with its own error."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.peer_bridge import PeerBridge, PeerError
from walink.protocol import certs
from walink.protocol.certs import (
    WHATSAPP_ROOT,
    BadIntermediateSignatureError,
    BadLeafSignatureError,
    CertificateDefect,
    CertificateError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    LeafKeyMismatchError,
    MalformedCertificateError,
    TestRoot,
    TrustRoot,
    VerifiedCertChain,
    WrongIssuerSerialError,
    WrongRootError,
    make_cert_chain,
    make_test_root,
    sign_certificate,
    verify_cert_chain,
)
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.keys import KeyPair, xeddsa_verify
from walink.protocol.proto import wa_pb2

NOT_BEFORE = 1_700_000_000
NOT_AFTER = 1_800_000_000
NOW = 1_750_000_000
Details = wa_pb2.CertChain.NoiseCertificate.Details


class DeterministicRng:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def __call__(self, size: int) -> bytes:
        return self._random.randbytes(size)


ROOT = make_test_root(DeterministicRng(1))
SERVER_STATIC = KeyPair.generate(DeterministicRng(2)).public
GOOD_CHAIN = make_cert_chain(
    ROOT, SERVER_STATIC, not_before=NOT_BEFORE, not_after=NOT_AFTER, rng=DeterministicRng(3)
)


def verify(
    chain: bytes, *, root: TestRoot = ROOT, static: bytes = SERVER_STATIC, now: float = NOW
) -> VerifiedCertChain:
    return verify_cert_chain(chain, server_static=static, now=now, trust_root=root.trust_root)


def hand_made_chain(
    *,
    root: TestRoot = ROOT,
    intermediate_fields: dict[str, object] | None = None,
    leaf_fields: dict[str, object] | None = None,
    leaf_signer: bytes | None = None,
) -> bytes:
    """A chain whose details fields can be overridden one by one (to plant a single defect)."""
    intermediate_key = KeyPair.generate(DeterministicRng(10))
    intermediate = {
        "serial": 1,
        "issuer_serial": root.serial,
        "key": intermediate_key.public,
        "not_before": NOT_BEFORE,
        "not_after": NOT_AFTER,
    } | (intermediate_fields or {})
    leaf = {
        "serial": 2,
        "issuer_serial": 1,
        "key": SERVER_STATIC,
        "not_before": NOT_BEFORE,
        "not_after": NOT_AFTER,
    } | (leaf_fields or {})
    return wa_pb2.CertChain(
        intermediate=sign_certificate(
            root.key_pair.private,
            Details(**intermediate).SerializeToString(),  # type: ignore[arg-type]
        ),
        leaf=sign_certificate(
            leaf_signer or intermediate_key.private,
            Details(**leaf).SerializeToString(),  # type: ignore[arg-type]
        ),
    ).SerializeToString()


def with_certificate(chain: bytes, which: str, **changes: bytes) -> bytes:
    parsed = wa_pb2.CertChain.FromString(chain)
    certificate = getattr(parsed, which)
    for name, value in changes.items():
        setattr(certificate, name, value)
    return parsed.SerializeToString()


def flipped(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# --- the good chain ---------------------------------------------------------------------------


def test_good_chain_passes() -> None:
    verified = verify(GOOD_CHAIN)
    assert verified.leaf.key == SERVER_STATIC
    assert verified.leaf.issuer_serial == verified.intermediate.serial == 1
    assert verified.intermediate.issuer_serial == 0
    assert (verified.leaf.not_before, verified.leaf.not_after) == (NOT_BEFORE, NOT_AFTER)
    assert verify(hand_made_chain()).leaf.serial == 2


def test_validity_bounds_are_inclusive() -> None:
    verify(GOOD_CHAIN, now=NOT_BEFORE)
    verify(GOOD_CHAIN, now=NOT_AFTER)


def test_default_trust_root_is_whatsapp() -> None:
    assert WHATSAPP_ROOT.public_key.hex() == (
        "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
    )
    assert WHATSAPP_ROOT.serial == 0
    with pytest.raises(BadIntermediateSignatureError):
        verify_cert_chain(GOOD_CHAIN, server_static=SERVER_STATIC, now=NOW)


def test_chain_making_is_reproducible() -> None:
    again = make_cert_chain(
        make_test_root(DeterministicRng(1)),
        SERVER_STATIC,
        not_before=NOT_BEFORE,
        not_after=NOT_AFTER,
        rng=DeterministicRng(3),
    )
    assert again == GOOD_CHAIN


def test_zero_serial_is_written_explicitly() -> None:
    intermediate = wa_pb2.CertChain.FromString(GOOD_CHAIN).intermediate
    assert b"\x10\x00" in intermediate.details


# --- one test per defect --------------------------------------------------------------------


def test_wrong_root_key() -> None:
    """Signed by another root with the same serial: only the root signature can tell."""
    other = make_test_root(DeterministicRng(99))
    with pytest.raises(BadIntermediateSignatureError) as caught:
        verify(GOOD_CHAIN, root=other)
    assert caught.value.defect is CertificateDefect.BAD_INTERMEDIATE_SIGNATURE
    assert caught.value.certificate == "intermediate"


def test_wrong_root_serial() -> None:
    other_serial = TestRoot(key_pair=ROOT.key_pair, serial=7)
    with pytest.raises(WrongRootError) as caught:
        verify(GOOD_CHAIN, root=other_serial)
    assert caught.value.defect is CertificateDefect.WRONG_ROOT


def test_bad_intermediate_signature() -> None:
    signature = wa_pb2.CertChain.FromString(GOOD_CHAIN).intermediate.signature
    chain = with_certificate(GOOD_CHAIN, "intermediate", signature=flipped(signature, 5))
    with pytest.raises(BadIntermediateSignatureError):
        verify(chain)


def test_tampered_intermediate_details() -> None:
    details = Details.FromString(wa_pb2.CertChain.FromString(GOOD_CHAIN).intermediate.details)
    details.not_after += 1
    chain = with_certificate(GOOD_CHAIN, "intermediate", details=details.SerializeToString())
    with pytest.raises(BadIntermediateSignatureError):
        verify(chain)


def test_bad_leaf_signature() -> None:
    signature = wa_pb2.CertChain.FromString(GOOD_CHAIN).leaf.signature
    chain = with_certificate(GOOD_CHAIN, "leaf", signature=flipped(signature, 40))
    with pytest.raises(BadLeafSignatureError) as caught:
        verify(chain)
    assert caught.value.defect is CertificateDefect.BAD_LEAF_SIGNATURE
    assert caught.value.certificate == "leaf"


def test_leaf_signed_by_someone_else() -> None:
    chain = hand_made_chain(leaf_signer=KeyPair.generate(DeterministicRng(5)).private)
    with pytest.raises(BadLeafSignatureError):
        verify(chain)


def test_wrong_issuer_serial() -> None:
    chain = hand_made_chain(leaf_fields={"issuer_serial": 9})
    with pytest.raises(WrongIssuerSerialError) as caught:
        verify(chain)
    assert caught.value.defect is CertificateDefect.WRONG_ISSUER_SERIAL


def test_leaf_key_is_not_the_server_static() -> None:
    with pytest.raises(LeafKeyMismatchError) as caught:
        verify(GOOD_CHAIN, static=KeyPair.generate(DeterministicRng(6)).public)
    assert caught.value.defect is CertificateDefect.LEAF_KEY_MISMATCH


def test_expired() -> None:
    with pytest.raises(CertificateExpiredError) as caught:
        verify(GOOD_CHAIN, now=NOT_AFTER + 1)
    assert caught.value.defect is CertificateDefect.EXPIRED


def test_expired_leaf_only() -> None:
    chain = hand_made_chain(leaf_fields={"not_after": NOW - 1})
    with pytest.raises(CertificateExpiredError) as caught:
        verify(chain)
    assert caught.value.certificate == "leaf"


def test_expired_intermediate_only() -> None:
    chain = hand_made_chain(intermediate_fields={"not_after": NOW - 1})
    with pytest.raises(CertificateExpiredError) as caught:
        verify(chain)
    assert caught.value.certificate == "intermediate"


def test_not_yet_valid() -> None:
    with pytest.raises(CertificateNotYetValidError) as caught:
        verify(GOOD_CHAIN, now=NOT_BEFORE - 0.5)
    assert caught.value.defect is CertificateDefect.NOT_YET_VALID
    chain = hand_made_chain(leaf_fields={"not_before": NOW + 1})
    with pytest.raises(CertificateNotYetValidError) as caught:
        verify(chain)
    assert caught.value.certificate == "leaf"


def test_absent_validity_reads_as_expired() -> None:
    chain = hand_made_chain(leaf_fields={"not_after": None})
    with pytest.raises(CertificateExpiredError):
        verify(chain)


@pytest.mark.parametrize(
    "chain",
    [
        pytest.param(b"\xff\xff", id="undecodable-chain"),
        pytest.param(b"", id="empty-chain"),
        pytest.param(
            wa_pb2.CertChain(leaf=wa_pb2.CertChain.FromString(GOOD_CHAIN).leaf).SerializeToString(),
            id="no-intermediate",
        ),
        pytest.param(
            wa_pb2.CertChain(
                intermediate=wa_pb2.CertChain.FromString(GOOD_CHAIN).intermediate
            ).SerializeToString(),
            id="no-leaf",
        ),
        pytest.param(with_certificate(GOOD_CHAIN, "leaf", details=b""), id="empty-leaf-details"),
        pytest.param(
            with_certificate(GOOD_CHAIN, "intermediate", signature=b"\x00" * 63), id="short-sig"
        ),
        pytest.param(
            with_certificate(GOOD_CHAIN, "intermediate", details=b"\x1a\x05abc"),
            id="undecodable-details",
        ),
        pytest.param(hand_made_chain(intermediate_fields={"key": b"k" * 31}), id="short-key"),
        pytest.param(hand_made_chain(leaf_fields={"key": b"k" * 33}), id="long-leaf-key"),
    ],
)
def test_malformed(chain: bytes) -> None:
    with pytest.raises(MalformedCertificateError) as caught:
        verify(chain)
    assert caught.value.defect is CertificateDefect.MALFORMED


def test_every_defect_has_its_own_class() -> None:
    classes = CertificateError.__subclasses__()
    assert {cls.defect for cls in classes} == set(CertificateDefect)
    assert len(classes) == len(CertificateDefect)
    assert all(issubclass(cls, RemoteProtocolError) for cls in classes)


def test_trust_root_needs_a_32_byte_key() -> None:
    with pytest.raises(ValueError):
        TrustRoot(public_key=b"\x00" * 33)


# --- the verified-chain cache ---------------------------------------------------------------


@pytest.fixture
def cold_cache() -> Iterator[None]:
    certs._verified_chains.clear()
    yield
    certs._verified_chains.clear()


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Counts XEdDSA verifications (each records the signer's key)."""
    calls: list[bytes] = []
    real = xeddsa_verify

    def counting(public_key: bytes, message: bytes, signature: bytes) -> bool:
        calls.append(public_key)
        return real(public_key, message, signature)

    monkeypatch.setattr(certs, "xeddsa_verify", counting)
    return calls


@pytest.mark.usefixtures("cold_cache")
def test_a_verified_chain_skips_its_signatures_next_time(signature_checks: list[bytes]) -> None:
    first = verify(GOOD_CHAIN)
    assert len(signature_checks) == 2
    assert verify(bytes(list(GOOD_CHAIN))) == first  # equal bytes in another object
    assert len(signature_checks) == 2


@pytest.mark.usefixtures("cold_cache")
def test_cached_chain_still_checks_time_and_leaf_key(signature_checks: list[bytes]) -> None:
    verify(GOOD_CHAIN)
    with pytest.raises(CertificateExpiredError) as expired:
        verify(GOOD_CHAIN, now=NOT_AFTER + 1)
    assert expired.value.certificate == "intermediate"  # reported first, as uncached
    with pytest.raises(CertificateNotYetValidError):
        verify(GOOD_CHAIN, now=NOT_BEFORE - 1)
    with pytest.raises(LeafKeyMismatchError):
        verify(GOOD_CHAIN, static=KeyPair.generate(DeterministicRng(6)).public)
    assert len(signature_checks) == 2  # all of those from the cache
    leaf_expires_first = hand_made_chain(leaf_fields={"not_after": NOW + 10})
    verify(leaf_expires_first)
    with pytest.raises(CertificateExpiredError) as expired:
        verify(leaf_expires_first, now=NOW + 11)
    assert expired.value.certificate == "leaf"


@pytest.mark.usefixtures("cold_cache")
def test_cache_is_per_trust_root(signature_checks: list[bytes]) -> None:
    verify(GOOD_CHAIN)
    other = make_test_root(DeterministicRng(4))
    with pytest.raises(BadIntermediateSignatureError):
        verify(GOOD_CHAIN, root=other)  # not accepted because ROOT accepted it
    assert signature_checks[2:] == [other.trust_root.public_key]
    renamed = TrustRoot(public_key=ROOT.trust_root.public_key, serial=0, name="same key")
    verify_cert_chain(GOOD_CHAIN, server_static=SERVER_STATIC, now=NOW, trust_root=renamed)
    assert len(signature_checks) == 5  # another root value: verified again


@pytest.mark.usefixtures("cold_cache")
def test_rejected_chains_are_checked_again_every_time(signature_checks: list[bytes]) -> None:
    bad = with_certificate(GOOD_CHAIN, "leaf", signature=bytes(64))
    for _ in range(3):
        with pytest.raises(BadLeafSignatureError):
            verify(bad)
    assert len(signature_checks) == 6
    assert len(certs._verified_chains) == 0


@pytest.mark.usefixtures("cold_cache")
def test_cache_holds_a_few_chains_at_most() -> None:
    limit = certs._VerifiedChains.MAX_ENTRIES
    for index in range(limit + 3):
        chain = make_cert_chain(
            ROOT, SERVER_STATIC, not_before=NOT_BEFORE, not_after=NOT_AFTER + index
        )
        verify(chain)
        assert len(certs._verified_chains) == min(index + 1, limit)


# --- the parser invariant -------------------------------------------------------------------


def structured_chains() -> st.SearchStrategy[bytes]:
    """Well-formed protobuf with arbitrary contents, to get past the first decode."""
    details = st.builds(
        Details,
        serial=st.integers(0, 2**32 - 1),
        issuer_serial=st.integers(0, 3),
        key=st.binary(min_size=30, max_size=33),
        not_before=st.integers(0, 2**64 - 1),
        not_after=st.integers(0, 2**64 - 1),
    ).map(lambda message: message.SerializeToString())
    certificate = st.builds(
        wa_pb2.CertChain.NoiseCertificate,
        details=st.one_of(details, st.binary(max_size=60)),
        signature=st.binary(min_size=63, max_size=65),
    )
    return st.builds(wa_pb2.CertChain, leaf=certificate, intermediate=certificate).map(
        lambda message: message.SerializeToString()
    )


@given(data=st.one_of(st.binary(max_size=400), structured_chains()))
def test_arbitrary_bytes_parse_or_raise_remote_error(data: bytes) -> None:
    # Anything but a RemoteProtocolError escaping fails the test.
    with contextlib.suppress(RemoteProtocolError):
        verify(data)


@given(index=st.integers(min_value=0), flip=st.integers(1, 255), cut=st.booleans())
def test_mutated_chain_is_rejected_with_a_remote_error(index: int, flip: int, cut: bool) -> None:
    position = index % len(GOOD_CHAIN)
    if cut:
        mutated = GOOD_CHAIN[:position]
    else:
        mutated = (
            GOOD_CHAIN[:position]
            + bytes([GOOD_CHAIN[position] ^ flip])
            + GOOD_CHAIN[position + 1 :]
        )
    try:
        verify(mutated)
    except CertificateError:
        return
    # A change can survive only where protobuf ignores it (nothing in this chain is ignorable
    # except an equivalent re-encoding, which a one-byte flip cannot produce).
    raise AssertionError(f"mutated chain accepted: {mutated.hex()}")


# --- Baileys, made strict (docs/protocol/peer.md#certificate-checks)
# ------------------------------------------------------


@pytest.fixture(scope="module")
def baileys(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "keys-bridge.mjs") as bridge:
        yield bridge


def test_our_chain_passes_baileys_strict_check(baileys: PeerBridge) -> None:
    root = make_test_root()
    static = KeyPair.generate().public
    chain = make_cert_chain(root, static, not_before=NOT_BEFORE, not_after=NOT_AFTER)
    reply = baileys.call("baileysCertCheck", chain=chain.hex(), root=root.key_pair.public.hex())
    assert reply["leafKey"] == static.hex()
    assert reply["issuerSerial"] == 0


def test_baileys_strict_check_rejects_what_we_reject(baileys: PeerBridge) -> None:
    with pytest.raises(PeerError, match="intermediate certificate signature invalid"):
        baileys.call(
            "baileysCertCheck", chain=GOOD_CHAIN.hex(), root=WHATSAPP_ROOT.public_key.hex()
        )
    signature = wa_pb2.CertChain.FromString(GOOD_CHAIN).leaf.signature
    bad_leaf = with_certificate(GOOD_CHAIN, "leaf", signature=flipped(signature, 0))
    with pytest.raises(PeerError, match="noise certificate signature invalid"):
        baileys.call("baileysCertCheck", chain=bad_leaf.hex(), root=ROOT.key_pair.public.hex())


def test_a_test_roots_trust_root_is_built_once_and_names_its_key() -> None:
    root = make_test_root(DeterministicRng(9), serial=0)
    assert root.trust_root is root.trust_root
    assert root.trust_root == TrustRoot(
        public_key=root.key_pair.public, serial=root.serial, name=root.name
    )
    assert root == TestRoot(key_pair=root.key_pair)  # the derived field takes no part in equality
    assert "_trust_root" not in repr(root)
