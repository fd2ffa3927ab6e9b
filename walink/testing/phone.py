"""The simulated primary phone: what a person does with the QR or the code
(docs/protocol/server.md#registration, docs/protocol/server.md#pairing-code).

The phone cannot see the companion's screen: it learns the ADV secret only from a scanned QR
string, and the pairing code only from what is typed into it. Both reach it here, through
``scan_qr`` and ``enter_pairing_code`` (the socket emulator serves the same two calls as its
HTTP phone endpoint). The phone then acts through the hub: it finds the server connection that
was given the ref, checks the companion's Noise key, and has that connection send pair-success
(or the pairing code's primary_hello).

Failures the caller of the endpoint must see are typed ``PhoneError``s; the connection itself gets
nothing in that case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.pairing import build_pair_success, parse_qr_string
from walink.protocol.pairing_code import (
    PrimaryHello,
    WrongPairingCodeError,
    phone_open_key_bundle,
    phone_primary_hello,
    validate_custom_code,
)

if TYPE_CHECKING:
    from walink.testing.hub import Hub
    from walink.testing.registry import Phone
    from walink.testing.server import ServerSession

__all__ = [
    "AmbiguousPairingError",
    "ExpiredRefError",
    "InvalidInputError",
    "NoPendingPairingError",
    "PendingCodePairing",
    "PhoneError",
    "SimulatedPhone",
    "UnknownRefError",
    "WrongNoiseKeyError",
]


class PhoneError(Exception):
    """The phone refused what it was handed; ``str(error)`` is the endpoint's error text."""

    status = 400
    """The HTTP status the phone endpoint answers with."""


class InvalidInputError(PhoneError):
    """The QR string or the pairing code is malformed."""


class UnknownRefError(PhoneError):
    """No connection was ever given the QR's ref."""

    status = 404


class ExpiredRefError(PhoneError):
    """The ref's connection is gone, already paired, or the ref's time on screen is over."""

    status = 410


class WrongNoiseKeyError(PhoneError):
    """The QR's Noise key is not the static key of the connection that was given the ref."""

    status = 403


class NoPendingPairingError(PhoneError):
    """No connection is waiting for a pairing code (for that phone number)."""

    status = 404


class AmbiguousPairingError(PhoneError):
    """Several phone numbers are waiting for a pairing code: name the phone."""

    status = 409


@dataclass(slots=True, kw_only=True)
class PendingCodePairing:
    """A companion_hello the server accepted, waiting for the code to be typed on the phone."""

    session: ServerSession
    """The connection that sent companion_hello."""
    ref: bytes
    """The ``link_code_pairing_ref`` the server answered with."""
    phone: str
    """The phone number the companion named (``jid`` of companion_hello)."""
    wrapped_companion_ephemeral: bytes = field(repr=False)
    """The 80-byte wrapped companion ephemeral key."""
    created_at: float
    """When the companion_hello arrived."""
    primary: PrimaryHello | None = field(default=None, repr=False)
    """The phone's side, once the code has been typed."""


class SimulatedPhone:
    """Every simulated phone of a hub, behind the two calls a person makes
    (docs/protocol/server.md#phone-endpoint)."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def scan_qr(self, qr: str, *, phone: str | None = None, now: float | None = None) -> str:
        """Scan a QR string: pair-success goes to the connection that was given its ref.

        Returns the new device's JID. ``phone`` picks the scanning phone (default: the default
        phone); ``now`` defaults to the latest time the hub has seen.
        """
        hub = self._hub
        now = hub.now if now is None else now
        try:
            data = parse_qr_string(qr)
        except LocalProtocolError as exc:
            raise InvalidInputError(str(exc)) from None
        session = hub.session_for_ref(data.ref, now)  # raises Unknown/ExpiredRefError
        if session.client_static_key != data.noise_public:
            raise WrongNoiseKeyError("the QR's noise key is not that connection's static key")
        return self.issue_pair_success(
            session,
            phone=hub.registry.phone(phone),
            companion_identity=data.identity_public,
            adv_secret=data.adv_secret,
            now=now,
        )

    def enter_pairing_code(
        self, code: str, phone: str | None = None, *, now: float | None = None
    ) -> None:
        """Type a pairing code: primary_hello goes to the connection waiting for it.

        A wrong code is not noticed here (AES-CTR has no tag): it shows only at companion_finish,
        where the phone then sends nothing (docs/protocol/server.md#pairing-code, step 5).
        """
        hub = self._hub
        now = hub.now if now is None else now
        try:
            code = validate_custom_code(code)
        except LocalProtocolError as exc:
            raise InvalidInputError(str(exc)) from None
        pending = self._pending_for(phone)
        try:
            primary = phone_primary_hello(code, pending.wrapped_companion_ephemeral, hub.rng)
        except RemoteProtocolError as exc:
            raise InvalidInputError(f"the companion's wrapped key is unusable: {exc}") from None
        pending.primary = primary
        pending.session.send_primary_hello(
            ref=pending.ref,
            phone_identity_public=hub.registry.phone(pending.phone).identity.public,
            wrapped_primary_ephemeral=primary.wrapped_primary_ephemeral,
        )

    def _pending_for(self, phone: str | None) -> PendingCodePairing:
        candidates = [p for p in self._hub.pending_code_pairings() if p.primary is None]
        if phone is not None:
            candidates = [p for p in candidates if p.phone == phone]
        if not candidates:
            where = f" for {phone}" if phone else ""
            raise NoPendingPairingError(f"no connection is waiting for a pairing code{where}")
        if len({p.phone for p in candidates}) > 1:
            raise AmbiguousPairingError("several phones wait for a pairing code: name the phone")
        return candidates[-1]  # the latest companion_hello of that number

    def finish_code_pairing(
        self,
        pending: PendingCodePairing,
        *,
        wrapped_key_bundle: bytes,
        now: float,
    ) -> str | None:
        """The phone's side of companion_finish: pair-success, or nothing for a wrong code."""
        if pending.primary is None:
            return None
        phone = self._hub.registry.phone(pending.phone)
        try:
            opened = phone_open_key_bundle(
                primary_ephemeral=pending.primary.primary_ephemeral,
                phone_identity=phone.identity,
                companion_ephemeral_public=pending.primary.companion_ephemeral_public,
                wrapped_key_bundle=wrapped_key_bundle,
            )
        except WrongPairingCodeError:
            self._hub.log("pairing code: the key bundle did not authenticate (wrong code?)")
            return None
        except RemoteProtocolError as exc:
            self._hub.log(f"pairing code: bad key bundle: {exc}")
            return None
        return self.issue_pair_success(
            pending.session,
            phone=phone,
            companion_identity=opened.companion_identity_public,
            adv_secret=opened.adv_secret,
            now=now,
        )

    def issue_pair_success(
        self,
        session: ServerSession,
        *,
        phone: Phone,
        companion_identity: bytes,
        adv_secret: bytes,
        now: float,
    ) -> str:
        """Sign a new device identity for the companion and have ``session`` send pair-success."""
        hub = self._hub
        device, key_index = hub.registry.allocate_device(phone)
        container = build_pair_success(
            phone.identity,
            companion_identity,
            adv_secret,
            key_index=key_index,
            raw_id=int.from_bytes(hub.rng(4), "big"),
            timestamp=int(now),
            rng=hub.rng,
        )
        return session.send_pair_success(
            container=container,
            phone=phone,
            device=device,
            key_index=key_index,
            companion_identity=companion_identity,
            now=now,
        )
