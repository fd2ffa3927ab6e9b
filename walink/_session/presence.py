"""Presence and the unified session: what the server is told about this client being there.

``send_presence`` announces ``available`` or ``unavailable`` and keeps ``is_online`` true to what
the server was told; ``send_unified_session`` is the ``<ib><unified_session/></ib>`` Baileys sends
after pairing, at open and with every ``available``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walink._session.nodes import unified_session_id
from walink.protocol.binary import Node

if TYPE_CHECKING:
    from walink._session.context import PartContext

__all__ = ["Presence"]


class Presence:
    """``is_online`` and the nodes that change it."""

    def __init__(self, ctx: PartContext) -> None:
        self._ctx = ctx
        self.is_online = False

    def attempt_started(self) -> None:
        self.is_online = False

    def attempt_ended(self) -> None:
        self.is_online = False

    def push_name(self) -> str | None:
        """The account's display name: the server's (``creds.me.name``), else the configured one."""
        me = self._ctx.creds.me
        return (me.name if me is not None else None) or self._ctx.config.payload.push_name or None

    def send_presence(self, kind: str, now: float) -> None:
        """``<presence name=… type=…/>`` and ``is_online``.

        Nothing at all without a push name: both reference clients refuse to send a presence
        without one (Baileys ignores the request, whatsmeow returns an error), so the one at open
        is skipped then and ``is_online`` stays False, the truth about what the server was told.
        """
        name = self.push_name()
        if not name:
            return
        ctx = self._ctx
        self.is_online = kind == "available"
        ctx.changed()
        if kind == "available":
            self.send_unified_session(now)
        ctx.send(Node("presence", {"name": name.replace("@", ""), "type": kind}))

    def send_unified_session(self, now: float) -> None:
        node_id = unified_session_id(now, self._ctx.server_offset)
        self._ctx.send(Node("ib", {}, [Node("unified_session", {"id": node_id})]))
