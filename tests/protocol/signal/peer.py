"""Shared by the Signal tests: devices with reproducible keys, as walink and as libsignal."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.peer_bridge import PeerBridge
from tests.protocol.determinism import counter_rng, key_pair
from walink.protocol.keys import KeyPair, SignedKeyPair, generate_signed_pre_key
from walink.protocol.signal import PreKeyBundle, SessionRecord

Rng = Callable[[int], bytes]


@dataclass
class Device:
    """One device's long-term keys: identity, signed pre-key 1, one-time pre-keys 1..n."""

    name: str
    registration_id: int
    identity: KeyPair
    signed: SignedKeyPair
    one_time: dict[int, KeyPair] = field(default_factory=dict)

    @classmethod
    def make(cls, name: str, registration_id: int, pre_keys: int = 3) -> Device:
        identity = key_pair(f"{name}:identity")
        signed = generate_signed_pre_key(identity, 1, counter_rng(f"{name}:spk"))
        one_time = {i: key_pair(f"{name}:opk:{i}") for i in range(1, pre_keys + 1)}
        return cls(name, registration_id, identity, signed, one_time)

    def bundle(self, pre_key_id: int | None) -> PreKeyBundle:
        return PreKeyBundle(
            registration_id=self.registration_id,
            identity_key=self.identity.public,
            signed_pre_key_id=self.signed.key_id,
            signed_pre_key=self.signed.key_pair.public,
            signed_pre_key_signature=self.signed.signature,
            pre_key_id=pre_key_id,
            pre_key=None if pre_key_id is None else self.one_time[pre_key_id].public,
        )

    def signed_lookup(self, key_id: int) -> KeyPair | None:
        return self.signed.key_pair if key_id == self.signed.key_id else None

    def register(self, bridge: PeerBridge, **options: bool) -> None:
        """Create this device as a libsignal party in ``bridge``."""
        bridge.call(
            "party",
            name=self.name,
            identityPriv=self.identity.private.hex(),
            identityPub=self.identity.public.hex(),
            regId=self.registration_id,
            signedPreKey={
                "priv": self.signed.key_pair.private.hex(),
                "pub": self.signed.key_pair.public.hex(),
            },
            preKeys=[
                {"id": i, "priv": k.private.hex(), "pub": k.public.hex()}
                for i, k in self.one_time.items()
            ],
            **options,
        )

    def bridge_bundle(self, pre_key_id: int | None) -> dict[str, object]:
        bundle: dict[str, object] = {
            "identityKey": self.identity.public.hex(),
            "registrationId": self.registration_id,
            "signedPreKeyId": self.signed.key_id,
            "signedPreKey": self.signed.key_pair.public.hex(),
            "signature": self.signed.signature.hex(),
        }
        if pre_key_id is not None:
            bundle["preKeyId"] = pre_key_id
            bundle["preKey"] = self.one_time[pre_key_id].public.hex()
        return bundle


def peer_record(bridge: PeerBridge, party: str, address: str) -> SessionRecord:
    """The session record libsignal stored, loaded by walink."""
    text = bridge.call("getSession", party=party, address=address)["json"]
    assert isinstance(text, str)
    return SessionRecord.from_json(json.loads(text))
