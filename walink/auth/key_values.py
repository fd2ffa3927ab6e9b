"""Values of the key store, by Baileys' type names, to and from their JSON objects.

Typed where Baileys' JSON is fixed and walink uses the value:

=========================  ====================================  ==================================
type                       Python value                          Baileys' JSON
=========================  ====================================  ==================================
``pre-key``                ``KeyPair``                           ``{private, public}`` Buffers
``app-state-sync-key``     ``AppStateSyncKeyData``               protobuf JSON: ``keyData`` base64
                                                                 text, ``timestamp`` decimal text
=========================  ====================================  ==================================

Every other type (``session``, ``sender-key``, ``sender-key-memory``, ``app-state-sync-version``,
``lid-mapping``, ``device-list``, ``tctoken``, ``identity-key`` and types a newer Baileys adds) is
kept as its decoded BufferJSON value, verbatim: Buffers are ``bytes`` (``identity-key``,
``sender-key`` today), ``session`` is libsignal's record object, ``lid-mapping`` a string,
``device-list`` a list of strings, ``sender-key-memory`` a ``{jid: bool}`` object. Keeping them
verbatim is what lets a folder pass through walink and back to Baileys unchanged, whatever
version of libsignal wrote it.
"""

from __future__ import annotations

import base64
from typing import Any, TypeAlias

from walink.auth.bufferjson import JSONValue, decode_base64
from walink.auth.creds_json import key_pair_from_json, key_pair_to_json
from walink.auth.model import AppStateSyncKeyData, AppStateSyncKeyFingerprint
from walink.protocol.keys import KeyPair

__all__ = [
    "KEY_TYPES",
    "WALINK_KEY_TYPES",
    "WALINK_MESSAGE",
    "KeyValue",
    "key_from_json",
    "key_to_json",
]

KeyValue: TypeAlias = "KeyPair | AppStateSyncKeyData | JSONValue"

#: Baileys' ``SignalDataTypeMap`` names (7.0.0-rc14). Other names are accepted and kept verbatim.
KEY_TYPES = (
    "pre-key",
    "session",
    "sender-key",
    "sender-key-memory",
    "app-state-sync-key",
    "app-state-sync-version",
    "lid-mapping",
    "device-list",
    "tctoken",
    "identity-key",
)

#: walink's own key type: a committed incoming message (its decrypted result, kept as plain
#: BufferJSON data) keyed by the hex sha256 of the ciphertext, so a redelivered stanza is
#: answered without decrypting again. Baileys never reads it (``walink-message-<hex>.json``).
WALINK_MESSAGE = "walink-message"

#: Key types only walink writes; every store keeps them like any other type.
WALINK_KEY_TYPES = (WALINK_MESSAGE,)


def key_to_json(key_type: str, value: KeyValue) -> JSONValue:
    """The JSON object Baileys writes for ``value`` (bytes still ``bytes``)."""
    if key_type == "pre-key":
        if not isinstance(value, KeyPair):
            raise TypeError("a pre-key value is a KeyPair")
        return key_pair_to_json(value)
    if key_type == "app-state-sync-key":
        if not isinstance(value, AppStateSyncKeyData):
            raise TypeError("an app-state-sync-key value is an AppStateSyncKeyData")
        return _app_state_key_to_json(value)
    if isinstance(value, KeyPair | AppStateSyncKeyData):
        raise TypeError(f"a {key_type} value is plain BufferJSON data")
    return value


def key_from_json(key_type: str, value: Any) -> KeyValue:
    """Parse a stored value; ``ValueError`` when a typed value has the wrong shape."""
    if key_type == "pre-key":
        return key_pair_from_json(value, "pre-key")
    if key_type == "app-state-sync-key":
        return _app_state_key_from_json(value)
    result: JSONValue = value
    return result


def _app_state_key_to_json(value: AppStateSyncKeyData) -> dict[str, JSONValue]:
    # protobufjs' toJSON: bytes as base64 text, int64 as decimal text, empty repeated omitted.
    out: dict[str, JSONValue] = {"keyData": base64.b64encode(value.key_data).decode("ascii")}
    if value.fingerprint is not None:
        fingerprint: dict[str, JSONValue] = {}
        if value.fingerprint.raw_id is not None:
            fingerprint["rawId"] = value.fingerprint.raw_id
        if value.fingerprint.current_index is not None:
            fingerprint["currentIndex"] = value.fingerprint.current_index
        if value.fingerprint.device_indexes:
            fingerprint["deviceIndexes"] = list(value.fingerprint.device_indexes)
        out["fingerprint"] = fingerprint
    if value.timestamp is not None:
        out["timestamp"] = str(value.timestamp)
    return out


def _int(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, dict) and {"low", "high"} <= value.keys():
        # A protobufjs Long that was stored without toJSON.
        low, high = _int(value["low"], where), _int(value["high"], where)
        combined = (high << 32) | (low & 0xFFFFFFFF)
        return combined if value.get("unsigned") else combined - ((combined >> 63) << 64)
    raise ValueError(f"app-state-sync-key {where} is not an integer")


def _app_state_key_from_json(value: object) -> AppStateSyncKeyData:
    if not isinstance(value, dict):
        raise ValueError("app-state-sync-key is not an object")
    key_data = value.get("keyData")
    if isinstance(key_data, str):
        key_data = decode_base64(key_data)
    if not isinstance(key_data, bytes):
        raise ValueError("app-state-sync-key keyData is not bytes")
    raw_fingerprint = value.get("fingerprint")
    fingerprint = None
    if raw_fingerprint is not None:
        if not isinstance(raw_fingerprint, dict):
            raise ValueError("app-state-sync-key fingerprint is not an object")
        raw_id, index = raw_fingerprint.get("rawId"), raw_fingerprint.get("currentIndex")
        indexes = raw_fingerprint.get("deviceIndexes") or []
        if not isinstance(indexes, list):
            raise ValueError("app-state-sync-key deviceIndexes is not an array")
        fingerprint = AppStateSyncKeyFingerprint(
            raw_id=None if raw_id is None else _int(raw_id, "rawId"),
            current_index=None if index is None else _int(index, "currentIndex"),
            device_indexes=tuple(_int(i, "deviceIndexes") for i in indexes),
        )
    timestamp = value.get("timestamp")
    return AppStateSyncKeyData(
        key_data=key_data,
        fingerprint=fingerprint,
        timestamp=None if timestamp is None else _int(timestamp, "timestamp"),
    )
