"""The ClientPayload: what the client says about itself inside the Noise ClientFinish message.

Two shapes, as Baileys builds them (docs/protocol/handshake.md#client-payload; ``generateLoginNode``
and ``generateRegistrationNode`` in Baileys' ``validate-connection``):

- **login** of a registered device: the account's phone number and device number,
  ``passive`` and ``pull`` true, ``lidDbMigrated`` false;
- **registration** (no account yet, QR or pairing code to come): the Signal identity and signed
  pre-key, the build hash of the version, and the encoded ``DeviceProps``; ``passive`` and
  ``pull`` false.

Every input is an explicit plain value: this module knows nothing of credential stores.

Version: the default is ``DEFAULT_VERSION`` = 2.3000.1045649367, the newest WhatsApp Web build we
know of (whatsmeow, August 2026). WhatsApp refuses clients it deems outdated (405), so the newest
known build is the safest default; the pinned Baileys peer (7.0.0-rc14) sends 2.3000.1043857760
and the facts sheet's Baileys rc13 sent 2.3000.1035194821. The version is an input, and the tests
compare with Baileys by handing both sides the same version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import cast

from google.protobuf.message import DecodeError

from walink.protocol.errors import RemoteProtocolError
from walink.protocol.keys import KEY_BUNDLE_TYPE
from walink.protocol.proto import wa_pb2

__all__ = [
    "DEFAULT_BROWSER",
    "DEFAULT_VERSION",
    "PayloadOptions",
    "build_hash",
    "device_props",
    "login_payload",
    "parse_client_payload",
    "registration_payload",
]

_Payload = wa_pb2.ClientPayload
_UserAgent = wa_pb2.ClientPayload.UserAgent
_WebInfo = wa_pb2.ClientPayload.WebInfo

#: WhatsApp Web build (primary, secondary, tertiary) sent by default; see the module docstring.
DEFAULT_VERSION: tuple[int, int, int] = (2, 3000, 1045649367)
#: (operating system, browser, OS version), Baileys' default ``Browsers.macOS('Chrome')``.
#: The OS version (third item) is sent nowhere; it is kept for parity with Baileys' config.
DEFAULT_BROWSER: tuple[str, str, str] = ("Mac OS", "Chrome", "14.4.1")

# DeviceProps.version is fixed in Baileys, whatever the browser.
_DEVICE_PROPS_VERSION = (10, 15, 7)
# Baileys upgrades webSubPlatform only for these operating systems with the "Desktop" browser.
_DESKTOP_SUB_PLATFORMS = {"Mac OS": _WebInfo.DARWIN, "Windows": _WebInfo.WIN32}


@dataclass(frozen=True, slots=True, kw_only=True)
class PayloadOptions:
    """The client's self-description, common to login and registration (Baileys' socket config)."""

    version: tuple[int, int, int] = DEFAULT_VERSION
    """WhatsApp Web build: user agent app version and, hashed, the registration build hash."""
    browser: tuple[str, str, str] = DEFAULT_BROWSER
    """(OS, browser, OS version): OS and browser become DeviceProps.os and its platform type."""
    country_code: str = "US"
    """ISO 3166-1 alpha-2 country of the user agent."""
    push_name: str | None = None
    """Sent only when set (Baileys documents it as used by mock servers)."""
    sync_full_history: bool = True
    """Ask for the full history at registration (DeviceProps.requireFullSync)."""

    def __post_init__(self) -> None:
        if len(self.version) != 3 or any(not 0 <= part < 2**32 for part in self.version):
            raise ValueError("version is three uint32 numbers")
        if len(self.browser) != 3:
            raise ValueError("browser is (OS, browser, OS version)")

    @property
    def is_android(self) -> bool:
        # Baileys' own test: an "Android" browser name switches platform and drops webInfo.
        return "android" in self.browser[1].lower()


def build_hash(version: tuple[int, int, int]) -> bytes:
    """MD5 of ``"primary.secondary.tertiary"``: the registration's ``buildHash``."""
    return hashlib.md5(".".join(str(part) for part in version).encode("ascii")).digest()


def login_payload(
    *,
    username: int,
    device: int | None,
    options: PayloadOptions | None = None,
    passive: bool = True,
    pull: bool = True,
) -> wa_pb2.ClientPayload:
    """The payload of a registered device: ``username`` is the phone number of ``me``'s JID
    (``15551234567`` of ``15551234567:3@s.whatsapp.net``), ``device`` its device number
    (None when the JID has none; 0 is sent as 0)."""
    if not 0 <= username < 2**64:
        raise ValueError("username is the numeric user part of the account JID")
    payload = _common(options or PayloadOptions())
    payload.passive = passive
    payload.pull = pull
    payload.username = username
    if device is not None:
        payload.device = device
    # Baileys hard-codes false (marked TODO there); whatsmeow sends true.
    payload.lid_db_migrated = False
    return payload


