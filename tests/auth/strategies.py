"""Hypothesis strategies and full examples for walink.auth tests (shared by its test modules)."""

from __future__ import annotations

import dataclasses
import random
from types import MappingProxyType
from typing import Any

from hypothesis import strategies as st

from walink.auth import (
    AccountSettings,
    AppStateSyncKeyData,
    AppStateSyncKeyFingerprint,
    Contact,
    Creds,
    KeyPair,
    SignalIdentity,
    SignedDeviceIdentity,
    SignedKeyPair,
)
from walink.auth.bufferjson import JSONValue

# Object keys that can never look like integers (the reviver's legacy Buffer rule) nor "type".
_keys = st.text(alphabet="abcdefghij-_:./@", max_size=8).map(lambda s: "k" + s)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)
json_values: st.SearchStrategy[JSONValue] = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(_keys, json_values, max_size=4)

key_pairs = st.builds(
    KeyPair, private=st.binary(min_size=32, max_size=32), public=st.binary(min_size=32, max_size=32)
)
_optional_bytes = st.none() | st.binary(max_size=70)
_optional_text = st.none() | st.text(max_size=30)

creds_strategy: st.SearchStrategy[Creds] = st.builds(
    Creds,
    noise_key=key_pairs,
    pairing_ephemeral_key_pair=key_pairs,
    signed_identity_key=key_pairs,
    signed_pre_key=st.builds(
        SignedKeyPair,
        key_pair=key_pairs,
        signature=st.binary(min_size=64, max_size=64),
        key_id=st.integers(0, 2**24 - 1),
    ),
    registration_id=st.integers(0, 16383),
    adv_secret_key=st.binary(min_size=32, max_size=32),
    processed_history_messages=st.lists(json_values, max_size=3).map(tuple),
    next_pre_key_id=st.integers(1, 2**24),
    first_unuploaded_pre_key_id=st.integers(1, 2**24),
    account_sync_counter=st.integers(0, 2**31),
    account_settings=st.builds(
        AccountSettings,
        unarchive_chats=st.booleans(),
        default_disappearing_mode=st.none() | json_objects.map(MappingProxyType),
    ),
    registered=st.booleans(),
    pairing_code=_optional_text,
    last_prop_hash=_optional_text,
    routing_info=_optional_bytes,
    additional_data=json_values,
    signed_pre_key_timestamp=st.none() | st.integers(0, 2**40),
    me=st.none()
    | st.builds(
        Contact,
        id=st.text(max_size=30),
        lid=_optional_text,
        name=_optional_text,
        extra=json_objects.map(MappingProxyType),
    ),
    account=st.none()
    | st.builds(
        SignedDeviceIdentity,
        details=st.binary(max_size=60),
        account_signature_key=_optional_bytes,
        account_signature=_optional_bytes,
        device_signature=_optional_bytes,
    ),
    signal_identities=st.none()
    | st.lists(
        st.builds(
            SignalIdentity,
            name=st.text(max_size=30),
            device_id=st.integers(0, 99),
            identifier_key=st.binary(min_size=33, max_size=33),
        ),
        max_size=3,
    ).map(tuple),
    my_app_state_key_id=_optional_text,
    last_account_sync_timestamp=st.none() | st.integers(0, 2**40),
    platform=_optional_text,
    extra=st.dictionaries(_keys.map(lambda k: "x" + k), json_values, max_size=3).map(
        MappingProxyType
    ),
)

app_state_keys = st.builds(
    AppStateSyncKeyData,
    key_data=st.binary(max_size=40),
    fingerprint=st.none()
    | st.builds(
        AppStateSyncKeyFingerprint,
        raw_id=st.none() | st.integers(0, 2**32 - 1),
        current_index=st.none() | st.integers(0, 2**32 - 1),
        device_indexes=st.lists(st.integers(0, 2**32 - 1), max_size=4).map(tuple),
    ),
    timestamp=st.none() | st.integers(-(2**63), 2**63 - 1),
)


def seeded_rng(seed: int) -> Any:
    """A deterministic ``rng(n) -> bytes`` for ``Creds.new``."""
    generator = random.Random(seed)
    return lambda n: generator.randbytes(n)


def full_creds(seed: int = 1) -> Creds:
    """Credentials with every optional field set, as after pairing and a few syncs."""
    rng = seeded_rng(seed)
    base = Creds.new(rng=rng)
    return dataclasses.replace(
        base,
        processed_history_messages=(
            {
                "key": {"remoteJid": "1555@s.whatsapp.net", "fromMe": False, "id": "3EB0"},
                "messageTimestamp": 17,
            },
        ),
        next_pre_key_id=31,
        first_unuploaded_pre_key_id=31,
        account_sync_counter=2,
        account_settings=AccountSettings(
            unarchive_chats=True,
            default_disappearing_mode=MappingProxyType(
                {"ephemeralExpiration": 86400, "ephemeralSettingTimestamp": 1700000000}
            ),
        ),
        registered=True,
        pairing_code="ABCD1234",
        last_prop_hash="3R2mXh",
        routing_info=rng(12),
        additional_data={"note": "kept verbatim", "blob": rng(5)},
        signed_pre_key_timestamp=1700000000,
        me=Contact(id="15551234567:3@s.whatsapp.net", lid="98765432101234:3@lid", name="Walink"),
        account=SignedDeviceIdentity(
            details=rng(40),
            account_signature_key=rng(32),
            account_signature=rng(64),
            device_signature=rng(64),
        ),
        signal_identities=(
            SignalIdentity(
                name="98765432101234:3@lid", device_id=0, identifier_key=b"\x05" + rng(32)
            ),
        ),
        my_app_state_key_id="AAAAAGNi",
        last_account_sync_timestamp=1700000000,
        platform="smba",
        extra=MappingProxyType({"futureField": [1, "two", rng(3)]}),
    )


def every_key_type(seed: int = 1) -> dict[str, dict[str, Any]]:
    """One or two values of every Baileys key type, in the shapes Baileys stores."""
    rng = seeded_rng(seed)
    return {
        "pre-key": {"7": KeyPair.generate(rng), "8": KeyPair.generate(rng)},
        "session": {
            "15551234567.0": {"_sessions": {"YWJj": {"registrationId": 42}}, "version": "v1"}
        },
        "sender-key": {"120363@g.us::15551234567::0": b'[{"senderKeyId":1}]'},
        "sender-key-memory": {"120363@g.us": {"15551234567:1@s.whatsapp.net": True}},
        "app-state-sync-key": {
            "AAAAAGNi": AppStateSyncKeyData(
                key_data=rng(32),
                fingerprint=AppStateSyncKeyFingerprint(
                    raw_id=5, current_index=2, device_indexes=(0, 1)
                ),
                timestamp=1700000000123,
            )
        },
        "app-state-sync-version": {
            "regular_high": {
                "version": 12,
                "hash": rng(128),
                "indexValueMap": {"aW5kZXg=": {"valueMac": rng(32)}},
            }
        },
        "lid-mapping": {"15551234567": "98765432101234", "98765432101234_reverse": "15551234567"},
        "device-list": {"15551234567": ["0", "3"]},
        "tctoken": {"98765432101234@lid": {"token": rng(20), "timestamp": "1700000000"}},
        "identity-key": {"98765432101234_1.0": b"\x05" + rng(32)},
    }
