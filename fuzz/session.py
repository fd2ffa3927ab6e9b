"""Fuzz target: the client session's node handling, nodes fed into an OPEN ``ClientSession``.

A paired device logs in to the emulator in memory (``walink.testing.memory.MemoryPair``, fake
clock); the input then scripts what the server does: send nodes (built from the input, or decoded
from it) over the real encrypted transport, and let time pass. Invariants, checked after every
step and after a final long wait:

- no exception escapes the session (nor the in-memory pair driving it);
- every ``Closed`` carries a ``CloseReason``, a message, a decision consistent with its
  ``reconnect_at``, and exactly one ``"close"`` update precedes it (none for a 515 restart);
- the session never wedges: while an attempt runs it has a next deadline, between attempts a
  ``reconnect_at``, and a final state has neither;
- once the script is over and the server behaves, the session gets open again (or is final)
  within ``LIVENESS_LIMIT``: nothing the server sent may poison later connections.

Input, a sequence of records, each starting with an op byte (``op % 4``):
0, 1: a node built from the following bytes (tags, attributes and values the session reads,
including the ids of what the client sent last; bytes content of up to 8 KiB), sent by the
server; 2: advance the clock by ``2 * next byte`` seconds; 3: a length byte, then that many
bytes decoded as a node plaintext (sent when they decode).

Run: ``python fuzz/session.py -max_total_time=60`` (atheris; see fuzz/README.md).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from functools import cache

from _atheris import fuzz, instrumented

with instrumented(__name__):
    from walink.auth.model import Creds
    from walink.fsm.reasons import CloseReason
    from walink.protocol.binary import Node, decode_node, encode_node
    from walink.protocol.errors import RemoteProtocolError
    from walink.session import Closed, ConnectionUpdate
    from walink.testing.hub import Hub
    from walink.testing.memory import MemoryPair

T0 = 1_780_000_000.0
FINAL_WAIT = 2000.0
"""Seconds of silence after the script: whatever was pending must run out without a wedge."""
LIVENESS_LIMIT = 3 * 24 * 3600.0
"""Then, with a well-behaved server, the session must be open again or final: longer than any
wait the policy allows (a 402 ban is capped at 48 h)."""
MAX_RECORDS = 64
BIG_CONTENT_MARK = 0xF8
MAX_CHILDREN = 3
MAX_DEPTH = 3

TAGS = (
    "iq", "ib", "stream:error", "failure", "success", "notification", "message", "receipt",
    "call", "presence", "chatstate", "xmlstreamend", "ack", "pair-device", "pair-success",
    "ref", "offline", "offline_preview", "edge_routing", "routing_info", "dirty", "conflict",
    "device_removed", "error", "count", "device", "device-identity", "companion_reg_refresh",
    "unified_session", "downgrade_webclient", "ping", "props", "prop", "list", "item",
)  # fmt: skip
KEYS = (
    "id", "type", "xmlns", "from", "to", "code", "reason", "expire", "t", "lid", "count",
    "participant", "class", "jid", "key-index", "text", "value", "location", "timestamp",
)  # fmt: skip
VALUES = (
    "", "0", "1", "2", "401", "402", "403", "405", "408", "411", "428", "429", "440", "500",
    "503", "515", "-1", "99999999999999999999", "1.5", "result", "error", "get", "set",
    "urn:xmpp:ping", "md", "w:p", "w", "s.whatsapp.net", "1:2@s.whatsapp.net", "5@lid",
    "replaced", "device_removed", "available", "unavailable", "companion_reg_refresh", "devices",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Base:
    """A hub with one paired device, and that device's saved credentials."""

    hub: Hub
    creds: Creds


def _quiet(line: str) -> None:
    """The emulator's diagnostics are not wanted here."""


@cache
def _base() -> _Base:
    hub = Hub(rng=random.Random(11).randbytes, now=T0, log=_quiet)
    pair = MemoryPair.create(hub, seed=2, now=T0)
    pair.start()
    pair.scan_qr()
    if not pair.run_until(lambda: pair.session.connection == "open", limit=60):
        raise RuntimeError("the fuzz set-up could not pair a device with the emulator")
    creds = pair.store.load()
    assert creds is not None and creds.me is not None
    pair.session.close(now=pair.now)
    pair.pump()
    return _Base(hub=hub, creds=creds)


def _open_pair() -> MemoryPair:
    """A logged-in, open session on a private copy of the base hub (inputs never interfere)."""
    base = _base()
    hub = Hub(
        rng=random.Random(3).randbytes,
        registry=copy.deepcopy(base.hub.registry),
        trust_root=base.hub.trust_root,
        server_key=base.hub.server_key,
        now=T0,
        log=_quiet,
    )
    pair = MemoryPair.create(hub, seed=4, now=T0, creds=base.creds)
    pair.store.save(base.creds)
    pair.start()
    assert pair.session.connection == "open", "the fuzz set-up did not reach an open session"
    return pair