def registration_payload(
    *,
    registration_id: int,
    identity_public: bytes,
    signed_pre_key_id: int,
    signed_pre_key_public: bytes,
    signed_pre_key_signature: bytes,
    options: PayloadOptions | None = None,
) -> wa_pb2.ClientPayload:
    """The payload of a device that is not registered yet (before QR or pairing-code login)."""
    options = options or PayloadOptions()
    if len(identity_public) != 32 or len(signed_pre_key_public) != 32:
        raise ValueError("public keys are 32 bytes (no 05 prefix)")
    if len(signed_pre_key_signature) != 64:
        raise ValueError("the signed pre-key signature is 64 bytes")
    if not 0 <= registration_id < 2**32 or not 0 <= signed_pre_key_id < 2**24:
        raise ValueError("registration id is 4 bytes and signed pre-key id 3 bytes")
    payload = _common(options)
    payload.passive = False
    payload.pull = False
    payload.device_pairing_data.CopyFrom(
        _Payload.DevicePairingRegistrationData(
            e_regid=registration_id.to_bytes(4, "big"),
            e_keytype=KEY_BUNDLE_TYPE,
            e_ident=identity_public,
            e_skey_id=signed_pre_key_id.to_bytes(3, "big"),
            e_skey_val=signed_pre_key_public,
            e_skey_sig=signed_pre_key_signature,
            build_hash=build_hash(options.version),
            device_props=device_props(options).SerializeToString(),
        )
    )
    return payload


def device_props(options: PayloadOptions) -> wa_pb2.DeviceProps:
    """The companion's DeviceProps, as Baileys builds them (registration only)."""
    primary, secondary, tertiary = _DEVICE_PROPS_VERSION
    return wa_pb2.DeviceProps(
        os=options.browser[0],
        version=wa_pb2.DeviceProps.AppVersion(
            primary=primary, secondary=secondary, tertiary=tertiary
        ),
        platform_type=_platform_type(options.browser[1]),
        require_full_sync=options.sync_full_history,
        history_sync_config=wa_pb2.DeviceProps.HistorySyncConfig(
            storage_quota_mb=10240,
            inline_initial_payload_in_e2ee_msg=True,
            support_call_log_history=False,
            support_bot_user_agent_chat_history=True,
            support_cag_reactions_and_polls=True,
            support_biz_hosted_msg=True,
            support_recent_sync_chunk_message_count_tuning=True,
            support_hosted_group_msg=True,
            support_fbid_bot_chat_history=True,
            support_message_association=True,
            support_group_history=False,
        ),
    )


def parse_client_payload(data: bytes) -> wa_pb2.ClientPayload:
    """Decode a ClientPayload (the server side of the handshake); bad bytes are the peer's fault."""
    payload = _Payload()
    try:
        payload.ParseFromString(bytes(data))
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise RemoteProtocolError(f"ClientPayload does not decode: {exc}") from exc
    return payload


def _platform_type(browser: str) -> wa_pb2.DeviceProps.PlatformType:
    name = browser.upper()
    if name == "ANDROID":
        return wa_pb2.DeviceProps.ANDROID_PHONE
    try:
        # Value() is typed as a plain int; at runtime it is exactly an enum number.
        value = cast(wa_pb2.DeviceProps.PlatformType, wa_pb2.DeviceProps.PlatformType.Value(name))
    except ValueError:
        return wa_pb2.DeviceProps.CHROME
    # Baileys' `PlatformType[name] || CHROME` also turns UNKNOWN (0) into CHROME.
    return value or wa_pb2.DeviceProps.CHROME


def _common(options: PayloadOptions) -> wa_pb2.ClientPayload:
    primary, secondary, tertiary = options.version
    payload = _Payload(
        connect_type=_Payload.WIFI_UNKNOWN,
        connect_reason=_Payload.USER_ACTIVATED,
        user_agent=_UserAgent(
            app_version=_UserAgent.AppVersion(
                primary=primary, secondary=secondary, tertiary=tertiary
            ),
            platform=_UserAgent.ANDROID if options.is_android else _UserAgent.WEB,
            release_channel=_UserAgent.RELEASE,
            os_version="0.1",
            device="Desktop",
            os_build_number="0.1",
            locale_language_iso6391="en",
            mnc="000",
            mcc="000",
            locale_country_iso31661_alpha2=options.country_code,
        ),
    )
    if not options.is_android:
        sub_platform = _WebInfo.WEB_BROWSER
        if options.sync_full_history and options.browser[1] == "Desktop":
            sub_platform = _DESKTOP_SUB_PLATFORMS.get(options.browser[0], _WebInfo.WEB_BROWSER)
        payload.web_info.web_sub_platform = sub_platform
    if options.push_name:
        payload.push_name = options.push_name
    return payload
