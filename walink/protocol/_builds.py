"""What the loaders of walink's compiled parts share (the mypyc-compiled codec, the Noise C twin):
the switch that forces pure Python, and the hash of the source a build was made from.

Each build records the SHA-256 of its source; an editable install keeps a build next to its
source after an edit, so a loader compares the two and refuses a stale build.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["PURE_ENV_VAR", "file_sha256", "pure_python_forced"]

PURE_ENV_VAR = "WALINK_PURE_PYTHON"
"""Set (to anything but ``0``): every compiled part is left aside for its pure-Python source."""


def pure_python_forced() -> bool:
    """Whether ``WALINK_PURE_PYTHON`` asks for pure Python."""
    return os.environ.get(PURE_ENV_VAR, "") not in ("", "0")


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of the file at ``path`` in hex, or None when it cannot be read (absent)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
