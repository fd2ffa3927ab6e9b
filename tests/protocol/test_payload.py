"""ClientPayload for login and registration, compared byte for byte with Baileys' own builders."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.peer_bridge import PeerBridge
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.keys import KeyPair, generate_signed_pre_key
from walink.protocol.payload import (
    DEFAULT_BROWSER,
    DEFAULT_VERSION,
    PayloadOptions,
    build_hash,
    device_props,
    login_payload,
    parse_client_payload,
    registration_payload,
)
from walink.protocol.proto import wa_pb2

ascii_words = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ _", max_size=12
)
browsers = st.tuples(
    st.one_of(st.sampled_from(["Mac OS", "Windows", "Ubuntu", "Baileys"]), ascii_words),
    st.one_of(
        st.sampled_from(
            ["Chrome", "Desktop", "Firefox", "Safari", "Edge", "Android", "unknown", "ipad"]
        ),
        ascii_words,
    ),
    ascii_words,
)
options_strategy = st.builds(
    PayloadOptions,
    version=st.tuples(
        st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)
    ),
    browser=browsers,
    country_code=st.one_of(st.just("US"), st.text(max_size=4)),
    push_name=st.one_of(st.none(), st.text(max_size=20)),
    sync_full_history=st.booleans(),
)


def baileys_config(options: PayloadOptions) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": list(options.version),
        "browser": list(options.browser),
        "countryCode": options.country_code,
        "syncFullHistory": options.sync_full_history,
    }
    if options.push_name is not None:
        config["pushName"] = options.push_name
    return config


@pytest.fixture(scope="module")
def baileys(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "keys-bridge.mjs") as bridge:
        yield bridge


# --- our own expectations (docs/protocol/handshake.md#client-payload)
# --------------------------------------------------


def test_login_fields() -> None:
    payload = login_payload(username=15551234567, device=3)
    assert payload.username == 15551234567 and payload.device == 3
    assert payload.passive and payload.pull
    assert payload.HasField("lid_db_migrated") and not payload.lid_db_migrated
    assert not payload.HasField("device_pairing_data")
    assert payload.connect_type == wa_pb2.ClientPayload.WIFI_UNKNOWN
    assert payload.connect_reason == wa_pb2.ClientPayload.USER_ACTIVATED
    agent = payload.user_agent
    assert agent.platform == wa_pb2.ClientPayload.UserAgent.WEB
    assert (agent.app_version.primary, agent.app_version.secondary) == DEFAULT_VERSION[:2]
    assert agent.app_version.tertiary == DEFAULT_VERSION[2]
    assert (agent.mcc, agent.mnc, agent.os_version, agent.os_build_number) == (
        "000",
        "000",
        "0.1",
        "0.1",
    )
    assert agent.device == "Desktop" and agent.locale_language_iso6391 == "en"
    assert agent.locale_country_iso31661_alpha2 == "US"
    assert agent.HasField("release_channel") and agent.release_channel == 0
    assert not agent.HasField("manufacturer")
    assert payload.web_info.HasField("web_sub_platform") and payload.web_info.web_sub_platform == 0
    assert not payload.HasField("push_name")


def test_login_device_zero_and_none() -> None:
    assert login_payload(username=1, device=0).HasField("device")
    assert not login_payload(username=1, device=None).HasField("device")


def test_registration_fields() -> None:
    identity = KeyPair.generate()
    pre_key = generate_signed_pre_key(identity, 1)
    payload = registration_payload(
        registration_id=0x1234,
        identity_public=identity.public,
        signed_pre_key_id=1,
        signed_pre_key_public=pre_key.key_pair.public,
        signed_pre_key_signature=pre_key.signature,
    )
    assert payload.HasField("passive") and not payload.passive
    assert payload.HasField("pull") and not payload.pull
    assert not payload.HasField("username") and not payload.HasField("device")
    data = payload.device_pairing_data
    assert data.e_regid == b"\x00\x00\x12\x34"
    assert data.e_keytype == b"\x05"
    assert data.e_ident == identity.public
    assert data.e_skey_id == b"\x00\x00\x01"
    assert data.e_skey_val == pre_key.key_pair.public
    assert data.e_skey_sig == pre_key.signature
    assert data.build_hash == hashlib.md5(b"2.3000.1045649367").digest()
    props = wa_pb2.DeviceProps.FromString(data.device_props)
    assert props.os == "Mac OS" and props.platform_type == wa_pb2.DeviceProps.CHROME
    assert (props.version.primary, props.version.secondary, props.version.tertiary) == (10, 15, 7)
    assert props.require_full_sync
    config = props.history_sync_config
    assert config.storage_quota_mb == 10240 and config.inline_initial_payload_in_e2ee_msg
    assert config.HasField("support_group_history") and not config.support_group_history
    assert not config.HasField("recent_sync_days_limit")


def test_build_hash_of_the_facts_sheet() -> None:
    assert build_hash((2, 3000, 1035194821)).hex() == "a2c9471eff910a9e1ae659890a28872d"


def test_desktop_sub_platform_and_android() -> None:
    mac_desktop = PayloadOptions(browser=("Mac OS", "Desktop", "1"))
    assert login_payload(
        username=1, device=None, options=mac_desktop
    ).web_info.web_sub_platform == (wa_pb2.ClientPayload.WebInfo.DARWIN)
    no_sync = PayloadOptions(browser=("Windows", "Desktop", "1"), sync_full_history=False)
    assert login_payload(username=1, device=None, options=no_sync).web_info.web_sub_platform == 0
    android = PayloadOptions(browser=("Pixel", "Android", ""))
    payload = login_payload(username=1, device=None, options=android)
    assert payload.user_agent.platform == wa_pb2.ClientPayload.UserAgent.ANDROID
    assert not payload.HasField("web_info")
    assert device_props(android).platform_type == wa_pb2.DeviceProps.ANDROID_PHONE
    assert device_props(PayloadOptions(browser=("x", "unknown", ""))).platform_type == 1


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        PayloadOptions(version=(2, 3000))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        login_payload(username=-1, device=None)
    with pytest.raises(ValueError):
        registration_payload(
            registration_id=1,
            identity_public=b"\x05" + b"\x00" * 32,
            signed_pre_key_id=1,
            signed_pre_key_public=b"\x00" * 32,
            signed_pre_key_signature=b"\x00" * 64,
        )
    with pytest.raises(ValueError):
        registration_payload(
            registration_id=1,
            identity_public=b"\x00" * 32,
            signed_pre_key_id=2**24,
            signed_pre_key_public=b"\x00" * 32,
            signed_pre_key_signature=b"\x00" * 64,
        )


def test_parse_round_trip() -> None:
    payload = login_payload(username=15551234567, device=3)
    assert parse_client_payload(payload.SerializeToString()) == payload


@given(data=st.binary(max_size=300))
def test_parse_arbitrary_bytes_or_remote_error(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_client_payload(data)


# --- against Baileys' generateLoginNode / generateRegistrationNode --------------------------


def test_defaults_match_the_peer_except_the_version(baileys: PeerBridge) -> None:
    """The peer's version differs from ours on purpose (see walink.protocol.payload)."""
    defaults = baileys.call("payloadDefaults")
    assert tuple(defaults["browser"]) == DEFAULT_BROWSER
    assert defaults["countryCode"] == PayloadOptions().country_code
    assert defaults["syncFullHistory"] is PayloadOptions().sync_full_history
    assert tuple(defaults["version"]) != DEFAULT_VERSION
    peer_options = PayloadOptions(version=tuple(defaults["version"]))
    ours = login_payload(username=15551234567, device=3, options=peer_options)
    theirs = baileys.call("loginPayload", jid="15551234567:3@s.whatsapp.net", config={})
    assert ours.SerializeToString().hex() == theirs["payload"]


