"""The emulator's contacts and groups: other WhatsApp users who send real encrypted messages.

Theory of operation. A contact is a phone number with its own Signal identity (drawn from the
hub's rng on first use). To write to a paired device it does what a real sender does, with
walink's Signal core as the library:

- the first time, it asks the server for the device's bundle: the registration id, identity and
  signed pre-key of the device's ``encrypt`` upload, plus one uploaded one-time pre-key, which
  the server removes from its list (a device without one left gets a bundle without); X3DH as
  initiator (``start_session``) makes the session;
- every message is a ``Message`` protobuf with WhatsApp's random padding, encrypted with that
  session: a ``pkmsg`` until the device answers (which the emulator never routes back, so in
  practice every message stays a ``pkmsg`` on the same base key, as libsignal senders do);
- in a group, the sender has one sender key per group; a device that has not had it yet gets the
  sender-key distribution message in a pkmsg first, in the same stanza as the ``skmsg``.

The stanzas are what the server delivers::

    <message from="NUMBER@s.whatsapp.net" id=… t=… type="text" notify=NAME>
      <enc v="2" type="pkmsg">…</enc></message>
    <message from="GROUP@g.us" participant="NUMBER@s.whatsapp.net" id=… t=… type="text" notify=…>
      [<enc v="2" type="pkmsg">SKDM</enc>] <enc v="2" type="skmsg">…</enc></message>

A contact given a LID writes from it instead, LID-addressed, its number beside it:
``from="LID@lid" sender_pn="NUMBER@s.whatsapp.net" addressing_mode="lid"`` (in a group
``participant="LID@lid" participant_pn=…``).

This module is sans-IO: it builds stanzas; ``Emulator.contact``/``Emulator.group`` deliver them
live or into the offline backlog. Sessions live as long as the hub (not in the state folder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from walink.protocol.binary import Node
from walink.protocol.keys import KeyPair, generate_registration_id
from walink.protocol.signal import (
    PreKeyBundle,
    SenderKeyRecord,
    SessionRecord,
    create_sender_key,
    distribution_message,
    encrypt,
    group_encrypt,
    pad,
    start_session,
)
from walink.testing.registry import Device, Registry

__all__ = [
    "Contact",
    "Contacts",
    "Group",
    "NoBundleError",
    "UnknownDeviceError",
    "group_text_message",
    "sender_key_distribution_message",
    "text_message",
]

Rng = Callable[[int], bytes]


class UnknownDeviceError(ValueError):
    """The device JID names no paired device."""


class NoBundleError(ValueError):
    """The device has not uploaded its Signal keys yet (it never logged in)."""


# -- the Message protobuf, its two fields we need ---------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def text_message(text: str) -> bytes:
    """``Message{conversation = text}`` (field 1)."""
    return _field(1, text.encode("utf-8"))


def sender_key_distribution_message(group_id: str, skdm: bytes) -> bytes:
    """``Message{senderKeyDistributionMessage{groupId, axolotlSenderKeyDistributionMessage}}``."""
    return _field(2, _field(1, group_id.encode("utf-8")) + _field(2, skdm))


def group_text_message(text: str) -> bytes:
    """What a group text carries inside its skmsg (the same ``conversation`` field)."""
    return text_message(text)


# -- contacts and groups -----------------------------------------------------------------------


@dataclass
class Contact:
    """Another WhatsApp user: a number, a push name and a Signal identity."""

    number: str
    name: str
    identity: KeyPair
    registration_id: int
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    """Signal sessions by device JID."""
    lid: str | None = None
    """The contact's LID user, when it has one: its messages then come from ``LID@lid`` (in a
    group: ``participant="LID@lid"``) with its number beside it, LID-addressed."""

    @property
    def jid(self) -> str:
        return f"{self.number}@s.whatsapp.net"

    def sender_attrs(self, key: str) -> dict[str, str]:
        """How the server names this sender: ``{key: JID}`` (``from`` or ``participant``), and
        for a contact with a LID, its number beside it (``sender_pn``/``participant_pn``)."""
        if self.lid is None:
            return {key: self.jid}
        alt = "sender_pn" if key == "from" else "participant_pn"
        return {key: f"{self.lid}@lid", alt: self.jid, "addressing_mode": "lid"}


@dataclass
class Group:
    """A group of contacts; each sender's sender key and who has received it."""

    jid: str
    members: list[str]
    sender_keys: dict[str, SenderKeyRecord] = field(default_factory=dict)
    distributed: dict[str, set[str]] = field(default_factory=dict)
    """For each sender number, the device JIDs that have its sender key."""


