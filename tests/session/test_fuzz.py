"""Hypothesis: any server behaviour and any time jumps; the session never raises, every close has
its reason and exactly one close update, and the session is never wedged."""

from __future__ import annotations

import contextlib
import copy
import functools
import random
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError
from walink.session import Closed, CredsUpdate
from walink.testing.faults import (
    Drop,
    Failure,
    Fault,
    Garbage,
    Silence,
    Step,
    StreamError,
    TruncatedFrame,
)
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair
from walink.testing.phone import PhoneError

from .helpers import T0, check_one_close_update_per_close, make_hub, paired_creds


@functools.cache
def _base() -> tuple[Hub, Creds]:
    hub = make_hub(seed=11)
    return hub, paired_creds(hub)


def _hub_copy(seed: int) -> Hub:
    base, _ = _base()
    return Hub(
        rng=random.Random(seed).randbytes,
        registry=copy.deepcopy(base.registry),
        trust_root=base.trust_root,
        server_key=base.server_key,
        now=T0,
        log=lambda line: None,
    )


texts = st.sampled_from(["", "0", "1", "401", "515", "x", "99999999999999999999", "-1", "5@lid"])
attr_values = st.one_of(texts, st.text(max_size=6))


@st.composite
def server_nodes(draw: st.DrawFn) -> Node:
    kind = draw(
        st.sampled_from(
            [
                "stream_error",
                "failure",
                "end",
                "ib",
                "iq",
                "success",
                "notification",
                "other",
            ]
        )
    )
    if kind == "stream_error":
        attrs = draw(st.fixed_dictionaries({}, optional={"code": attr_values}))
        child = draw(st.sampled_from(["", "conflict", "ack", "device_removed"]))
        if not child:
            return Node("stream:error", attrs)
        kind_attr = draw(st.sampled_from(["replaced", "device_removed"]))
        return Node("stream:error", attrs, [Node(child, {"type": kind_attr})])
    if kind == "failure":
        attrs = draw(
            st.fixed_dictionaries({}, optional={"reason": attr_values, "expire": attr_values})
        )
        return Node("failure", attrs)
    if kind == "end":
        return Node("xmlstreamend")
    if kind == "ib":
        names = st.sampled_from(
            [
                "offline",
                "offline_preview",
                "edge_routing",
                "dirty",
                "downgrade_webclient",
                "unified_session",
                "zzz",
            ]
        )
        children = []
        for name in draw(st.lists(names, max_size=3)):
            if name == "edge_routing":
                content = draw(st.binary(max_size=8))
                children.append(Node(name, {}, [Node("routing_info", {}, content)]))
            else:
                attrs = draw(
                    st.dictionaries(
                        st.sampled_from(["type", "timestamp", "count"]), attr_values, max_size=2
                    )
                )
                children.append(Node(name, attrs))
        return Node("ib", {}, children)
    if kind == "iq":
        attrs = {
            "type": draw(st.sampled_from(["get", "set", "result", "error", "x"])),
            "id": draw(st.sampled_from(["1", "2.3-1", "x"])),
            "from": "s.whatsapp.net",
        }
        xmlns = draw(st.sampled_from([None, "urn:xmpp:ping", "md", "w:p"]))
        if xmlns:
            attrs["xmlns"] = xmlns
        first = draw(st.sampled_from(["", "pair-device", "pair-success", "error", "count"]))
        children_of_iq: list[Node] | None = None
        if first == "pair-device":
            refs = draw(st.lists(st.binary(max_size=6), max_size=3))
            children_of_iq = [Node("pair-device", {}, [Node("ref", {}, r) for r in refs])]
        elif first == "pair-success":
            inner = [Node("device-identity", {"key-index": "1"}, draw(st.binary(max_size=40)))]
            if draw(st.booleans()):
                inner.append(
                    Node(
                        "device", {"jid": draw(st.sampled_from(["1:2@s.whatsapp.net", "bad", ""]))}
                    )
                )
            children_of_iq = [Node("pair-success", {}, inner)]
        elif first:
            children_of_iq = [Node(first, {"code": draw(attr_values), "value": draw(attr_values)})]
        return Node("iq", attrs, children_of_iq)
    if kind == "success":
        return Node("success", draw(st.dictionaries(st.sampled_from(["t", "lid"]), attr_values)))
    if kind == "notification":
        kind_attr = draw(st.sampled_from(["companion_reg_refresh", "devices", ""]))
        return Node("notification", {"type": kind_attr, "id": "n", "from": "s.whatsapp.net"})
    tag = draw(st.sampled_from(["message", "receipt", "call", "presence", "chatstate", "q"]))
    return Node(tag, draw(st.dictionaries(st.sampled_from(["id", "from", "type"]), attr_values)))