class _Input:
    """The fuzz input read front to back; past its end every read gives zeros."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    @property
    def exhausted(self) -> bool:
        return self._position >= len(self._data)

    def byte(self) -> int:
        position = self._position
        self._position = position + 1
        return self._data[position] if position < len(self._data) else 0

    def take(self, size: int) -> bytes:
        start = self._position
        self._position = start + size
        return self._data[start : start + size]

    def pick(self, choices: tuple[str, ...]) -> str:
        return choices[self.byte() % len(choices)]


def _value(source: _Input, recent_ids: list[str]) -> str:
    kind = source.byte()
    if kind % 4 == 0 and recent_ids:
        return recent_ids[kind // 4 % len(recent_ids)]  # answers a query the client made
    if kind % 4 == 1:
        return source.take(source.byte() % 12).decode("utf-8", "replace")
    return source.pick(VALUES)


def _build_node(source: _Input, recent_ids: list[str], depth: int = 0) -> Node:
    shape = source.byte()
    tag = source.pick(TAGS)
    attrs = {source.pick(KEYS): _value(source, recent_ids) for _ in range(shape & 3)}
    content_kind = (shape >> 2) & 3
    if content_kind == 1 and depth < MAX_DEPTH:
        count = (shape >> 4) % (MAX_CHILDREN + 1)
        return Node(tag, attrs, [_build_node(source, recent_ids, depth + 1) for _ in range(count)])
    if content_kind == 2:
        size = source.byte()
        if size >= BIG_CONTENT_MARK:  # a few KiB: larger than any limit a peer may keep
            return Node(tag, attrs, source.take(8).ljust((size - BIG_CONTENT_MARK + 1) << 10))
        return Node(tag, attrs, source.take(size % 48))
    if content_kind == 3:
        return Node(tag, attrs, _value(source, recent_ids))
    return Node(tag, attrs)


def _recent_ids(pair: MemoryPair) -> list[str]:
    server = pair.server
    if server is None:
        return []
    return [node.attrs["id"] for node in server.received[-4:] if "id" in node.attrs]


def _send(pair: MemoryPair, node: Node) -> None:
    server = pair.server
    if server is not None:
        server.send_node(node)
    pair.pump()


def _check_sound(pair: MemoryPair) -> None:
    session = pair.session
    if session.finished:
        assert not session.attempt_alive, "a finished session still runs an attempt"
        assert session.next_deadline() is None, "a finished session still has a deadline"
    elif session.attempt_alive:
        assert session.next_deadline() is not None, f"wedged in {session.state}: no deadline"
    else:
        assert session.reconnect_at is not None, f"wedged in {session.state}: no reconnect"


def _check_closes(pair: MemoryPair) -> None:
    pending: list[ConnectionUpdate] = []
    for event in pair.events:
        if isinstance(event, ConnectionUpdate) and event.connection == "close":
            pending.append(event)
        elif isinstance(event, Closed):
            disconnect = event.disconnect
            assert isinstance(disconnect.reason, CloseReason), disconnect
            assert disconnect.message, f"a close without a message: {disconnect}"
            assert event.decision.reconnect == (event.reconnect_at is not None), event
            expected = 0 if event.decision.restart else 1
            assert len(pending) == expected, f"{len(pending)} close updates before {event}"
            if pending:
                assert pending[0].last_disconnect == disconnect
            pending = []
    assert not pending, "a close update without its Closed event"


def target(data: bytes) -> None:
    """Open a session, play the server's part that ``data`` scripts, check the lifecycle."""
    pair = _open_pair()
    source = _Input(data)
    for _ in range(MAX_RECORDS):
        if source.exhausted:
            break
        op = source.byte() % 4
        if op in (0, 1):
            _send(pair, _build_node(source, _recent_ids(pair)))
        elif op == 2:
            pair.advance(2.0 * source.byte())
        else:
            try:
                node = decode_node(source.take(source.byte()))
            except RemoteProtocolError:
                continue
            _send(pair, node)
        _check_sound(pair)
    pair.advance(FINAL_WAIT)
    _check_sound(pair)
    _check_closes(pair)
    session = pair.session
    recovered = pair.run_until(
        lambda: session.connection == "open" or session.finished, limit=LIVENESS_LIMIT
    )
    assert recovered, f"never open again, in {session.state}: {session.last_disconnect}"


def seeds() -> list[bytes]:
    """Scripts that exercise a ping, a query answer, closes and time (the seed corpus)."""
    ping = Node(
        "iq", {"id": "p1", "type": "get", "xmlns": "urn:xmpp:ping", "from": "s.whatsapp.net"}
    )
    message = Node("message", {"id": "m1", "from": "1:2@s.whatsapp.net", "type": "text"})
    raw = [encode_node(node) for node in (ping, message)]

    def raw_record(plaintext: bytes) -> bytes:
        return bytes((3, len(plaintext))) + plaintext

    def value(text: str) -> tuple[int, int]:
        return 2, VALUES.index(text)  # a value kind that picks from VALUES, then which

    conflict = (0, 0x01, TAGS.index("stream:error"), KEYS.index("code"), *value("440"))
    answer = (1, 0x02, TAGS.index("iq"), KEYS.index("id"), 0, KEYS.index("type"), *value("result"))
    failure = (0, 0x01, TAGS.index("failure"), KEYS.index("reason"), *value("401"))
    return [
        raw_record(raw[0]) + raw_record(raw[1]),
        bytes((2, 20, 2, 200, 2, 255)),
        bytes(answer) + bytes((2, 40)),
        bytes(conflict),
        bytes((0, 0x00, TAGS.index("xmlstreamend"))),
        bytes(failure),
    ]


def main() -> None:
    """The atheris entry point: ``python fuzz/session.py [libFuzzer flags] [corpus dirs]``."""
    fuzz("session", target, seeds)


if __name__ == "__main__":
    main()
