"""walink.capture: node JSON, redaction, the reader's checks, the writer, and replay.

The shipped captures in ``tests/data`` are recorded again here and must come out byte for byte
(so they never drift from the code), must hold none of the device's secrets, and must replay to
exactly the recorded run's events.
"""

from __future__ import annotations

import base64
import json
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.capture_scenarios import DATA_DIR, SCENARIOS, T0, Recorded, record
from walink._capture.format import config_from_json, config_to_json, decode_cause, encode_cause
from walink.auth.model import Creds
from walink.capture import (
    PAIRING_CODE_MARKER,
    REDACTION_RULES,
    CaptureFormatError,
    CaptureWriter,
    CapturingSession,
    NodeFormatError,
    decode_node,
    encode_node,
    parse_capture,
    read_capture,
    replay_capture,
)
from walink.fsm.policy import PolicyConfig
from walink.fsm.reasons import CloseReason, UpgradeRejected, WebSocketClosed, classify
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.payload import PayloadOptions
from walink.session import SessionConfig
from walink.testing.faults import Drop, Step
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

# -- node JSON -------------------------------------------------------------------------------

_names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8)
_values = st.text(st.characters(codec="utf-8"), max_size=12)
nodes = st.recursive(
    st.builds(
        Node,
        _names,
        st.dictionaries(_names, _values, max_size=4),
        st.none() | st.binary(max_size=40) | _values,
    ),
    lambda children: st.builds(
        Node, _names, st.dictionaries(_names, _values, max_size=4), st.lists(children, max_size=4)
    ),
    max_leaves=12,
)


def _attr_orders(node: Node) -> list[Any]:
    kids = node.content if isinstance(node.content, list) else []
    return [list(node.attrs), [_attr_orders(child) for child in kids]]


@given(nodes)
def test_node_json_round_trips_exactly(node: Node) -> None:
    text = json.dumps(encode_node(node, redact=False))
    back = decode_node(json.loads(text))
    assert back == node
    assert _attr_orders(back) == _attr_orders(node)  # order kept, not only the mapping
    # bytes and text stay apart even when they spell the same thing
    assert type(back.content) is type(node.content)


def test_bytes_and_text_with_the_same_letters_stay_distinct() -> None:
    as_bytes, as_text = Node("x", {}, b"abc"), Node("x", {}, "abc")
    assert encode_node(as_bytes, redact=False) == {"tag": "x", "attrs": {}, "b64": "YWJj"}
    assert encode_node(as_text, redact=False) == {"tag": "x", "attrs": {}, "text": "abc"}
    assert decode_node(encode_node(as_bytes, redact=False)) != as_text


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    ["tag", "attrs", "text", "b64", "children", "redacted", "len", "type", "x"]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=10,
    )
)
def test_decode_node_accepts_a_node_or_raises_node_format_error(data: object) -> None:
    try:
        node = decode_node(data)
    except NodeFormatError:
        return
    assert isinstance(node, Node)


def test_decode_node_refuses_deep_nesting() -> None:
    data: dict[str, Any] = {"tag": "leaf"}
    for _ in range(100):
        data = {"tag": "n", "children": [data]}
    with pytest.raises(NodeFormatError, match="deep"):
        decode_node(data)


def _pre_key_upload() -> Node:
    return Node(
        "iq",
        {"xmlns": "encrypt", "type": "set", "id": "1"},
        [
            Node("registration", {}, b"\x00\x00\x12\x34"),
            Node("identity", {}, b"I" * 32),
            Node(
                "list",
                {},
                [Node("key", {}, [Node("id", {}, b"\0\0\1"), Node("value", {}, b"V" * 32)])],
            ),
            Node("skey", {}, [Node("value", {}, b"S" * 32), Node("signature", {}, b"G" * 64)]),
        ],
    )


