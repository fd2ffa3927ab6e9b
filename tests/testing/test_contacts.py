"""Emulator contacts and groups (walink.testing.contacts): stanzas a paired device can decrypt.

The device here is walink's Signal core with the keys the device "uploaded" to the registry;
Baileys decrypting the same stanzas is tests/interop/test_baileys_messages.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.protocol.determinism import counter_rng, key_pair
from walink.protocol.binary import Node
from walink.protocol.keys import KeyPair, generate_signed_pre_key
from walink.protocol.signal import (
    SenderKeyRecord,
    SessionRecord,
    decrypt_prekey_message,
    group_decrypt,
    process_distribution,
    unpad,
)
from walink.protocol.signal._wire import parse_fields
from walink.testing.contacts import (
    Contacts,
    NoBundleError,
    UnknownDeviceError,
    sender_key_distribution_message,
    text_message,
)
from walink.testing.registry import Device, Registry, SignedPreKey

T0 = 1_700_000_000.0
GROUP = "120363000000000001@g.us"


class PairedDevice:
    """A registered device with uploaded keys, decrypting with walink's Signal core."""

    def __init__(self, registry: Registry, pre_keys: int = 2) -> None:
        phone = registry.phone()
        self.identity = key_pair("device identity")
        self.signed = generate_signed_pre_key(self.identity, 1, counter_rng("spk"))
        self.one_time = {i: key_pair(f"opk {i}") for i in range(1, pre_keys + 1)}
        number, key_index = registry.allocate_device(phone)
        self.device: Device = registry.add_device(
            phone,
            device=number,
            key_index=key_index,
            noise_key=bytes(32),
            identity_key=self.identity.public,
        )
        registry.store_pre_keys(self.device, {i: k.public for i, k in self.one_time.items()})
        registry.store_bundle(
            self.device,
            registration_id=77,
            signed_pre_key=SignedPreKey(1, self.signed.key_pair.public, self.signed.signature),
        )
        self.sessions: dict[str, SessionRecord] = {}
        self.sender_keys: dict[str, SenderKeyRecord] = {}
        self.used: list[int] = []
        self.rng = counter_rng("device")

    def _one_time(self, key_id: int) -> KeyPair | None:
        return None if key_id in self.used else self.one_time.get(key_id)

    def decrypt(self, stanza: Node) -> list[bytes]:
        """The Message bytes of every <enc> child, processing sender keys on the way."""
        author = stanza.attrs.get("participant") or stanza.attrs["from"]
        out = []
        for enc in stanza.children("enc"):
            assert enc.attrs["v"] == "2"
            data = enc.content
            assert isinstance(data, bytes)
            if enc.attrs["type"] == "skmsg":
                key = f"{stanza.attrs['from']}::{author}"
                plaintext, self.sender_keys[key] = group_decrypt(self.sender_keys.get(key), data)
            else:
                assert enc.attrs["type"] == "pkmsg"
                result = decrypt_prekey_message(
                    self.sessions.get(author),
                    data,
                    identity=self.identity,
                    signed_pre_key=lambda i: self.signed.key_pair if i == 1 else None,
                    one_time_pre_key=self._one_time,
                    randbytes=self.rng,
                    now_ms=1,
                )
                self.sessions[author] = result.record
                if result.consumed_pre_key_id is not None:
                    self.used.append(result.consumed_pre_key_id)
                plaintext = result.plaintext
            message = unpad(plaintext)
            distribution = parse_fields(message, {1: 2, 2: 2}).get(2)
            if isinstance(distribution, bytes):  # Message.senderKeyDistributionMessage
                fields = parse_fields(distribution, {1: 2, 2: 2})
                assert fields[1] == stanza.attrs["from"].encode()  # its groupId
                skdm = fields[2]
                assert isinstance(skdm, bytes)
                key = f"{stanza.attrs['from']}::{author}"
                self.sender_keys[key] = process_distribution(self.sender_keys.get(key), skdm)
            out.append(message)
        return out


@pytest.fixture
def world() -> tuple[Contacts, Registry, PairedDevice]:
    registry = Registry(rng=random.Random(3).randbytes)
    device = PairedDevice(registry)
    return Contacts(registry, random.Random(4).randbytes), registry, device


def test_a_contact_text_is_a_pkmsg_the_device_decrypts(
    world: tuple[Contacts, Registry, PairedDevice],
) -> None:
    contacts, _, paired = world
    contacts.contact("15550002222", "Bob")
    stanza = contacts.text_stanza("15550002222", paired.device.jid, "hello", now=T0)
    assert stanza.tag == "message"
    assert stanza.attrs["from"] == "15550002222@s.whatsapp.net"
    assert stanza.attrs["type"] == "text"
    assert stanza.attrs["notify"] == "Bob"
    assert stanza.attrs["t"] == str(int(T0))
    assert [enc.attrs for enc in stanza.children("enc")] == [{"v": "2", "type": "pkmsg"}]
    assert paired.decrypt(stanza) == [text_message("hello")]
    # The server handed out the lowest one-time pre-key and removed it.
    assert paired.used == [1]
    assert sorted(paired.device.pre_keys) == [2]
    # The next message reuses the session (still a pkmsg: the device never answered).
    again = contacts.text_stanza("15550002222", paired.device.jid, "again", now=T0 + 1)
    assert paired.decrypt(again) == [text_message("again")]
    assert sorted(paired.device.pre_keys) == [2]
    assert stanza.attrs["id"] != again.attrs["id"]