@given(
    options=options_strategy,
    username=st.integers(1, 10**15),
    device=st.one_of(st.none(), st.integers(0, 99)),
)
def test_login_matches_baileys(
    baileys: PeerBridge, options: PayloadOptions, username: int, device: int | None
) -> None:
    jid = f"{username}@s.whatsapp.net" if device is None else f"{username}:{device}@s.whatsapp.net"
    theirs = bytes.fromhex(
        baileys.call("loginPayload", jid=jid, config=baileys_config(options))["payload"]
    )
    ours = login_payload(username=username, device=device, options=options)
    assert parse_client_payload(theirs) == ours  # field by field, presence included
    assert ours.SerializeToString() == theirs


@given(
    options=options_strategy,
    registration_id=st.integers(1, 16380),
    pre_key_id=st.integers(0, 2**24 - 1),
    keys=st.tuples(*(st.binary(min_size=32, max_size=32),) * 2),
    signature=st.binary(min_size=64, max_size=64),
)
def test_registration_matches_baileys(
    baileys: PeerBridge,
    options: PayloadOptions,
    registration_id: int,
    pre_key_id: int,
    keys: tuple[bytes, bytes],
    signature: bytes,
) -> None:
    identity_public, pre_key_public = keys
    theirs = bytes.fromhex(
        baileys.call(
            "registrationPayload",
            registrationId=registration_id,
            identityPub=identity_public.hex(),
            preKeyId=pre_key_id,
            preKeyPub=pre_key_public.hex(),
            preKeySig=signature.hex(),
            config=baileys_config(options),
        )["payload"]
    )
    ours = registration_payload(
        registration_id=registration_id,
        identity_public=identity_public,
        signed_pre_key_id=pre_key_id,
        signed_pre_key_public=pre_key_public,
        signed_pre_key_signature=signature,
        options=options,
    )
    decoded = parse_client_payload(theirs)
    their_props = wa_pb2.DeviceProps.FromString(decoded.device_pairing_data.device_props)
    assert their_props == device_props(options)
    assert decoded == ours
    assert ours.SerializeToString() == theirs
