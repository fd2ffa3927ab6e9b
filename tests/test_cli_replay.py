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

from tests.capture_scenarios import DATA_DIR, SCENARIOS
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
    assert {"qr-login", "saved-creds-login", "keepalive-timeout", "logout", "replaced-440"} <= {
        path.stem for path in CAPTURES
    }


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


@pytest.mark.parametrize(
    ("stem", "last_close"),
    [
        ("qr-login", None),
        ("saved-creds-login", None),
        ("keepalive-timeout", "KEEPALIVE_TIMEOUT"),
        ("logout", "LOCAL_LOGOUT"),
        ("replaced-440", "REPLACED"),
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
    if stem == "qr-login":
        assert closes[0]["reason"] == "RESTART_REQUIRED" and closes[0]["restart"] is True
        assert any(u["qr"] == "[redacted qr]" for u in updates)
        assert any(u["is_new_login"] for u in updates)
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


@pytest.mark.parametrize("mode", [(), ("--json",)], ids=["text", "json"])
def test_same_capture_twice_gives_identical_bytes(mode: tuple[str, ...]) -> None:
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
                    str(DATA_DIR / "qr-login.jsonl"),
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
