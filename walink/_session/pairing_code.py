"""Pairing-code login inside the session (docs/protocol/pairing.md#pairing-code,
docs/protocol/server.md#pairing-code): the second way to link.

Theory of operation
-------------------
``request_pairing_code`` opens the attempt's pairing-code mode (``PairingCodeState``, kept by
``PairingCodeLogin`` for the running attempt). From then on this attempt shows no QR any more,
never ends with ``QR_EXHAUSTED``, and ends with ``PAIRING_TIMEOUT`` unless pairing is done within
``pairing_code_timeout`` of the latest request. Inside that mode one request at a time is in flight:

1. it waits for the server to be ready (pair-device, i.e. the ``awaiting_qr`` state), at most
   ``pairing_ready_timeout``;
2. companion_hello goes out (the code's PBKDF2 key wraps ``creds.pairing_ephemeral_key_pair``);
3. the server's result carries ``link_code_pairing_ref``: only now is the code reported
   (``PairingCode``) and the machine enters ``awaiting_pairing_code``. An error reply (a 429
   ``rate-overlimit``), no answer, or the close is a ``PairingCodeError`` instead, and the
   connection stays up for a later request.

The phone's primary_hello notification is acked, matched against the ref, and answered with
companion_finish, whose new ADV secret is saved first (the send waits behind that
``SaveRequest``). Pair-success then goes through the QR login's own code (``flows``), checked
with that secret (``walink._session.qr_pairing``), and the 515 restart follows as there.

What is never done here: ``creds.me`` is not touched (Baileys sets it at companion_hello, a known
cause of 401/428 loops when pairing does not finish), and the code itself is neither persisted
nor logged: it lives in this attempt's memory and in the ``PairingCode`` event (hidden from its
repr). A wrong code cannot be seen by the companion (AES-CTR has no tag, and the phone simply
never sends pair-success), so the pairing deadline is what ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from walink._session.events import PairingCode, PairingCodeError, QueryFailure
from walink._session.nodes import SERVER_JID, parse_int
from walink.fsm.reasons import CloseReason, Disconnect, classify
from walink.protocol.binary import Node, content_bytes
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.pairing import companion_platform_display, companion_platform_id
from walink.protocol.pairing_code import (
    companion_finish,
    generate_pairing_code,
    validate_custom_code,
    validate_phone_number,
    wrap_ephemeral_random,
)

if TYPE_CHECKING:
    from walink._session.context import PartContext

__all__ = [
    "CodeRequest",
    "PairingCodeLogin",
    "PairingCodeState",
    "QrControl",
    "companion_finish_node",
    "companion_hello_node",
]

# where a request is accepted: before pair-device (it waits), or once the server offers pairing
_REQUESTABLE = frozenset({"dialing", "handshaking", "awaiting_qr", "awaiting_pairing_code"})
_READY = frozenset({"awaiting_qr", "awaiting_pairing_code"})


@dataclass(slots=True, kw_only=True)
class CodeRequest:
    """One ``request_pairing_code`` call, until its ``PairingCode`` or ``PairingCodeError``."""

    id: int
    phone: str
    """Bare digits, as the JID needs them."""
    code: str = field(repr=False)
    ready_deadline: float | None
    """While it waits for pair-device; None once companion_hello is sent."""
    iq_id: str | None = None
    """The companion_hello's id, once sent."""


@dataclass(slots=True, kw_only=True)
class PairingCodeState:
    """An attempt's pairing-code mode, from its first request to pair-success or the close."""

    deadline: float
    """``PAIRING_TIMEOUT`` at this time (``pairing_code_timeout`` after the latest request)."""
    pending: CodeRequest | None = None
    """The request in flight (at most one)."""
    phone: str | None = None
    """The accepted request's phone number."""
    code: str | None = field(default=None, repr=False)
    """The accepted code, needed to unwrap primary_hello."""
    ref: bytes | None = None
    """The accepted ``link_code_pairing_ref``; primary_hello must carry the same."""
    finishing: bool = False
    """companion_finish went out for ``ref``: a repeated primary_hello is ignored."""

    def next_deadline(self) -> float:
        pending = self.pending
        if pending is not None and pending.ready_deadline is not None:
            return min(self.deadline, pending.ready_deadline)
        return self.deadline


