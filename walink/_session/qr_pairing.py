"""QR pairing: pair-device's refs shown one by one, the ADV secret refresh, and pair-success.

Theory of operation
-------------------
A new device's attempt gets ``pair-device`` with a few refs: it is answered at once, and each ref
is shown as a QR (the first for ``qr_first_timeout``, each next one for ``qr_next_timeout``);
when none is left the attempt ends with ``QR_EXHAUSTED``. ``companion_reg_refresh`` asks for a
new ADV secret: it is saved before the QR that carries it is shown (the QR is a deferred action
behind that save). ``pair-success`` (after a QR scan or a pairing code) is verified, the new
identity saved, and only then is the ``pair-device-sign`` reply released; a bad HMAC or signature
is refused with whatsmeow's error reply and ends the attempt. A pairing code replaces the QR for
the rest of the attempt (``stop``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from walink._session.flows import user_and_device
from walink._session.nodes import SERVER, error_reply, iq_result, parse_int
from walink.auth.model import Contact, SignalIdentity, SignedDeviceIdentity
from walink.fsm.reasons import CloseReason, classify
from walink.protocol.binary import Node, content_bytes
from walink.protocol.keys import generate_adv_secret, signal_public_key
from walink.protocol.pairing import (
    MalformedPairSuccessError,
    PairSuccessRejected,
    companion_platform_id,
    qr_string,
    verify_pair_success,
)
from walink.protocol.proto import wa_pb2

if TYPE_CHECKING:
    from walink._session.context import PartContext

__all__ = ["QrPairing"]


class QrPairing:
    """The QR shown, its rotation, and the pairing's outcome (``is_new_login``)."""

    def __init__(self, ctx: PartContext, *, unified_session: Callable[[float], None]) -> None:
        self._ctx = ctx
        self._unified_session = unified_session
        self.qr: str | None = None
        """The QR string on screen (None when none is)."""
        self.is_new_login = False
        """True from pair-success until the end of the connection after the 515 restart."""
        self._refs: list[str] = []
        self._index = 0
        self.deadline: float | None = None
        """When the QR on screen expires."""
        self._stopped = False

    def attempt_started(self, *, restart: bool) -> None:
        if not restart:
            self.is_new_login = False
        self.qr = None
        self._refs = []
        self._index = 0
        self.deadline = None
        self._stopped = False

    def attempt_ended(self) -> None:
        self.qr = None

    def stop(self) -> None:
        """A pairing code replaces the QR: no more rotation, no QR_EXHAUSTED, no QR on screen."""
        self._stopped = True
        self.deadline = None
        if self.qr is not None:
            self.qr = None
            self._ctx.changed()

    # -- nodes -----------------------------------------------------------------------------

    def on_iq(self, node: Node, now: float) -> bool:
        """pair-device (on a new device's attempt) and pair-success; False for other iqs."""
        if node.attr("type") != "set":
            return False
        ctx = self._ctx
        state = ctx.state
        if node.child("pair-device") is not None and not ctx.require_attempt().login:
            if state == "handshaking":
                ctx.fire("await_qr")
            elif state != "awaiting_qr":
                return False
            self._on_pair_device(node, now)
            return True
        if node.child("pair-success") is not None and state in (
            "awaiting_qr",
            "awaiting_pairing_code",
        ):
            self._on_pair_success(node, now)
            return True
        return False

    def on_companion_reg_refresh(self, node: Node, now: float) -> bool:
        """Before pairing: ack, make and persist a new ADV secret, then show the QR with it."""
        ctx = self._ctx
        if node.attr("type") != "companion_reg_refresh" or ctx.state != "awaiting_qr":
            return False
        ctx.ack(node)
        ctx.save_creds(
            replace(ctx.creds, adv_secret_key=generate_adv_secret(ctx.rng.randbytes)),
            why="the new ADV secret before the QR that carries it",
        )
        if self._index > 0:
            self._show(self._refs[self._index - 1])
        return True

    def _on_pair_device(self, node: Node, now: float) -> None:
        """Answer pair-device at once, then show its refs one by one (60 s, then 20 s each)."""
        self._ctx.send(iq_result(node))
        pair_device = node.child("pair-device")
        refs = pair_device.children("ref") if pair_device is not None else []
        self._refs = [content_bytes(ref).decode("utf-8", "replace") for ref in refs]
        self._index = 0
        if not self._stopped:
            self.show_next(now)

    # -- the QR ------------------------------------------------------------------------------

    def handle_timeout(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.show_next(now)

    def show_next(self, now: float) -> None:
        """Rotate to the next ref, or end with ``QR_EXHAUSTED`` when none is left."""
        if self._index >= len(self._refs):
            self.deadline = None
            self._ctx.end(classify(CloseReason.QR_EXHAUSTED, at=now))
            return
        config = self._ctx.config
        lifetime = config.qr_first_timeout if self._index == 0 else config.qr_next_timeout
        ref = self._refs[self._index]
        self._index += 1
        self.deadline = now + lifetime
        self._show(ref)

    def _show(self, ref: str) -> None:
        ctx = self._ctx
        attempt_number = ctx.attempt_number

        def show() -> None:
            # built when shown: a QR held behind a save carries the secret that save persisted
            showing = ctx.attempt_number == attempt_number and ctx.state == "awaiting_qr"
            if showing and not self._stopped:
                self.qr = self._qr_string(ref)
                ctx.changed()

        ctx.defer(show)

    def _qr_string(self, ref: str) -> str:
        creds = self._ctx.creds
        return qr_string(
            ref,
            creds.noise_key.public,
            creds.signed_identity_key.public,
            creds.adv_secret_key,
            companion_platform_id(self._ctx.config.payload.browser),
        )

    # -- pair-success ----------------------------------------------------------------------

    def _on_pair_success(self, node: Node, now: float) -> None:
        """Verify, sign, save, then reply; a bad HMAC or signature is refused."""
        ctx = self._ctx
        success = node.child("pair-success")
        assert success is not None
        creds = ctx.creds
        identity = success.child("device-identity")
        device = success.child("device")
        jid = device.attr("jid") if device is not None else None
        try:
            if identity is None or not jid:
                raise MalformedPairSuccessError(
                    "pair-success without device-identity or device jid"
                )
            try:
                user_and_device(jid)  # a JID we could not log in with is refused now, not at login
            except ValueError as error:
                raise MalformedPairSuccessError(str(error)) from None
            result = verify_pair_success(
                content_bytes(identity),
                creds.adv_secret_key,
                creds.signed_identity_key,
                rng=ctx.rng.randbytes,
            )
        except PairSuccessRejected as error:
            # whatsmeow's answer, then the attempt ends: a new one gets new refs
            ctx.send(error_reply(node, error.error_code, error.error_text))
            message = f"pair-success refused ({error.error_text}): {error}"
            ctx.end(replace(classify(error, at=now, message=message), node=node))
            return
        server_t = parse_int(node.attr("t"))
        if server_t is not None:
            ctx.set_server_time(server_t, now)
        stored = wa_pb2.ADVSignedDeviceIdentity.FromString(result.account)
        lid = device.attr("lid") if device is not None else None
        biz = success.child("biz")
        platform = success.child("platform")
        identities = tuple(creds.signal_identities or ())
        if lid:
            identities += (
                SignalIdentity(
                    name=lid,
                    device_id=0,
                    identifier_key=signal_public_key(result.account_signature_key),
                ),
            )
        ctx.fire("pair_success")
        self.deadline = None
        ctx.save_creds(
            replace(
                creds,
                me=Contact(id=jid, lid=lid or None, name=biz.attr("name") if biz else None),
                account=SignedDeviceIdentity(
                    details=stored.details,
                    account_signature_key=stored.account_signature_key,
                    account_signature=stored.account_signature,
                    device_signature=stored.device_signature,
                ),
                platform=platform.attr("name") if platform is not None else creds.platform,
                signal_identities=identities,
            ),
            why="the new identity before the pair-device-sign reply",
        )
        self.qr = None
        self.is_new_login = True
        ctx.changed()
        sign = Node(
            "pair-device-sign",
            {},
            [
                Node(
                    "device-identity",
                    {"key-index": str(result.key_index)},
                    result.reply_device_identity,
                )
            ],
        )
        reply = Node(
            "iq", {"to": SERVER, "type": "result", "id": node.attr("id", "") or ""}, [sign]
        )
        ctx.send(reply)
        self._unified_session(now)