faults: st.SearchStrategy[Fault] = st.one_of(
    st.builds(Drop, at=st.sampled_from(list(Step))),
    st.builds(Silence, at=st.sampled_from(list(Step))),
    st.builds(Garbage, at=st.sampled_from(list(Step))),
    st.builds(TruncatedFrame, at=st.sampled_from(list(Step))),
    st.builds(
        StreamError,
        code=st.sampled_from([515, 401, 440, 503, 500]),
        at=st.sampled_from([Step.CLIENT_FINISH, Step.OPEN]),
    ),
    st.builds(Failure, reason=st.sampled_from([401, 402, 403, 405, 500, 429])),
)


@dataclass(frozen=True)
class Action:
    kind: str
    value: object = None


actions = st.one_of(
    st.builds(Action, st.just("advance"), st.floats(min_value=0, max_value=400)),
    st.builds(Action, st.just("node"), server_nodes()),
    st.builds(Action, st.just("garbage"), st.binary(min_size=1, max_size=40)),
    st.builds(Action, st.just("lost"), st.sampled_from([None, OSError("x"), TimeoutError()])),
    st.builds(Action, st.just("fault"), faults),
    st.builds(Action, st.sampled_from(["query", "presence", "logout", "close", "scan", "refresh"])),
)


def _apply(pair: MemoryPair, action: Action, scanned: list[str]) -> None:
    session, now = pair.session, pair.now
    server = pair.server
    if action.kind == "advance":
        assert isinstance(action.value, float)
        pair.advance(action.value)
    elif action.kind == "node":
        if server is not None:
            assert isinstance(action.value, Node)
            server.send_node(action.value)
    elif action.kind == "garbage":
        if session.attempt_alive and pair.server is not None:
            assert isinstance(action.value, bytes)
            session.receive_data(action.value, now=now)
    elif action.kind == "lost":
        session.connection_lost(action.value, now=now)  # type: ignore[arg-type]
    elif action.kind == "fault":
        pair.hub.inject(action.value)  # type: ignore[arg-type]
    elif action.kind == "scan":
        if pair.qr is not None:
            # an expired or unknown ref is the phone's error, not the session's
            with contextlib.suppress(PhoneError):
                scanned.append(pair.hub.phone.scan_qr(pair.qr, now=now))
    elif action.kind == "refresh":
        if server is not None:
            server.send_companion_reg_refresh()
    else:
        try:
            if action.kind == "query":
                session.query(Node("iq", {"type": "get", "xmlns": "w:p"}), now=now, timeout=3)
            elif action.kind == "presence":
                session.send_presence_update("available", now=now)
            elif action.kind == "logout":
                session.logout(now=now)
            elif action.kind == "close":
                session.close(now=now)
        except LocalProtocolError:
            pass  # not allowed in this state: misuse is the caller's error, not a crash
    pair.pump()


def _check_not_wedged(pair: MemoryPair) -> None:
    session = pair.session
    if session.finished:
        assert not session.attempt_alive and session.next_deadline() is None
    elif session.attempt_alive:
        assert session.next_deadline() is not None, session.state
    else:
        assert session.reconnect_at is not None, session.state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    login=st.booleans(),
    seed=st.integers(0, 2**16),
    script=st.lists(actions, max_size=25),
)
def test_any_server_behaviour_keeps_the_lifecycle_sound(
    login: bool, seed: int, script: list[Action]
) -> None:
    hub = _hub_copy(seed)
    _, creds = _base()
    pair = MemoryPair.create(hub, seed=seed, now=T0, creds=creds if login else None)
    pair.start()
    scanned: list[str] = []
    for action in script:
        _apply(pair, action, scanned)
        _check_not_wedged(pair)
    note_event(f"reached open: {any(u.connection == 'open' for u in pair.updates)}")
    note_event(f"paired by a scan: {bool(scanned)}")
    pair.advance(2000)  # whatever was pending runs out
    _check_not_wedged(pair)
    note_event(f"state at the end: {pair.session.state}")
    for event in pair.closes:
        assert isinstance(event, Closed)
        assert isinstance(event.disconnect.reason, CloseReason) and event.disconnect.message
        assert event.decision.reconnect == (event.reconnect_at is not None)
    check_one_close_update_per_close(pair.events)
    if not login:
        # `me` is only ever the JID of a pair-success the phone really sent (random
        # pair-success nodes never verify)
        mes = {e.creds.me.id for e in pair.events if isinstance(e, CredsUpdate) and e.creds.me}
        assert mes <= set(scanned)


def test_base_fixture_is_sound() -> None:
    hub = _hub_copy(1)
    pair = MemoryPair.create(hub, seed=1, now=T0, creds=_base()[1])
    pair.start()
    assert pair.session.connection == "open"
