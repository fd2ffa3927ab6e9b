"""``walink version``: the version and which codec implementation is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from walink import __version__
from walink.cli import main
from walink.protocol.binary import COMPILED


def test_version_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    kind = "compiled (mypyc)" if COMPILED else "pure Python"
    assert capsys.readouterr().out == f"walink {__version__} (codec: {kind})\n"


def test_version_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {"v": 1, "version": __version__, "compiled": COMPILED}


def test_forced_pure_python_reports_not_compiled() -> None:
    env = {**os.environ, "WALINK_PURE_PYTHON": "1"}
    output = subprocess.run(
        [sys.executable, "-c", "from walink.cli import main; main(['version', '--json'])"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(output) == {"v": 1, "version": __version__, "compiled": False}
