"""A query the caller gave up (``cancel_query``) is recorded and replayed at the same point.

The I/O client calls ``cancel_query`` after every query; only a call that may still take a query
back is written (``cancel_query`` command, with the query's number), so a run whose queries all
ended on their own writes the same file as before (the shipped captures check that bytes-wise).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.capture_scenarios import T0
from tests.session.helpers import paired_creds
from walink.auth.model import Creds
from walink.capture import (
    CaptureFormatError,
    CaptureWriter,
    CapturingSession,
    parse_capture,
    read_capture,
    replay_capture,
)
from walink.fsm.policy import PolicyConfig
from walink.protocol.binary import Node
from walink.session import NodeReceived, QueryError, QueryResult, SessionConfig
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

_CONFIG = SessionConfig(policy=PolicyConfig(jitter=0.0))


def _ping(query_id: str | None = None) -> Node:
    attrs = {"to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"}
    if query_id is not None:
        attrs["id"] = query_id
    return Node("iq", attrs, [Node("ping")])


@dataclass(frozen=True, slots=True)
class _Paired:
    hub: Hub
    creds: Creds
    now: float


def _paired(seed: int) -> _Paired:
    """A device paired by QR beforehand (not captured)."""
    hub = Hub(rng=random.Random(seed).randbytes, now=T0, log=lambda line: None)
    hub.history = None
    creds = paired_creds(hub, seed=seed + 1)
    return _Paired(hub=hub, creds=creds, now=hub.now + 10.0)


def _open(paired: _Paired, path: Path, *, seed: int, redact: bool = True) -> MemoryPair:
    """The paired device logs in again, recorded into ``path``, until its connection is open."""
    writer = CaptureWriter(path, redact=redact, seed=seed, source="test cancel")
    config = SessionConfig(trust_root=paired.hub.client_trust_root, policy=PolicyConfig(jitter=0))
    session = CapturingSession(
        creds=paired.creds, rng=random.Random(seed), config=config, capture=writer
    )
    pair = MemoryPair(session, paired.hub, now=paired.now)
    pair.start()
    assert pair.run_until(lambda: session.connection == "open", limit=30)
    return pair


def _close(pair: MemoryPair) -> Path:
    session = pair.session
    assert isinstance(session, CapturingSession)
    if session.attempt_alive:
        session.close(now=pair.now)
        pair.pump()
    session.capture.close(at=pair.now)
    return Path(session.capture.path)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _commands(path: Path, name: str) -> list[dict[str, Any]]:
    return [line for line in _lines(path) if line["k"] == "command" and line["name"] == name]


def _check_replay(path: Path) -> None:
    """The replay publishes the recorded events and sends the recorded nodes, byte for byte."""
    result = replay_capture(read_capture(path))
    assert result.events == result.recorded
    end = result.lines[-1]
    assert end["events_match"] is True and end["nodes_out_unmatched"] == 0
    assert result.sent == [line["node"] for line in _lines(path) if line["k"] == "out"]
    assert not [line for line in result.lines if "diverged" in line.get("note", "")]


@pytest.fixture(scope="module")
def paired() -> _Paired:
    return _paired(41)


# -- examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize("redact", [True, False], ids=["redacted", "unredacted"])
def test_a_query_cancelled_before_its_reply_replays_its_reply_as_a_node(
    paired: _Paired, tmp_path: Path, redact: bool
) -> None:
    """Given up before the answer came: the answer is an ordinary node, live and in replay."""
    pair = _open(paired, tmp_path / "before.jsonl", seed=3, redact=redact)
    session = pair.session
    given_up = session.query(_ping(), now=pair.now, timeout=30.0)
    session.cancel_query(given_up)
    pair.pump()  # the server answers a query nobody waits for any more
    answered = session.query(_ping(), now=pair.now)
    pair.pump()
    session.cancel_query(answered)  # as the I/O client does after every query: a no-op
    path = _close(pair)
    assert [e.id for e in pair.events if isinstance(e, QueryResult)] == [answered]
    assert any(isinstance(e, NodeReceived) and e.node.attr("id") == given_up for e in pair.events)
    # only the call that took a query back is an input
    assert [(c["id"], c["query"]) for c in _commands(path, "cancel_query")] == [(given_up, 1)]
    _check_replay(path)


def test_a_query_cancelled_on_a_silent_server_does_not_fail_at_the_close(
    paired: _Paired, tmp_path: Path
) -> None:
    """The server stops answering; a query given up is not reported when the connection ends,
    the other one fails with the close, in the replay as live."""
    pair = _open(paired, tmp_path / "silent.jsonl", seed=4)
    session = pair.session
    assert pair.server is not None
    pair.server.go_silent()
    kept = session.query(_ping(), now=pair.now, timeout=float("inf"))
    given_up = session.query(_ping(), now=pair.now, timeout=5.0)
    pair.pump()
    pair.advance(1.0)
    session.cancel_query(given_up)
    pair.advance(60.0)  # past the given-up query's deadline and the keepalive's timeout
    assert pair.closes
    path = _close(pair)
    failed = [e.id for e in pair.events if isinstance(e, QueryError)]
    assert failed == [kept]  # the given-up one neither timed out nor failed with the close
    assert [c["query"] for c in _commands(path, "cancel_query")] == [2]
    _check_replay(path)


def test_a_reused_id_cancels_the_query_waiting_with_it(paired: _Paired, tmp_path: Path) -> None:
    """The caller's own id, used again once its first query was answered: a late cancel of
    that id (the first caller's) takes back the second query, and the capture says which."""
    pair = _open(paired, tmp_path / "reused.jsonl", seed=5)
    session = pair.session
    first = session.query(_ping("same"), now=pair.now)
    pair.pump()  # answered: its QueryResult is read by the pair
    assert pair.server is not None
    pair.server.go_silent()
    second = session.query(_ping("same"), now=pair.now, timeout=float("inf"))
    pair.pump()
    session.cancel_query("same")
    assert first == second == "same"
    path = _close(pair)
    assert [c["query"] for c in _commands(path, "cancel_query")] == [2]
    assert not [e for e in pair.events if isinstance(e, QueryError)]
    _check_replay(path)


# -- any mix of queries ------------------------------------------------------------------------

_ANSWERED = st.lists(
    st.tuples(st.booleans(), st.sampled_from(["before", "after", "never"])), max_size=4
)
"""Queries the server answers: own id or not; cancelled before the answer, after it, or never."""
_SILENT = st.lists(
    st.tuples(
        st.one_of(st.none(), st.floats(1.0, 40.0), st.just(float("inf"))),
        st.one_of(st.none(), st.floats(0.0, 50.0)),
    ),
    max_size=4,
)
"""Queries to a silent server: their timeout, and when (if ever) the caller gives up."""


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answered=_ANSWERED, silent=_SILENT, seed=st.integers(0, 1000))
def test_any_mix_of_cancelled_queries_replays_the_same(
    paired: _Paired,
    tmp_path_factory: pytest.TempPathFactory,
    answered: list[tuple[bool, str]],
    silent: list[tuple[float | None, float | None]],
    seed: int,
) -> None:
    pair = _open(paired, tmp_path_factory.mktemp("mix") / "mix.jsonl", seed=seed)
    session = pair.session
    for number, (own_id, cancel) in enumerate(answered):
        query_id = session.query(_ping(f"a{number}" if own_id else None), now=pair.now)
        if cancel == "before":
            session.cancel_query(query_id)
        pair.pump()
        if cancel == "after":
            session.cancel_query(query_id)
    assert pair.server is not None
    pair.server.go_silent()
    given_up: list[tuple[float, str]] = []
    for timeout, cancel_at in silent:
        query_id = session.query(_ping(), now=pair.now, timeout=timeout)
        if cancel_at is not None:
            given_up.append((cancel_at, query_id))
    pair.pump()
    start = pair.now
    for cancel_at, query_id in sorted(given_up):
        pair.advance(start + cancel_at - pair.now)
        session.cancel_query(query_id)
    pair.advance(5.0)
    path = _close(pair)
    _check_replay(path)


