"""QR login crypto: the QR string, pair-success (phone side) and its verification (client side)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.peer_bridge import PeerBridge, PeerError
from tests.protocol.determinism import counter_rng, key_pair
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.keys import xeddsa_sign, xeddsa_verify
from walink.protocol.pairing import (
    QR_PREFIX,
    AccountSignatureMismatchError,
    CompanionPlatform,
    DeviceIdentity,
    DeviceSignatureError,
    HmacMismatchError,
    MalformedPairSuccessError,
    PairSuccessRejected,
    build_pair_success,
    companion_platform_display,
    companion_platform_id,
    parse_qr_string,
    qr_string,
    verify_device_signature,
    verify_pair_success,
)
from walink.protocol.proto import wa_pb2 as pb

NOISE = key_pair("companion noise")
COMPANION = key_pair("companion identity")
PHONE = key_pair("phone identity")
ADV_SECRET = hashlib.sha256(b"adv secret").digest()
REF = "2@Zm9vYmFy"
TIMESTAMP = 1_700_000_000

PINNED_QR = (
    "https://wa.me/settings/linked_devices#2@Zm9vYmFy,"
    "lbcIJwPFJce3ZzeFdxjZf8bA1nNWDjd7pXttjtm36Uw=,"
    "kOdLs3RhbA0UVuNQgVerImNULKKJ+QrI+5sV77QmUB0=,"
    "DbbX30iErw94mRVJFG8HiOLO6wbxoqV9cj/TVSosa7o=,"
    "1"
)
# build_pair_success(PHONE, COMPANION.public, ADV_SECRET, key_index=7, raw_id=123456789,
# timestamp=TIMESTAMP, rng=counter_rng("pair-success")): pinned because it is wire format; the
# peer test below has Baileys accept exactly these bytes.
PINNED_PAIR_SUCCESS = (
    "0a770a1108959aef3a1080e2cfaa061807200028001220e4d49a78ce67e3fd1342a94c9adb7dafc4"
    "abe717be6c13ab7bd17481d7a3997d1a40bbdbd654d5921df75c7ede95a0a1eea3cab691aa0eb566"
    "7bdd8f7df9520d2dd9408c59ad8a166676561cec160a05ebf373bbc3e18f92b342f5fe3289130c42"
    "071220021a36636c325b2bcad8d8a3542e98f35af30789de97c161dff2408ab25c39de1800"
)


def pinned_pair_success() -> bytes:
    return build_pair_success(
        PHONE,
        COMPANION.public,
        ADV_SECRET,
        key_index=7,
        raw_id=123456789,
        timestamp=TIMESTAMP,
        rng=counter_rng("pair-success"),
    )


def hmac_container(signed: bytes, secret: bytes, account_type: int | None = None) -> bytes:
    """A container around arbitrary ``signed`` bytes with a correct HMAC (hosted prefix rule)."""
    prefix = b"\x06\x05" if account_type == 1 else b""
    container = pb.ADVSignedDeviceIdentityHMAC(
        details=signed, hmac=hmac.new(secret, prefix + signed, hashlib.sha256).digest()
    )
    if account_type is not None:
        container.account_type = account_type  # type: ignore[assignment]
    return container.SerializeToString()


def signed_identity(details: bytes, signature: bytes, key: bytes = PHONE.public) -> bytes:
    return pb.ADVSignedDeviceIdentity(
        details=details, account_signature_key=key, account_signature=signature
    ).SerializeToString()


@pytest.fixture(scope="module")
def peer(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "pairing-bridge.mjs") as bridge:
        yield bridge


# --- platform id and the QR string -------------------------------------------------------------

BROWSERS = [
    (("Mac OS", "Chrome", "14.4.1"), "1"),
    (("Windows", "Edge", "10"), "2"),
    (("Ubuntu", "Firefox", "22.04"), "3"),
    (("Windows", "IE", "10"), "4"),
    (("Ubuntu", "Opera", "1"), "5"),
    (("Mac OS", "Safari", "17"), "6"),
    (("Mac OS", "Desktop", "14"), "7"),
    (("Ubuntu", "Desktop", "22"), "7"),
    (("Windows", "Desktop", "11"), "8"),
    (("Baileys", "Baileys", "6.5.0"), "9"),
    (("Chrome", "Android", ""), "9"),
    (("Ubuntu", "chrome", "1"), "9"),
]


@pytest.mark.parametrize(("browser", "platform_id"), BROWSERS)
def test_companion_platform_id(browser: tuple[str, str, str], platform_id: str) -> None:
    assert companion_platform_id(browser) == platform_id
    assert CompanionPlatform(platform_id).value == platform_id


def test_companion_platform_display() -> None:
    assert companion_platform_display(("Mac OS", "Chrome", "14.4.1")) == "Chrome (Mac OS)"
    with pytest.raises(LocalProtocolError):
        companion_platform_display(("Mac OS",))
    with pytest.raises(LocalProtocolError):
        companion_platform_id(("Mac OS",))


def test_qr_string_vector() -> None:
    qr = qr_string(REF, NOISE.public, COMPANION.public, ADV_SECRET, "1")
    assert qr == PINNED_QR
    parsed = parse_qr_string(qr)
    assert (parsed.ref, parsed.noise_public, parsed.identity_public) == (
        REF,
        NOISE.public,
        COMPANION.public,
    )
    assert (parsed.adv_secret, parsed.platform_id) == (ADV_SECRET, "1")
    assert ADV_SECRET.hex() not in repr(parsed) and repr(ADV_SECRET) not in repr(parsed)


@given(
    ref=st.text(min_size=1),
    noise=st.binary(min_size=32, max_size=32),
    identity=st.binary(min_size=32, max_size=32),
    adv=st.binary(min_size=32, max_size=32),
    platform_id=st.sampled_from([member.value for member in CompanionPlatform]),
)
def test_qr_round_trip(
    ref: str, noise: bytes, identity: bytes, adv: bytes, platform_id: str
) -> None:
    parsed = parse_qr_string(qr_string(ref, noise, identity, adv, platform_id))
    assert (parsed.ref, parsed.noise_public, parsed.identity_public) == (ref, noise, identity)
    assert (parsed.adv_secret, parsed.platform_id) == (adv, platform_id)


def test_parse_qr_ignores_surrounding_whitespace() -> None:
    qr = qr_string(REF, NOISE.public, COMPANION.public, ADV_SECRET, "1")
    assert parse_qr_string(f"  {qr}\n").ref == REF


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


GOOD_FIELDS = [REF, _b64(NOISE.public), _b64(COMPANION.public), _b64(ADV_SECRET), "1"]


@pytest.mark.parametrize(
    "bad",
    [
        ",".join(GOOD_FIELDS),  # no URL prefix
        QR_PREFIX + ",".join(GOOD_FIELDS[:4]),  # the legacy four fields
        QR_PREFIX + ",".join(["", *GOOD_FIELDS[1:]]),  # empty ref
        QR_PREFIX + ",".join([REF, _b64(bytes(31)), *GOOD_FIELDS[2:]]),  # short key
        QR_PREFIX + ",".join([REF, "not base64!", *GOOD_FIELDS[2:]]),
        QR_PREFIX + ",".join([REF, GOOD_FIELDS[1].rstrip("="), *GOOD_FIELDS[2:]]),  # no padding
        QR_PREFIX + ",".join([*GOOD_FIELDS[:4], ""]),  # empty platform
        QR_PREFIX + ",".join([*GOOD_FIELDS[:4], "CHROME"]),
        QR_PREFIX + ",".join([REF, "ä" * 44, *GOOD_FIELDS[2:]]),
        "http://wa.me/settings/linked_devices#" + ",".join(GOOD_FIELDS),
    ],
)
def test_parse_qr_refuses(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        parse_qr_string(bad)


@given(st.text())
def test_parse_qr_arbitrary_text_parses_or_raises_local_error(text: str) -> None:
    with contextlib.suppress(LocalProtocolError):
        parse_qr_string(QR_PREFIX + text)


@pytest.mark.parametrize(
    ("noise", "identity", "adv", "platform_id"),
    [
        (bytes(31), COMPANION.public, ADV_SECRET, "1"),
        (NOISE.public, bytes(33), ADV_SECRET, "1"),
        (NOISE.public, COMPANION.public, b"", "1"),
        (NOISE.public, COMPANION.public, ADV_SECRET, "1,2"),
    ],
)
def test_qr_string_refuses_bad_input(
    noise: bytes, identity: bytes, adv: bytes, platform_id: str
) -> None:
    with pytest.raises(LocalProtocolError):
        qr_string(REF, noise, identity, adv, platform_id)


# --- pair-success: phone builds, companion verifies and signs, server checks ---------------------


def test_pair_success_vector() -> None:
    assert pinned_pair_success().hex() == PINNED_PAIR_SUCCESS


@pytest.mark.parametrize(("account_type", "device_type"), list(itertools.product([0, 1], [0, 1])))
def test_pair_success_round_trip(account_type: int, device_type: int) -> None:
    container = build_pair_success(
        PHONE,
        COMPANION.public,
        ADV_SECRET,
        key_index=3,
        raw_id=99,
        timestamp=TIMESTAMP,
        account_type=account_type,
        device_type=device_type,
    )
    result = verify_pair_success(container, ADV_SECRET, COMPANION, rng=counter_rng("device sig"))
    expected = DeviceIdentity(
        raw_id=99,
        timestamp=TIMESTAMP,
        key_index=3,
        account_type=account_type,
        device_type=device_type,
    )
    assert result.device_identity == expected
    assert result.key_index == 3
    assert result.account_signature_key == PHONE.public

    sent = pb.ADVSignedDeviceIdentity()
    sent.ParseFromString(pb.ADVSignedDeviceIdentityHMAC.FromString(container).details)
    reply = pb.ADVSignedDeviceIdentity.FromString(result.reply_device_identity)
    assert not reply.HasField("account_signature_key")
    assert reply.details == sent.details
    assert reply.account_signature == sent.account_signature
    stored = pb.ADVSignedDeviceIdentity.FromString(result.account)
    assert stored.account_signature_key == PHONE.public
    assert stored.device_signature == reply.device_signature
    device_message = b"\x06\x01" + sent.details + COMPANION.public + PHONE.public
    assert xeddsa_verify(COMPANION.public, device_message, reply.device_signature)

    checked = verify_device_signature(
        result.reply_device_identity, COMPANION.public, PHONE.public, sent.details
    )
    assert checked == expected


def test_a_wrong_adv_secret_is_an_hmac_mismatch() -> None:
    with pytest.raises(HmacMismatchError) as caught:
        verify_pair_success(pinned_pair_success(), bytes(32), COMPANION)
    assert (caught.value.error_code, caught.value.error_text) == (401, "hmac-mismatch")


def test_a_missing_hmac_is_an_hmac_mismatch() -> None:
    container = pb.ADVSignedDeviceIdentityHMAC.FromString(pinned_pair_success())
    container.ClearField("hmac")
    with pytest.raises(HmacMismatchError):
        verify_pair_success(container.SerializeToString(), ADV_SECRET, COMPANION)


def test_the_hosted_hmac_prefix_is_required_for_hosted_accounts() -> None:
    container = pb.ADVSignedDeviceIdentityHMAC.FromString(pinned_pair_success())
    container.account_type = 1  # type: ignore[assignment]  # HMAC was made without the prefix
    with pytest.raises(HmacMismatchError):
        verify_pair_success(container.SerializeToString(), ADV_SECRET, COMPANION)


def test_a_bad_account_signature_is_refused() -> None:
    sent = pb.ADVSignedDeviceIdentity.FromString(
        pb.ADVSignedDeviceIdentityHMAC.FromString(pinned_pair_success()).details
    )
    forged = bytearray(sent.account_signature)
    forged[0] ^= 1
    container = hmac_container(signed_identity(sent.details, bytes(forged)), ADV_SECRET)
    with pytest.raises(AccountSignatureMismatchError) as caught:
        verify_pair_success(container, ADV_SECRET, COMPANION)
    assert (caught.value.error_code, caught.value.error_text) == (401, "signature-mismatch")


def test_an_account_signature_for_another_companion_is_refused() -> None:
    container = build_pair_success(
        PHONE, NOISE.public, ADV_SECRET, key_index=1, raw_id=1, timestamp=TIMESTAMP
    )
    with pytest.raises(AccountSignatureMismatchError):
        verify_pair_success(container, ADV_SECRET, COMPANION)


@pytest.mark.parametrize(("device_type", "prefix"), [(1, b"\x06\x00"), (0, b"\x06\x05")])
def test_the_account_signature_prefix_follows_the_device_type(
    device_type: int, prefix: bytes
) -> None:
    details = pb.ADVDeviceIdentity(
        raw_id=1,
        timestamp=TIMESTAMP,
        key_index=1,
        account_type=0,  # type: ignore[arg-type]
        device_type=device_type,  # type: ignore[arg-type]
    ).SerializeToString()
    signature = xeddsa_sign(PHONE.private, prefix + details + COMPANION.public)
    container = hmac_container(signed_identity(details, signature), ADV_SECRET)
    with pytest.raises(AccountSignatureMismatchError):
        verify_pair_success(container, ADV_SECRET, COMPANION)


@pytest.mark.parametrize("key", [b"", bytes(31), b"\x05" + PHONE.public])
def test_an_account_signature_key_of_the_wrong_size_is_a_signature_mismatch(key: bytes) -> None:
    sent = pb.ADVSignedDeviceIdentity.FromString(
        pb.ADVSignedDeviceIdentityHMAC.FromString(pinned_pair_success()).details
    )
    container = hmac_container(
        signed_identity(sent.details, sent.account_signature, key), ADV_SECRET
    )
    with pytest.raises(AccountSignatureMismatchError):
        verify_pair_success(container, ADV_SECRET, COMPANION)


def test_a_container_that_does_not_parse_is_malformed() -> None:
    with pytest.raises(MalformedPairSuccessError) as caught:
        verify_pair_success(b"\xff", ADV_SECRET, COMPANION)
    assert (caught.value.error_code, caught.value.error_text) == (500, "internal-error")


def test_an_authenticated_account_that_does_not_parse_is_malformed() -> None:
    with pytest.raises(MalformedPairSuccessError):
        verify_pair_success(hmac_container(b"\x0a\x05ab", ADV_SECRET), ADV_SECRET, COMPANION)


def test_verify_pair_success_refuses_a_wrong_size_secret() -> None:
    with pytest.raises(LocalProtocolError):
        verify_pair_success(pinned_pair_success(), ADV_SECRET[:16], COMPANION)


@given(st.binary(max_size=300))
def test_arbitrary_pair_success_bytes_only_raise_rejections(data: bytes) -> None:
    with pytest.raises(PairSuccessRejected):
        verify_pair_success(data, ADV_SECRET, COMPANION)


@settings(max_examples=200)
@given(st.binary(max_size=300), st.sampled_from([None, 0, 1]))
def test_arbitrary_authenticated_accounts_only_raise_rejections(
    signed: bytes, account_type: int | None
) -> None:
    # Past the HMAC, garbage must still end in a typed rejection, never another exception.
    with pytest.raises(PairSuccessRejected) as caught:
        verify_pair_success(hmac_container(signed, ADV_SECRET, account_type), ADV_SECRET, COMPANION)
    assert not isinstance(caught.value, HmacMismatchError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key_index": -1},
        {"key_index": 2**32},
        {"raw_id": 2**32},
        {"timestamp": -1},
        {"account_type": 2},
        {"device_type": -1},
        {"key_index": True},
    ],
)
def test_build_pair_success_refuses_bad_fields(kwargs: dict[str, int]) -> None:
    fields = {"key_index": 1, "raw_id": 1, "timestamp": TIMESTAMP, **kwargs}
    with pytest.raises(LocalProtocolError):
        build_pair_success(
            PHONE,
            COMPANION.public,
            ADV_SECRET,
            key_index=fields["key_index"],
            raw_id=fields["raw_id"],
            timestamp=fields["timestamp"],
            account_type=fields.get("account_type", 0),
            device_type=fields.get("device_type", 0),
        )


def test_build_pair_success_encodes_zero_types_explicitly() -> None:
    container = pb.ADVSignedDeviceIdentityHMAC.FromString(pinned_pair_success())
    assert container.HasField("account_type")
    signed = pb.ADVSignedDeviceIdentity.FromString(container.details)
    details = pb.ADVDeviceIdentity.FromString(signed.details)
    assert details.HasField("account_type") and details.HasField("device_type")


# --- the server's check of pair-device-sign ----------------------------------------------------


def signed_reply() -> tuple[bytes, bytes]:
    """(the companion's reply to the pinned pair-success, the details the phone issued)."""
    result = verify_pair_success(pinned_pair_success(), ADV_SECRET, COMPANION)
    reply = pb.ADVSignedDeviceIdentity.FromString(result.reply_device_identity)
    return result.reply_device_identity, reply.details


def test_device_signature_by_another_key_is_refused() -> None:
    reply, details = signed_reply()
    with pytest.raises(DeviceSignatureError):
        verify_device_signature(reply, NOISE.public, PHONE.public, details)
    with pytest.raises(DeviceSignatureError):
        verify_device_signature(reply, COMPANION.public, NOISE.public, details)


def test_device_signature_over_other_details_is_refused() -> None:
    reply, details = signed_reply()
    with pytest.raises(DeviceSignatureError, match="other details"):
        verify_device_signature(reply, COMPANION.public, PHONE.public, details + b"\x00")


def test_a_tampered_device_signature_is_refused() -> None:
    reply_bytes, _ = signed_reply()
    reply = pb.ADVSignedDeviceIdentity.FromString(reply_bytes)
    forged = bytearray(reply.device_signature)
    forged[5] ^= 0x40
    reply.device_signature = bytes(forged)
    with pytest.raises(DeviceSignatureError):
        verify_device_signature(reply.SerializeToString(), COMPANION.public, PHONE.public)


def test_a_reply_without_details_is_refused() -> None:
    with pytest.raises(DeviceSignatureError):
        verify_device_signature(b"", COMPANION.public, PHONE.public)


@given(st.binary(max_size=300))
def test_arbitrary_replies_only_raise_device_signature_errors(data: bytes) -> None:
    with pytest.raises(DeviceSignatureError):
        verify_device_signature(data, COMPANION.public, PHONE.public)


def test_rejections_are_remote_errors() -> None:
    for error in (
        MalformedPairSuccessError,
        HmacMismatchError,
        AccountSignatureMismatchError,
        DeviceSignatureError,
    ):
        assert issubclass(error, RemoteProtocolError)


# --- against Baileys --------------------------------------------------------------------------


@pytest.mark.peer
@pytest.mark.parametrize(("browser", "platform_id"), BROWSERS)
def test_qr_string_matches_baileys(
    peer: PeerBridge, browser: tuple[str, str, str], platform_id: str
) -> None:
    baileys = peer.call(
        "qr",
        ref=REF,
        noise=NOISE.public.hex(),
        identity=COMPANION.public.hex(),
        adv=ADV_SECRET.hex(),
        browser=list(browser),
    )
    assert baileys["platform"] == platform_id
    ours = qr_string(
        REF, NOISE.public, COMPANION.public, ADV_SECRET, companion_platform_id(browser)
    )
    assert ours == baileys["qr"]


def baileys_pair(peer: PeerBridge, container: bytes, secret: bytes = ADV_SECRET) -> dict[str, Any]:
    return peer.call(
        "pair_success",
        stanzaId="pair-1",
        keyIndex=7,
        deviceIdentity=container.hex(),
        advSecret=secret.hex(),
        identityPriv=COMPANION.private.hex(),
        identityPub=COMPANION.public.hex(),
        jid="15551234567:1@s.whatsapp.net",
        lid="123456789:1@lid",
    )


@pytest.mark.peer
@pytest.mark.parametrize(("account_type", "device_type"), list(itertools.product([0, 1], [0, 1])))
def test_baileys_accepts_our_pair_success(
    peer: PeerBridge, account_type: int, device_type: int
) -> None:
    container = build_pair_success(
        PHONE,
        COMPANION.public,
        ADV_SECRET,
        key_index=7,
        raw_id=4242,
        timestamp=TIMESTAMP,
        account_type=account_type,
        device_type=device_type,
    )
    baileys = baileys_pair(peer, container)
    assert baileys["keyIndex"] == "7"
    assert baileys["replyAttrs"] == {"to": "@s.whatsapp.net", "type": "result", "id": "pair-1"}
    assert baileys["identityKey"] == "05" + PHONE.public.hex()
    baileys_reply = bytes.fromhex(baileys["deviceIdentity"])
    # The server's check accepts Baileys' device signature (libsignal's sign-bit convention).
    details = verify_device_signature(baileys_reply, COMPANION.public, PHONE.public)
    assert details.key_index == 7 and details.raw_id == 4242

    # Our reply and stored account equal Baileys' field for field; only the device signatures
    # differ, as XEdDSA nonces do. Both encodings must agree once the signature is the same.
    ours = verify_pair_success(container, ADV_SECRET, COMPANION)
    ours_reply = pb.ADVSignedDeviceIdentity.FromString(ours.reply_device_identity)
    theirs_reply = pb.ADVSignedDeviceIdentity.FromString(baileys_reply)
    ours_reply.device_signature = theirs_reply.device_signature
    assert ours_reply.SerializeToString() == baileys_reply
    ours_account = pb.ADVSignedDeviceIdentity.FromString(ours.account)
    ours_account.device_signature = theirs_reply.device_signature
    assert ours_account.SerializeToString().hex() == baileys["account"]


@pytest.mark.peer
def test_baileys_accepts_the_pinned_pair_success(peer: PeerBridge) -> None:
    baileys = baileys_pair(peer, bytes.fromhex(PINNED_PAIR_SUCCESS))
    assert baileys["keyIndex"] == "7"


@pytest.mark.peer
def test_baileys_and_we_refuse_a_wrong_hmac(peer: PeerBridge) -> None:
    with pytest.raises(PeerError, match="Invalid account signature"):
        baileys_pair(peer, pinned_pair_success(), secret=bytes(32))
    with pytest.raises(HmacMismatchError):
        verify_pair_success(pinned_pair_success(), bytes(32), COMPANION)


@pytest.mark.peer
def test_we_verify_libsignal_account_signatures(peer: PeerBridge) -> None:
    # libsignal stores the sign bit of the phone's Edwards key in sig[63] bit 7; a verifier that
    # ignores it rejects half of all phones. Use phone keys until both signs have been seen.
    sign_bits = set()
    for index in range(16):
        phone = key_pair(f"libsignal phone {index}")
        details = pb.ADVDeviceIdentity(
            raw_id=index, timestamp=TIMESTAMP, key_index=index
        ).SerializeToString()
        message = b"\x06\x00" + details + COMPANION.public
        signature = bytes.fromhex(
            peer.call("sign", priv=phone.private.hex(), message=message.hex())["signature"]
        )
        sign_bits.add(signature[63] >> 7)
        signed = signed_identity(details, signature, phone.public)
        result = verify_pair_success(hmac_container(signed, ADV_SECRET), ADV_SECRET, COMPANION)
        assert result.key_index == index
        if sign_bits == {0, 1}:
            break
    assert sign_bits == {0, 1}
