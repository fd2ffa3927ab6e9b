"""Signal addresses of WhatsApp device JIDs, and the PN↔LID mapping as the key store keeps it.

Theory of operation
-------------------
A device JID ``user[_agent][:device]@server`` is the Signal address ``user[_domain].device``:
the domain is 0 for a phone-number account (left out), 1 for a LID, 128 for ``hosted`` and 129
for ``hosted.lid``; any other server takes the agent number as its domain, as Baileys' JID
decoder does. A sender key is named ``group::<address user>::<device>``. These are the ids of
the ``session``, ``identity-key`` and ``sender-key`` values in every walink store and in
Baileys' auth folder, so a folder moves between the two with its sessions.

An account has two user ids: its phone number (PN: ``s.whatsapp.net``, or ``hosted``) and its
LID (``lid``, or ``hosted.lid``). The same device has the same device number under both. The
``lid-mapping`` key type keeps the pairs, as Baileys writes them: ``{pn user: lid user}`` and
``{lid user + "_reverse": pn user}``, user ids only (no device, no server).
"""

from __future__ import annotations

from dataclasses import dataclass

from walink.protocol.errors import RemoteProtocolError

__all__ = [
    "LID_MAPPING",
    "DeviceJid",
    "lid_mapping_entries",
    "parse_device_jid",
    "reverse_mapping_id",
    "sender_key_name",
    "signal_address",
]

LID_MAPPING = "lid-mapping"
"""The key type of the PN↔LID pairs (Baileys' name)."""

_DOMAINS = {"s.whatsapp.net": 0, "lid": 1, "hosted": 128, "hosted.lid": 129}
# each kind of user id and its counterpart: a phone number's LID, a LID's phone number
_COUNTERPART = {"s.whatsapp.net": "lid", "lid": "s.whatsapp.net", "hosted": "hosted.lid"}
_COUNTERPART["hosted.lid"] = "hosted"
_LID_SERVERS = frozenset({"lid", "hosted.lid"})
_PN_SERVERS = frozenset({"s.whatsapp.net", "hosted"})


@dataclass(frozen=True, slots=True)
class DeviceJid:
    """A user's device, as a JID names it."""

    user: str
    """The user id, without agent or device."""
    server: str
    device: int
    domain: int
    """The Signal address domain (0 for a phone number, 1 for a LID, …)."""

    @property
    def is_lid(self) -> bool:
        """A LID (``lid`` or ``hosted.lid``)."""
        return self.server in _LID_SERVERS

    @property
    def is_pn(self) -> bool:
        """A phone number (``s.whatsapp.net`` or ``hosted``)."""
        return self.server in _PN_SERVERS

    @property
    def address_user(self) -> str:
        """``user`` with its domain suffix (``99_1`` for a LID)."""
        return f"{self.user}_{self.domain}" if self.domain else self.user

    @property
    def address(self) -> str:
        """The Signal address (``user[_domain].device``)."""
        return f"{self.address_user}.{self.device}"

    @property
    def jid(self) -> str:
        """The device JID in its plain form (``user[:device]@server``)."""
        device = f":{self.device}" if self.device else ""
        return f"{self.user}{device}@{self.server}"

    def counterpart(self, user: str) -> DeviceJid:
        """The same device under the account's other user id ``user`` (its LID for a phone
        number, its phone number for a LID); ``ValueError`` for a server that has none."""
        server = _COUNTERPART.get(self.server)
        if server is None:
            raise ValueError(f"{self.server!r} users have no counterpart")
        return DeviceJid(user=user, server=server, device=self.device, domain=_DOMAINS[server])


def parse_device_jid(jid: str) -> DeviceJid:
    """Parse a user or device JID; ``RemoteProtocolError`` when it names no user."""
    user_part, at, server = jid.partition("@")
    if not at or not user_part:
        raise RemoteProtocolError(f"not a user JID: {jid[:60]!r}")
    user_agent, _, device_text = user_part.partition(":")
    user, _, agent = user_agent.partition("_")
    if not user:
        raise RemoteProtocolError(f"JID without a user: {jid[:60]!r}")
    domain = _DOMAINS.get(server)
    if domain is None:
        domain = int(agent) if agent.isascii() and agent.isdigit() else 0
    device = int(device_text) if device_text.isascii() and device_text.isdigit() else 0
    return DeviceJid(user=user, server=server, device=device, domain=domain)


def signal_address(jid: str) -> str:
    """The ``session``/``identity-key`` id of a device JID (``"1555:2@s.whatsapp.net"`` →
    ``"1555.2"``, ``"99:3@lid"`` → ``"99_1.3"``); ``RemoteProtocolError`` for a malformed JID."""
    return parse_device_jid(jid).address


def sender_key_name(group: str, sender_jid: str) -> str:
    """The ``sender-key`` id of ``sender_jid``'s key in ``group``."""
    sender = parse_device_jid(sender_jid)
    return f"{group}::{sender.address_user}::{sender.device}"


def reverse_mapping_id(lid_user: str) -> str:
    """The ``lid-mapping`` id under which a LID user's phone number is kept."""
    return f"{lid_user}_reverse"


def lid_mapping_entries(lid: str, pn: str) -> dict[str, str]:
    """The ``lid-mapping`` values that record ``lid`` ↔ ``pn`` (JIDs, any device), or an empty
    dict when they are not a LID and a phone number (or a malformed JID): such a pair is
    ignored, never stored."""
    try:
        lid_jid, pn_jid = parse_device_jid(lid), parse_device_jid(pn)
    except RemoteProtocolError:
        return {}
    if not (lid_jid.is_lid and pn_jid.is_pn):
        return {}
    return {pn_jid.user: lid_jid.user, reverse_mapping_id(lid_jid.user): pn_jid.user}
