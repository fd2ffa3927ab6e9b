"""The README's library example runs as written (against the emulator, on loopback)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs_again_and_again_in_the_same_folder(tmp_path: Path) -> None:
    # Once in a fresh folder proves little: the second run must log the saved device in again
    # (not mark it logged out), and the third must not die of what the second left behind.
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "the README has one Python example"
    script = tmp_path / "example.py"
    script.write_text(blocks[0], encoding="utf-8")
    for run in range(3):
        result = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"run {run + 1}: {result.stderr}"
        assert "Traceback" not in result.stderr, f"run {run + 1}: {result.stderr}"
        assert result.stdout.startswith("open as "), f"run {run + 1}: {result.stdout}"
        assert (tmp_path / "walink-auth.db").is_file()  # the linked device was saved
