"""What the server's nodes set in motion: QR pairing, login and its initial queries, keepalive,
``<ib>`` notices and presence (PROTOCOL.md §5-§6, §10).

Each function takes the session and the attempt it acts for; the session's core decides when to
call them. They send through the session (so every byte passes the save barrier) and change
creds only through ``_set_creds`` (so every change is a ``CredsUpdate`` and a ``SaveRequest``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from walink._session.nodes import (
    ACK_TAGS,
    SERVER,
    SERVER_JID,
    ack,
    error_reply,
    iq_result,
    parse_int,
    pre_key_id,
    pre_key_upload,
    unified_session_id,
)
from walink.auth.model import Contact, Creds, SignalIdentity, SignedDeviceIdentity
from walink.fsm.reasons import CloseReason, classify
from walink.protocol.binary import Node, content_bytes
from walink.protocol.frames import MAX_ROUTING_INFO
from walink.protocol.keys import KeyPair, generate_adv_secret, signal_public_key
from walink.protocol.pairing import (
    MalformedPairSuccessError,
    PairSuccessRejected,
    companion_platform_id,
    qr_string,
    verify_pair_success,
)
from walink.protocol.payload import PayloadOptions, login_payload, registration_payload
from walink.protocol.proto import wa_pb2

if TYPE_CHECKING:
    from walink._session.attempt import Attempt
    from walink._session.core import ClientSession

__all__ = ["ACK_TAGS", "INITIAL_PREKEY_COUNT", "MIN_PREKEY_COUNT", "user_and_device"]

INITIAL_PREKEY_COUNT = 812
"""Pre-keys uploaded when the server holds none (Baileys ``INITIAL_PREKEY_COUNT``)."""
MIN_PREKEY_COUNT = 5
"""Below (or at) this many on the server, top up with this many (Baileys ``MIN_PREKEY_COUNT``)."""


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


# -- keepalive and presence ------------------------------------------------------------------


def send_ping(session: ClientSession, attempt: Attempt, now: float) -> None:
    """Baileys' keepalive query (``w:p`` with ``<ping/>``); silence is judged by the timers."""
    attempt.ping_outstanding = True
    ping = Node("iq", {"to": SERVER_JID, "type": "get", "xmlns": "w:p"}, [Node("ping")])
    session._query(attempt, ping, None, lambda reply, at: None)


def push_name(session: ClientSession) -> str | None:
    """The account's display name: the server's (``creds.me.name``), else the configured one."""
    me = session._creds.me
    return (me.name if me is not None else None) or session.config.payload.push_name or None


def send_presence(session: ClientSession, attempt: Attempt, kind: str, now: float) -> None:
    """``<presence name=… type=…/>`` and ``is_online``.

    Nothing at all without a push name: both reference clients refuse to send a presence
    without one (Baileys ignores the request, whatsmeow returns an error), so the one at open
    is skipped then and ``is_online`` stays False, the truth about what the server was told.
    """
    name = push_name(session)
    if not name:
        return
    session._is_online = kind == "available"
    session._emit_update()
    if kind == "available":
        send_unified_session(session, attempt, now)
    session._send(attempt, Node("presence", {"name": name.replace("@", ""), "type": kind}))


def send_unified_session(session: ClientSession, attempt: Attempt, now: float) -> None:
    node_id = unified_session_id(now, session._server_offset)
    session._send(attempt, Node("ib", {}, [Node("unified_session", {"id": node_id})]))


def send_ack(session: ClientSession, attempt: Attempt, stanza: Node) -> None:
    me = session._creds.me
    session._send(attempt, ack(stanza, me.id if me is not None else None))


# -- server iqs: pings and pairing -----------------------------------------------------------


def on_server_iq(session: ClientSession, attempt: Attempt, node: Node, now: float) -> bool:
    """Handle an iq the server started; False when it is not one of ours."""
    kind = node.attr("type")
    if kind == "get" and node.attr("xmlns") == "urn:xmpp:ping":
        session._send(attempt, iq_result(node))
        return True
    if kind != "set":
        return False
    state = session.state
    if node.child("pair-device") is not None and not attempt.login:
        if state == "handshaking":
            session._fire("await_qr")
        elif state != "awaiting_qr":
            return False
        on_pair_device(session, attempt, node, now)
        return True
    if node.child("pair-success") is not None and state in ("awaiting_qr", "awaiting_pairing_code"):
        on_pair_success(session, attempt, node, now)
        return True
    return False


