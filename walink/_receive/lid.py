"""Which Signal address a message's sender is decrypted under: its LID when we know it.

Theory of operation
-------------------
Every account has a phone number (PN) and a LID, and the server addresses a sender by either:
``from="<lid>@lid"`` or ``from="<pn>@s.whatsapp.net"`` (``participant`` in a group), sometimes
with the other one beside it (``sender_lid``/``participant_lid`` next to a PN sender,
``sender_pn``/``participant_pn`` next to a LID sender). One device has one Signal session
whatever it is called, so it must be found under one address: the LID's, as the peers do (a
LID is the account's stable id; Baileys and whatsmeow both key sessions by the LID once known).

``resolve_sender`` answers, for one stanza:

- the LID of the sender's account, from (in this order) the sender itself when it is a LID, the
  stanza's other attribute, our own credentials (our own phone writes from our PN or our LID,
  device 0), or the ``lid-mapping`` keys; and its phone number the same way round;
- ``address``: the LID device address when the LID is known, else the PN one;
- ``previous``: the same device's PN address when the session belongs under the LID: a session
  (and identity key) found there and not under the LID is moved (whatsmeow migrates the same
  way; Baileys copies it when it maps a PN to a LID), so a PN session made before the mapping
  was known keeps working, and the phone's next pkmsg of the same X3DH finds it;
- ``learned``: the ``lid-mapping`` entries the stanza revealed and the store lacks, committed with
  the message.

Sender keys stay named after the stanza's own ``participant`` (the name Baileys looks them up
by); ``sender_key_names`` adds the other form's name, read when the first has no key (a group
that moved from PN to LID addressing between the key and the message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.signal.address import (
    DeviceJid,
    lid_mapping_entries,
    parse_device_jid,
    reverse_mapping_id,
    sender_key_name,
)

__all__ = ["ResolvedSender", "alternate_sender", "resolve_sender"]


@dataclass(frozen=True, slots=True)
class ResolvedSender:
    """Where one stanza's sender keeps its Signal state (see the module docstring)."""

    jid: DeviceJid
    """The sender, as the stanza names it."""
    address: str
    """The session and identity-key address to decrypt under and to commit to."""
    previous: str | None = None
    """The same device's phone-number address, whose records move to ``address`` when
    ``address`` has none (None when ``address`` is that one, or no phone number is known)."""
    other: DeviceJid | None = None
    """The sender under its account's other user id, when known."""
    learned: dict[str, str] = field(default_factory=dict)
    """``lid-mapping`` entries to commit with the message."""

    def sender_key_names(self, group: str) -> tuple[str, ...]:
        """The sender's key in ``group``: its name by the stanza's sender first, then by the
        other user id."""
        names = [sender_key_name(group, self.jid.jid)]
        if self.other is not None:
            names.append(sender_key_name(group, self.other.jid))
        return tuple(names)


def alternate_sender(node: Node, sender: DeviceJid) -> DeviceJid | None:
    """The stanza's other name for its sender (a LID beside a PN sender, or a PN beside a LID
    one), ignored when malformed or of the same kind as the sender."""
    if sender.is_lid:
        raw = node.attr("participant_pn") or node.attr("sender_pn")
    else:
        raw = node.attr("participant_lid") or node.attr("sender_lid")
    if not raw:
        return None
    try:
        alt = parse_device_jid(raw)
    except RemoteProtocolError:
        return None
    if (sender.is_lid and alt.is_pn) or (sender.is_pn and alt.is_lid):
        return alt
    return None


def resolve_sender(
    node: Node,
    sender: str,
    *,
    own_pn: str,
    own_lid: str | None,
    lookup: Callable[[str], object],
) -> ResolvedSender:
    """Resolve ``sender`` (the stanza's ``participant`` or ``from``) of ``node``.

    ``own_pn``/``own_lid`` are our account's JIDs (from the credentials); ``lookup(id)`` reads
    one ``lid-mapping`` value (None when missing). ``RemoteProtocolError`` for a malformed
    sender JID.
    """
    jid = parse_device_jid(sender)
    if not (jid.is_lid or jid.is_pn):
        return ResolvedSender(jid=jid, address=jid.address)
    alt = alternate_sender(node, jid)
    own_pn_user = parse_device_jid(own_pn).user
    own_lid_user = parse_device_jid(own_lid).user if own_lid else None
    lid_user: str | None
    pn_user: str | None
    if jid.is_lid:
        lid_user = jid.user
        if alt is not None:
            pn_user = alt.user
        elif jid.user == own_lid_user:
            pn_user = own_pn_user
        else:
            pn_user = _user(lookup(reverse_mapping_id(jid.user)))
    else:
        pn_user = jid.user
        if alt is not None:
            lid_user = alt.user
        elif jid.user == own_pn_user:
            lid_user = own_lid_user
        else:
            lid_user = _user(lookup(jid.user))
    learned: dict[str, str] = {}
    if alt is not None and lid_user is not None and pn_user is not None:
        lid, pn = (jid, alt) if jid.is_lid else (alt, jid)
        if lookup(pn.user) != lid.user or lookup(reverse_mapping_id(lid.user)) != pn.user:
            learned = lid_mapping_entries(lid.jid, pn.jid)
    if jid.is_lid:
        other = jid.counterpart(pn_user) if pn_user else None
        return ResolvedSender(
            jid=jid,
            address=jid.address,
            previous=other.address if other is not None else None,
            other=other,
            learned=learned,
        )
    if lid_user is None:
        return ResolvedSender(jid=jid, address=jid.address, learned=learned)
    lid_jid = jid.counterpart(lid_user)
    return ResolvedSender(
        jid=jid, address=lid_jid.address, previous=jid.address, other=lid_jid, learned=learned
    )


def _user(value: object) -> str | None:
    # a mapping value is a bare user id; anything else (a foreign or damaged value) is unknown
    if isinstance(value, str) and value and "@" not in value:
        return value
    return None
