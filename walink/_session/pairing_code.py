"""Pairing-code login inside the session (PROTOCOL.md §7, SERVER.md §5): the second way to link.

Theory of operation
-------------------
``request_pairing_code`` opens the attempt's pairing-code mode (``PairingCodeState`` on the
attempt). From then on this attempt shows no QR any more, never ends with ``QR_EXHAUSTED``, and
ends with ``PAIRING_TIMEOUT`` unless pairing is done within ``pairing_code_timeout`` of the latest
request. Inside that mode one request at a time is in flight:

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
with that secret, and the 515 restart follows as there.

What is never done here: ``creds.me`` is not touched (Baileys sets it at companion_hello, a known
cause of 401/428 loops when pairing does not finish), and the code itself is neither persisted
nor logged: it lives in this attempt's memory and in the ``PairingCode`` event (hidden from its
repr). A wrong code cannot be seen by the companion (AES-CTR has no tag, and the phone simply
never sends pair-success), so the pairing deadline is what ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from walink._session.events import PairingCode, PairingCodeError, QueryFailure
from walink._session.flows import send_ack
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
    from walink._session.attempt import Attempt
    from walink._session.core import ClientSession

__all__ = [
    "CodeRequest",
    "PairingCodeState",
    "after_server_iq",
    "companion_finish_node",
    "companion_hello_node",
    "handle_timeout",
    "on_attempt_end",
    "on_notification",
    "request",
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
    """PROTOCOL.md §7.2 exactly as Baileys sends it (attribute and child order, nonce ``"0"``)."""
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
    """PROTOCOL.md §7.4 step 10, in Baileys' order."""
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


# -- the request -----------------------------------------------------------------------------


def request(
    session: ClientSession, *, phone_number: str, now: float, custom_code: str | None
) -> int:
    """``ClientSession.request_pairing_code``: validate, then send now or once pair-device came."""
    phone = validate_phone_number(phone_number)
    code = validate_custom_code(custom_code) if custom_code is not None else None
    attempt = session._require_attempt()
    if attempt.login:
        raise LocalProtocolError("this device is already paired: a pairing code links a new one")
    state = session.state
    if state not in _REQUESTABLE:
        raise LocalProtocolError(f"a pairing code cannot be requested in state {state}")
    pairing = attempt.pairing
    if pairing is not None and pairing.pending is not None:
        raise LocalProtocolError("a pairing-code request is already in flight: wait for its end")
    deadline = now + session.config.pairing_code_timeout
    if pairing is None:
        pairing = attempt.pairing = PairingCodeState(deadline=deadline)
        _stop_qr(session, attempt)
    else:
        pairing.deadline = deadline
    if code is None:
        code = generate_pairing_code(session._rng.randbytes)
    session._pairing_requests += 1
    ready = state in _READY and attempt.authenticated
    pending = CodeRequest(
        id=session._pairing_requests,
        phone=phone,
        code=code,
        ready_deadline=None if ready else now + session.config.pairing_ready_timeout,
    )
    pairing.pending = pending
    if ready:
        _send_hello(session, attempt, pending, now)
    return pending.id


def _stop_qr(session: ClientSession, attempt: Attempt) -> None:
    # the code replaces the QR: no more rotation, no QR_EXHAUSTED, the QR leaves the screen
    attempt.qr_deadline = None
    if session._qr is not None:
        session._qr = None
        session._emit_update()


def _send_hello(session: ClientSession, attempt: Attempt, pending: CodeRequest, now: float) -> None:
    creds = session._creds
    browser = session.config.payload.browser
    wrapped = wrap_ephemeral_random(
        pending.code, creds.pairing_ephemeral_key_pair.public, session._rng.randbytes
    )
    pending.ready_deadline = None
    pending.iq_id = attempt.new_id()
    hello = companion_hello_node(
        iq_id=pending.iq_id,
        phone=pending.phone,
        wrapped_ephemeral=wrapped,
        noise_public=creds.noise_key.public,
        platform_id=companion_platform_id(browser),
        platform_display=companion_platform_display(browser),
    )
    timeout = session.config.query_timeout
    deadline = None if timeout is None else now + timeout

    def answered(reply: Node | None, at: float) -> None:
        _on_hello_answer(session, attempt, pending, reply, at)

    session._query(attempt, hello, deadline, answered)


def _on_hello_answer(
    session: ClientSession, attempt: Attempt, pending: CodeRequest, reply: Node | None, now: float
) -> None:
    pairing = attempt.pairing
    if session._attempt is not attempt or pairing is None or pairing.pending is not pending:
        return  # settled otherwise meanwhile (paired by a QR scan)
    pairing.pending = None
    if reply is None:
        _fail(session, pending, QueryFailure.TIMEOUT, 408, "no answer to companion_hello", True)
        return
    if reply.attr("type") != "result":
        error = reply.child("error")
        code = parse_int(error.attr("code")) if error is not None else None
        text = (error.attr("text", "") or "") if error is not None else ""
        retry = code is not None and (code == 429 or code >= 500)
        _fail(session, pending, QueryFailure.SERVER_ERROR, code, text, retry, reply)
        return
    reg = reply.child("link_code_companion_reg")
    ref = content_bytes(reg.child("link_code_pairing_ref") if reg is not None else None)
    if not ref:
        text = "the answer to companion_hello has no link_code_pairing_ref"
        _fail(session, pending, QueryFailure.SERVER_ERROR, None, text, False, reply)
        return
    pairing.phone, pairing.code, pairing.ref = pending.phone, pending.code, ref
    pairing.finishing = False
    if session.state == "awaiting_qr":
        session._fire("await_pairing_code")
    session._emit(
        PairingCode(
            request=pending.id, code=pending.code, phone=pending.phone, expires_at=pairing.deadline
        )
    )