def on_pair_device(session: ClientSession, attempt: Attempt, node: Node, now: float) -> None:
    """Answer pair-device at once, then show its refs one by one (60 s, then 20 s each)."""
    session._send(attempt, iq_result(node))
    pair_device = node.child("pair-device")
    refs = pair_device.children("ref") if pair_device is not None else []
    attempt.refs = [content_bytes(ref).decode("utf-8", "replace") for ref in refs]
    attempt.qr_index = 0
    if attempt.pairing is None:  # a pairing-code request replaces the QR
        show_next_qr(session, attempt, now)


def _qr_string(session: ClientSession, ref: str) -> str:
    creds = session._creds
    return qr_string(
        ref,
        creds.noise_key.public,
        creds.signed_identity_key.public,
        creds.adv_secret_key,
        companion_platform_id(session.config.payload.browser),
    )


def show_next_qr(session: ClientSession, attempt: Attempt, now: float) -> None:
    """Rotate to the next ref, or end with ``QR_EXHAUSTED`` when none is left."""
    if attempt.qr_index >= len(attempt.refs):
        attempt.qr_deadline = None
        session._end(classify(CloseReason.QR_EXHAUSTED, at=now))
        return
    config = session.config
    lifetime = config.qr_first_timeout if attempt.qr_index == 0 else config.qr_next_timeout
    ref = attempt.refs[attempt.qr_index]
    attempt.qr_index += 1
    attempt.qr_deadline = now + lifetime
    _show_qr(session, attempt, ref)


def _show_qr(session: ClientSession, attempt: Attempt, ref: str) -> None:
    def show() -> None:
        # built when shown: a QR held behind a save carries the secret that save persisted
        showing = session._attempt is attempt and session.state == "awaiting_qr"
        if showing and attempt.pairing is None:
            session._qr = _qr_string(session, ref)
            session._emit_update()

    session._defer(show)