# -- nodes -----------------------------------------------------------------------------------


def companion_hello_node(
    *,
    iq_id: str,
    phone: str,
    wrapped_ephemeral: bytes,
    noise_public: bytes,
    platform_id: str,
    platform_display: str,
) -> Node:
    """docs/protocol/pairing.md#companion-hello exactly as Baileys sends it (attribute and child
    order, nonce ``"0"``)."""
    children = [
        Node("link_code_pairing_wrapped_companion_ephemeral_pub", {}, wrapped_ephemeral),
        Node("companion_server_auth_key_pub", {}, noise_public),
        Node("companion_platform_id", {}, platform_id),
        Node("companion_platform_display", {}, platform_display),
        # Baileys' string "0" (one token byte); whatsmeow's raw 0x00 byte is also accepted
        Node("link_code_pairing_nonce", {}, "0"),
    ]
    reg_attrs = {
        "jid": f"{phone}@s.whatsapp.net",
        "stage": "companion_hello",
        "should_show_push_notification": "true",
    }
    return Node(
        "iq",
        {"to": SERVER_JID, "type": "set", "id": iq_id, "xmlns": "md"},
        [Node("link_code_companion_reg", reg_attrs, children)],
    )


def companion_finish_node(
    *, iq_id: str, phone: str, wrapped_key_bundle: bytes, identity_public: bytes, ref: bytes
) -> Node:
    """docs/protocol/pairing.md#companion-finish step 9, in Baileys' order."""
    children = [
        Node("link_code_pairing_wrapped_key_bundle", {}, wrapped_key_bundle),
        Node("companion_identity_public", {}, identity_public),
        Node("link_code_pairing_ref", {}, ref),
    ]
    reg_attrs = {"jid": f"{phone}@s.whatsapp.net", "stage": "companion_finish"}
    return Node(
        "iq",
        {"to": SERVER_JID, "type": "set", "id": iq_id, "xmlns": "md"},
        [Node("link_code_companion_reg", reg_attrs, children)],
    )


class QrControl(Protocol):
    """What the pairing code needs of the QR pairing: to take the QR off the screen for good."""

    def stop(self) -> None: ...


