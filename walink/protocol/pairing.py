"""QR login crypto for both roles: the QR string and the pair-success exchange
(docs/protocol/pairing.md).

Theory of operation. The companion shows a QR holding a server ref, its Noise and identity public
keys and a random 32-byte ADV secret. The phone scans it, so the ADV secret reaches the phone
without ever crossing the server. The phone then sends, through the server, a pair-success:

    ADVSignedDeviceIdentityHMAC {
        details = ADVSignedDeviceIdentity {
            details = ADVDeviceIdentity {rawId, timestamp, keyIndex, accountType, deviceType},
            accountSignatureKey = phone identity public key,
            accountSignature = XEdDSA(phone, 06 00 || details || companion identity public),
        },
        hmac = HMAC-SHA256(ADV secret, [06 05 if hosted] || details),
    }

The HMAC proves the pair-success comes from the phone that scanned *this* QR; the account
signature binds the companion's identity key to the phone's. The companion answers with its own
device signature over ``06 01 || details || own identity || phone identity``, which the server
checks before it registers the device.

Error conventions: bad caller input raises ``LocalProtocolError`` (this includes a malformed QR
string handed to ``parse_qr_string``: it comes from a person or a test, not from the wire). What
the peer sent raises a ``RemoteProtocolError`` subclass; on the client side each one carries the
``error_code``/``error_text`` the client must reply with (whatsmeow's answers).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.keys import KeyPair, xeddsa_sign, xeddsa_verify
from walink.protocol.proto import wa_pb2 as pb

__all__ = [
    "ADV_ACCOUNT_SIG_PREFIX",
    "ADV_DEVICE_SIG_PREFIX",
    "ADV_ENCRYPTION_E2EE",
    "ADV_ENCRYPTION_HOSTED",
    "ADV_HOSTED_ACCOUNT_SIG_PREFIX",
    "QR_PREFIX",
    "AccountSignatureMismatchError",
    "CompanionPlatform",
    "DeviceIdentity",
    "DeviceSignatureError",
    "HmacMismatchError",
    "MalformedPairSuccessError",
    "PairSuccessRejected",
    "PairSuccessResult",
    "QrData",
    "build_pair_success",
    "companion_platform_display",
    "companion_platform_id",
    "parse_qr_string",
    "qr_string",
    "verify_device_signature",
    "verify_pair_success",
]

Rng = Callable[[int], bytes]
_MessageT = TypeVar("_MessageT", bound=Message)

QR_PREFIX = "https://wa.me/settings/linked_devices#"

ADV_ACCOUNT_SIG_PREFIX = b"\x06\x00"
ADV_DEVICE_SIG_PREFIX = b"\x06\x01"
#: Prefix of the account signature *and* of the HMAC input for hosted accounts/devices.
ADV_HOSTED_ACCOUNT_SIG_PREFIX = b"\x06\x05"
ADV_ENCRYPTION_E2EE = 0
ADV_ENCRYPTION_HOSTED = 1

_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_NONCE_SIZE = 64
_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1
_PLATFORM_ID = re.compile(r"[0-9a-z]{1,2}", re.ASCII)


class CompanionPlatform(StrEnum):
    """``CompanionWebClientType``: the last field of the QR and ``companion_platform_id``."""

    UNKNOWN = "0"
    CHROME = "1"
    EDGE = "2"
    FIREFOX = "3"
    IE = "4"
    OPERA = "5"
    SAFARI = "6"
    ELECTRON = "7"
    UWP = "8"
    OTHER_WEB_CLIENT = "9"
    # whatsmeow only; Baileys never produces these.
    MACOS = "c"
    ANDROID = "e"


_BROWSER_PLATFORMS = {
    "Chrome": CompanionPlatform.CHROME,
    "Edge": CompanionPlatform.EDGE,
    "Firefox": CompanionPlatform.FIREFOX,
    "IE": CompanionPlatform.IE,
    "Opera": CompanionPlatform.OPERA,
    "Safari": CompanionPlatform.SAFARI,
}


def _browser_parts(browser: Sequence[str]) -> tuple[str, str]:
    if len(browser) < 2 or not all(isinstance(part, str) for part in browser):
        raise LocalProtocolError("browser is (os, browser name, version), like Baileys' config")
    return browser[0], browser[1]


def companion_platform_id(browser: Sequence[str]) -> str:
    """The platform id for a Baileys-style ``browser`` triple (docs/protocol/pairing.md#qr-string).

    "Desktop" as the browser name means the desktop app: UWP on Windows, Electron elsewhere.
    Otherwise the browser name maps to its id, and anything unknown is "other web client".
    """
    os_name, browser_name = _browser_parts(browser)
    if browser_name == "Desktop":
        return CompanionPlatform.UWP if os_name == "Windows" else CompanionPlatform.ELECTRON
    return _BROWSER_PLATFORMS.get(browser_name, CompanionPlatform.OTHER_WEB_CLIENT).value


def companion_platform_display(browser: Sequence[str]) -> str:
    """``"Chrome (Mac OS)"``: the ``Browser (OS)`` form the server expects in companion_hello."""
    os_name, browser_name = _browser_parts(browser)
    return f"{browser_name} ({os_name})"


@dataclass(frozen=True, slots=True, kw_only=True)
class QrData:
    """The fields of a QR string, as the phone reads them."""

    ref: str
    """The server's pair-device ref shown in this QR."""
    noise_public: bytes
    """The companion's 32-byte Noise static public key."""
    identity_public: bytes
    """The companion's 32-byte identity public key."""
    adv_secret: bytes = field(repr=False)
    """The 32-byte ADV secret (the pair-success HMAC key); kept out of reprs."""
    platform_id: str
    """The companion platform id, a ``CompanionPlatform`` value such as "1"."""


def _check_platform_id(platform_id: str) -> None:
    if not isinstance(platform_id, str) or not _PLATFORM_ID.fullmatch(platform_id):
        raise LocalProtocolError(f"a platform id is one or two of [0-9a-z], got {platform_id!r}")


def _check_key(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != _KEY_SIZE:
        raise LocalProtocolError(f"{name} must be {_KEY_SIZE} bytes")


def qr_string(
    ref: str, noise_public: bytes, identity_public: bytes, adv_secret: bytes, platform_id: str
) -> str:
    """``https://wa.me/settings/linked_devices#ref,noiseB64,identityB64,advB64,platform``.

    The ref is taken as the server sent it (Baileys does not check it either); ``parse_qr_string``
    splits from the right, so even a ref with a comma survives the round trip.
    """
    if not isinstance(ref, str):
        raise LocalProtocolError("the ref is the UTF-8 text of a pair-device <ref>")
    _check_key("the Noise public key", noise_public)
    _check_key("the identity public key", identity_public)
    _check_key("the ADV secret", adv_secret)
    _check_platform_id(platform_id)
    fields = [
        ref,
        base64.b64encode(noise_public).decode("ascii"),
        base64.b64encode(identity_public).decode("ascii"),
        base64.b64encode(adv_secret).decode("ascii"),
        platform_id,
    ]
    return QR_PREFIX + ",".join(fields)


def _decode_qr_key(name: str, text: str) -> bytes:
    try:
        value = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise LocalProtocolError(f"the QR's {name} is not base64") from exc
    if len(value) != _KEY_SIZE:
        raise LocalProtocolError(f"the QR's {name} is {len(value)} bytes, not {_KEY_SIZE}")
    return value


def parse_qr_string(qr: str) -> QrData:
    """The fields of a QR string in the current five-field format.

    Surrounding whitespace (a pasted newline) is ignored. The legacy four-field form without the
    URL prefix is refused: both reference clients stopped producing it in May 2026. Anything
    malformed raises ``LocalProtocolError`` naming the defect.
    """
    if not isinstance(qr, str):
        raise LocalProtocolError("a QR string is a str")
    qr = qr.strip()
    if not qr.startswith(QR_PREFIX):
        raise LocalProtocolError(f"a QR string starts with {QR_PREFIX!r}")
    parts = qr[len(QR_PREFIX) :].rsplit(",", 4)
    if len(parts) != 5:
        raise LocalProtocolError(
            "a QR string has five comma-separated fields: ref, noise key, identity key, "
            "ADV secret, platform id"
        )
    ref, noise_b64, identity_b64, adv_b64, platform_id = parts
    if not ref:
        raise LocalProtocolError("the QR's ref is empty")
    _check_platform_id(platform_id)
    return QrData(
        ref=ref,
        noise_public=_decode_qr_key("Noise key", noise_b64),
        identity_public=_decode_qr_key("identity key", identity_b64),
        adv_secret=_decode_qr_key("ADV secret", adv_b64),
        platform_id=platform_id,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceIdentity:
    """The ``ADVDeviceIdentity`` the phone issues for the new companion device."""

    raw_id: int
    """An id the phone picks for the account's device list."""
    timestamp: int
    """When the phone issued it, unix seconds."""
    key_index: int
    """The companion's index in the phone's key index list; echoed as ``key-index``."""
    account_type: int
    """``ADV_ENCRYPTION_E2EE`` (0) or ``ADV_ENCRYPTION_HOSTED`` (1)."""
    device_type: int
    """``ADV_ENCRYPTION_E2EE`` (0) or ``ADV_ENCRYPTION_HOSTED`` (1); picks the signature prefix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PairSuccessResult:
    """A verified pair-success, signed by this device: what to reply and what to store."""

    key_index: int
    """The ``key-index`` attribute of the reply's ``<device-identity>``."""
    reply_device_identity: bytes
    """The reply's ``<device-identity>`` content: the account without its signature key."""
    account: bytes
    """The full ``ADVSignedDeviceIdentity`` (with signature key and device signature) to store."""
    account_signature_key: bytes
    """The phone's 32-byte identity key, stored as the LID's device-0 Signal identity."""
    device_identity: DeviceIdentity
    """The decoded ``ADVDeviceIdentity``."""


class PairSuccessRejected(RemoteProtocolError):
    """The pair-success cannot be accepted; reply ``<error code=error_code text=error_text/>``."""

    error_code: int = 500
    error_text: str = "internal-error"


class MalformedPairSuccessError(PairSuccessRejected):
    """A protobuf in the pair-success does not parse (whatsmeow answers 500 internal-error)."""


class HmacMismatchError(PairSuccessRejected):
    """The HMAC is not keyed with our ADV secret: not the phone that scanned our QR or code."""

    error_code = 401
    error_text = "hmac-mismatch"


class AccountSignatureMismatchError(PairSuccessRejected):
    """The phone's account signature over our identity key does not verify."""

    error_code = 401
    error_text = "signature-mismatch"


class DeviceSignatureError(RemoteProtocolError):
    """Server side: the companion's pair-device-sign reply is malformed or its signature is bad."""


def _take(rng: Rng, size: int) -> bytes:
    data = rng(size)
    if not isinstance(data, bytes) or len(data) != size:
        raise LocalProtocolError(f"rng must return exactly {size} bytes")
    return data


def _parse(
    message: _MessageT, data: bytes, error: type[RemoteProtocolError], what: str
) -> _MessageT:
    try:
        message.ParseFromString(bytes(data))
    except DecodeError as exc:
        raise error(f"{what} does not parse: {exc}") from exc
    return message


def _device_identity(details: pb.ADVDeviceIdentity) -> DeviceIdentity:
    return DeviceIdentity(
        raw_id=details.raw_id,
        timestamp=details.timestamp,
        key_index=details.key_index,
        account_type=details.account_type,
        device_type=details.device_type,
    )


def _account_signature_message(device_type: int, details: bytes, companion_public: bytes) -> bytes:
    prefix = (
        ADV_HOSTED_ACCOUNT_SIG_PREFIX
        if device_type == ADV_ENCRYPTION_HOSTED
        else ADV_ACCOUNT_SIG_PREFIX
    )
    return prefix + details + companion_public


def _device_signature_message(
    details: bytes, companion_public: bytes, phone_public: bytes
) -> bytes:
    # Both reference clients use 06 01 even for hosted devices; 06 06 is defined but unused.
    return ADV_DEVICE_SIG_PREFIX + details + companion_public + phone_public


def _hmac_input(account_type: int, signed: bytes) -> bytes:
    prefix = ADV_HOSTED_ACCOUNT_SIG_PREFIX if account_type == ADV_ENCRYPTION_HOSTED else b""
    return prefix + signed


def verify_pair_success(
    device_identity: bytes, adv_secret: bytes, identity: KeyPair, *, rng: Rng = os.urandom
) -> PairSuccessResult:
    """Check a pair-success's ``<device-identity>`` and sign it as this device (§6.4 steps 2-7).

    Checks, in whatsmeow's order: the container parses (else ``MalformedPairSuccessError``), the
    HMAC under ``adv_secret`` matches (else ``HmacMismatchError``), the account and its details
    parse, and the phone's account signature verifies (else ``AccountSignatureMismatchError``).
    Unlike Baileys, whose signature check is a no-op, the signature really is checked.
    ``rng`` supplies the 64-byte XEdDSA nonce input of the device signature.
    """
    if len(adv_secret) != _KEY_SIZE:
        raise LocalProtocolError(f"the ADV secret must be {_KEY_SIZE} bytes")
    container = _parse(
        pb.ADVSignedDeviceIdentityHMAC(),
        device_identity,
        MalformedPairSuccessError,
        "the pair-success device identity container",
    )
    signed = container.details
    expected_hmac = hmac.new(
        bytes(adv_secret), _hmac_input(container.account_type, signed), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected_hmac, container.hmac):
        raise HmacMismatchError("the pair-success HMAC does not match our ADV secret")

    account = _parse(
        pb.ADVSignedDeviceIdentity(), signed, MalformedPairSuccessError, "the signed identity"
    )
    details = _parse(
        pb.ADVDeviceIdentity(), account.details, MalformedPairSuccessError, "the device identity"
    )
    phone_public = account.account_signature_key
    message = _account_signature_message(details.device_type, account.details, identity.public)
    if len(phone_public) != _KEY_SIZE or not xeddsa_verify(
        phone_public, message, account.account_signature
    ):
        raise AccountSignatureMismatchError("the phone's account signature does not verify")

    device_signature = xeddsa_sign(
        identity.private,
        _device_signature_message(account.details, identity.public, phone_public),
        random=_take(rng, _NONCE_SIZE),
    )
    # Rebuilt from the known fields, as Baileys' decode/encode does: unknown fields are dropped.
    reply = pb.ADVSignedDeviceIdentity(
        details=account.details,
        account_signature=account.account_signature,
        device_signature=device_signature,
    )
    stored = pb.ADVSignedDeviceIdentity(
        details=account.details,
        account_signature_key=phone_public,
        account_signature=account.account_signature,
        device_signature=device_signature,
    )
    parsed = _device_identity(details)
    return PairSuccessResult(
        key_index=parsed.key_index,
        reply_device_identity=reply.SerializeToString(),
        account=stored.SerializeToString(),
        account_signature_key=phone_public,
        device_identity=parsed,
    )


def _check_range(name: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise LocalProtocolError(f"{name} must be an integer in 0..{maximum}, got {value!r}")


def build_pair_success(
    phone_identity: KeyPair,
    companion_identity_public: bytes,
    adv_secret: bytes,
    *,
    key_index: int,
    raw_id: int,
    timestamp: int,
    account_type: int = ADV_ENCRYPTION_E2EE,
    device_type: int = ADV_ENCRYPTION_E2EE,
    rng: Rng = os.urandom,
) -> bytes:
    """The phone's ``<device-identity>`` content for pair-success
    (docs/protocol/server.md#registration, step 5).

    ``rng`` supplies the 64-byte XEdDSA nonce input of the account signature. Both encryption
    types are encoded explicitly, as docs/protocol/server.md#registration asks (a proto3
    ``optional`` keeps a 0).
    """
    _check_key("the companion identity key", companion_identity_public)
    _check_key("the ADV secret", adv_secret)
    _check_range("key_index", key_index, _UINT32_MAX)
    _check_range("raw_id", raw_id, _UINT32_MAX)
    _check_range("timestamp", timestamp, _UINT64_MAX)
    for name, value in (("account_type", account_type), ("device_type", device_type)):
        if value not in (ADV_ENCRYPTION_E2EE, ADV_ENCRYPTION_HOSTED):
            raise LocalProtocolError(f"{name} is 0 (E2EE) or 1 (hosted), got {value!r}")
    details = pb.ADVDeviceIdentity(
        raw_id=raw_id,
        timestamp=timestamp,
        key_index=key_index,
        account_type=account_type,  # type: ignore[arg-type]
        device_type=device_type,  # type: ignore[arg-type]
    ).SerializeToString()
    account_signature = xeddsa_sign(
        phone_identity.private,
        _account_signature_message(device_type, details, bytes(companion_identity_public)),
        random=_take(rng, _NONCE_SIZE),
    )
    signed = pb.ADVSignedDeviceIdentity(
        details=details,
        account_signature_key=phone_identity.public,
        account_signature=account_signature,
    ).SerializeToString()
    mac = hmac.new(bytes(adv_secret), _hmac_input(account_type, signed), hashlib.sha256).digest()
    return pb.ADVSignedDeviceIdentityHMAC(
        details=signed,
        hmac=mac,
        account_type=account_type,  # type: ignore[arg-type]
    ).SerializeToString()


def verify_device_signature(
    signed_reply: bytes,
    companion_identity_public: bytes,
    phone_identity_public: bytes,
    expected_details: bytes | None = None,
) -> DeviceIdentity:
    """Server side: check the companion's pair-device-sign ``<device-identity>`` content.

    The device signature must verify with the companion's identity key over
    ``06 01 || details || companion identity || phone identity``; with ``expected_details`` the
    reply must also carry exactly the details the phone issued. Returns the decoded details;
    raises ``DeviceSignatureError`` otherwise.
    """
    _check_key("the companion identity key", companion_identity_public)
    _check_key("the phone identity key", phone_identity_public)
    reply = _parse(
        pb.ADVSignedDeviceIdentity(), signed_reply, DeviceSignatureError, "the signed reply"
    )
    if not reply.HasField("details"):
        raise DeviceSignatureError("the signed reply has no details")
    if expected_details is not None and reply.details != expected_details:
        raise DeviceSignatureError("the signed reply carries other details than the phone issued")
    message = _device_signature_message(
        reply.details, bytes(companion_identity_public), bytes(phone_identity_public)
    )
    if not xeddsa_verify(bytes(companion_identity_public), message, reply.device_signature):
        raise DeviceSignatureError("the device signature does not verify")
    details = _parse(
        pb.ADVDeviceIdentity(), reply.details, DeviceSignatureError, "the device identity"
    )
    return _device_identity(details)
