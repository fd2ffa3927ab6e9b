"""Real proxies on loopback for the proxy tests, each run as its own process.

- pproxy (PyPI, in the ``test`` extra): one process serving SOCKS5 and HTTP CONNECT, each with and
  without credentials. Its ``-v`` log names every destination it connects to, which is how a test
  proves that a connection went through it. It refuses bad HTTP credentials with 407; it refuses
  bad SOCKS5 credentials by hanging up (no RFC 1929 failure reply).
- microsocks (Debian's ``microsocks``, installed by ``.ci/run``): a SOCKS5 server that answers
  with the RFC's reply codes (no acceptable method, authentication failure, connection refused).
  Missing, its tests are skipped, except under ``CI=true`` where that is a failure.

Ports are free ports picked just before the start; a proxy that cannot listen (a port taken
meanwhile) is started again on others.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
import pytest

USER = "alice"
PASSWORD = "s3cret-Pa55word"
"""Credentials distinctive enough that finding them in a log or a message is never a fluke."""

_START_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class ProxyProcess:
    """A proxy process and where its output goes."""

    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _start(command: Sequence[str], ports: Sequence[int], log: Path) -> ProxyProcess | None:
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    proxy = ProxyProcess(process=process, log=log)
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None  # it died: a port was taken, most likely
        if all(_listening(port) for port in ports):
            return proxy
        time.sleep(0.05)
    proxy.stop()
    raise RuntimeError(f"{command[0]} did not listen within {_START_TIMEOUT} s: {log.read_text()}")


@dataclass
class Pproxy:
    """One pproxy process: SOCKS5 and HTTP, each open and with ``USER``/``PASSWORD``."""

    proc: ProxyProcess
    socks5: int
    socks5_auth: int
    http: int
    http_auth: int

    def log_text(self) -> str:
        return self.proc.log_text()


@contextmanager
def run_pproxy(folder: Path) -> Iterator[Pproxy]:
    for _ in range(3):
        ports = [free_port() for _ in range(4)]
        listen = [
            f"socks5://127.0.0.1:{ports[0]}",
            f"socks5://127.0.0.1:{ports[1]}#{USER}:{PASSWORD}",
            f"http://127.0.0.1:{ports[2]}",
            f"http://127.0.0.1:{ports[3]}#{USER}:{PASSWORD}",
        ]
        # --auth 0: pproxy otherwise lets an address in without credentials for 30 days once
        # it has authenticated once, which would make every refusal test pass or fail by order
        command = [sys.executable, "-m", "pproxy", "-v", "--auth", "0"]
        for uri in listen:
            command += ["-l", uri]
        proc = _start(command, ports, folder / "pproxy.log")
        if proc is None:
            continue
        try:
            yield Pproxy(proc, *ports)
        finally:
            proc.stop()
        return
    raise RuntimeError(f"pproxy would not start: {(folder / 'pproxy.log').read_text()}")


@dataclass
class Microsocks:
    """Two microsocks processes: open, and with ``USER``/``PASSWORD``."""

    open: ProxyProcess
    auth: ProxyProcess
    port: int
    auth_port: int


def microsocks_or_skip() -> str:
    path = shutil.which("microsocks")
    if path is None:
        message = "microsocks is not installed (apt-get install microsocks; .ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def run_microsocks(folder: Path) -> Iterator[Microsocks]:
    binary = microsocks_or_skip()
    started: list[ProxyProcess] = []
    try:
        for credentials in ([], ["-u", USER, "-P", PASSWORD]):
            for attempt in range(3):
                port = free_port()
                name = f"microsocks-{len(started)}-{attempt}.log"
                command = [binary, "-i", "127.0.0.1", "-p", str(port), *credentials]
                proc = _start(command, [port], folder / name)
                if proc is not None:
                    started.append(proc)
                    break
            else:
                raise RuntimeError("microsocks would not start")
        yield Microsocks(
            open=started[0],
            auth=started[1],
            port=_port_of(started[0]),
            auth_port=_port_of(started[1]),
        )
    finally:
        for proc in started:
            proc.stop()


def _port_of(proc: ProxyProcess) -> int:
    args = proc.process.args
    assert isinstance(args, list)
    return int(args[args.index("-p") + 1])


@asynccontextmanager
async def hanging_proxy() -> AsyncIterator[int]:
    """A "proxy" that accepts, reads what the client sends, and never answers: its port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = int(listener.extra(anyio.abc.SocketAttribute.local_port))

    async def swallow(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                async for _ in stream:
                    pass
            except (anyio.BrokenResourceError, OSError):
                pass

    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, swallow)
        try:
            yield port
        finally:
            tasks.cancel_scope.cancel()
