"""``walink replay``: the shipped captures replay to the recorded run's events, byte-identical
output run after run, readable and ``--json`` forms, and exit 2 for files it cannot read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.capture_scenarios import DATA_DIR, SCENARIOS, record
from tests.conftest import REPO_ROOT
from walink.cli import main

CAPTURES = sorted(DATA_DIR.glob("*.jsonl"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _recorded_events(path: Path) -> list[dict[str, Any]]:
    # read straight from the file, independently of the replay's own reader
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        if data["k"] == "event":
            events.append({"t": data["t"], **data["event"]})
    return events


def test_every_scenario_is_shipped() -> None:
    assert sorted(path.stem for path in CAPTURES) == sorted(SCENARIOS)
    assert {
        "qr-login",
        "pairing-code-login",
        "saved-creds-login",
        "keepalive-timeout",
        "logout",
        "replaced-440",
    } <= {path.stem for path in CAPTURES}


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_json_replay_gives_the_recorded_events(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    code, out, err = _run(capsys, str(path), "--json")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert all(line["v"] == 1 for line in lines)
    events = [
        {k: v for k, v in line.items() if k != "v"}
        for line in lines
        if not line["event"].startswith("replay.")
    ]
    recorded = _recorded_events(path)
    assert recorded and events == recorded
    assert lines[0]["event"] == "replay.start" and lines[-1]["event"] == "replay.end"
    assert lines[-1]["events_match"] is True


def test_events_that_differ_from_the_recording_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a recording whose last close says something the session no longer does
    lines = (DATA_DIR / "logout.jsonl").read_text(encoding="utf-8").splitlines()
    last_event = max(i for i, line in enumerate(lines) if json.loads(line)["k"] == "event")
    data = json.loads(lines[last_event])
    data["event"]["explanation"] = "something else"
    lines[last_event] = json.dumps(data, separators=(",", ":"))
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = _run(capsys, str(tampered), "--json")
    assert code == 1
    assert err == f"walink replay: {tampered}: the events differ from the recording\n"
    end = json.loads(out.splitlines()[-1])
    assert end["event"] == "replay.end" and end["events_match"] is False
    code, out, _ = _run(capsys, str(tampered))
    assert code == 1 and "events DIFFER from the recording" in out


@pytest.mark.parametrize(
    ("stem", "last_close"),
    [
        ("qr-login", None),
        ("pairing-code-login", None),
        ("saved-creds-login", None),
        ("keepalive-timeout", "KEEPALIVE_TIMEOUT"),
        ("logout", "LOCAL_LOGOUT"),
        ("replaced-440", "REPLACED"),
        ("messages-history", "LOCAL_CLOSE"),
    ],
)
def test_each_capture_ends_as_its_scenario_did(
    capsys: pytest.CaptureFixture[str], stem: str, last_close: str | None
) -> None:
    _, out, _ = _run(capsys, str(DATA_DIR / f"{stem}.jsonl"), "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    updates = [line for line in lines if line["event"] == "connection.update"]
    closes = [line for line in lines if line["event"] == "closed"]
    if last_close is None:
        assert updates[-1]["connection"] == "open"
    else:
        assert closes[-1]["reason"] == last_close
    if stem in ("qr-login", "pairing-code-login"):
        assert closes[0]["reason"] == "RESTART_REQUIRED" and closes[0]["restart"] is True
        assert any(u["qr"] == "[redacted qr]" for u in updates)
        assert any(u["is_new_login"] for u in updates)
    if stem == "pairing-code-login":
        [code] = [line for line in lines if line["event"] == "pairing_code"]
        assert code["code"] == "[redacted pairing code]" and code["phone"] == "4915123456789"
        assert updates[-1]["is_new_login"] and not updates[-1]["qr"]
        notes = [line["note"] for line in lines if line["event"] == "replay.note"]
        # both substitutions are said: the made-up code, and the phone's primary_hello
        assert any("pairing code is redacted" in n and "capture's seed" in n for n in notes)
        assert any(n.startswith("primary_hello: contents redacted") for n in notes)
        assert any("NOT verified" in n and "primary_hello" in n for n in notes)
    if stem == "replaced-440":
        assert closes[-1]["status"] == 440 and closes[-1]["final"] is True


def test_readable_output_is_a_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(DATA_DIR / "qr-login.jsonl"))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert all(line.startswith("+") for line in lines)
    assert any("closed RESTART_REQUIRED 515" in line for line in lines)
    assert any("pair-success" in line and "NOT verified" in line for line in lines)
    assert "events match the recording" in lines[-1]


# the lines every replay prints, whose keys other tools read in this order
START_KEYS = ["v", "event", "t", "format", "walink", "source", "seed", "redacted"]
NOTE_KEYS = ["v", "event", "t", "note"]
END_KEYS = [
    *("v", "event", "t", "nodes_in", "nodes_out_recorded", "nodes_out_replayed"),
    *("nodes_out_unmatched", "events", "events_recorded", "events_match", "state"),
]
JOB_KEYS = {
    "message.job": ["token", "node"],
    "message.processed": ["token", "node", "offline", "redelivered"],
    "message.failed": ["node", "error", "retry_count", "gave_up"],
    "history.download": [
        *("token", "message_id", "direct_path", "file_length", "hosts", "max_size"),
    ],
    "history.chunk": [
        *("token", "message_id", "sync_type", "chunk_order", "progress", "is_latest"),
        *("chats", "contacts", "messages", "lid_pn_mappings"),
    ],
    "history.status": ["sync_type", "status", "explicit"],
    "history.failed": ["message_id", "sync_type", "error", "reupload", "final"],
}
"""The message and history lines (after ``v``, ``event``, ``t``)."""


def test_the_jobs_of_a_run_are_lines_of_exactly_this_shape(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, str(DATA_DIR / "messages-history.jsonl"), "--json")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert list(lines[0]) == START_KEYS and list(lines[-1]) == END_KEYS
    assert all(list(line) == NOTE_KEYS for line in lines if line["event"] == "replay.note")
    seen = set()
    for line in lines:
        keys = JOB_KEYS.get(line["event"])
        if keys is not None:
            seen.add(line["event"])
            assert list(line) == ["v", "event", "t", *keys], line
    assert seen == set(JOB_KEYS)
    failed = [line for line in lines if line["event"] == "message.failed"]
    assert [(f["retry_count"], f["gave_up"]) for f in failed] == [(1, False)]
    chunks = [line for line in lines if line["event"] == "history.chunk"]
    assert sorted(c["sync_type"] for c in chunks) == [
        "INITIAL_BOOTSTRAP",
        "PUSH_NAME",
        "RECENT",
        "RECENT",
    ]
    notes = " ".join(line["note"] for line in lines if line["event"] == "replay.note")
    assert "decrypted messages are redacted" in notes and "history chunks are redacted" in notes
    code, out, err = _run(capsys, str(DATA_DIR / "messages-history.jsonl"))
    assert (code, err) == (0, "")
    text = out.splitlines()
    assert not any(x.lstrip("+ .0123456789s").startswith("{") for x in text)  # no raw fallback
    assert any("history #" in x and "RECENT chunk 1 (50%)" in x for x in text)
    assert any("failed (retry receipt 1)" in x for x in text)
    assert any("failed (asked the phone to upload it again)" in x for x in text)


def _tampered(tmp_path: Path, name: str, change: Any) -> Path:
    """messages-history.jsonl with ``change`` applied to its first ``name`` command line."""
    lines = (DATA_DIR / "messages-history.jsonl").read_text(encoding="utf-8").splitlines()
    index = next(
        i
        for i, line in enumerate(lines)
        if (data := json.loads(line))["k"] == "command" and data["name"] == name
    )
    data = json.loads(lines[index])
    change(data)
    lines[index] = json.dumps(data, separators=(",", ":"))
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_job_outcome_that_changes_the_run_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the undecryptable message, as if the store had failed: the session stops instead
    path = _tampered(tmp_path, "message_failed", lambda d: d["error"].update(blame="local"))
    code, out, err = _run(capsys, str(path), "--json")
    assert code == 1 and "differ" in err
    closes = [json.loads(x) for x in out.splitlines() if '"event": "closed"' in x]
    assert closes[-1]["reason"] == "STORE_ERROR"


@pytest.mark.parametrize(
    ("name", "change", "reason"),
    [
        ("history_downloaded", lambda d: d.update(sync="not base64!"), "HistorySync"),
        ("message_processed", lambda d: d.update(decrypted="x"), "'decrypted'"),
        ("message_processed", lambda d: d.pop("redelivered"), "'redelivered'"),
        ("message_failed", lambda d: d["error"].update(blame="moon"), "blame"),
        ("message_handled", lambda d: d.update(token="1"), "integer token"),
        ("history_download_failed", lambda d: d.update(reupload=None), "'reupload'"),
    ],
)
def test_a_malformed_job_line_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, change: Any, reason: str
) -> None:
    path = _tampered(tmp_path, name, change)
    code, out, err = _run(capsys, str(path), "--json")
    assert (code, out) == (2, "")
    assert err.startswith(f"walink replay: {path}: invalid capture: line ") and reason in err


def test_readable_output_names_the_pairing_code_events(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(DATA_DIR / "pairing-code-login.jsonl"))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert any("pairing code #1 for 4915123456789: [redacted pairing code]" in x for x in lines)
    assert not any(x.lstrip("+ .0123456789s").startswith("{") for x in lines)  # no raw fallback
    assert "events match the recording" in lines[-1]


@pytest.mark.parametrize("stem", ["qr-login", "pairing-code-login", "messages-history"])
@pytest.mark.parametrize("mode", [(), ("--json",)], ids=["text", "json"])
def test_same_capture_twice_gives_identical_bytes(mode: tuple[str, ...], stem: str) -> None:
    # separate processes with different hash seeds: nothing may depend on either
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        runs.append(
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "walink.cli",
                    "replay",
                    *mode,
                    str(DATA_DIR / f"{stem}.jsonl"),
                ],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
        )
    first, second = runs
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout and first.stderr == second.stderr
    assert first.stdout


def test_every_shipped_capture_replays_deterministically_in_process(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for path in CAPTURES:
        assert _run(capsys, str(path), "--json") == _run(capsys, str(path), "--json")


def test_replay_shows_no_secret_of_a_pairing_code_login(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the shipped file is this recording (test_capture checks it byte for byte)
    done = record("pairing-code-login", tmp_path)
    [live_code] = done.pairing_codes
    shown = []
    for mode in ((), ("--json",)):
        code, out, err = _run(capsys, str(done.path), *mode)
        assert (code, err) == (0, "")
        shown.append(out)
    for out in shown:
        assert live_code not in out and live_code.lower() not in out
        assert "[redacted pairing code]" in out


@pytest.mark.parametrize("stem", ["qr-login", "pairing-code-login", "logout"])
def test_an_unredacted_capture_replays_with_its_own_contents(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stem: str
) -> None:
    done = record(stem, tmp_path, redact=False)
    code, out, err = _run(capsys, str(done.path), "--json")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    events = [
        {k: v for k, v in line.items() if k != "v"}
        for line in lines
        if not line["event"].startswith("replay.")
    ]
    assert events == _recorded_events(done.path)
    assert lines[-1]["events_match"] is True
    notes = [line["note"] for line in lines if line["event"] == "replay.note"]
    qrs = [line["qr"] for line in lines if line["event"] == "connection.update" and line["qr"]]
    if stem == "logout":
        assert not qrs
        return
    # the recorded QR (the live keys') is shown, and the replay says it could not check it
    assert qrs and all(qr.count(",") >= 3 and "redacted" not in qr for qr in qrs)
    assert any(n.startswith("QR:") and "NOT verified" in n for n in notes)
    if stem == "pairing-code-login":
        [shown] = [line for line in lines if line["event"] == "pairing_code"]
        assert [shown["code"]] == done.pairing_codes
        # the real code opens the real primary_hello: no stand-in, no made-up code
        assert not any("primary_hello" in n or "capture's seed" in n for n in notes[1:])


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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read: No such file or directory"),
        (b"", "invalid capture: line 1: empty file"),
        (b"\x89PNG\r\n", "invalid capture: not UTF-8"),
        (b'{"hello": "world"}\n', "invalid capture: line 1: not a walink capture"),
        (json.dumps({**_HEADER, "version": 9}).encode() + b"\n", "format version 9"),
        (json.dumps(_HEADER).encode() + b'\n{"k": "in", "t": 1, "node": {"ta', "line 2: not JSON"),
        (
            json.dumps(_HEADER).encode() + b'\n{"k": "in", "t": 1, "node": 7}\n',
            "line 2: a node is a JSON object",
        ),
        (
            json.dumps(_HEADER).encode() + b'\n{"k": "command", "t": 1, "name": "dance"}\n',
            "line 2: unknown command 'dance'",
        ),
        (
            json.dumps(_HEADER).encode()
            + b'\n{"k": "command", "t": 1, "name": "pairing_code", "phone": 49}\n',
            "line 2: 'pairing_code' needs a string 'phone'",
        ),
    ],
)
def test_unreadable_or_invalid_files_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(capsys, str(path), "--json")
    assert code == 2
    assert out == ""
    assert err.startswith(f"walink replay: {path}: ") and message in err
    assert err.count("\n") == 1


def test_a_directory_is_unreadable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, str(tmp_path))
    assert (code, out) == (2, "") and "cannot read" in err


def test_missing_argument_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["replay"])
    assert exit_info.value.code == 2
