"""Drive a Node script of tests/peer (built on bridge-lib.mjs) over JSON lines.

One long-lived ``node`` process per bridge, so thousands of differential cases cost one start-up.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any


class PeerError(Exception):
    """The peer answered ``ok: false``: its error message is the exception's text."""


class PeerBridge:
    """A running ``node SCRIPT`` in the peer folder, answering one JSON request per line."""

    def __init__(self, peer_dir: Path, script: str) -> None:
        self._next_id = 0
        self._proc = subprocess.Popen(
            ["node", script],
            cwd=peer_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        """Send one request and return the reply; raise ``PeerError`` when the peer says no."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._next_id += 1
        request_id = self._next_id
        self._proc.stdin.write(json.dumps({"id": request_id, "op": op, **params}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"peer bridge exited with code {self._proc.wait(timeout=5)}")
        reply: dict[str, Any] = json.loads(line)
        if reply.get("id") != request_id:
            raise RuntimeError(f"peer bridge answered out of order: {reply!r}")
        if not reply.get("ok"):
            raise PeerError(str(reply.get("error")))
        return reply

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> PeerBridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
