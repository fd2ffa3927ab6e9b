"""The answers to the session's queries: a result, an error reply, a timeout or the close.

``QueryTable`` holds the queries the running attempt waits for (the application's, and the parts'
internal ones) and settles each: an internal query's callback gets the reply (or None), an
application query becomes a ``QueryResult`` or ``QueryError`` event. The core makes a new table
for every attempt, so an answer can never reach a later attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walink._session.events import QueryError, QueryFailure, QueryResult, SessionEvent
from walink._session.nodes import parse_int
from walink.protocol.errors import LocalProtocolError

if TYPE_CHECKING:
    from walink._session.context import OnAnswer
    from walink.fsm.reasons import Disconnect
    from walink.protocol.binary import Node

__all__ = ["PendingQuery", "QueryTable"]


@dataclass(slots=True, kw_only=True)
class PendingQuery:
    """A query waiting for the iq with its id."""

    id: str
    deadline: float | None
    """When it times out; None: never."""
    on_answer: OnAnswer | None = None
    """Internal queries continue here; None: the application's query (reported as events)."""


class QueryTable:
    """The queries one attempt waits for."""

    def __init__(self, emit: Callable[[SessionEvent], None]) -> None:
        self._emit = emit
        self._waiting: dict[str, PendingQuery] = {}

    def add(self, iq_id: str, deadline: float | None, on_answer: OnAnswer | None) -> None:
        """Wait for the answer to ``iq_id`` (refused when that id already waits)."""
        if iq_id in self._waiting:
            raise LocalProtocolError(f"a query with id {iq_id!r} is already waiting")
        self._waiting[iq_id] = PendingQuery(id=iq_id, deadline=deadline, on_answer=on_answer)

    def cancel(self, iq_id: str) -> None:
        """Forget the application query ``iq_id`` (its caller stopped waiting); internal
        queries and unknown ids are left alone."""
        query = self._waiting.get(iq_id)
        if query is not None and query.on_answer is None:
            del self._waiting[iq_id]

    def next_deadline(self) -> float | None:
        deadlines = [q.deadline for q in self._waiting.values() if q.deadline is not None]
        return min(deadlines) if deadlines else None

    def due(self, now: float) -> list[PendingQuery]:
        """The queries whose deadline passed, oldest first."""
        return [q for q in self._waiting.values() if q.deadline is not None and now >= q.deadline]

    def waiting(self, query: PendingQuery) -> bool:
        return self._waiting.get(query.id) is query

    def fail(self, query: PendingQuery, reply: Node | None, now: float) -> None:
        """``query`` failed: an error ``reply``, or None for its timeout."""
        self._waiting.pop(query.id, None)
        if query.on_answer is not None:
            query.on_answer(reply, now)
            return
        if reply is None:
            self._emit(
                QueryError(id=query.id, failure=QueryFailure.TIMEOUT, code=408, text="timed out")
            )
            return
        error = reply.child("error")
        code_text = error.attr("code") if error is not None else None
        self._emit(
            QueryError(
                id=query.id,
                failure=QueryFailure.SERVER_ERROR,
                code=parse_int(code_text),
                text=(error.attr("text", "") or "") if error is not None else "",
                node=reply,
            )
        )

    def answer(self, node: Node, now: float) -> bool:
        """Settle the query ``node`` (an iq result or error) answers; False when none waits."""
        query = self._waiting.get(node.attr("id") or "")
        if query is None:
            return False
        kind = node.attr("type")
        if kind == "error" or (node.child("error") is not None and kind != "result"):
            self.fail(query, node, now)
            return True
        self._waiting.pop(query.id, None)
        if query.on_answer is not None:
            query.on_answer(node, now)
        else:
            self._emit(QueryResult(id=query.id, node=node))
        return True

    def fail_on_close(self, disconnect: Disconnect) -> None:
        """The attempt ended: every application query still waiting fails with its close."""
        for query in list(self._waiting.values()):
            if query.on_answer is None:
                self._emit(
                    QueryError(
                        id=query.id,
                        failure=QueryFailure.CLOSED,
                        code=disconnect.status,
                        text=disconnect.message,
                        disconnect=disconnect,
                    )
                )
        self._waiting.clear()
