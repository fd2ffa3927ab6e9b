"""The server certificate chain (the decrypted ServerHello payload), checked against a trust root.

The chain is ``root -> intermediate -> leaf``. The root is a bare Curve25519 key (WhatsApp's
"WhatsAppLongTerm1", serial 0); each certificate is the encoded ``Details`` bytes plus an XEdDSA
signature over exactly those bytes by its issuer. The leaf's key must be the server's Noise static
key, which ties the chain to this handshake.

Baileys' check is a no-op (its signature wrapper ignores the verdict); ours follows whatsmeow's
list and fails every defect with its own ``CertificateError`` subclass, each naming a
``CertificateDefect``:

==========================  =================================================================
defect                      meaning
==========================  =================================================================
MALFORMED                   undecodable chain or details, a missing part, a wrong size
WRONG_ROOT                  the intermediate names another issuer than the trust root's serial
BAD_INTERMEDIATE_SIGNATURE  the intermediate is not signed by the trust root's key (a chain from
                            another root with the same serial lands here too: a signature
                            cannot tell "another key" from "corrupted")
BAD_LEAF_SIGNATURE          the leaf is not signed by the intermediate's key
WRONG_ISSUER_SERIAL         the leaf's issuer serial is not the intermediate's serial
LEAF_KEY_MISMATCH           the leaf key is not the server static key of this handshake
EXPIRED / NOT_YET_VALID     ``now`` is outside a certificate's validity window
==========================  =================================================================

Absent numeric fields read as 0 (protobuf semantics), so an absent ``not_after`` is simply
expired. The caller passes ``now``: nothing here reads a clock.

A chain whose structure and signatures passed is remembered by its exact bytes and trust root
(a few of them): a server sends the same chain on every connection, and a signature's verdict
on given bytes cannot change. The validity windows and the leaf/static-key match are checked on
every call, cached or not.

``make_test_root`` and ``make_cert_chain`` build a root and a properly signed chain for the
emulator and the tests.
"""

from __future__ import annotations

import enum
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import DecodeError

from walink.protocol.errors import RemoteProtocolError
from walink.protocol.keys import KeyPair, xeddsa_sign, xeddsa_verify
from walink.protocol.proto import wa_pb2

__all__ = [
    "WHATSAPP_ROOT",
    "BadIntermediateSignatureError",
    "BadLeafSignatureError",
    "CertificateDefect",
    "CertificateDetails",
    "CertificateError",
    "CertificateExpiredError",
    "CertificateNotYetValidError",
    "LeafKeyMismatchError",
    "MalformedCertificateError",
    "TestRoot",
    "TrustRoot",
    "VerifiedCertChain",
    "WrongIssuerSerialError",
    "WrongRootError",
    "make_cert_chain",
    "make_test_root",
    "sign_certificate",
    "verify_cert_chain",
]

_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_Details = wa_pb2.CertChain.NoiseCertificate.Details


class CertificateDefect(enum.Enum):
    """What exactly is wrong with a rejected certificate chain."""

    MALFORMED = "malformed"
    WRONG_ROOT = "wrong_root"
    BAD_INTERMEDIATE_SIGNATURE = "bad_intermediate_signature"
    BAD_LEAF_SIGNATURE = "bad_leaf_signature"
    WRONG_ISSUER_SERIAL = "wrong_issuer_serial"
    LEAF_KEY_MISMATCH = "leaf_key_mismatch"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class CertificateError(RemoteProtocolError):
    """The server's certificate chain was rejected; ``defect`` says why."""

    defect: CertificateDefect

    def __init__(self, message: str, *, certificate: str | None = None) -> None:
        super().__init__(message)
        # Which certificate failed: "intermediate", "leaf", or None for the chain as a whole.
        self.certificate = certificate


class MalformedCertificateError(CertificateError):
    defect = CertificateDefect.MALFORMED


class WrongRootError(CertificateError):
    defect = CertificateDefect.WRONG_ROOT


class BadIntermediateSignatureError(CertificateError):
    defect = CertificateDefect.BAD_INTERMEDIATE_SIGNATURE


class BadLeafSignatureError(CertificateError):
    defect = CertificateDefect.BAD_LEAF_SIGNATURE


class WrongIssuerSerialError(CertificateError):
    defect = CertificateDefect.WRONG_ISSUER_SERIAL


class LeafKeyMismatchError(CertificateError):
    defect = CertificateDefect.LEAF_KEY_MISMATCH


class CertificateExpiredError(CertificateError):
    defect = CertificateDefect.EXPIRED


class CertificateNotYetValidError(CertificateError):
    defect = CertificateDefect.NOT_YET_VALID


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustRoot:
    """The key that must have signed the intermediate certificate."""

    public_key: bytes
    """32-byte Curve25519 public key (used with XEdDSA, not Ed25519)."""
    serial: int = 0
    """The serial the intermediate must name as its issuer."""
    name: str = ""
    """A label for messages and logs."""

    def __post_init__(self) -> None:
        if len(self.public_key) != _KEY_SIZE:
            raise ValueError("a trust root key is 32 bytes")