def on_pair_success(session: ClientSession, attempt: Attempt, node: Node, now: float) -> None:
    """Verify, sign, save, then reply (PROTOCOL.md §6.4); a bad HMAC or signature is refused."""
    success = node.child("pair-success")
    assert success is not None
    creds = session._creds
    identity = success.child("device-identity")
    device = success.child("device")
    jid = device.attr("jid") if device is not None else None
    try:
        if identity is None or not jid:
            raise MalformedPairSuccessError("pair-success without device-identity or device jid")
        try:
            user_and_device(jid)  # a JID we could not log in with is refused now, not at login
        except ValueError as error:
            raise MalformedPairSuccessError(str(error)) from None
        result = verify_pair_success(
            content_bytes(identity),
            creds.adv_secret_key,
            creds.signed_identity_key,
            rng=session._rng.randbytes,
        )
    except PairSuccessRejected as error:
        # whatsmeow's answer (SERVER.md §2), then the attempt ends: a new one gets new refs
        session._send(attempt, error_reply(node, error.error_code, error.error_text))
        message = f"pair-success refused ({error.error_text}): {error}"
        session._end(replace(classify(error, at=now, message=message), node=node))
        return
    server_t = parse_int(node.attr("t"))
    if server_t is not None:
        session._server_offset = server_t - now
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
    session._fire("pair_success")
    attempt.qr_deadline = None
    session._set_creds(
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
    session._qr = None
    session._is_new_login = True
    session._emit_update()
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
    reply = Node("iq", {"to": SERVER, "type": "result", "id": node.attr("id", "") or ""}, [sign])
    session._send(attempt, reply)
    send_unified_session(session, attempt, now)


def on_companion_reg_refresh(
    session: ClientSession, attempt: Attempt, node: Node, now: float
) -> bool:
    """Before pairing: ack, make and persist a new ADV secret, then show the QR with it."""
    if session.state != "awaiting_qr":
        return False
    send_ack(session, attempt, node)
    session._set_creds(
        replace(session._creds, adv_secret_key=generate_adv_secret(session._rng.randbytes)),
        why="the new ADV secret before the QR that carries it",
    )
    if attempt.qr_index > 0:
        _show_qr(session, attempt, attempt.refs[attempt.qr_index - 1])
    return True


# -- login -----------------------------------------------------------------------------------


def on_success(session: ClientSession, attempt: Attempt, node: Node, now: float) -> bool:
    """``<success>``: server time, own LID, then the initial queries of PROTOCOL.md §5.6."""
    if session.state != "authenticating" or attempt.logging_in:
        return False
    attempt.logging_in = True
    server_t = parse_int(node.attr("t"))
    if server_t is not None:
        session._server_offset = server_t - now
    me = session._creds.me
    lid = node.attr("lid")
    if me is not None and lid and lid != me.lid:
        session._set_creds(
            replace(session._creds, me=replace(me, lid=lid)), why="own LID from <success>"
        )
    count = Node("iq", {"xmlns": "encrypt", "type": "get", "to": SERVER_JID}, [Node("count")])
    ask(session, attempt, count, now, _on_pre_key_count)
    return True


def _init_deadline(session: ClientSession, now: float) -> float | None:
    timeout = session.config.query_timeout
    return None if timeout is None else now + timeout


Then = Callable[["ClientSession", "Attempt", "Node | None", float], None]


def ask(session: ClientSession, attempt: Attempt, node: Node, now: float, then: Then) -> None:
    """An internal query: ``then`` gets the result, or None after an error or its timeout."""

    def answered(reply: Node | None, at: float) -> None:
        if session._attempt is attempt:
            then(session, attempt, reply, at)

    session._query(attempt, node, _init_deadline(session, now), answered)


def _is_result(reply: Node | None) -> bool:
    return reply is not None and reply.attr("type") == "result"


def _on_pre_key_count(
    session: ClientSession, attempt: Attempt, reply: Node | None, now: float
) -> None:
    count_node = reply.child("count") if reply is not None and _is_result(reply) else None
    count = parse_int(count_node.attr("value")) if count_node is not None else None
    if count is None:
        # Baileys only logs a failed count: go on without uploading
        _ask_passive(session, attempt, now)
        return
    target = INITIAL_PREKEY_COUNT if count == 0 else MIN_PREKEY_COUNT
    if count > target:
        _ask_passive(session, attempt, now)
        return
    upload_pre_keys(session, attempt, target, now, then=_after_upload)


def _after_upload(session: ClientSession, attempt: Attempt, reply: Node | None, now: float) -> None:
    _ask_passive(session, attempt, now)


def upload_pre_keys(
    session: ClientSession, attempt: Attempt, count: int, now: float, *, then: Then
) -> None:
    """Make ``count`` pre-keys, have them (and the advanced counters) saved, then upload them.

    The store cannot be read from here, so keys are always fresh: ids continue from
    ``next_pre_key_id``, and both counters move past them before the upload is released.
    """
    creds = session._creds
    first = creds.next_pre_key_id
    keys = [(pre_key_id(first + n), KeyPair.generate(session._rng.randbytes)) for n in range(count)]
    following = first + count
    session._set_creds(
        replace(creds, next_pre_key_id=following, first_unuploaded_pre_key_id=following),
        why=f"{count} pre-keys before their upload",
        keys={"pre-key": {str(key_id): key for key_id, key in keys}},
    )
    upload = pre_key_upload(
        iq_id=attempt.new_id(),
        registration_id=creds.registration_id,
        identity=creds.signed_identity_key,
        signed_pre_key=creds.signed_pre_key,
        pre_keys=keys,
    )
    ask(session, attempt, upload, now, then)


def _ask_passive(session: ClientSession, attempt: Attempt, now: float) -> None:
    active = Node("iq", {"to": SERVER_JID, "xmlns": "passive", "type": "set"}, [Node("active")])
    ask(session, attempt, active, now, _after_passive)


def _after_passive(
    session: ClientSession, attempt: Attempt, reply: Node | None, now: float
) -> None:
    digest = Node("iq", {"to": SERVER_JID, "type": "get", "xmlns": "encrypt"}, [Node("digest")])
    ask(session, attempt, digest, now, _after_digest)


def _after_digest(session: ClientSession, attempt: Attempt, reply: Node | None, now: float) -> None:
    if _is_result(reply) and reply is not None and reply.child("digest") is None:
        # the server lost our key bundle (Baileys: upload, then go on)
        upload_pre_keys(session, attempt, MIN_PREKEY_COUNT, now, then=_ignore)
    _open(session, attempt, now)


def _ignore(session: ClientSession, attempt: Attempt, reply: Node | None, now: float) -> None:
    return None


def _open(session: ClientSession, attempt: Attempt, now: float) -> None:
    """PROTOCOL.md §5.6 steps 5-8: open, unified_session, init queries, presence."""
    attempt.opened = True
    session._fire("login_success")
    session._history = session._policy.opened(session._history, at=now)
    session._emit_update()
    send_unified_session(session, attempt, now)
    if session.config.fire_init_queries:
        props_attrs = {"protocol": "1"}
        if session._creds.last_prop_hash:
            props_attrs["hash"] = session._creds.last_prop_hash
        abt = Node(
            "iq", {"xmlns": "abt", "to": SERVER_JID, "type": "get"}, [Node("props", props_attrs)]
        )
        ask(session, attempt, abt, now, _after_props)
        ask(
            session,
            attempt,
            Node("iq", {"xmlns": "blocklist", "to": SERVER_JID, "type": "get"}),
            now,
            _ignore,
        )
        privacy = Node(
            "iq", {"xmlns": "privacy", "to": SERVER_JID, "type": "get"}, [Node("privacy")]
        )
        ask(session, attempt, privacy, now, _ignore)
    kind = "available" if session.config.mark_online_on_connect else "unavailable"
    send_presence(session, attempt, kind, now)


def _after_props(session: ClientSession, attempt: Attempt, reply: Node | None, now: float) -> None:
    props = reply.child("props") if reply is not None and _is_result(reply) else None
    new_hash = props.attr("hash") if props is not None else None
    if new_hash and new_hash != session._creds.last_prop_hash:
        session._set_creds(replace(session._creds, last_prop_hash=new_hash), why="abt props hash")


# -- <ib> notices ----------------------------------------------------------------------------


def usable_routing_info(info: bytes | None) -> bytes | None:
    """Routing info the next intro may carry, or None for the plain intro.

    Routing info over ``MAX_ROUTING_INFO`` is dropped: servers refuse such an intro, and since it
    is saved in the creds, keeping it would wedge every later connect (found by fuzz/session.py).
    """
    if not info or len(info) > MAX_ROUTING_INFO:
        return None
    return info


def on_ib(session: ClientSession, attempt: Attempt, node: Node, now: float) -> bool:
    """Every child of ``<ib>`` (whatsmeow's way); False when one of them is not ours."""
    if node.child("downgrade_webclient") is not None:
        session._end(classify(node, at=now))
        return True
    consumed = True
    for child in node.children():
        if child.tag == "offline":
            session._pending_notifications = True
            session._emit_update()
        elif child.tag == "offline_preview":
            batch = Node("ib", {}, [Node("offline_batch", {"count": "100"})])
            session._send(attempt, batch)
        elif child.tag == "edge_routing":
            routing = child.child("routing_info")
            usable = usable_routing_info(content_bytes(routing))
            if routing is not None and usable and usable != session._creds.routing_info:
                session._set_creds(
                    replace(session._creds, routing_info=usable),
                    why="routing info for next connect",
                )
        elif child.tag == "dirty":
            _on_dirty(session, attempt, child, now)
        else:
            consumed = False
    return consumed and bool(node.children())


def _on_dirty(session: ClientSession, attempt: Attempt, dirty: Node, now: float) -> None:
    timestamp = parse_int(dirty.attr("timestamp"))
    if dirty.attr("type") != "account_sync" or timestamp is None:
        return
    previous = session._creds.last_account_sync_timestamp
    if previous is not None:
        clean = Node(
            "iq",
            {"to": SERVER_JID, "type": "set", "xmlns": "urn:xmpp:whatsapp:dirty"},
            [Node("clean", {"type": "account_sync", "timestamp": str(previous)})],
        )
        ask(session, attempt, clean, now, _ignore)
    if timestamp != previous:
        session._set_creds(
            replace(session._creds, last_account_sync_timestamp=timestamp),
            why="account sync timestamp",
        )