def test_redaction_marks_what_it_removed_and_keeps_the_shape() -> None:
    upload = _pre_key_upload()
    encoded = encode_node(upload, redact=True)
    text = json.dumps(encoded)
    for secret in (b"I" * 32, b"V" * 32, b"S" * 32, b"G" * 64):
        assert base64.b64encode(secret).decode() not in text
    identity = encoded["children"][1]
    assert identity == {
        "tag": "identity",
        "attrs": {},
        "redacted": {"what": "identity-key", "type": "bytes", "len": 32},
    }
    key_id = encoded["children"][2]["children"][0]["children"][0]
    assert key_id["b64"] == "AAAB"  # ids are not secret and stay
    back = decode_node(encoded)
    assert back.child("identity") == Node("identity", {}, b"\0" * 32)
    assert len(back.children()) == len(upload.children())


def test_pairing_code_material_and_refs_are_redacted() -> None:
    reg = Node(
        "link_code_companion_reg",
        {"stage": "companion_hello"},
        [Node("link_code_pairing_nonce", {}, b"N" * 32), Node("anything", {}, "text!")],
    )
    pair_device = Node("pair-device", {}, [Node("ref", {}, b"2@secretref")])
    encoded = json.dumps([encode_node(reg, redact=True), encode_node(pair_device, redact=True)])
    assert "text!" not in encoded and "secretref" not in encoded
    assert base64.b64encode(b"N" * 32).decode() not in encoded
    assert '"pairing-code"' in encoded and '"qr-ref"' in encoded
    assert set(REDACTION_RULES) >= {"pairing-code", "qr-ref", "device-identity"}


# -- causes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cause",
    [
        None,
        WebSocketClosed(code=1006, reason="gone"),
        UpgradeRejected(status=403),
        ConnectionResetError("connection aborted by the server"),
        TimeoutError("timed out"),
        RemoteProtocolError("bad frame"),
        CloseReason.SLOW_CONSUMER,
    ],
)
def test_causes_round_trip_to_the_same_disconnect(cause: Any) -> None:
    back = decode_cause(json.loads(json.dumps(encode_cause(cause))))
    expected = classify(cause if cause is not None else WebSocketClosed(), at=1.0)
    got = classify(back if back is not None else WebSocketClosed(), at=1.0)
    assert got == expected


def test_an_exception_of_an_unknown_class_keeps_its_name() -> None:
    class WeirdError(Exception):
        pass

    back = decode_cause(encode_cause(WeirdError("boom")))
    assert isinstance(back, Exception) and str(back) == "WeirdError: boom"


# -- the reader ------------------------------------------------------------------------------

_HEADER = {
    "k": "header",
    "format": "walink-capture",
    "version": 1,
    "walink": "0.1.0",
    "seed": 1,
    "redacted": [],
    "creds": {},
    "config": {},
}


def _write(tmp_path: Path, *lines: object, raw: bytes | None = None) -> Path:
    path = tmp_path / "c.jsonl"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((), "empty file"),
        (({"k": "start", "t": 1},), "not a walink capture"),
        (({**_HEADER, "version": 2},), "version 2; this walink reads 1"),
        (({**_HEADER, "seed": "x"},), "'seed' must be an integer"),
        ((_HEADER, [1, 2]), "line 2: a line is one JSON object"),
        ((_HEADER, {"k": "bogus", "t": 1}), "line 2: unknown record kind 'bogus'"),
        ((_HEADER, {"k": "start"}), "line 2: 't' must be a finite number"),
        ((_HEADER, {"k": "start", "t": 5}, {"k": "tick", "t": 4}), "line 3: time goes backwards"),
    ],
)
def test_reader_says_what_is_wrong_and_where(
    tmp_path: Path, lines: tuple[object, ...], message: str
) -> None:
    with pytest.raises(CaptureFormatError, match=message.replace("(", r"\(")):
        read_capture(_write(tmp_path, *lines))


def test_reader_refuses_non_utf8_and_non_json(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match="UTF-8"):
        read_capture(_write(tmp_path, raw=b"\xff\xfe"))
    with pytest.raises(CaptureFormatError, match="line 1: not JSON"):
        read_capture(_write(tmp_path, raw=b"{nope\n"))


