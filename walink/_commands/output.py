"""Shared output helpers for subcommands: JSON lines on stdout, always flushed."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(obj: dict[str, Any]) -> None:
    """Write one ``{"v": 1, ...}`` line to stdout and flush it at once."""
    line = json.dumps({"v": 1, **obj}, separators=(", ", ": "), ensure_ascii=False)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def emit_text(text: str) -> None:
    """Write one human-readable line to stdout and flush it."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
