"""``walink diagram``: the committed Mermaid and the README's copy equal what the command prints;
DOT is produced; SVG renders wherever Graphviz is installed (and CI installs it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from walink._commands.diagram import render
from walink.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMITTED = REPO_ROOT / "diagrams" / "connection.mmd"
README = REPO_ROOT / "README.md"
STATE_IDS = ("idle", "dialing", "awaiting_qr", "open", "backing_off", "restarting", "stopped")


def run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "walink.cli", "diagram", *args],
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_mermaid_is_the_default_only_the_diagram_on_stdout_nothing_on_stderr() -> None:
    result = run_cli()
    assert result.returncode == 0
    assert result.stderr == b""
    assert result.stdout == render("mermaid").encode()
    assert result.stdout.startswith(b"stateDiagram-v2\n")


def test_committed_diagram_equals_the_command_output() -> None:
    # regenerate with `make diagrams` when the machine changes
    assert COMMITTED.read_bytes() == run_cli("--format", "mermaid").stdout


def test_output_file_gets_the_same_bytes(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "connection.mmd"
    assert main(["diagram", "-o", str(target)]) == 0
    assert target.read_bytes() == COMMITTED.read_bytes()


def test_readme_embeds_the_generated_diagram() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## State machine\n", 1)
    assert len(section) == 2, "README.md lost its 'State machine' section"
    block = re.search(r"```mermaid\n(.*?)```", section[1], re.DOTALL)
    assert block is not None, "the 'State machine' section has no mermaid block"
    assert block.group(1) == render("mermaid"), "README diagram is stale: paste `walink diagram`"


def test_mermaid_is_stable_between_renders() -> None:
    assert render("mermaid") == render("mermaid")


def test_dot_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "--format", "dot"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("digraph ConnectionMachine {")
    assert captured.out.rstrip().endswith("}")
    for state in STATE_IDS:
        assert re.search(rf"\b{state}\b", captured.out), state


def test_svg_renders_with_graphviz(capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz `dot` is missing under CI (.ci/run installs it)")
        pytest.skip("Graphviz `dot` is not installed")
    assert main(["diagram", "--format", "svg"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "<svg" in captured.out and captured.out.rstrip().endswith("</svg>")
    assert "Backing off" in captured.out


def test_svg_without_graphviz_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "")
    assert main(["diagram", "--format", "svg"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Graphviz" in captured.err


def test_unknown_format_is_a_usage_error() -> None:
    result = run_cli("--format", "png")
    assert result.returncode == 2
    assert result.stdout == b""