#: WhatsApp's long-term root ("WhatsAppLongTerm1", serial 0): the default trust root.
WHATSAPP_ROOT = TrustRoot(
    public_key=bytes.fromhex("142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"),
    serial=0,
    name="WhatsAppLongTerm1",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateDetails:
    """The decoded, verified ``Details`` of one certificate."""

    serial: int
    issuer_serial: int
    key: bytes
    not_before: int
    """Unix seconds."""
    not_after: int
    """Unix seconds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedCertChain:
    """A chain that passed every check."""

    intermediate: CertificateDetails
    leaf: CertificateDetails


def verify_cert_chain(
    chain: bytes,
    *,
    server_static: bytes,
    now: float,
    trust_root: TrustRoot = WHATSAPP_ROOT,
) -> VerifiedCertChain:
    """Verify an encoded ``CertChain``; raise a ``CertificateError`` subclass on any defect.

    ``server_static`` is the server's decrypted Noise static key; ``now`` is unix seconds.
    """
    chain = bytes(chain)
    signed = _verified_chains.get(_cache_key(chain, trust_root))
    if signed is None:
        signed = _verify_signed_chain(chain, now, trust_root)
    intermediate, leaf = signed.intermediate, signed.leaf
    # Checked on every call, whatever the cache holds: time passes, and the leaf must name
    # the static key of this very handshake. (The windows are compared here and reported by
    # _check_validity, which runs once per handshake otherwise.)
    if not intermediate.not_before <= now <= intermediate.not_after:
        _check_validity(intermediate, now, "intermediate")
    # Constant time: the static key is not secret, but this is cheap and the habit is right.
    if not hmac.compare_digest(leaf.key, bytes(server_static)):
        raise LeafKeyMismatchError(
            "leaf certificate key is not the server's static key", certificate="leaf"
        )
    if not leaf.not_before <= now <= leaf.not_after:
        _check_validity(leaf, now, "leaf")
    return signed


_CacheKey = tuple[bytes, bytes, int, str]


def _cache_key(chain: bytes, trust_root: TrustRoot) -> _CacheKey:
    # The root's fields rather than the root itself: a tuple of plain values hashes and compares
    # in C, where the dataclass's generated methods run Python code on every handshake.
    return (chain, trust_root.public_key, trust_root.serial, trust_root.name)


class _VerifiedChains:
    """Chains whose structure and signatures passed, by their exact bytes and trust root.

    A server sends the same chain on every connection, and its two XEdDSA verifications are
    most of a handshake's certificate cost. What a signature proves about given bytes and a
    given root key cannot change, so the verdict is kept; only successes are, and only a few
    (a client talks to one or two chains at a time, a hostile server cannot grow the cache).
    """

    MAX_ENTRIES = 8

    def __init__(self) -> None:
        self._entries: dict[_CacheKey, VerifiedCertChain] = {}
        self._lock = threading.Lock()  # clients may connect from several threads
        # Reading needs no lock (a dict lookup is atomic): the dict's own method, called on
        # every handshake.
        self.get: Callable[[_CacheKey], VerifiedCertChain | None] = self._entries.get

    def put(self, key: _CacheKey, chain: VerifiedCertChain) -> None:
        with self._lock:
            entries = self._entries
            if key not in entries and len(entries) >= self.MAX_ENTRIES:
                del entries[next(iter(entries))]  # the oldest
            entries[key] = chain

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_verified_chains = _VerifiedChains()


def _verify_signed_chain(chain: bytes, now: float, trust_root: TrustRoot) -> VerifiedCertChain:
    """Everything but the per-handshake checks, in the order a full verification reports it;
    the result is cached. ``now`` only keeps the order of the reports (an expired intermediate
    is reported before a bad leaf signature), the cache does not depend on it."""
    parsed = _parse(wa_pb2.CertChain, chain, "the certificate chain")
    intermediate_cert = _certificate(
        parsed.intermediate, parsed.HasField("intermediate"), "intermediate"
    )
    leaf_cert = _certificate(parsed.leaf, parsed.HasField("leaf"), "leaf")

    intermediate = _details(intermediate_cert, "intermediate")
    if intermediate.issuer_serial != trust_root.serial:
        raise WrongRootError(
            f"intermediate certificate names issuer serial {intermediate.issuer_serial}, "
            f"the trust root {trust_root.name or '(unnamed)'} has serial {trust_root.serial}",
            certificate="intermediate",
        )
    if not xeddsa_verify(
        trust_root.public_key, intermediate_cert.details, intermediate_cert.signature
    ):
        raise BadIntermediateSignatureError(
            "intermediate certificate is not signed by the trust root key",
            certificate="intermediate",
        )
    _check_validity(intermediate, now, "intermediate")

    leaf = _details(leaf_cert, "leaf")
    if not xeddsa_verify(intermediate.key, leaf_cert.details, leaf_cert.signature):
        raise BadLeafSignatureError(
            "leaf certificate is not signed by the intermediate key", certificate="leaf"
        )
    if leaf.issuer_serial != intermediate.serial:
        raise WrongIssuerSerialError(
            f"leaf certificate names issuer serial {leaf.issuer_serial}, "
            f"the intermediate has serial {intermediate.serial}",
            certificate="leaf",
        )
    verified = VerifiedCertChain(intermediate=intermediate, leaf=leaf)
    _verified_chains.put(_cache_key(chain, trust_root), verified)
    return verified


_Message = TypeVar("_Message", wa_pb2.CertChain, _Details)


def _parse(kind: type[_Message], data: bytes, what: str) -> _Message:
    message = kind()
    try:
        message.ParseFromString(bytes(data))
    except (DecodeError, ValueError, RuntimeError) as exc:
        # upb raises DecodeError; very deep nesting can surface as other errors.
        raise MalformedCertificateError(f"{what} does not decode: {exc}") from exc
    return message


def _certificate(
    certificate: wa_pb2.CertChain.NoiseCertificate, present: bool, which: str
) -> wa_pb2.CertChain.NoiseCertificate:
    if not present:
        raise MalformedCertificateError(f"{which} certificate is missing", certificate=which)
    if not certificate.details:
        raise MalformedCertificateError(f"{which} certificate has no details", certificate=which)
    if len(certificate.signature) != _SIGNATURE_SIZE:
        raise MalformedCertificateError(
            f"{which} signature is {len(certificate.signature)} bytes, not 64", certificate=which
        )
    return certificate


def _details(certificate: wa_pb2.CertChain.NoiseCertificate, which: str) -> CertificateDetails:
    details = _parse(_Details, certificate.details, f"{which} certificate details")
    if len(details.key) != _KEY_SIZE:
        raise MalformedCertificateError(
            f"{which} certificate key is {len(details.key)} bytes, not 32", certificate=which
        )
    return CertificateDetails(
        serial=details.serial,
        issuer_serial=details.issuer_serial,
        key=details.key,
        not_before=details.not_before,
        not_after=details.not_after,
    )


def _check_validity(details: CertificateDetails, now: float, which: str) -> None:
    if now < details.not_before:
        raise CertificateNotYetValidError(
            f"{which} certificate is valid from {details.not_before}, now is {now}",
            certificate=which,
        )
    if now > details.not_after:
        raise CertificateExpiredError(
            f"{which} certificate expired at {details.not_after}, now is {now}",
            certificate=which,
        )


# ---- making chains (emulator and tests) -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TestRoot:
    """A root key pair of our own, standing in for WhatsApp's root (emulator and tests)."""

    __test__ = False  # not a pytest test class, despite the name

    key_pair: KeyPair
    serial: int = 0
    name: str = "walink test root"
    _trust_root: TrustRoot = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: a client built on a test root asks for it on every handshake.
        trust_root = TrustRoot(public_key=self.key_pair.public, serial=self.serial, name=self.name)
        object.__setattr__(self, "_trust_root", trust_root)

    @property
    def trust_root(self) -> TrustRoot:
        """What a client must trust to accept chains made with this root."""
        return self._trust_root


def make_test_root(rng: Callable[[int], bytes] = os.urandom, *, serial: int = 0) -> TestRoot:
    """A new test root. Keep ``serial`` 0: Baileys requires the intermediate's issuer serial 0."""
    return TestRoot(key_pair=KeyPair.generate(rng), serial=serial)


def make_cert_chain(
    root: TestRoot,
    server_static_public: bytes,
    *,
    not_before: int,
    not_after: int,
    intermediate_serial: int = 1,
    leaf_serial: int = 2,
    rng: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """An encoded ``CertChain`` for ``server_static_public``, signed root -> intermediate -> leaf.

    Both certificates get the validity window ``not_before..not_after`` (unix seconds). Every
    field is written explicitly, zeros included, so Baileys' presence checks pass.
    """
    intermediate_key = KeyPair.generate(rng)
    intermediate_details = _Details(
        serial=intermediate_serial,
        issuer_serial=root.serial,
        key=intermediate_key.public,
        not_before=not_before,
        not_after=not_after,
    ).SerializeToString()
    leaf_details = _Details(
        serial=leaf_serial,
        issuer_serial=intermediate_serial,
        key=bytes(server_static_public),
        not_before=not_before,
        not_after=not_after,
    ).SerializeToString()
    return wa_pb2.CertChain(
        intermediate=sign_certificate(root.key_pair.private, intermediate_details, rng=rng),
        leaf=sign_certificate(intermediate_key.private, leaf_details, rng=rng),
    ).SerializeToString()


def sign_certificate(
    issuer_private: bytes, details: bytes, *, rng: Callable[[int], bytes] = os.urandom
) -> wa_pb2.CertChain.NoiseCertificate:
    """One certificate: ``details`` as given, signed by ``issuer_private`` (XEdDSA)."""
    signature = xeddsa_sign(issuer_private, details, random=rng(64))
    return wa_pb2.CertChain.NoiseCertificate(details=details, signature=signature)