class PairingCodeLogin:
    """The pairing-code mode of the running attempt, and the requests' numbering."""

    def __init__(self, ctx: PartContext, *, qr: QrControl) -> None:
        self._ctx = ctx
        self._qr = qr
        self._requests = 0
        self.mode: PairingCodeState | None = None
        """The attempt's pairing-code mode, from its first request (then no QR is shown)."""

    def attempt_started(self) -> None:
        self.mode = None

    def next_deadline(self) -> float | None:
        return self.mode.next_deadline() if self.mode is not None else None

    # -- the request -----------------------------------------------------------------------

    def request(self, *, phone_number: str, now: float, custom_code: str | None) -> int:
        """``ClientSession.request_pairing_code``: validate, then send now or once pair-device
        came."""
        ctx = self._ctx
        phone = validate_phone_number(phone_number)
        code = validate_custom_code(custom_code) if custom_code is not None else None
        attempt = ctx.require_attempt()
        if attempt.login:
            raise LocalProtocolError(
                "this device is already paired: a pairing code links a new one"
            )
        state = ctx.state
        if state not in _REQUESTABLE:
            raise LocalProtocolError(f"a pairing code cannot be requested in state {state}")
        pairing = self.mode
        if pairing is not None and pairing.pending is not None:
            raise LocalProtocolError(
                "a pairing-code request is already in flight: wait for its end"
            )
        deadline = now + ctx.config.pairing_code_timeout
        if pairing is None:
            pairing = self.mode = PairingCodeState(deadline=deadline)
            self._qr.stop()
        else:
            pairing.deadline = deadline
        if code is None:
            code = generate_pairing_code(ctx.rng.randbytes)
        self._requests += 1
        ready = state in _READY and attempt.authenticated
        pending = CodeRequest(
            id=self._requests,
            phone=phone,
            code=code,
            ready_deadline=None if ready else now + ctx.config.pairing_ready_timeout,
        )
        pairing.pending = pending
        if ready:
            self._send_hello(pending, now)
        return pending.id

    def requested_code(self, request: int) -> str | None:
        """The code of request ``request`` while it is in flight (generated or normalized)."""
        pending = self.mode.pending if self.mode is not None else None
        return pending.code if pending is not None and pending.id == request else None

    def _send_hello(self, pending: CodeRequest, now: float) -> None:
        ctx = self._ctx
        creds = ctx.creds
        browser = ctx.config.payload.browser
        wrapped = wrap_ephemeral_random(
            pending.code, creds.pairing_ephemeral_key_pair.public, ctx.rng.randbytes
        )
        pending.ready_deadline = None
        pending.iq_id = ctx.new_id()
        hello = companion_hello_node(
            iq_id=pending.iq_id,
            phone=pending.phone,
            wrapped_ephemeral=wrapped,
            noise_public=creds.noise_key.public,
            platform_id=companion_platform_id(browser),
            platform_display=companion_platform_display(browser),
        )
        timeout = ctx.config.query_timeout
        deadline = None if timeout is None else now + timeout
        mode = self.mode

        def answered(reply: Node | None, at: float) -> None:
            self._on_hello_answer(mode, pending, reply, at)

        ctx.query(hello, deadline, answered)

    def _on_hello_answer(
        self, mode: PairingCodeState | None, pending: CodeRequest, reply: Node | None, now: float
    ) -> None:
        pairing = self.mode
        if pairing is None or pairing is not mode or pairing.pending is not pending:
            return  # settled otherwise meanwhile (paired by a QR scan)
        pairing.pending = None
        if reply is None:
            self._fail(pending, QueryFailure.TIMEOUT, 408, "no answer to companion_hello", True)
            return
        if reply.attr("type") != "result":
            error = reply.child("error")
            code = parse_int(error.attr("code")) if error is not None else None
            text = (error.attr("text", "") or "") if error is not None else ""
            retry = code is not None and (code == 429 or code >= 500)
            self._fail(pending, QueryFailure.SERVER_ERROR, code, text, retry, reply)
            return
        reg = reply.child("link_code_companion_reg")
        ref = content_bytes(reg.child("link_code_pairing_ref") if reg is not None else None)
        if not ref:
            text = "the answer to companion_hello has no link_code_pairing_ref"
            self._fail(pending, QueryFailure.SERVER_ERROR, None, text, False, reply)
            return
        pairing.phone, pairing.code, pairing.ref = pending.phone, pending.code, ref
        pairing.finishing = False
        if self._ctx.state == "awaiting_qr":
            self._ctx.fire("await_pairing_code")
        self._ctx.emit(
            PairingCode(
                request=pending.id,
                code=pending.code,
                phone=pending.phone,
                expires_at=pairing.deadline,
            )
        )

    def _fail(
        self,
        pending: CodeRequest,
        failure: QueryFailure,
        code: int | None,
        text: str,
        retry: bool,
        node: Node | None = None,
    ) -> None:
        self._ctx.emit(
            PairingCodeError(
                request=pending.id, failure=failure, code=code, text=text, retry=retry, node=node
            )
        )

    # -- hooks the session's core calls --------------------------------------------------

    def after_pairing_iq(self, now: float) -> None:
        """After pair-device or pair-success: pair-device makes a waiting request go,
        pair-success ends the pairing-code mode (its deadline must not fire while the 515
        restart comes)."""
        pairing = self.mode
        if pairing is None:
            return
        state = self._ctx.state
        if state == "paired":
            self.mode = None
            if pairing.pending is not None:
                text = "paired by a QR scan before the pairing code was accepted"
                self._fail(pairing.pending, QueryFailure.CLOSED, None, text, False)
            return
        pending = pairing.pending
        if state in _READY and pending is not None and pending.iq_id is None:
            self._send_hello(pending, now)

    def handle_timeout(self, now: float) -> None:
        """The pairing deadline ends the attempt; the readiness deadline fails only the
        request."""
        pairing = self.mode
        if pairing is None:
            return
        if now >= pairing.deadline:
            timeout = self._ctx.config.pairing_code_timeout
            message = (
                f"pairing was not completed within {timeout:g} s of the code request"
                " (the code was not entered on the phone, or was wrong)"
            )
            self._ctx.end(classify(CloseReason.PAIRING_TIMEOUT, at=now, message=message))
            return
        pending = pairing.pending
        if (
            pending is not None
            and pending.ready_deadline is not None
            and now >= pending.ready_deadline
        ):
            pairing.pending = None
            text = "the server did not offer pairing (no pair-device) in time"
            self._fail(pending, QueryFailure.TIMEOUT, 408, text, True)

    def attempt_ended(self, disconnect: Disconnect) -> None:
        """The attempt closed with a request in flight: it fails with that close."""
        pairing = self.mode
        self.mode = None
        if pairing is None or pairing.pending is None:
            return
        pending, pairing.pending = pairing.pending, None
        self._fail(
            pending,
            QueryFailure.CLOSED,
            disconnect.status,
            disconnect.message,
            not disconnect.terminal,
        )

    def on_notification(self, node: Node, now: float) -> bool:
        """primary_hello: ack, check the ref, save the new ADV secret, then send
        companion_finish.

        False when no accepted code waits for it (the node is then reported as any other).
        """
        ctx = self._ctx
        pairing = self.mode
        if (
            node.attr("type") != "link_code_companion_reg"
            or pairing is None
            or pairing.code is None
            or pairing.ref is None
            or pairing.phone is None
            or ctx.state != "awaiting_pairing_code"
        ):
            return False
        ctx.ack(node)
        reg = node.child("link_code_companion_reg")
        if reg is None:
            return True
        ref = content_bytes(reg.child("link_code_pairing_ref"))
        if ref != pairing.ref or pairing.finishing:
            return True  # an earlier request's ref, or a repeat: acked and ignored (whatsmeow)
        creds = ctx.creds
        try:
            finish = companion_finish(
                pairing.code,
                pairing_ephemeral=creds.pairing_ephemeral_key_pair,
                identity=creds.signed_identity_key,
                primary_identity_public=content_bytes(reg.child("primary_identity_pub")),
                wrapped_primary_ephemeral=content_bytes(
                    reg.child("link_code_pairing_wrapped_primary_ephemeral_pub")
                ),
                rng=ctx.rng.randbytes,
            )
        except RemoteProtocolError as error:
            message = f"primary_hello refused: {error}"
            ctx.end(replace(classify(error, at=now, message=message), node=node))
            return True
        pairing.finishing = True
        # pair-success is checked with this secret: it must be on disk before the phone uses it
        ctx.save_creds(
            replace(creds, adv_secret_key=finish.adv_secret),
            why="the pairing code's ADV secret before companion_finish",
        )
        finish_node = companion_finish_node(
            iq_id=ctx.new_id(),
            phone=pairing.phone,
            wrapped_key_bundle=finish.wrapped_key_bundle,
            identity_public=creds.signed_identity_key.public,
            ref=pairing.ref,
        )
        # Its answer changes nothing: pair-success, or the pairing deadline (a wrong code),
        # decides.
        ctx.query(finish_node, None, lambda reply, at: None)
        return True
