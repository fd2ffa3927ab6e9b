"""The typed credentials model: every field of Baileys' ``AuthenticationCreds``.

Field names are the snake_case of Baileys' camelCase ones (``noiseKey`` -> ``noise_key``), so
the mapping is mechanical; ``walink.auth.creds_json`` converts to and from Baileys' JSON. Values
are immutable (frozen dataclasses, tuples, bytes): a change is ``dataclasses.replace(creds, ...)``
followed by ``store.save(...)``, so a half-updated object can never be saved.

Reprs never show secrets: key pairs hide their private halves (``KeyPair``'s own repr), and the
ADV secret, the pairing code and free-form data are left out of ``Creds``' repr entirely.

``Creds.logged_out`` is walink's own mark, not a Baileys field: the server removed this device
(docs/protocol/architecture.md#reasons-and-policy: 401/403/406 keep the credentials, marked, and
never reconnect).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from walink.auth.bufferjson import JSONValue
from walink.protocol.keys import (
    KeyPair,
    SignedKeyPair,
    generate_adv_secret,
    generate_registration_id,
    generate_signed_pre_key,
)

__all__ = [
    "AccountSettings",
    "AppStateSyncKeyData",
    "AppStateSyncKeyFingerprint",
    "Contact",
    "Creds",
    "SignalIdentity",
    "SignedDeviceIdentity",
]


def _empty() -> Mapping[str, JSONValue]:
    return MappingProxyType({})


#: Every registration id Baileys can have produced (its generator masks with 16383).
REGISTRATION_ID_RANGE = range(0, 16384)
ADV_SECRET_SIZE = 32
SIGNATURE_SIZE = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """``creds.me``: our own account. Its presence is what makes the next login a login."""

    id: str
    """Our JID with device (``15551234567:3@s.whatsapp.net``)."""
    lid: str | None = None
    name: str | None = None
    extra: Mapping[str, JSONValue] = field(default_factory=_empty, repr=False)
    """Other ``Contact`` fields Baileys may keep (``notify``, ``verifiedName``...), verbatim."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedDeviceIdentity:
    """``creds.account``: the ``ADVSignedDeviceIdentity`` received at pair-success.

    Baileys keeps the protobuf instance, so its JSON holds the bytes as plain base64 strings.
    """

    details: bytes
    account_signature_key: bytes | None = None
    account_signature: bytes | None = None
    device_signature: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalIdentity:
    """One entry of ``creds.signalIdentities``: a Signal address and its identity key."""

    name: str
    device_id: int
    identifier_key: bytes
    """The 33-byte ``05``-prefixed Signal form, as Baileys stores it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSettings:
    """``creds.accountSettings``."""

    unarchive_chats: bool = False
    default_disappearing_mode: Mapping[str, JSONValue] | None = None
    """``{ephemeralExpiration, ephemeralSettingTimestamp}`` when the account has one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppStateSyncKeyFingerprint:
    raw_id: int | None = None
    current_index: int | None = None
    device_indexes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AppStateSyncKeyData:
    """An ``app-state-sync-key`` value (``proto.Message.AppStateSyncKeyData``)."""

    key_data: bytes = field(repr=False)
    fingerprint: AppStateSyncKeyFingerprint | None = None
    timestamp: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Creds:
    """A linked device's credentials (Baileys' ``AuthenticationCreds``), immutable.

    ``extra`` keeps creds.json fields this version does not know, so that loading and saving a
    folder written by a newer Baileys does not drop them.
    """

    noise_key: KeyPair
    pairing_ephemeral_key_pair: KeyPair
    signed_identity_key: KeyPair
    signed_pre_key: SignedKeyPair
    registration_id: int
    adv_secret_key: bytes = field(repr=False)
    """32 raw bytes (Baileys keeps the base64 text)."""
    processed_history_messages: tuple[JSONValue, ...] = ()
    """Baileys' ``MinimalMessage`` objects (``{key, messageTimestamp}``), verbatim."""
    next_pre_key_id: int = 1
    first_unuploaded_pre_key_id: int = 1
    account_sync_counter: int = 0
    account_settings: AccountSettings = AccountSettings()
    registered: bool = False
    pairing_code: str | None = field(default=None, repr=False)
    last_prop_hash: str | None = None
    routing_info: bytes | None = None
    additional_data: JSONValue = field(default=None, repr=False)
    signed_pre_key_timestamp: int | None = None
    """``signedPreKey.timestampS`` when present (seconds)."""
    me: Contact | None = None
    account: SignedDeviceIdentity | None = None
    signal_identities: tuple[SignalIdentity, ...] | None = None
    my_app_state_key_id: str | None = None
    last_account_sync_timestamp: int | None = None
    platform: str | None = None
    logged_out: bool = False
    """walink only: the server logged this device out (401, 403 or 406), so these credentials
    can never log in again and a session refuses to dial with them. Kept in creds.json as
    ``walinkLoggedOut`` only when True (Baileys ignores the key; a folder without it is False)."""
    extra: Mapping[str, JSONValue] = field(default_factory=_empty, repr=False)

    def __post_init__(self) -> None:
        if self.registration_id not in REGISTRATION_ID_RANGE:
            raise ValueError(f"registration id {self.registration_id} is outside 0..16383")
        if len(self.adv_secret_key) != ADV_SECRET_SIZE:
            raise ValueError("the ADV secret key is 32 bytes")
        if len(self.signed_pre_key.signature) != SIGNATURE_SIZE:
            raise ValueError("the signed pre-key signature is 64 bytes")

    @classmethod
    def new(cls, rng: Callable[[int], bytes] = os.urandom) -> Creds:
        """Fresh credentials for a new device, as Baileys' ``initAuthCreds`` makes them.

        The signed pre-key has id 1 and is signed (XEdDSA) by the new identity key over its
        ``05``-prefixed public key; the registration id is uniform in 1..16380.
        """
        identity = KeyPair.generate(rng)
        return cls(
            noise_key=KeyPair.generate(rng),
            pairing_ephemeral_key_pair=KeyPair.generate(rng),
            signed_identity_key=identity,
            signed_pre_key=generate_signed_pre_key(identity, 1, rng),
            registration_id=generate_registration_id(rng),
            adv_secret_key=generate_adv_secret(rng),
        )
