"""The emulator's device registry: simulated phones and the companions paired to them.

docs/protocol/server.md#parts: every paired companion is (phone user, device number, LID, Noise
static key, identity key, key index) plus the pre-keys it uploaded; every phone has its identity key
pair, its LID, and the next device number and key index it hands out. The registry lives in memory,
or in a state folder as one JSON file written atomically (temp file, fsync, rename), so a crash
never leaves a half-written registry behind and a restarted emulator still knows the devices it
paired.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walink.protocol.keys import KeyPair

__all__ = [
    "DEFAULT_PHONE",
    "Bundle",
    "Device",
    "Phone",
    "Registry",
    "RegistryError",
    "SignedPreKey",
]

Rng = Callable[[int], bytes]

#: The number of the phone that scans a QR when nobody names a phone.
DEFAULT_PHONE = "15550000001"

_FILE_NAME = "registry.json"
_FORMAT_VERSION = 1


class RegistryError(Exception):
    """The state folder holds something that is not a registry this code wrote."""


@dataclass(slots=True)
class Phone:
    """One simulated primary phone (a WhatsApp account)."""

    number: str
    """The phone number, digits only: the user part of ``NUMBER@s.whatsapp.net``."""
    identity: KeyPair
    """The account's identity key pair (Curve25519, signs with XEdDSA)."""
    lid: str
    """The account's LID user part: ``LID@lid``."""
    next_device: int = 1
    """The device number the next companion gets (0 is the phone itself)."""
    next_key_index: int = 1
    """The ADV key index the next companion gets."""


@dataclass(frozen=True, slots=True)
class SignedPreKey:
    """A device's uploaded signed pre-key (``<skey>``)."""

    key_id: int
    public: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Bundle:
    """What the server hands a sender for one device: its keys, and maybe a one-time pre-key."""

    registration_id: int
    identity_key: bytes
    signed_pre_key: SignedPreKey
    pre_key_id: int | None
    pre_key: bytes | None


@dataclass(slots=True)
class Device:
    """One companion device paired to a phone."""

    phone: str
    """The owning phone's number."""
    device: int
    """The device number (``PHONE:DEVICE@s.whatsapp.net``)."""
    lid: str
    """The owning phone's LID user part (the device's LID JID is ``LID:DEVICE@lid``)."""
    noise_key: bytes
    """The companion's Noise static public key, checked at every login."""
    identity_key: bytes
    """The companion's identity public key (it signed pair-device-sign)."""
    key_index: int
    """The ADV key index given at pair-success."""
    pre_key_count: int = 0
    """How many pre-keys the companion has uploaded (answered to ``<count/>``)."""
    pre_keys: dict[int, bytes] = field(default_factory=dict)
    """Uploaded one-time pre-keys by id; each one handed out in a bundle is removed."""
    registration_id: int | None = None
    """The Signal registration id of the last ``encrypt`` upload (None before any)."""
    signed_pre_key: SignedPreKey | None = None
    """The signed pre-key of the last ``encrypt`` upload (None before any)."""

    @property
    def jid(self) -> str:
        """The device's phone-number JID."""
        return f"{self.phone}:{self.device}@s.whatsapp.net"

    @property
    def lid_jid(self) -> str:
        """The device's LID JID."""
        return f"{self.lid}:{self.device}@lid"