def test_without_one_time_pre_keys_left(world: tuple[Contacts, Registry, PairedDevice]) -> None:
    contacts, _, paired = world
    for number in ("15550000011", "15550000012", "15550000013"):
        stanza = contacts.text_stanza(number, paired.device.jid, f"from {number}", now=T0)
        assert paired.decrypt(stanza) == [text_message(f"from {number}")]
    assert paired.used == [1, 2]  # the third sender got a bundle without one
    assert paired.device.pre_keys == {}


def test_a_group_sends_the_sender_key_once_then_skmsg(
    world: tuple[Contacts, Registry, PairedDevice],
) -> None:
    contacts, _, paired = world
    contacts.group(GROUP, ["15550002222", "15550003333"])
    first = contacts.group_text_stanza(GROUP, "15550003333", paired.device.jid, "hi", now=T0)
    assert first.attrs["from"] == GROUP
    assert first.attrs["participant"] == "15550003333@s.whatsapp.net"
    assert [enc.attrs["type"] for enc in first.children("enc")] == ["pkmsg", "skmsg"]
    skdm_message, text = paired.decrypt(first)
    assert skdm_message.startswith(sender_key_distribution_message(GROUP, b"")[:1])
    assert text == text_message("hi")
    for index in range(3):
        later = contacts.group_text_stanza(
            GROUP, "15550003333", paired.device.jid, f"m{index}", now=T0
        )
        assert [enc.attrs["type"] for enc in later.children("enc")] == ["skmsg"]
        assert paired.decrypt(later) == [text_message(f"m{index}")]


def test_errors(world: tuple[Contacts, Registry, PairedDevice]) -> None:
    contacts, registry, paired = world
    with pytest.raises(UnknownDeviceError):
        contacts.text_stanza("15550002222", "15550000001:9@s.whatsapp.net", "x", now=T0)
    phone = registry.phone()
    number, key_index = registry.allocate_device(phone)
    bare = registry.add_device(
        phone, device=number, key_index=key_index, noise_key=bytes(32), identity_key=bytes(32)
    )
    with pytest.raises(NoBundleError):
        contacts.text_stanza("15550002222", bare.jid, "x", now=T0)
    with pytest.raises(ValueError):
        contacts.contact("not-a-number")
    with pytest.raises(ValueError):
        contacts.group("15550002222@s.whatsapp.net")
    with pytest.raises(ValueError):
        contacts.group_text_stanza("999@g.us", "15550002222", paired.device.jid, "x", now=T0)
    assert paired.device.pre_keys  # nothing was handed out for the failures


def test_the_bundle_survives_a_registry_reload(tmp_path: Path) -> None:
    registry = Registry(rng=random.Random(5).randbytes, state_dir=tmp_path)
    paired = PairedDevice(registry)
    reloaded = Registry(rng=random.Random(6).randbytes, state_dir=tmp_path)
    device = reloaded.device(paired.device.phone, paired.device.device)
    assert device is not None
    assert device.registration_id == 77
    assert device.signed_pre_key == paired.device.signed_pre_key
    bundle = reloaded.take_bundle(device)
    assert bundle is not None and bundle.pre_key_id == 1
    assert reloaded.device(paired.device.phone, paired.device.device) is device
    again = Registry(rng=random.Random(7).randbytes, state_dir=tmp_path)
    stored = again.device(paired.device.phone, paired.device.device)
    assert stored is not None and sorted(stored.pre_keys) == [2]  # the removal was saved


def test_a_contact_with_a_lid_writes_from_it_with_its_number_beside(
    world: tuple[Contacts, Registry, PairedDevice],
) -> None:
    contacts, _, paired = world
    contacts.contact("15550002222", "Bob", lid="77770002")
    stanza = contacts.text_stanza("15550002222", paired.device.jid, "hello", now=T0)
    assert (stanza.attrs["from"], stanza.attrs["sender_pn"], stanza.attrs["addressing_mode"]) == (
        "77770002@lid",
        "15550002222@s.whatsapp.net",
        "lid",
    )
    assert paired.decrypt(stanza) == [text_message("hello")]
    contacts.group(GROUP, ["15550002222"])
    grouped = contacts.group_text_stanza(GROUP, "15550002222", paired.device.jid, "hi", now=T0)
    assert grouped.attrs["from"] == GROUP
    assert grouped.attrs["participant"] == "77770002@lid"
    assert grouped.attrs["participant_pn"] == "15550002222@s.whatsapp.net"
    with pytest.raises(ValueError, match="digits"):
        contacts.contact("15550002222", lid="77x")
