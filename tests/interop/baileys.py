"""Drive ``tests/peer/baileys-lifecycle.mjs`` (Baileys' own client) against an in-process Emulator.

One :class:`BaileysRun` is one harness process: one creds object that lives across the sockets
the harness builds (a new one after each 515), until a final close. The test reads its JSON lines
(:meth:`BaileysRun.until`), sends it commands (:meth:`BaileysRun.send`) and, as a person would,
carries each QR it shows to the emulator's phone (``relay_qr``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.bounds import SCENARIO_LIMIT
from walink.testing.emulator import Emulator

__all__ = ["HARNESS", "QR_PREFIX", "BaileysRun", "Line", "baileys", "event_is", "is_open"]

HARNESS = "baileys-lifecycle.mjs"
QR_PREFIX = "https://wa.me/settings/linked_devices#"

Line = dict[str, Any]
"""One JSON line of the harness (see the harness header for the shapes)."""

# Short Baileys timers so its own timeouts are reached within a test; keepalive stays long unless
# a test is about it, so a slow machine never turns a healthy link into a 408.
FAST_TIMERS = {
    "WA_CONNECT_TIMEOUT_MS": "3000",
    "WA_QUERY_TIMEOUT_MS": "3000",
    "WA_KEEPALIVE_MS": "30000",
}


@dataclass
class BaileysRun:
    """One running harness: its lines so far, the QRs relayed and the JIDs the phone returned."""

    process: Process
    emulator: Emulator
    relay_qr: bool
    lines: list[Line] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    """The JIDs ``emulator.phone.scan_qr`` returned for the QRs relayed."""
    _stdout: BufferedByteReceiveStream | None = None

    async def next_line(self) -> Line | None:
        """The next line (None once the harness has exited); QRs are relayed on the way."""
        if self._stdout is None:
            assert self.process.stdout is not None
            self._stdout = BufferedByteReceiveStream(self.process.stdout)
        try:
            raw = await self._stdout.receive_until(b"\n", 1 << 20)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return None
        line: Line = json.loads(raw)
        self.lines.append(line)
        if line["event"] == "qr" and self.relay_qr and not self.scanned:
            # the person carries the first QR from Baileys' screen to the phone
            self.scanned.append(await self.emulator.phone.scan_qr(line["qr"]))
        return line

    async def until(self, wanted: Callable[[Line], bool]) -> Line:
        """Read lines until one is ``wanted``; an exit first is a failure showing every line."""
        while (line := await self.next_line()) is not None:
            if wanted(line):
                return line
        raise AssertionError(f"the harness exited first: {self.lines}")

    async def saw(self, wanted: Callable[[Line], bool]) -> Line:
        """The first line already read that is ``wanted``, else the next one: for an event whose
        order against the others is not fixed (Baileys may process the phone's history before
        its login's own queries end and the connection opens)."""
        for line in self.lines:
            if wanted(line):
                return line
        return await self.until(wanted)

    async def send(self, cmd: str, **params: str) -> None:
        """Send one command (``requestPairingCode``, ``logout``, ``end``)."""
        assert self.process.stdin is not None
        await self.process.stdin.send((json.dumps({"cmd": cmd, **params}) + "\n").encode())

    async def finish(self) -> Line:
        """Read to the end; return the final ``exit`` line (its ``status`` is the final close's)."""
        exit_line = await self.until(lambda line: line["event"] in ("exit", "timeout"))
        while await self.next_line() is not None:
            pass
        assert await self.process.wait() == 0, self.lines
        assert exit_line["event"] == "exit", self.lines
        return exit_line

    # -- views of the lines ------------------------------------------------------------------

    def events(self, event: str) -> list[Line]:
        return [line for line in self.lines if line["event"] == event]

    def closes(self) -> list[int | None]:
        """The status of every close, in order (``None``: closed without an error)."""
        return [
            line["status"]
            for line in self.events("connection.update")
            if line["connection"] == "close"
        ]

    def opened_on(self) -> list[int]:
        """The socket numbers that reached connection 'open'."""
        return [
            line["socket"]
            for line in self.events("connection.update")
            if line["connection"] == "open"
        ]


def is_open(line: Line) -> bool:
    """A connection.update reporting connection 'open'."""
    return bool(line["event"] == "connection.update" and line["connection"] == "open")


def event_is(event: str) -> Callable[[Line], bool]:
    """A predicate for :meth:`BaileysRun.until`: a line of this ``event``."""
    return lambda line: bool(line["event"] == event)


@asynccontextmanager
async def baileys(
    peer_dir: Path,
    emulator: Emulator,
    *,
    auth_dir: Path | None = None,
    me_jid: str | None = None,
    relay_qr: bool = True,
    timeout_ms: int = int(SCENARIO_LIMIT * 1000),
    timers: Mapping[str, str] | None = None,
) -> AsyncIterator[BaileysRun]:
    """Run the harness against ``emulator``, strict against its test root.

    ``auth_dir`` keeps creds and keys across runs (Baileys' multi-file store); ``me_jid`` starts
    from creds with ``me`` set; ``timers`` override :data:`FAST_TIMERS`, e.g.
    ``{"WA_KEEPALIVE_MS": "500"}``; ``timeout_ms`` is the harness's own limit on its whole run.
    Leaving the block kills a harness still running.
    """
    env = {
        **os.environ,
        **FAST_TIMERS,
        **(timers or {}),
        "WA_TEST_ROOT_PUB_HEX": emulator.trust_root_hex,
        "WA_TIMEOUT_MS": str(timeout_ms),
    }
    if auth_dir is not None:
        env["WA_AUTH_DIR"] = str(auth_dir)
    if me_jid is not None:
        env["WA_ME_JID"] = me_jid
    async with await anyio.open_process(
        ["node", HARNESS, emulator.url],
        cwd=peer_dir,
        env=env,
        stderr=None if os.environ.get("BAILEYS_LOG") else subprocess.DEVNULL,
    ) as process:
        run = BaileysRun(process=process, emulator=emulator, relay_qr=relay_qr)
        try:
            yield run
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.move_on_after(5, shield=True):
                    await process.wait()