class Registry:
    """Phones and devices, optionally persisted to ``state_dir/registry.json``."""

    def __init__(self, *, rng: Rng, state_dir: Path | None = None) -> None:
        self._rng = rng
        self._state_dir = state_dir
        self._phones: dict[str, Phone] = {}
        self._devices: dict[tuple[str, int], Device] = {}
        if state_dir is not None:
            self._load(state_dir / _FILE_NAME)

    # -- phones ------------------------------------------------------------------------------

    def phone(self, number: str | None = None) -> Phone:
        """The phone with this number, created (and saved) the first time it is used."""
        number = DEFAULT_PHONE if number is None else number
        if not number.isdigit():
            raise ValueError(f"a phone number is digits only, got {number!r}")
        phone = self._phones.get(number)
        if phone is None:
            lid = str(10**14 + int.from_bytes(self._rng(6), "big") % (9 * 10**14))
            phone = Phone(number=number, identity=KeyPair.generate(self._rng), lid=lid)
            self._phones[number] = phone
            self.save()
        return phone

    def phones(self) -> Iterator[Phone]:
        """Every phone created so far."""
        return iter(list(self._phones.values()))

    # -- devices -----------------------------------------------------------------------------

    def allocate_device(self, phone: Phone) -> tuple[int, int]:
        """Reserve the next (device number, key index) of ``phone`` for a pair-success.

        Numbers are never reused, even when the pairing then fails: the phone has already
        shown them to a companion.
        """
        allocated = (phone.next_device, phone.next_key_index)
        phone.next_device += 1
        phone.next_key_index += 1
        self.save()
        return allocated

    def add_device(
        self,
        phone: Phone,
        *,
        device: int,
        key_index: int,
        noise_key: bytes,
        identity_key: bytes,
    ) -> Device:
        """Register a companion whose pair-device-sign verified."""
        added = Device(
            phone=phone.number,
            device=device,
            lid=phone.lid,
            noise_key=noise_key,
            identity_key=identity_key,
            key_index=key_index,
        )
        self._devices[(added.phone, added.device)] = added
        self.save()
        return added

    def device(self, phone: str, device: int) -> Device | None:
        """The registered device ``phone:device``, or None (never paired, or removed)."""
        return self._devices.get((phone, device))

    def devices(self) -> Iterator[Device]:
        """Every registered device."""
        return iter(list(self._devices.values()))

    def remove_device(self, phone: str, device: int) -> bool:
        """Forget a device (logout); True when it was registered."""
        removed = self._devices.pop((phone, device), None) is not None
        if removed:
            self.save()
        return removed

    def store_pre_keys(self, device: Device, keys: dict[int, bytes]) -> None:
        """Record an upload: the server's count is what the device holds on the server."""
        device.pre_keys.update(keys)
        device.pre_key_count = len(device.pre_keys)
        self.save()

    def store_bundle(
        self, device: Device, *, registration_id: int, signed_pre_key: SignedPreKey
    ) -> None:
        """Record the rest of an ``encrypt`` upload: registration id and signed pre-key."""
        device.registration_id = registration_id
        device.signed_pre_key = signed_pre_key
        self.save()

    def take_bundle(self, device: Device) -> Bundle | None:
        """The device's bundle for a new session, with its lowest one-time pre-key if any left.

        That pre-key is removed, as the server does: each one is handed out once. None when the
        device has not uploaded its keys yet.
        """
        if device.registration_id is None or device.signed_pre_key is None:
            return None
        pre_key_id = min(device.pre_keys, default=None)
        pre_key = None if pre_key_id is None else device.pre_keys.pop(pre_key_id)
        device.pre_key_count = len(device.pre_keys)
        self.save()
        return Bundle(
            registration_id=device.registration_id,
            identity_key=device.identity_key,
            signed_pre_key=device.signed_pre_key,
            pre_key_id=pre_key_id,
            pre_key=pre_key,
        )

    # -- persistence -------------------------------------------------------------------------

    def save(self) -> None:
        """Write the registry to the state folder (no-op in memory), atomically."""
        if self._state_dir is None:
            return
        self._state_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self._to_json(), indent=1, sort_keys=True)
        descriptor, temp_name = tempfile.mkstemp(dir=self._state_dir, prefix=".registry-")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as temp:
                temp.write(text)
                temp.flush()
                os.fsync(temp.fileno())
            os.chmod(temp_name, 0o600)  # the file holds the phones' private keys
            os.replace(temp_name, self._state_dir / _FILE_NAME)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def _to_json(self) -> dict[str, Any]:
        return {
            "v": _FORMAT_VERSION,
            "phones": [
                {
                    "number": p.number,
                    "identity_private": p.identity.private.hex(),
                    "lid": p.lid,
                    "next_device": p.next_device,
                    "next_key_index": p.next_key_index,
                }
                for p in self._phones.values()
            ],
            "devices": [
                {
                    "phone": d.phone,
                    "device": d.device,
                    "lid": d.lid,
                    "noise_key": d.noise_key.hex(),
                    "identity_key": d.identity_key.hex(),
                    "key_index": d.key_index,
                    "pre_keys": {str(k): v.hex() for k, v in sorted(d.pre_keys.items())},
                    "pre_key_count": d.pre_key_count,
                    "registration_id": d.registration_id,
                    "signed_pre_key": None
                    if d.signed_pre_key is None
                    else {
                        "id": d.signed_pre_key.key_id,
                        "public": d.signed_pre_key.public.hex(),
                        "signature": d.signed_pre_key.signature.hex(),
                    },
                }
                for d in self._devices.values()
            ],
        }

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        # A corrupt registry is an error, never a silently empty one: devices would be lost.
        try:
            data = json.loads(text)
            if data.get("v") != _FORMAT_VERSION:
                raise RegistryError(f"{path}: unknown registry format {data.get('v')!r}")
            for p in data["phones"]:
                phone = Phone(
                    number=str(p["number"]),
                    identity=KeyPair.from_private(bytes.fromhex(p["identity_private"])),
                    lid=str(p["lid"]),
                    next_device=int(p["next_device"]),
                    next_key_index=int(p["next_key_index"]),
                )
                self._phones[phone.number] = phone
            for d in data["devices"]:
                device = Device(
                    phone=str(d["phone"]),
                    device=int(d["device"]),
                    lid=str(d["lid"]),
                    noise_key=bytes.fromhex(d["noise_key"]),
                    identity_key=bytes.fromhex(d["identity_key"]),
                    key_index=int(d["key_index"]),
                    pre_keys={int(k): bytes.fromhex(v) for k, v in d["pre_keys"].items()},
                    pre_key_count=int(d["pre_key_count"]),
                    registration_id=_optional_int(d.get("registration_id")),
                    signed_pre_key=_load_signed_pre_key(d.get("signed_pre_key")),
                )
                self._devices[(device.phone, device.device)] = device
        except RegistryError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RegistryError(f"{path}: corrupt registry ({exc})") from exc


def _optional_int(value: object) -> int | None:
    # Registries written before the bundle was kept have no such field.
    return None if value is None else int(value)  # type: ignore[call-overload]


def _load_signed_pre_key(value: Any) -> SignedPreKey | None:
    if value is None:
        return None
    return SignedPreKey(
        key_id=int(value["id"]),
        public=bytes.fromhex(value["public"]),
        signature=bytes.fromhex(value["signature"]),
    )
