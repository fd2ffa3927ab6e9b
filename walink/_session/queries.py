"""The answers to the session's queries: a result, an error reply, a timeout or the close.

``ClientSession.query`` (and the flows' internal queries) register a ``PendingQuery`` on the
attempt; these functions settle it: an internal query's callback gets the reply (or None), an
application query becomes a ``QueryResult`` or ``QueryError`` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walink._session.events import QueryError, QueryFailure, QueryResult
from walink._session.nodes import parse_int
from walink.fsm.reasons import Disconnect
from walink.protocol.binary import Node

if TYPE_CHECKING:
    from walink._session.attempt import Attempt, PendingQuery
    from walink._session.core import ClientSession

__all__ = ["answer_query", "fail_on_close", "fail_query"]


def fail_query(
    session: ClientSession, attempt: Attempt, query: PendingQuery, reply: Node | None, now: float
) -> None:
    """``query`` failed: an error ``reply``, or None for its timeout."""
    attempt.queries.pop(query.id, None)
    if query.on_answer is not None:
        query.on_answer(reply, now)
        return
    if reply is None:
        session._emit(
            QueryError(id=query.id, failure=QueryFailure.TIMEOUT, code=408, text="timed out")
        )
        return
    error = reply.child("error")
    code_text = error.attr("code") if error is not None else None
    session._emit(
        QueryError(
            id=query.id,
            failure=QueryFailure.SERVER_ERROR,
            code=parse_int(code_text),
            text=(error.attr("text", "") or "") if error is not None else "",
            node=reply,
        )
    )


def answer_query(session: ClientSession, attempt: Attempt, node: Node, now: float) -> bool:
    """Settle the query ``node`` (an iq result or error) answers; False when none waits for it."""
    query = attempt.queries.get(node.attr("id") or "")
    if query is None:
        return False
    kind = node.attr("type")
    if kind == "error" or (node.child("error") is not None and kind != "result"):
        fail_query(session, attempt, query, node, now)
        return True
    attempt.queries.pop(query.id, None)
    if query.on_answer is not None:
        query.on_answer(node, now)
    else:
        session._emit(QueryResult(id=query.id, node=node))
    return True


def fail_on_close(session: ClientSession, attempt: Attempt, disconnect: Disconnect) -> None:
    """The attempt ended: every application query still waiting fails with its close."""
    for query in list(attempt.queries.values()):
        if query.on_answer is None:
            session._emit(
                QueryError(
                    id=query.id,
                    failure=QueryFailure.CLOSED,
                    code=disconnect.status,
                    text=disconnect.message,
                    disconnect=disconnect,
                )
            )
    attempt.queries.clear()
