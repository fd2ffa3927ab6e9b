"""Signal addresses as Baileys names them, so a Baileys auth folder's sessions are found.

A device JID ``user[_agent][:device]@server`` is the Signal address ``user[_domain].device``:
the domain is 0 for a phone-number account (left out), 1 for a LID, 128 for ``hosted`` and 129
for ``hosted.lid``; any other server takes the agent number as its domain, as Baileys' JID
decoder does. A sender key is named ``group::<address user>::<device>``.
"""

from __future__ import annotations

from walink.protocol.errors import RemoteProtocolError

__all__ = ["sender_key_name", "signal_address"]

_DOMAINS = {"lid": 1, "hosted": 128, "hosted.lid": 129}


def _parts(jid: str) -> tuple[str, int]:
    user_part, at, server = jid.partition("@")
    if not at or not user_part:
        raise RemoteProtocolError(f"not a user JID: {jid[:60]!r}")
    user_agent, _, device_text = user_part.partition(":")
    user, _, agent = user_agent.partition("_")
    if not user:
        raise RemoteProtocolError(f"JID without a user: {jid[:60]!r}")
    domain = _DOMAINS.get(server)
    if domain is None:
        domain = int(agent) if agent.isdigit() else 0
    device = int(device_text) if device_text.isdigit() else 0
    return (f"{user}_{domain}" if domain else user), device


def signal_address(jid: str) -> str:
    """The ``session``/``identity-key`` id of a device JID (``"1555:2@s.whatsapp.net"`` →
    ``"1555.2"``, ``"99:3@lid"`` → ``"99_1.3"``); ``RemoteProtocolError`` for a malformed JID."""
    user, device = _parts(jid)
    return f"{user}.{device}"


def sender_key_name(group: str, sender_jid: str) -> str:
    """The ``sender-key`` id of ``sender_jid``'s key in ``group``."""
    user, device = _parts(sender_jid)
    return f"{group}::{user}::{device}"
