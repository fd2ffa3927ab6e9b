"""walink.auth.creds_json: Creds <-> Baileys' creds.json object, field by field."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.auth.strategies import creds_strategy, full_creds
from walink.auth import Creds, bufferjson
from walink.auth.creds_json import LOGGED_OUT_KEY, creds_from_json, creds_to_json


@given(creds_strategy)
def test_round_trip_through_bufferjson_text(creds: Creds) -> None:
    assert creds_from_json(bufferjson.loads(bufferjson.dumps(creds_to_json(creds)))) == creds


def test_every_field_has_baileys_name_and_shape() -> None:
    creds = full_creds()
    obj = creds_to_json(creds)
    assert obj["noiseKey"] == {"private": creds.noise_key.private, "public": creds.noise_key.public}
    assert obj["signedPreKey"] == {
        "keyPair": {
            "private": creds.signed_pre_key.key_pair.private,
            "public": creds.signed_pre_key.key_pair.public,
        },
        "signature": creds.signed_pre_key.signature,
        "keyId": 1,
        "timestampS": 1700000000,
    }
    # Baileys keeps the ADV secret as base64 text and the account as protobuf JSON (base64 text).
    assert obj["advSecretKey"] == base64.b64encode(creds.adv_secret_key).decode()
    assert creds.account is not None
    assert obj["account"] == {
        "details": base64.b64encode(creds.account.details).decode(),
        "accountSignatureKey": base64.b64encode(
            creds.account.account_signature_key or b""
        ).decode(),
        "accountSignature": base64.b64encode(creds.account.account_signature or b"").decode(),
        "deviceSignature": base64.b64encode(creds.account.device_signature or b"").decode(),
    }
    assert obj["signalIdentities"] == [
        {
            "identifier": {"name": "98765432101234:3@lid", "deviceId": 0},
            "identifierKey": creds.signal_identities[0].identifier_key,  # type: ignore[index]
        }
    ]
    assert obj["me"] == {
        "id": "15551234567:3@s.whatsapp.net",
        "name": "Walink",
        "lid": "98765432101234:3@lid",
    }
    assert obj["accountSettings"] == {
        "unarchiveChats": True,
        "defaultDisappearingMode": {
            "ephemeralExpiration": 86400,
            "ephemeralSettingTimestamp": 1700000000,
        },
    }
    expected_scalars = {
        "registrationId": creds.registration_id,
        "nextPreKeyId": 31,
        "firstUnuploadedPreKeyId": 31,
        "accountSyncCounter": 2,
        "registered": True,
        "pairingCode": "ABCD1234",
        "lastPropHash": "3R2mXh",
        "routingInfo": creds.routing_info,
        "myAppStateKeyId": "AAAAAGNi",
        "lastAccountSyncTimestamp": 1700000000,
        "platform": "smba",
        "futureField": creds.extra["futureField"],
    }
    assert {k: obj[k] for k in expected_scalars} == expected_scalars


def test_unset_optional_fields_are_left_out_like_undefined() -> None:
    obj = creds_to_json(Creds.new())
    for name in ("me", "account", "signalIdentities", "platform", "pairingCode", "routingInfo"):
        assert name not in obj


def test_protobuf_json_integers_and_base64_text_are_accepted() -> None:
    obj: dict[str, Any] = creds_to_json(full_creds())
    obj["lastAccountSyncTimestamp"] = "1700000001"
    obj["routingInfo"] = base64.b64encode(b"route").decode()
    creds = creds_from_json(obj)
    assert creds.last_account_sync_timestamp == 1700000001
    assert creds.routing_info == b"route"


def test_null_reads_as_unset() -> None:
    obj: dict[str, Any] = creds_to_json(Creds.new())
    obj.update(me=None, platform=None, pairingCode=None)
    creds = creds_from_json(obj)
    assert (creds.me, creds.platform, creds.pairing_code) == (None, None, None)


def _broken(change: Any) -> dict[str, Any]:
    obj: dict[str, Any] = creds_to_json(full_creds())
    change(obj)
    return obj


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.pop("noiseKey"), "noiseKey"),
        (lambda o: o["signedIdentityKey"].pop("private"), "signedIdentityKey.private"),
        (lambda o: o["noiseKey"].update(public=b"short"), "noiseKey"),
        (lambda o: o["signedPreKey"].update(signature=b"\x00" * 63), "signature"),
        (lambda o: o.update(registrationId=16384), "registration id"),
        (lambda o: o.update(registrationId="x"), "registrationId"),
        (lambda o: o.update(advSecretKey="AAAA"), "ADV secret"),
        (lambda o: o.update(me={"name": "no id"}), "me.id"),
        (lambda o: o.update(signalIdentities={}), "signalIdentities"),
        (lambda o: o["account"].pop("details"), "account.details"),
        (lambda o: o.update(processedHistoryMessages=5), "processedHistoryMessages"),
    ],
)
def test_a_missing_or_malformed_field_is_named(change: Any, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        creds_from_json(_broken(change))


def test_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="creds"):
        creds_from_json([1, 2])


def test_registration_ids_from_baileys_full_mask_range_load() -> None:
    for registration_id in (0, 16383):
        obj: dict[str, Any] = creds_to_json(Creds.new())
        obj["registrationId"] = registration_id
        assert creds_from_json(obj).registration_id == registration_id


def test_contact_extra_fields_survive() -> None:
    creds = full_creds()
    assert creds.me is not None
    me = dataclasses.replace(creds.me, extra={"notify": "Hi", "verifiedName": "Biz"})
    obj = creds_to_json(dataclasses.replace(creds, me=me))
    assert obj["me"]["notify"] == "Hi"  # type: ignore[index,call-overload]
    assert creds_from_json(obj).me == me


# -- walink's own logged-out mark ---------------------------------------------------------------


@given(creds_strategy, st.booleans())
def test_the_logged_out_mark_round_trips_through_bufferjson_text(
    creds: Creds, logged_out: bool
) -> None:
    marked = dataclasses.replace(creds, logged_out=logged_out)
    text = bufferjson.dumps(creds_to_json(marked))
    loaded = creds_from_json(bufferjson.loads(text))
    assert loaded == marked and loaded.logged_out is logged_out
    # the mark is a typed field, never also kept among the unknown ones
    assert LOGGED_OUT_KEY not in loaded.extra


def test_the_mark_is_written_only_when_set() -> None:
    # credentials never logged out keep exactly Baileys' JSON (captures and interop unchanged)
    creds = full_creds()
    assert LOGGED_OUT_KEY not in creds_to_json(creds)
    marked = creds_to_json(dataclasses.replace(creds, logged_out=True))
    assert marked[LOGGED_OUT_KEY] is True
    assert {k: v for k, v in marked.items() if k != LOGGED_OUT_KEY} == creds_to_json(creds)


@pytest.mark.parametrize(("stored", "expected"), [(None, False), (False, False), (True, True)])
def test_a_baileys_object_without_the_mark_loads_as_not_logged_out(
    stored: bool | None, expected: bool
) -> None:
    obj: dict[str, Any] = creds_to_json(full_creds())
    if stored is not None:
        obj[LOGGED_OUT_KEY] = stored
    assert creds_from_json(obj).logged_out is expected


@pytest.mark.parametrize("value", [1, "true", 0, [], {}])
def test_a_mark_that_is_not_a_boolean_is_corruption(value: object) -> None:
    obj: dict[str, Any] = creds_to_json(full_creds())
    obj[LOGGED_OUT_KEY] = value
    with pytest.raises(ValueError, match=LOGGED_OUT_KEY):
        creds_from_json(obj)


@pytest.mark.peer
def test_baileys_loads_a_folder_with_the_mark(peer_dir: Path, tmp_path: Path) -> None:
    """Baileys' useMultiFileAuthState reads a marked creds.json like any other (it keeps the
    unknown key as it is), and walink reads it back marked."""
    from tests.peer_bridge import PeerBridge
    from walink.auth import MultiFileStore

    marked = dataclasses.replace(full_creds(), logged_out=True)
    with MultiFileStore(tmp_path) as store:
        store.save(marked)
    with PeerBridge(peer_dir, "auth-bridge.mjs") as baileys:
        reply = baileys.call("read", folder=str(tmp_path), ids={})
    seen: Any = bufferjson.loads(reply["creds"])
    assert seen == creds_to_json(marked) and seen[LOGGED_OUT_KEY] is True
    assert reply["signatureOk"] is True
    with MultiFileStore(tmp_path) as store:
        assert store.load() == marked