def _fail(
    session: ClientSession,
    pending: CodeRequest,
    failure: QueryFailure,
    code: int | None,
    text: str,
    retry: bool,
    node: Node | None = None,
) -> None:
    session._emit(
        PairingCodeError(
            request=pending.id, failure=failure, code=code, text=text, retry=retry, node=node
        )
    )


# -- hooks the session's core calls ----------------------------------------------------------


def after_server_iq(session: ClientSession, attempt: Attempt, now: float) -> None:
    """After a server iq was handled: pair-device makes a waiting request go, pair-success ends
    the pairing-code mode (its deadline must not fire while the 515 restart comes)."""
    pairing = attempt.pairing
    if pairing is None:
        return
    state = session.state
    if state == "paired":
        attempt.pairing = None
        if pairing.pending is not None:
            text = "paired by a QR scan before the pairing code was accepted"
            _fail(session, pairing.pending, QueryFailure.CLOSED, None, text, False)
        return
    pending = pairing.pending
    if state in _READY and pending is not None and pending.iq_id is None:
        _send_hello(session, attempt, pending, now)


def handle_timeout(session: ClientSession, attempt: Attempt, now: float) -> None:
    """The pairing deadline ends the attempt; the readiness deadline fails only the request."""
    pairing = attempt.pairing
    if pairing is None:
        return
    if now >= pairing.deadline:
        timeout = session.config.pairing_code_timeout
        message = (
            f"pairing was not completed within {timeout:g} s of the code request"
            " (the code was not entered on the phone, or was wrong)"
        )
        session._end(classify(CloseReason.PAIRING_TIMEOUT, at=now, message=message))
        return
    pending = pairing.pending
    if pending is not None and pending.ready_deadline is not None and now >= pending.ready_deadline:
        pairing.pending = None
        text = "the server did not offer pairing (no pair-device) in time"
        _fail(session, pending, QueryFailure.TIMEOUT, 408, text, True)


def on_attempt_end(session: ClientSession, attempt: Attempt, disconnect: Disconnect) -> None:
    """The attempt closed with a request in flight: it fails with that close."""
    pairing = attempt.pairing
    if pairing is None or pairing.pending is None:
        return
    pending, pairing.pending = pairing.pending, None
    _fail(
        session,
        pending,
        QueryFailure.CLOSED,
        disconnect.status,
        disconnect.message,
        not disconnect.terminal,
    )


def on_notification(session: ClientSession, attempt: Attempt, node: Node, now: float) -> bool:
    """primary_hello: ack, check the ref, save the new ADV secret, then send companion_finish.

    False when no accepted code waits for it (the node is then reported as any other).
    """
    pairing = attempt.pairing
    if (
        pairing is None
        or pairing.code is None
        or pairing.ref is None
        or pairing.phone is None
        or session.state != "awaiting_pairing_code"
    ):
        return False
    send_ack(session, attempt, node)
    reg = node.child("link_code_companion_reg")
    if reg is None:
        return True
    ref = content_bytes(reg.child("link_code_pairing_ref"))
    if ref != pairing.ref or pairing.finishing:
        return True  # an earlier request's ref, or a repeat: acked and ignored (whatsmeow)
    creds = session._creds
    try:
        finish = companion_finish(
            pairing.code,
            pairing_ephemeral=creds.pairing_ephemeral_key_pair,
            identity=creds.signed_identity_key,
            primary_identity_public=content_bytes(reg.child("primary_identity_pub")),
            wrapped_primary_ephemeral=content_bytes(
                reg.child("link_code_pairing_wrapped_primary_ephemeral_pub")
            ),
            rng=session._rng.randbytes,
        )
    except RemoteProtocolError as error:
        message = f"primary_hello refused: {error}"
        session._end(replace(classify(error, at=now, message=message), node=node))
        return True
    pairing.finishing = True
    # pair-success is checked with this secret: it must be on disk before the phone can use it
    session._set_creds(
        replace(creds, adv_secret_key=finish.adv_secret),
        why="the pairing code's ADV secret before companion_finish",
    )
    finish_node = companion_finish_node(
        iq_id=attempt.new_id(),
        phone=pairing.phone,
        wrapped_key_bundle=finish.wrapped_key_bundle,
        identity_public=creds.signed_identity_key.public,
        ref=pairing.ref,
    )
    # Its answer changes nothing: pair-success, or the pairing deadline (a wrong code), decides.
    session._query(attempt, finish_node, None, lambda reply, at: None)
    return True
