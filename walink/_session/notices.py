"""Account notices the server pushes in ``<ib>``: new routing info, and a dirty account sync.

Routing info is kept in the creds for the next connect's intro (when usable); ``dirty``
``account_sync`` is cleaned with the previous timestamp, and the new one saved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from walink._session.flows import usable_routing_info
from walink._session.nodes import SERVER_JID, parse_int
from walink.protocol.binary import Node, content_bytes

if TYPE_CHECKING:
    from walink._session.context import PartContext

__all__ = ["AccountNotices"]


class AccountNotices:
    """``<ib>`` children ``edge_routing`` and ``dirty``."""

    def __init__(self, ctx: PartContext) -> None:
        self._ctx = ctx

    def on_edge_routing(self, child: Node, now: float) -> bool:
        ctx = self._ctx
        routing = child.child("routing_info")
        usable = usable_routing_info(content_bytes(routing))
        if routing is not None and usable and usable != ctx.creds.routing_info:
            ctx.save_creds(
                replace(ctx.creds, routing_info=usable), why="routing info for next connect"
            )
        return True

    def on_dirty(self, dirty: Node, now: float) -> bool:
        ctx = self._ctx
        timestamp = parse_int(dirty.attr("timestamp"))
        if dirty.attr("type") != "account_sync" or timestamp is None:
            return True
        previous = ctx.creds.last_account_sync_timestamp
        if previous is not None:
            clean = Node(
                "iq",
                {"to": SERVER_JID, "type": "set", "xmlns": "urn:xmpp:whatsapp:dirty"},
                [Node("clean", {"type": "account_sync", "timestamp": str(previous)})],
            )
            ctx.ask(clean, now, lambda reply, at: None)
        if timestamp != previous:
            ctx.save_creds(
                replace(ctx.creds, last_account_sync_timestamp=timestamp),
                why="account sync timestamp",
            )
        return True
