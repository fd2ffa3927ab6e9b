"""What the client says about itself at the handshake: the login or registration payload, and
the routing info the next intro may carry.

Pure functions of the creds and options (the core calls them when it opens a transport).
"""

from __future__ import annotations

from walink._session.nodes import parse_int
from walink.auth.model import Creds
from walink.protocol.frames import MAX_ROUTING_INFO
from walink.protocol.payload import PayloadOptions, login_payload, registration_payload

__all__ = ["client_payload", "usable_routing_info", "user_and_device"]


def user_and_device(jid: str) -> tuple[int, int | None]:
    """``15551234567:3@s.whatsapp.net`` -> (15551234567, 3); the login payload's numbers."""
    user_part = jid.partition("@")[0]
    user, colon, device = user_part.partition(":")
    user = user.partition("_")[0]
    number = parse_int(user)
    device_number = parse_int(device) if colon else None
    if number is None or (colon and device_number is None):
        raise ValueError(f"creds.me.id is not a phone JID: {jid!r}")
    return number, device_number


def client_payload(creds: Creds, options: PayloadOptions) -> bytes:
    """The login payload once ``me`` is known, the registration payload before."""
    if creds.me is not None:
        username, device = user_and_device(creds.me.id)
        payload = login_payload(username=username, device=device, options=options)
    else:
        payload = registration_payload(
            registration_id=creds.registration_id,
            identity_public=creds.signed_identity_key.public,
            signed_pre_key_id=creds.signed_pre_key.key_id,
            signed_pre_key_public=creds.signed_pre_key.key_pair.public,
            signed_pre_key_signature=creds.signed_pre_key.signature,
            options=options,
        )
    return payload.SerializeToString()


def usable_routing_info(info: bytes | None) -> bytes | None:
    """Routing info the next intro may carry, or None for the plain intro.

    Routing info over ``MAX_ROUTING_INFO`` is dropped: servers refuse such an intro, and since it
    is saved in the creds, keeping it would wedge every later connect (found by fuzz/session.py).
    """
    if not info or len(info) > MAX_ROUTING_INFO:
        return None
    return info
