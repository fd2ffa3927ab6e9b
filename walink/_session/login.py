"""Login: ``<success>``, the pre-key count and upload, passive mode, the digest check, then open
and the initial queries (Baileys' order, which the shipped captures replay byte for byte).

Theory of operation
-------------------
``<success>`` (once per attempt, in ``authenticating``) sets the server clock and our own LID,
then a chain of internal queries runs, each step started by the previous one's answer (or its
failure, which Baileys only logs): the pre-key count; an upload of fresh pre-keys when the server
holds too few (saved with the advanced counters before the upload is released); passive
``active``; the key-bundle digest (a missing digest uploads a few keys again). Then the
connection opens: the machine and the policy learn it, the unified session and the initial
queries (abt props, block list, privacy) go out, and presence as configured.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from walink._session.nodes import SERVER_JID, parse_int, pre_key_id, pre_key_upload
from walink.protocol.binary import Node
from walink.protocol.keys import KeyPair

if TYPE_CHECKING:
    from walink._session.context import OnAnswer, PartContext

__all__ = ["INITIAL_PREKEY_COUNT", "MIN_PREKEY_COUNT", "Announcer", "Login"]

INITIAL_PREKEY_COUNT = 812
"""Pre-keys uploaded when the server holds none (Baileys ``INITIAL_PREKEY_COUNT``)."""
MIN_PREKEY_COUNT = 5
"""Below (or at) this many on the server, top up with this many (Baileys ``MIN_PREKEY_COUNT``)."""


class Announcer(Protocol):
    """What the login needs of presence at open."""

    def send_unified_session(self, now: float) -> None: ...

    def send_presence(self, kind: str, now: float) -> None: ...


def _is_result(reply: Node | None) -> bool:
    return reply is not None and reply.attr("type") == "result"


def _ignore(reply: Node | None, now: float) -> None:
    return None


class Login:
    """The login of the running attempt, from ``<success>`` to open."""

    def __init__(self, ctx: PartContext, *, presence: Announcer) -> None:
        self._ctx = ctx
        self._presence = presence
        self._logging_in = False

    def attempt_started(self) -> None:
        self._logging_in = False

    def on_success(self, node: Node, now: float) -> bool:
        """``<success>``: server time, own LID, then the initial queries."""
        ctx = self._ctx
        if ctx.state != "authenticating" or self._logging_in:
            return False
        self._logging_in = True
        server_t = parse_int(node.attr("t"))
        if server_t is not None:
            ctx.set_server_time(server_t, now)
        me = ctx.creds.me
        lid = node.attr("lid")
        if me is not None and lid and lid != me.lid:
            ctx.save_creds(
                replace(ctx.creds, me=replace(me, lid=lid)), why="own LID from <success>"
            )
        count = Node("iq", {"xmlns": "encrypt", "type": "get", "to": SERVER_JID}, [Node("count")])
        ctx.ask(count, now, self._on_pre_key_count)
        return True

    def _on_pre_key_count(self, reply: Node | None, now: float) -> None:
        count_node = reply.child("count") if reply is not None and _is_result(reply) else None
        count = parse_int(count_node.attr("value")) if count_node is not None else None
        if count is None:
            # Baileys only logs a failed count: go on without uploading
            self._ask_passive(now)
            return
        target = INITIAL_PREKEY_COUNT if count == 0 else MIN_PREKEY_COUNT
        if count > target:
            self._ask_passive(now)
            return
        self._upload_pre_keys(target, now, then=lambda reply, at: self._ask_passive(at))

    def _upload_pre_keys(self, count: int, now: float, *, then: OnAnswer) -> None:
        """Make ``count`` pre-keys, have them (and the advanced counters) saved, then upload.

        The store cannot be read from here, so keys are always fresh: ids continue from
        ``next_pre_key_id``, and both counters move past them before the upload is released.
        """
        ctx = self._ctx
        creds = ctx.creds
        first = creds.next_pre_key_id
        keys = [(pre_key_id(first + n), KeyPair.generate(ctx.rng.randbytes)) for n in range(count)]
        following = first + count
        ctx.save_creds(
            replace(creds, next_pre_key_id=following, first_unuploaded_pre_key_id=following),
            why=f"{count} pre-keys before their upload",
            keys={"pre-key": {str(key_id): key for key_id, key in keys}},
        )
        upload = pre_key_upload(
            iq_id=ctx.new_id(),
            registration_id=creds.registration_id,
            identity=creds.signed_identity_key,
            signed_pre_key=creds.signed_pre_key,
            pre_keys=keys,
        )
        ctx.ask(upload, now, then)

    def _ask_passive(self, now: float) -> None:
        active = Node("iq", {"to": SERVER_JID, "xmlns": "passive", "type": "set"}, [Node("active")])
        self._ctx.ask(active, now, self._after_passive)

    def _after_passive(self, reply: Node | None, now: float) -> None:
        digest = Node("iq", {"to": SERVER_JID, "type": "get", "xmlns": "encrypt"}, [Node("digest")])
        self._ctx.ask(digest, now, self._after_digest)

    def _after_digest(self, reply: Node | None, now: float) -> None:
        if _is_result(reply) and reply is not None and reply.child("digest") is None:
            # the server lost our key bundle (Baileys: upload, then go on)
            self._upload_pre_keys(MIN_PREKEY_COUNT, now, then=_ignore)
        self._open(now)

    def _open(self, now: float) -> None:
        """Open, unified_session, init queries, presence."""
        ctx = self._ctx
        ctx.opened(now)
        self._presence.send_unified_session(now)
        if ctx.config.fire_init_queries:
            props_attrs = {"protocol": "1"}
            if ctx.creds.last_prop_hash:
                props_attrs["hash"] = ctx.creds.last_prop_hash
            abt = Node(
                "iq",
                {"xmlns": "abt", "to": SERVER_JID, "type": "get"},
                [Node("props", props_attrs)],
            )
            ctx.ask(abt, now, self._after_props)
            ctx.ask(
                Node("iq", {"xmlns": "blocklist", "to": SERVER_JID, "type": "get"}), now, _ignore
            )
            privacy = Node(
                "iq", {"xmlns": "privacy", "to": SERVER_JID, "type": "get"}, [Node("privacy")]
            )
            ctx.ask(privacy, now, _ignore)
        kind = "available" if ctx.config.mark_online_on_connect else "unavailable"
        self._presence.send_presence(kind, now)

    def _after_props(self, reply: Node | None, now: float) -> None:
        props = reply.child("props") if reply is not None and _is_result(reply) else None
        new_hash = props.attr("hash") if props is not None else None
        ctx = self._ctx
        if new_hash and new_hash != ctx.creds.last_prop_hash:
            ctx.save_creds(replace(ctx.creds, last_prop_hash=new_hash), why="abt props hash")
