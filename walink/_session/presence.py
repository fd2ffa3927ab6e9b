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

    def send_presence(self, kind: str, now: float) -> None:
        """``<presence name=… type=…/>`` and ``is_online``.

        Baileys sends nothing without a push name; walink sends the presence without ``name``
        then, so that ``is_online`` always tells the truth about what the server was told.
        """
        ctx = self._ctx
        self.is_online = kind == "available"
        ctx.changed()
        if kind == "available":
            self.send_unified_session(now)
        me = ctx.creds.me
        name = (me.name if me is not None else None) or ctx.config.payload.push_name
        attrs = {"type": kind}
        if name:
            attrs["name"] = name.replace("@", "")
        ctx.send(Node("presence", attrs))

    def send_unified_session(self, now: float) -> None:
        node_id = unified_session_id(now, self._ctx.server_offset)
        self._ctx.send(Node("ib", {}, [Node("unified_session", {"id": node_id})]))
