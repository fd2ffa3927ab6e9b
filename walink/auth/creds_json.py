"""``Creds`` to and from the JSON object of Baileys' ``creds.json`` (before BufferJSON text).

Baileys' shapes, field by field (docs/protocol/credentials.md#creds-fields): key pairs are
``{private, public}`` Buffers, ``advSecretKey`` is base64 *text*, ``account`` is a protobuf instance
whose ``toJSON`` writes its bytes as plain base64 strings, ``signalIdentities[].identifierKey`` is a
Buffer. Optional fields that are unset are left out, as ``JSON.stringify`` leaves out ``undefined``.

``walinkLoggedOut`` (``Creds.logged_out``) is walink's own key, written only when True: Baileys
ignores keys it does not know, and credentials that were never logged out keep exactly the JSON
Baileys writes.

Decoding is strict about what Baileys itself relies on (a key pair without its private half is
corruption, not a new device) and raises ``ValueError`` naming the field; the store adds the file.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from walink.auth.bufferjson import JSONValue, decode_base64
from walink.auth.model import (
    AccountSettings,
    Contact,
    Creds,
    SignalIdentity,
    SignedDeviceIdentity,
)
from walink.protocol.keys import KeyPair, SignedKeyPair

__all__ = [
    "LOGGED_OUT_KEY",
    "creds_from_json",
    "creds_to_json",
    "key_pair_from_json",
    "key_pair_to_json",
]

LOGGED_OUT_KEY = "walinkLoggedOut"
"""creds.json key of ``Creds.logged_out`` (walink's own; present only when true)."""

_KNOWN_FIELDS = frozenset(
    {
        "noiseKey",
        "pairingEphemeralKeyPair",
        "signedIdentityKey",
        "signedPreKey",
        "registrationId",
        "advSecretKey",
        "processedHistoryMessages",
        "nextPreKeyId",
        "firstUnuploadedPreKeyId",
        "accountSyncCounter",
        "accountSettings",
        "registered",
        "pairingCode",
        "lastPropHash",
        "routingInfo",
        "additionalData",
        "me",
        "account",
        "signalIdentities",
        "myAppStateKeyId",
        "lastAccountSyncTimestamp",
        "platform",
        LOGGED_OUT_KEY,
    }
)
_CONTACT_FIELDS = frozenset({"id", "lid", "name"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_pair_to_json(pair: KeyPair) -> dict[str, JSONValue]:
    return {"private": pair.private, "public": pair.public}


def creds_to_json(creds: Creds) -> dict[str, JSONValue]:
    """The JSON object Baileys keeps in ``creds.json`` (bytes still ``bytes``)."""
    signed_pre_key: dict[str, JSONValue] = {
        "keyPair": key_pair_to_json(creds.signed_pre_key.key_pair),
        "signature": creds.signed_pre_key.signature,
        "keyId": creds.signed_pre_key.key_id,
    }
    if creds.signed_pre_key_timestamp is not None:
        signed_pre_key["timestampS"] = creds.signed_pre_key_timestamp
    settings: dict[str, JSONValue] = {"unarchiveChats": creds.account_settings.unarchive_chats}
    if creds.account_settings.default_disappearing_mode is not None:
        settings["defaultDisappearingMode"] = dict(creds.account_settings.default_disappearing_mode)
    out: dict[str, JSONValue] = {
        "noiseKey": key_pair_to_json(creds.noise_key),
        "pairingEphemeralKeyPair": key_pair_to_json(creds.pairing_ephemeral_key_pair),
        "signedIdentityKey": key_pair_to_json(creds.signed_identity_key),
        "signedPreKey": signed_pre_key,
        "registrationId": creds.registration_id,
        "advSecretKey": _b64(creds.adv_secret_key),
        "processedHistoryMessages": list(creds.processed_history_messages),
        "nextPreKeyId": creds.next_pre_key_id,
        "firstUnuploadedPreKeyId": creds.first_unuploaded_pre_key_id,
        "accountSyncCounter": creds.account_sync_counter,
        "accountSettings": settings,
        "registered": creds.registered,
    }
    optional: dict[str, JSONValue] = {
        "pairingCode": creds.pairing_code,
        "lastPropHash": creds.last_prop_hash,
        "routingInfo": creds.routing_info,
        "additionalData": creds.additional_data,
        "me": None if creds.me is None else _contact_to_json(creds.me),
        "account": None if creds.account is None else _account_to_json(creds.account),
        "signalIdentities": None
        if creds.signal_identities is None
        else [_identity_to_json(i) for i in creds.signal_identities],
        "myAppStateKeyId": creds.my_app_state_key_id,
        "lastAccountSyncTimestamp": creds.last_account_sync_timestamp,
        "platform": creds.platform,
    }
    out.update({name: value for name, value in optional.items() if value is not None})
    if creds.logged_out:
        out[LOGGED_OUT_KEY] = True
    out.update({k: v for k, v in creds.extra.items() if k not in _KNOWN_FIELDS})
    return out


def _contact_to_json(me: Contact) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {"id": me.id}
    if me.name is not None:
        out["name"] = me.name
    if me.lid is not None:
        out["lid"] = me.lid
    out.update({k: v for k, v in me.extra.items() if k not in _CONTACT_FIELDS})
    return out


def _account_to_json(account: SignedDeviceIdentity) -> dict[str, JSONValue]:
    fields = {
        "details": account.details,
        "accountSignatureKey": account.account_signature_key,
        "accountSignature": account.account_signature,
        "deviceSignature": account.device_signature,
    }
    return {name: _b64(value) for name, value in fields.items() if value is not None}


def _identity_to_json(identity: SignalIdentity) -> dict[str, JSONValue]:
    return {
        "identifier": {"name": identity.name, "deviceId": identity.device_id},
        "identifierKey": identity.identifier_key,
    }


# -- decoding ---------------------------------------------------------------------------------


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not an object")
    return value


def _bytes(value: object, where: str) -> bytes:
    # Buffers come back as bytes; protobuf-JSON and hand-written stores use base64 text.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return decode_base64(value)
    raise ValueError(f"{where} is not bytes")


def _int(value: object, where: str) -> int:
    # Protobuf-JSON writes 64-bit integers as decimal strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"{where} is not an integer")


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where} is not a string")
    return value


def _opt(obj: Mapping[str, Any], name: str) -> Any:
    # JSON null and a missing key both mean "unset" to Baileys (``undefined`` is never written).
    return obj.get(name)


def key_pair_from_json(value: object, where: str) -> KeyPair:
    pair = _object(value, where)
    private = _bytes(pair.get("private"), f"{where}.private")
    public = _bytes(pair.get("public"), f"{where}.public")
    if len(private) != 32 or len(public) != 32:
        raise ValueError(f"{where} keys are not 32 bytes")
    return KeyPair(private=private, public=public)


def creds_from_json(value: object) -> Creds:
    """Parse Baileys' creds object; ``ValueError`` names the first field that is wrong."""
    obj = _object(value, "creds")
    spk = _object(obj.get("signedPreKey"), "signedPreKey")
    signed_pre_key = SignedKeyPair(
        key_pair=key_pair_from_json(spk.get("keyPair"), "signedPreKey.keyPair"),
        signature=_bytes(spk.get("signature"), "signedPreKey.signature"),
        key_id=_int(spk.get("keyId"), "signedPreKey.keyId"),
    )
    timestamp = _opt(spk, "timestampS")
    settings_obj = _object(obj.get("accountSettings", {}), "accountSettings")
    mode = _opt(settings_obj, "defaultDisappearingMode")
    settings = AccountSettings(
        unarchive_chats=bool(settings_obj.get("unarchiveChats", False)),
        default_disappearing_mode=None
        if mode is None
        else MappingProxyType(dict(_object(mode, "accountSettings.defaultDisappearingMode"))),
    )
    history = obj.get("processedHistoryMessages", [])
    if not isinstance(history, list):
        raise ValueError("processedHistoryMessages is not an array")
    routing = _opt(obj, "routingInfo")
    me = _opt(obj, "me")
    account = _opt(obj, "account")
    identities = _opt(obj, "signalIdentities")
    sync_ts = _opt(obj, "lastAccountSyncTimestamp")
    try:
        return Creds(
            noise_key=key_pair_from_json(obj.get("noiseKey"), "noiseKey"),
            pairing_ephemeral_key_pair=key_pair_from_json(
                obj.get("pairingEphemeralKeyPair"), "pairingEphemeralKeyPair"
            ),
            signed_identity_key=key_pair_from_json(
                obj.get("signedIdentityKey"), "signedIdentityKey"
            ),
            signed_pre_key=signed_pre_key,
            signed_pre_key_timestamp=None if timestamp is None else _int(timestamp, "timestampS"),
            registration_id=_int(obj.get("registrationId"), "registrationId"),
            adv_secret_key=_bytes(obj.get("advSecretKey"), "advSecretKey"),
            processed_history_messages=tuple(history),
            next_pre_key_id=_int(obj.get("nextPreKeyId", 1), "nextPreKeyId"),
            first_unuploaded_pre_key_id=_int(
                obj.get("firstUnuploadedPreKeyId", 1), "firstUnuploadedPreKeyId"
            ),
            account_sync_counter=_int(obj.get("accountSyncCounter", 0), "accountSyncCounter"),
            account_settings=settings,
            registered=bool(obj.get("registered", False)),
            pairing_code=_optional_str(obj, "pairingCode"),
            last_prop_hash=_optional_str(obj, "lastPropHash"),
            routing_info=None if routing is None else _bytes(routing, "routingInfo"),
            additional_data=_opt(obj, "additionalData"),
            me=None if me is None else _contact_from_json(me),
            account=None if account is None else _account_from_json(account),
            signal_identities=None
            if identities is None
            else tuple(_identity_from_json(i, n) for n, i in enumerate(_list(identities))),
            my_app_state_key_id=_optional_str(obj, "myAppStateKeyId"),
            last_account_sync_timestamp=None
            if sync_ts is None
            else _int(sync_ts, "lastAccountSyncTimestamp"),
            platform=_optional_str(obj, "platform"),
            logged_out=_logged_out(obj),
            extra=MappingProxyType({k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}),
        )
    except ValueError as error:
        raise ValueError(f"creds: {error}") from None


def _logged_out(obj: Mapping[str, Any]) -> bool:
    # strict: a mark that is not a boolean is corruption, and guessing either way is wrong
    # (False would dial with dead credentials, True would refuse a working device)
    value = obj.get(LOGGED_OUT_KEY, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"{LOGGED_OUT_KEY} is not a boolean")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("signalIdentities is not an array")
    return value


def _optional_str(obj: Mapping[str, Any], name: str) -> str | None:
    value = _opt(obj, name)
    return None if value is None else _str(value, name)


def _contact_from_json(value: object) -> Contact:
    me = _object(value, "me")
    lid, name = _opt(me, "lid"), _opt(me, "name")
    return Contact(
        id=_str(me.get("id"), "me.id"),
        lid=None if lid is None else _str(lid, "me.lid"),
        name=None if name is None else _str(name, "me.name"),
        extra=MappingProxyType({k: v for k, v in me.items() if k not in _CONTACT_FIELDS}),
    )


def _account_from_json(value: object) -> SignedDeviceIdentity:
    account = _object(value, "account")

    def optional(name: str) -> bytes | None:
        field_value = _opt(account, name)
        return None if field_value is None else _bytes(field_value, f"account.{name}")

    return SignedDeviceIdentity(
        details=_bytes(account.get("details"), "account.details"),
        account_signature_key=optional("accountSignatureKey"),
        account_signature=optional("accountSignature"),
        device_signature=optional("deviceSignature"),
    )


def _identity_from_json(value: object, index: int) -> SignalIdentity:
    where = f"signalIdentities[{index}]"
    identity = _object(value, where)
    identifier = _object(identity.get("identifier"), f"{where}.identifier")
    return SignalIdentity(
        name=_str(identifier.get("name"), f"{where}.identifier.name"),
        device_id=_int(identifier.get("deviceId"), f"{where}.identifier.deviceId"),
        identifier_key=_bytes(identity.get("identifierKey"), f"{where}.identifierKey"),
    )