class Contacts:
    """Every contact and group of one emulator, and the stanzas they send."""

    def __init__(self, registry: Registry, rng: Rng) -> None:
        self._registry = registry
        self._rng = rng
        self._contacts: dict[str, Contact] = {}
        self._phones: dict[str, Contact] = {}
        self._groups: dict[str, Group] = {}

    def contact(self, number: str, name: str | None = None, lid: str | None = None) -> Contact:
        """The contact with this number, created the first time (``name``: its push name;
        ``lid``: its LID user, from then on the name its messages come from)."""
        if not number.isdigit():
            raise ValueError(f"a phone number is digits only, got {number!r}")
        if lid is not None and not lid.isdigit():
            raise ValueError(f"a LID user is digits only, got {lid!r}")
        contact = self._contacts.get(number)
        if contact is None:
            contact = Contact(
                number=number,
                name=name or f"Contact {number[-4:]}",
                identity=KeyPair.generate(self._rng),
                registration_id=generate_registration_id(self._rng),
            )
            self._contacts[number] = contact
        elif name is not None:
            contact.name = name
        if lid is not None:
            contact.lid = lid
        return contact

    def phone(self, number: str) -> Contact:
        """The account ``number``'s own phone (device 0) as a sender: its own Signal identity,
        kept apart from the contacts (a contact may not share the account's number)."""
        if not number.isdigit():
            raise ValueError(f"a phone number is digits only, got {number!r}")
        phone = self._phones.get(number)
        if phone is None:
            phone = Contact(
                number=number,
                name="phone",
                identity=KeyPair.generate(self._rng),
                registration_id=generate_registration_id(self._rng),
            )
            self._phones[number] = phone
        return phone

    def encrypt_from(
        self, sender: Contact, device_jid: str, message: bytes, *, now: float
    ) -> tuple[str, bytes]:
        """``message`` (a serialized ``Message``) padded and encrypted from ``sender`` to device
        ``device_jid``: ``(enc type, ciphertext)``, X3DH on the device's bundle the first time."""
        return self._encrypt(sender, device_jid, message, now)

    def group(self, jid: str, members: list[str] | None = None) -> Group:
        """The group ``jid`` (``…@g.us``), created with ``members`` (numbers) the first time."""
        if not jid.endswith("@g.us"):
            raise ValueError(f"a group JID ends with @g.us, got {jid!r}")
        group = self._groups.get(jid)
        if group is None:
            group = Group(jid=jid, members=list(members or []))
            self._groups[jid] = group
        for number in members or []:
            self.contact(number)
            if number not in group.members:
                group.members.append(number)
        return group

    # -- stanzas -----------------------------------------------------------------------------

    def text_stanza(self, sender: str, device_jid: str, text: str, *, now: float) -> Node:
        """A 1:1 text from contact ``sender`` to device ``device_jid``, encrypted for it."""
        contact = self.contact(sender)
        kind, ciphertext = self._encrypt(contact, device_jid, text_message(text), now)
        named = contact.sender_attrs("from")
        return Node(
            "message",
            {**self._attrs(contact, named.pop("from"), now), **named},
            [Node("enc", {"v": "2", "type": kind}, ciphertext)],
        )

    def group_text_stanza(
        self, group_jid: str, sender: str, device_jid: str, text: str, *, now: float
    ) -> Node:
        """A group text from member ``sender``, as delivered to device ``device_jid``."""
        group = self._groups.get(group_jid)
        if group is None:
            raise ValueError(f"unknown group {group_jid!r}")
        contact = self.contact(sender)
        if sender not in group.members:
            group.members.append(sender)
        record = group.sender_keys.get(sender)
        if record is None:
            record, _ = create_sender_key(self._rng)
        children: list[Node] = []
        have_it = group.distributed.setdefault(sender, set())
        if device_jid not in have_it:
            skdm = sender_key_distribution_message(group_jid, distribution_message(record))
            kind, ciphertext = self._encrypt(contact, device_jid, skdm, now)
            children.append(Node("enc", {"v": "2", "type": kind}, ciphertext))
        body, record = group_encrypt(
            record, pad(group_text_message(text), self._rng), randbytes=self._rng
        )
        children.append(Node("enc", {"v": "2", "type": "skmsg"}, body))
        # Committed only now that every step has succeeded.
        group.sender_keys[sender] = record
        have_it.add(device_jid)
        attrs = {**self._attrs(contact, group_jid, now), **contact.sender_attrs("participant")}
        return Node("message", attrs, children)

    def _attrs(self, contact: Contact, chat: str, now: float) -> dict[str, str]:
        message_id = "3EB0" + self._rng(9).hex().upper()
        return {
            "from": chat,
            "id": message_id,
            "t": str(int(now)),
            "type": "text",
            "notify": contact.name,
        }

    def _device(self, device_jid: str) -> Device:
        for device in self._registry.devices():
            if device.jid == device_jid or device.lid_jid == device_jid:
                return device
        raise UnknownDeviceError(f"no paired device {device_jid!r}")

    def _encrypt(
        self, contact: Contact, device_jid: str, message: bytes, now: float
    ) -> tuple[str, bytes]:
        device = self._device(device_jid)
        now_ms = int(now * 1000)
        record = contact.sessions.get(device.jid)
        if record is None or record.open_session() is None:
            bundle = self._registry.take_bundle(device)
            if bundle is None:
                raise NoBundleError(f"{device.jid} has not uploaded its Signal keys")
            record = start_session(
                record,
                PreKeyBundle(
                    registration_id=bundle.registration_id,
                    identity_key=bundle.identity_key,
                    signed_pre_key_id=bundle.signed_pre_key.key_id,
                    signed_pre_key=bundle.signed_pre_key.public,
                    signed_pre_key_signature=bundle.signed_pre_key.signature,
                    pre_key_id=bundle.pre_key_id,
                    pre_key=bundle.pre_key,
                ),
                identity=contact.identity,
                randbytes=self._rng,
                now_ms=now_ms,
            )
        result = encrypt(
            record,
            pad(message, self._rng),
            identity=contact.identity,
            registration_id=contact.registration_id,
            now_ms=now_ms,
        )
        contact.sessions[device.jid] = result.record
        return result.kind, result.ciphertext