def test_a_bad_node_in_a_record_is_a_format_error_at_replay(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _HEADER,
        {"k": "start", "t": 1},
        {"k": "connected", "t": 1},
        {"k": "in", "t": 2, "node": {"tag": "iq", "b64": "!!"}},
    )
    with pytest.raises(CaptureFormatError, match="line 4: <iq>: 'b64' is not valid base64"):
        replay_capture(read_capture(path))


# -- the writer ------------------------------------------------------------------------------


def test_writer_needs_its_header_first_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    writer = CaptureWriter(path, seed=5)
    with pytest.raises(LocalProtocolError, match="header"):
        writer.start(1.0)
    writer.begin(creds=Creds.new(random.Random(1).randbytes), config=SessionConfig())
    with pytest.raises(LocalProtocolError, match="already"):
        writer.begin(creds=Creds.new(random.Random(1).randbytes), config=SessionConfig())
    writer.start(2.0)
    writer.tick(1.5)  # a clock stepping back a hair is clamped, not an invalid file
    writer.close(at=3.0)
    writer.close()  # twice is harmless
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    capture = read_capture(path)
    assert [(r.kind, r.t) for r in capture.records] == [("start", 2.0), ("tick", 2.0), ("end", 3.0)]
    assert capture.header.seed == 5 and capture.header.redacted == REDACTION_RULES