# -- the file ----------------------------------------------------------------------------------


def _capture_text(*records: dict[str, Any]) -> str:
    header = {
        "k": "header",
        "format": "walink-capture",
        "version": 1,
        "walink": "0",
        "seed": 1,
        "redacted": [],
        "creds": {},
        "config": {},
        "source": "",
    }
    return "\n".join(json.dumps(line) for line in (header, *records)) + "\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "x"}, "needs a 'query' >= 1"),
        ({"id": "x", "query": 0}, "needs a 'query' >= 1"),
        ({"id": "x", "query": True}, "needs a 'query' >= 1"),
        ({"query": 1}, "needs a string 'id'"),
        ({"id": "x", "query": 1}, "only 0 came before"),
    ],
)
def test_a_bad_cancel_line_is_a_format_error(data: dict[str, Any], message: str) -> None:
    text = _capture_text({"k": "command", "t": 1.0, "name": "cancel_query", **data})
    with pytest.raises(CaptureFormatError, match=message):
        replay_capture(parse_capture(text))


def test_a_cancel_of_a_query_the_replay_could_not_send_is_noted() -> None:
    """A query the replay's session refused (no connection here) has no id to cancel."""
    ping = {"tag": "iq", "attrs": {"to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"}}
    text = _capture_text(
        {"k": "command", "t": 1.0, "name": "query", "node": ping, "timeout": None},
        {"k": "command", "t": 1.0, "name": "cancel_query", "id": "1.1", "query": 1},
    )
    notes = [line["note"] for line in replay_capture(parse_capture(text)).lines if "note" in line]
    assert any("cancel_query of query 1 ('1.1')" in note for note in notes)