def test_opting_out_of_redaction_keeps_contents(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    with CaptureWriter(path, redact=False, seed=1) as writer:
        writer.begin(creds=Creds.new(random.Random(1).randbytes), config=SessionConfig())
        writer.record("out", _pre_key_upload(), 1.0)
    text = path.read_text()
    assert base64.b64encode(b"V" * 32).decode() in text and '"redacted":[]' in text


# -- the shipped captures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recorded]:
    folder = tmp_path_factory.mktemp("captures")
    return {name: record(name, folder) for name in SCENARIOS}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_shipped_capture_is_what_the_scenario_records(
    recorded: dict[str, Recorded], name: str
) -> None:
    shipped = DATA_DIR / f"{name}.jsonl"
    assert recorded[name].path.read_bytes() == shipped.read_bytes(), (
        f"{shipped} is stale: run `python -m tests.capture_scenarios`"
    )


def _secrets(done: Recorded) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for n, creds in enumerate(done.creds):
        found |= {
            f"{n}.noise.private": creds.noise_key.private,
            f"{n}.noise.public": creds.noise_key.public,
            f"{n}.identity.private": creds.signed_identity_key.private,
            f"{n}.identity.public": creds.signed_identity_key.public,
            f"{n}.signed_pre_key.private": creds.signed_pre_key.key_pair.private,
            f"{n}.signed_pre_key.public": creds.signed_pre_key.key_pair.public,
            f"{n}.signed_pre_key.signature": creds.signed_pre_key.signature,
            f"{n}.pairing_ephemeral.private": creds.pairing_ephemeral_key_pair.private,
            f"{n}.adv_secret": creds.adv_secret_key,
        }
        if creds.account is not None:
            for field in ("account_signature", "device_signature", "account_signature_key"):
                value = getattr(creds.account, field)
                if value:
                    found[f"{n}.account.{field}"] = value
    for n, private in enumerate(done.pre_key_privates):
        found[f"pre-key {n}"] = private
    for n, code in enumerate(done.pairing_codes):
        found[f"pairing code {n}"] = code.encode("ascii")
    return found


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_secret_of_the_creds_appears_in_a_capture(
    recorded: dict[str, Recorded], name: str
) -> None:
    done = recorded[name]
    data = done.path.read_bytes()
    secrets = _secrets(done)
    assert len(secrets) >= 9
    assert bool(done.pairing_codes) == (name == "pairing-code-login")
    for label, secret in secrets.items():
        for form in (
            secret,
            secret.hex().encode(),
            base64.b64encode(secret),
            base64.b64encode(secret)[:20],
            base64.urlsafe_b64encode(secret)[:20],
        ):
            assert form not in data, f"{label} appears in {name}"


def test_the_qr_login_capture_kept_its_shape(recorded: dict[str, Recorded]) -> None:
    capture = read_capture(recorded["qr-login"].path)
    kinds = [r.kind for r in capture.records]
    assert kinds.count("start") == 2  # the registration, then the login after the 515
    assert capture.header.creds["me"] is None
    texts = [json.dumps(dict(r.data)) for r in capture.records]
    assert any('"qr": "[redacted qr]"' in t for t in texts)
    assert any('"what": "device-identity"' in t for t in texts)


def test_the_pairing_code_request_is_a_command_before_its_hello(
    recorded: dict[str, Recorded],
) -> None:
    records = read_capture(recorded["pairing-code-login"].path).records
    [request] = [r for r in records if r.data.get("name") == "pairing_code"]
    # the phone as the caller gave it (replay validates it again), the code never
    assert dict(request.data) == {
        "k": "command",
        "t": T0 + 2.0,
        "name": "pairing_code",
        "phone": "+49 151 2345 6789",
        "code": PAIRING_CODE_MARKER,
    }
    after = records[records.index(request) + 1]
    assert after.kind == "out" and after.data["node"]["children"][0]["attrs"]["stage"] == (
        "companion_hello"
    )
    events = [r.data["event"] for r in records if r.kind == "event"]
    [shown] = [e for e in events if e["event"] == "pairing_code"]
    assert shown["code"] == PAIRING_CODE_MARKER and shown["phone"] == "4915123456789"


def test_pairing_timers_are_in_the_header_only_when_not_the_defaults() -> None:
    assert "pairing_code_timeout" not in config_to_json(SessionConfig())
    config = SessionConfig(pairing_code_timeout=300.0, pairing_ready_timeout=5.0)
    data = json.loads(json.dumps(config_to_json(config)))
    assert data["pairing_code_timeout"] == 300.0
    back = config_from_json(data)
    assert (back.pairing_code_timeout, back.pairing_ready_timeout) == (300.0, 5.0)


_LATER = {
    "offline_batch_size": 7,
    "offline_batch_delay": 0.5,
    "process_messages": True,
    "max_history_size": 1 << 20,
    "history_paused_timeout": 30.0,
    "history_reupload_wait": 0.0,
    "history_reuploads": 0,
}


def test_message_and_history_options_are_in_the_header_only_when_not_the_defaults() -> None:
    # a default config writes what the first captures wrote: their headers stay the same
    assert not set(config_to_json(SessionConfig())) & {*_LATER, "sync_full_history"}
    config = SessionConfig(
        payload=PayloadOptions(sync_full_history=False),
        should_sync_history=lambda notification: False,
        **_LATER,  # type: ignore[arg-type]
    )
    data = json.loads(json.dumps(config_to_json(config)))
    assert {name: data[name] for name in _LATER} == _LATER
    assert data["sync_full_history"] is False and data["history_gate"] == "custom"
    back = config_from_json(data)
    assert {name: getattr(back, name) for name in _LATER} == _LATER
    assert back.payload.sync_full_history is False
    assert back.should_sync_history is None  # a function is not in a file: replay says so
    for bad in ({"process_messages": 1}, {"history_reuploads": "2"}, {"sync_full_history": 0}):
        with pytest.raises(CaptureFormatError):
            config_from_json(bad)


@pytest.mark.parametrize("value", [-1, 1 << 32, "7", True, 1.5])
def test_a_bad_registration_id_in_the_header_is_a_format_error(value: object) -> None:
    header = {
        **{"k": "header", "format": "walink-capture", "version": 1, "seed": 1},
        **{"redacted": [], "creds": {}, "config": {}, "registration_id": value},
    }
    with pytest.raises(CaptureFormatError, match="registration_id"):
        parse_capture(json.dumps(header))


def test_replay_says_it_cannot_run_a_custom_history_gate(tmp_path: Path) -> None:
    config = SessionConfig(should_sync_history=lambda notification: True)
    path = tmp_path / "gate.jsonl"
    with CaptureWriter(path, seed=1) as writer:
        writer.begin(creds=Creds.new(random.Random(1).randbytes), config=config)
    notes = [line["note"] for line in replay_capture(read_capture(path)).lines if "note" in line]
    assert any("history to sync with its own function" in note for note in notes)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replay_gives_the_recorded_events(name: str) -> None:
    result = replay_capture(read_capture(DATA_DIR / f"{name}.jsonl"))
    assert result.recorded, "the capture holds the recorded run's events"
    assert result.events == result.recorded
    assert result.lines[-1]["event"] == "replay.end"
    assert result.lines[-1]["events_match"] is True
    assert result.lines[-1]["nodes_out_unmatched"] == 0


def test_replay_of_a_pair_success_says_it_did_not_verify() -> None:
    result = replay_capture(read_capture(DATA_DIR / "qr-login.jsonl"))
    notes = [line["note"] for line in result.lines if line["event"] == "replay.note"]
    assert any("pair-success" in note and "NOT verified" in note for note in notes)
    assert any(note.startswith("redacted (qr-ref)") for note in notes)


def test_replay_notices_when_the_events_differ(tmp_path: Path) -> None:
    lines = (DATA_DIR / "replaced-440.jsonl").read_text().splitlines()
    changed = [line.replace('"status":440', '"status":441') for line in lines]
    path = tmp_path / "changed.jsonl"
    path.write_text("\n".join(changed) + "\n")
    result = replay_capture(read_capture(path))
    assert result.lines[-1]["events_match"] is False
    assert any("differ" in line.get("note", "") for line in result.lines)


# -- live captures with transport losses and application commands ----------------------------


def _pair(tmp_path: Path, hub: Hub, seed: int) -> MemoryPair:
    rng = random.Random(seed)
    writer = CaptureWriter(tmp_path / f"live{seed}.jsonl", seed=seed)
    config = SessionConfig(
        trust_root=hub.client_trust_root,
        policy=PolicyConfig(jitter=0.0),
        payload=PayloadOptions(push_name="Bot"),  # presence updates need one
    )
    session = CapturingSession(
        creds=Creds.new(rng.randbytes), rng=rng, config=config, capture=writer
    )
    return MemoryPair(session, hub, now=T0)


def _finish(pair: MemoryPair) -> Path:
    session = pair.session
    assert isinstance(session, CapturingSession)
    session.capture.close(at=pair.now)
    return Path(session.capture.path)


def test_drops_queries_presence_and_offline_messages_replay_identically(tmp_path: Path) -> None:
    hub = Hub(rng=random.Random(7).randbytes, now=T0, log=lambda line: None)
    pair = _pair(tmp_path, hub, 3)
    pair.start()
    jid = pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    hub.inject(Drop(at=Step.OPEN))  # the next connection is aborted after its first node
    hub.queue_offline(
        jid,
        Node(
            "message",
            {"id": "M1", "from": "1555@s.whatsapp.net", "type": "text"},
            [Node("enc", {}, b"cipher")],
        ),
    )
    session = pair.session
    ping = Node("iq", {"to": "@s.whatsapp.net", "type": "get", "xmlns": "w:p"}, [Node("ping")])
    asked = session.query(ping, now=pair.now)
    session.query(
        Node("iq", {"to": "@s.whatsapp.net", "type": "get", "xmlns": "nope"}),
        now=pair.now,
        timeout=float("inf"),
    )
    session.send_presence_update("available", now=pair.now)
    pair.pump()
    assert pair.server is not None
    pair.server.receive_data(None, now=pair.now)  # the server side drops: the client loses it
    pair.pump()
    assert pair.run_until(lambda: len(pair.closes) >= 3 and session.connection == "open", limit=120)
    pair.session.close(now=pair.now)
    pair.pump()
    capture = read_capture(_finish(pair))
    kinds = [r.kind for r in capture.records]
    commands = [r.data["name"] for r in capture.records if r.kind == "command"]
    assert "lost" in kinds
    assert [name for name in commands if name != "saved"] == ["query", "query", "presence", "close"]
    result = replay_capture(capture)
    assert result.events == result.recorded
    shown = [line for line in result.events if line["event"] == "query.result"]
    assert [line["id"] for line in shown] == [asked]  # the recorded id, not the replay's
    assert any(line["event"] == "node" for line in result.events)  # the offline message


# -- a replay never fails but for a bad file ---------------------------------------------------

_SHIPPED = {
    name: (DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    for name in ("qr-login", "pairing-code-login", "logout", "keepalive-timeout", "replaced-440")
}
_MUTATIONS = st.sampled_from(
    [
        ("type", "result"),
        ("type", "error"),
        ("type", "set"),
        ("id", "1.1"),
        ("code", "401"),
        ("key-index", "99999999999"),
        ("t", "-1"),
    ]
)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(sorted(_SHIPPED)),
    st.data(),
)
def test_replay_of_any_cut_or_mutation_ends_with_a_summary_or_a_format_error(
    name: str, data: st.DataObject
) -> None:
    lines = _SHIPPED[name]
    keep = data.draw(st.lists(st.booleans(), min_size=len(lines) - 1, max_size=len(lines) - 1))
    chosen = [lines[0]] + [line for line, kept in zip(lines[1:], keep, strict=True) if kept]
    records = [json.loads(line) for line in chosen]
    for _ in range(data.draw(st.integers(0, 3))):
        record = data.draw(st.sampled_from(records))
        node = record.get("node")
        if isinstance(node, dict):
            attr, value = data.draw(_MUTATIONS)
            node["attrs"][attr] = value
            if data.draw(st.booleans()) and "children" in node:
                node["children"] = node["children"][: data.draw(st.integers(0, 2))]
    text = "\n".join(json.dumps(record) for record in records)
    try:
        result = replay_capture(parse_capture(text))
    except CaptureFormatError:
        return
    assert result.lines[-1]["event"] == "replay.end"
    json.dumps(result.lines)  # everything printed is JSON


def test_refused_and_timed_out_pairing_code_requests_replay_the_same(tmp_path: Path) -> None:
    hub = Hub(rng=random.Random(8).randbytes, now=T0, log=lambda line: None)
    rng = random.Random(8)
    writer = CaptureWriter(tmp_path / "code.jsonl", seed=8)
    config = SessionConfig(
        trust_root=hub.client_trust_root,
        policy=PolicyConfig(jitter=0.0),
        pairing_code_timeout=30.0,  # not the default: the header must carry it
    )
    session = CapturingSession(
        creds=Creds.new(rng.randbytes), rng=rng, config=config, capture=writer
    )
    pair = MemoryPair(session, hub, now=T0)
    pair.start()
    with pytest.raises(LocalProtocolError):
        session.request_pairing_code("0151 2345 6789", now=pair.now)  # no country code
    session.request_pairing_code("4915123456789", now=pair.now, custom_code="wa1nk23x")
    pair.pump()
    assert pair.run_until(lambda: bool(pair.closes), limit=60)  # nobody types it
    assert pair.closes[0].disconnect.reason is CloseReason.PAIRING_TIMEOUT
    session.close(now=pair.now)
    pair.pump()
    path = _finish(pair)
    text = path.read_text()
    assert "WA1NK23X" not in text and "wa1nk23x" not in text
    capture = read_capture(path)
    assert capture.header.config["pairing_code_timeout"] == 30.0
    commands = [r.data for r in capture.records if r.data.get("name") == "pairing_code"]
    assert [(c["code"], c.get("refused")) for c in commands] == [
        (None, True),
        (PAIRING_CODE_MARKER, None),
    ]
    result = replay_capture(capture)
    assert result.events == result.recorded and result.lines[-1]["events_match"] is True
    assert any("the live session refused" in line.get("note", "") for line in result.lines)


def _manual_pair(tmp_path: Path, seed: int) -> MemoryPair:
    hub = Hub(rng=random.Random(seed).randbytes, now=T0, log=lambda line: None)
    pair = _pair(tmp_path, hub, seed)
    pair.auto_confirm = False
    return pair


def test_late_confirmations_replay_where_they_happened(tmp_path: Path) -> None:
    pair = _manual_pair(tmp_path, 21)
    pair.start()
    pair.scan_qr()
    assert pair.pending_saves  # the new identity waits for its save
    pair.advance(3.0)
    pair.confirm_saves()
    for _ in range(5):  # the pre-key upload waits for its save too
        pair.advance(1.0)
        pair.confirm_saves()
    assert pair.session.connection == "open"
    capture = read_capture(_finish(pair))
    assert any(r.data.get("name") == "saved" for r in capture.records)
    result = replay_capture(capture)
    assert result.events == result.recorded
    assert any("where the capture confirms it" in line.get("note", "") for line in result.lines)


def test_a_failed_save_replays_as_the_same_stop(tmp_path: Path) -> None:
    pair = _manual_pair(tmp_path, 22)
    pair.start()
    pair.scan_qr()
    request = pair.pending_saves.pop(0)
    pair.session.save_failed(request.token, OSError("disk full"), now=pair.now)
    pair.pump()
    assert pair.session.finished
    result = replay_capture(read_capture(_finish(pair)))
    assert result.events == result.recorded
    assert "disk full" in result.events[-1]["message"]
    assert result.events[-1]["reason"] == "STORE_ERROR"


def _aborted_capture(tmp_path: Path, message: str | None) -> Path:
    """A device that pairs, is aborted for a slow consumer once open, reconnects, closes."""
    pair = _pair(tmp_path, Hub(rng=random.Random(23).randbytes, now=T0, log=lambda line: None), 23)
    pair.start()
    pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.session.abort(CloseReason.SLOW_CONSUMER, now=pair.now, message=message)
    pair.pump()
    assert pair.closes[-1].disconnect.reason is CloseReason.SLOW_CONSUMER
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.session.close(now=pair.now)
    pair.pump()
    return _finish(pair)


@pytest.mark.parametrize("message", [None, "412 events wait for the application"])
def test_an_abort_is_recorded_as_a_typed_loss_and_replays_the_same(
    tmp_path: Path, message: str | None
) -> None:
    capture = read_capture(_aborted_capture(tmp_path, message))
    [lost] = [r for r in capture.records if r.kind == "lost"]
    expected: dict[str, Any] = {"kind": "reason", "reason": "SLOW_CONSUMER"}
    if message is not None:
        expected["message"] = message
    assert lost.data["cause"] == expected
    result = replay_capture(capture)
    assert result.events == result.recorded
    [closed] = [
        e for e in result.events if e["event"] == "closed" and e["reason"] == "SLOW_CONSUMER"
    ]
    assert closed["message"] == message or (message is None and closed["message"])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"reason":"SLOW_CONSUMER"', '"reason":"LOCAL_CLOSE"'),
        ('"reason":"SLOW_CONSUMER"', '"reason":"RESTART_REQUIRED"'),
        ('"message":"x"', '"message":5'),
    ],
)
def test_a_lost_reason_replay_cannot_abort_with_is_a_format_error(
    tmp_path: Path, old: str, new: str
) -> None:
    text = _aborted_capture(tmp_path, "x").read_text()
    assert old in text
    with pytest.raises(CaptureFormatError, match="line"):
        replay_capture(parse_capture(text.replace(old, new)))


def test_the_capture_holds_exactly_the_nodes_the_trace_saw(tmp_path: Path) -> None:
    traced: list[tuple[str, dict[str, Any]]] = []
    hub = Hub(rng=random.Random(24).randbytes, now=T0, log=lambda line: None)
    writer = CaptureWriter(tmp_path / "traced.jsonl", seed=24)
    config = SessionConfig(
        trust_root=hub.client_trust_root,
        trace=lambda direction, node: traced.append((direction, encode_node(node, redact=True))),
    )
    rng = random.Random(24)
    session = CapturingSession(
        creds=Creds.new(rng.randbytes), rng=rng, config=config, capture=writer
    )
    pair = MemoryPair(session, hub, now=T0)
    pair.start()
    pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.session.close(now=pair.now)
    pair.pump()
    capture = read_capture(_finish(pair))
    nodes = [(r.kind, dict(r.data["node"])) for r in capture.records if r.kind in ("in", "out")]
    assert len(nodes) > 20 and nodes == traced
