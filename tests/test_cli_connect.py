"""``walink connect``: the JSON lines, the exit codes and the signals, against the emulator.

The command runs as a real subprocess (``python -m walink.cli connect``) while the emulator runs
in the test's own event loop, so the test plays the phone (``emulator.phone.scan_qr``) and the
server (faults, a removed device). Stdout is read line by line while the process runs: a line
that was not flushed when written would never arrive, and the read would time out.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
import sniffio
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.bounds import PROCESS_START
from tests.conftest import REPO_ROOT
from tests.io.proxies import PASSWORD, USER, Pproxy, run_pproxy
from walink.protocol.binary import Node
from walink.protocol.pairing_code import PAIRING_CODE_ALPHABET
from walink.testing.contacts import NoBundleError
from walink.testing.emulator import Emulator
from walink.testing.registry import DEFAULT_PHONE

LINE_WAIT = PROCESS_START
"""Seconds to wait for the next stdout line before failing: a bound on a hang only (under load
a starved machine took more than 15 s to start `walink connect` and print its first line)."""
STOP_BOUND = 10.0
"""A signalled or finished process must be gone within this many seconds."""

UPDATE_KEYS = [
    "v",
    "event",
    "connection",
    "qr",
    "is_new_login",
    "received_pending_notifications",
    "is_online",
]
CLOSE_KEYS = [*UPDATE_KEYS, "reason", "status", "message"]
DEVICE_REMOVED = Node(
    "stream:error", {"code": "401"}, [Node("conflict", {"type": "device_removed"})]
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def check_update_shape(line: dict[str, Any]) -> None:
    """A ``connection.update`` line is the full snapshot, keys in order, types exact."""
    keys = CLOSE_KEYS if line["connection"] == "close" else UPDATE_KEYS
    assert list(line) == keys, line
    assert line["v"] == 1 and line["event"] == "connection.update"
    assert line["connection"] in ("connecting", "open", "close")
    assert line["qr"] is None or (isinstance(line["qr"], str) and line["qr"])
    for flag in ("is_new_login", "received_pending_notifications", "is_online"):
        assert type(line[flag]) is bool
    if line["connection"] == "close":
        assert isinstance(line["reason"], str) and line["reason"].isupper()
        assert type(line["status"]) is int
        assert isinstance(line["message"], str)


class Connect:
    """A running ``walink connect``, its stdout read one JSON line at a time."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        assert process.stdout is not None
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self.lines: list[dict[str, Any]] = []

    async def line(self) -> dict[str, Any] | None:
        """The next stdout line, parsed; None at the end of stdout."""
        with anyio.fail_after(LINE_WAIT):
            try:
                raw = await self._stdout.receive_until(b"\n", 1 << 20)
            except (anyio.EndOfStream, anyio.IncompleteRead):
                return None
        line = json.loads(raw)
        assert isinstance(line, dict) and line["v"] == 1, raw
        if line["event"] == "connection.update":
            check_update_shape(line)
        self.lines.append(line)
        return line

    async def until(self, **expected: Any) -> dict[str, Any]:
        """Read lines until one has every ``expected`` key with its value."""
        while True:
            line = await self.line()
            assert line is not None, f"stdout ended before {expected}: {self.lines}"
            if all(line.get(key) == value for key, value in expected.items()):
                return line

    async def saw(self, **expected: Any) -> dict[str, Any]:
        """A line read already with every ``expected`` key and value, or the next one that has
        them (what a wait for one line among several that come in no fixed order needs)."""
        for line in self.lines:
            if all(line.get(key) == value for key, value in expected.items()):
                return line
        return await self.until(**expected)

    async def opened(self) -> dict[str, Any]:
        """Read until the connection opens, dropping what comes before, as a naive consumer
        does: nothing but connection updates may (the phone's history and the offline backlog
        arrive during the login's 812-key upload, and are published after the open)."""
        while True:
            line = await self.line()
            assert line is not None, f"stdout ended before the open: {self.lines}"
            if line["event"] == "connection.update" and line["connection"] == "open":
                return line
            assert line["event"] in ("connection.update", "pairing_code"), line

    async def qr(self) -> str:
        while True:
            line = await self.line()
            assert line is not None, f"stdout ended before a QR: {self.lines}"
            if line.get("qr") is not None:
                return str(line["qr"])

    async def finish(self) -> int:
        """Read the remaining lines and return the exit code (within ``STOP_BOUND``)."""
        while await self.line() is not None:
            pass
        with anyio.fail_after(STOP_BOUND):
            return await self.process.wait()

    async def stop(self, how: signal.Signals) -> int:
        started = time.monotonic()
        self.process.send_signal(how)
        code = await self.finish()
        assert time.monotonic() - started < STOP_BOUND
        return code

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        chunks = []
        with anyio.fail_after(STOP_BOUND):
            async for chunk in self.process.stderr:
                chunks.append(chunk)
        return b"".join(chunks).decode()


def last_update(run: Connect) -> dict[str, Any]:
    """The last connection.update line (history chunks saved late may still follow it)."""
    return [line for line in run.lines if line["event"] == "connection.update"][-1]


def connect_command(emulator: Emulator, auth: Path | str, *args: str) -> list[str]:
    backend = sniffio.current_async_library()
    command = [sys.executable, "-m", "walink.cli", "connect", "--json", "--backend", backend]
    command += ["--url", emulator.url, "--trust-root", emulator.trust_root_hex]
    return [*command, "--auth", str(auth), *args]


@asynccontextmanager
async def connect(
    emulator: Emulator, auth: Path | str, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[Connect]:
    """``walink connect --json`` on the test's own backend, trusting ``emulator``; ``env`` is
    added to the process's environment."""
    environment = {**os.environ, **env} if env is not None else None
    async with await anyio.open_process(
        connect_command(emulator, auth, *args), cwd=REPO_ROOT, env=environment
    ) as process:
        try:
            yield Connect(process)
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.fail_after(STOP_BOUND):
                    await process.wait()


async def link(emulator: Emulator, run: Connect) -> str:
    """Scan the QR the process shows; wait for its open; return the device's JID."""
    jid = await emulator.phone.scan_qr(await run.qr())
    await run.opened()
    return jid


@pytest.mark.anyio
async def test_qr_login_signals_and_saved_creds(tmp_path: Path) -> None:
    """QR login to open; SIGINT ends it with 0; the saved creds open again without a QR."""
    auth = tmp_path / "auth.db"
    async with Emulator() as emulator:
        async with connect(emulator, auth) as run:
            first = await run.line()
            assert first is not None and first["connection"] == "connecting"
            assert first["qr"] is None and first["is_new_login"] is False
            jid = await emulator.phone.scan_qr(await run.qr())
            new_login = await run.until(is_new_login=True)
            assert new_login["connection"] == "connecting"
            opened = await run.until(connection="open")
            assert opened["is_new_login"] is True
            assert await run.stop(signal.SIGINT) == 0
        last = last_update(run)
        assert (last["connection"], last["reason"], last["status"]) == ("close", "LOCAL_CLOSE", 428)
        assert jid.endswith("@s.whatsapp.net") and auth.is_file()

        async with connect(emulator, auth) as again:
            opened = await again.until(connection="open")
            assert opened["is_new_login"] is False
            # the backlog (the history the first run stopped before handling) comes after the
            # open, and only then is it over
            if not opened["received_pending_notifications"]:
                await again.until(connection="open", received_pending_notifications=True)
            assert await again.stop(signal.SIGTERM) == 0
        assert all(line.get("qr") is None for line in again.lines)
        assert last_update(again)["reason"] == "LOCAL_CLOSE"


@pytest.mark.anyio
async def test_received_messages_are_json_lines_of_exactly_this_shape(tmp_path: Path) -> None:
    """A contact's text and a group text: one ``messages.upsert`` line each, keys in order."""
    auth = tmp_path / "auth.db"
    # no history: its peer messages would come first (as append upserts of our own account)
    async with Emulator(history=None) as emulator, connect(emulator, auth) as run:
        jid = await link(emulator, run)
        alice = emulator.contact("15550002222", "Alice")
        with anyio.fail_after(LINE_WAIT):
            while True:  # the device's keys reach the server just after the open
                try:
                    first = await alice.send_text(jid, "hello")
                    break
                except NoBundleError:
                    await anyio.sleep(0.02)
        line = await run.until(event="messages.upsert")
        assert line == {
            "v": 1,
            "event": "messages.upsert",
            "type": "notify",
            "messages": [
                {
                    "id": first,
                    "remote_jid": "15550002222@s.whatsapp.net",
                    "from_me": False,
                    "participant": None,
                    "timestamp": line["messages"][0]["timestamp"],
                    "push_name": "Alice",
                    "text": "hello",
                }
            ],
        }
        assert list(line) == ["v", "event", "type", "messages"]
        assert list(line["messages"][0]) == [
            *("id", "remote_jid", "from_me", "participant", "timestamp", "push_name", "text")
        ]
        assert type(line["messages"][0]["timestamp"]) is int
        group = emulator.group("120363000000000007@g.us", ["15550003333"])
        second = await group.send_text("15550003333", jid, "hi, group")
        line = await run.until(event="messages.upsert")
        [message] = line["messages"]
        assert (message["id"], message["text"]) == (second, "hi, group")
        assert message["remote_jid"] == "120363000000000007@g.us"
        assert message["participant"] == "15550003333@s.whatsapp.net"
        assert await run.stop(signal.SIGTERM) == 0


@pytest.mark.anyio
async def test_capture_records_the_session(tmp_path: Path) -> None:
    """--capture writes a capture that ``walink replay`` reads back: with the phone's history
    and a contact's message, whose jobs the capture records, the replay gives the same events."""
    from walink.capture import read_capture

    capture = tmp_path / "run.jsonl"
    async with (
        Emulator() as emulator,
        connect(emulator, tmp_path / "auth.db", "--capture", str(capture)) as run,
    ):
        jid = await link(emulator, run)
        for _ in range(4):
            await run.until(event="messaging-history.set")
        alice = emulator.contact("15550002222", "Alice")
        sent = await alice.send_text(jid, "hello")
        while (await run.until(event="messages.upsert"))["messages"][0]["id"] != sent:
            pass  # an upsert of our phone's history notifications
        assert await run.stop(signal.SIGINT) == 0
    recorded = read_capture(capture)
    kinds = {record.kind for record in recorded.records}
    assert {"start", "in", "out", "event"} <= kinds
    commands = {r.data["name"] for r in recorded.records if r.kind == "command"}
    assert {"message_processed", "message_handled", "history_downloaded"} <= commands
    assert "hello" not in capture.read_text(encoding="utf-8")  # redacted by default
    replay = subprocess.run(
        [sys.executable, "-m", "walink.cli", "replay", "--json", str(capture)],
        capture_output=True,
        text=True,
        timeout=PROCESS_START,  # a whole run: its start is most of it
    )
    assert replay.returncode == 0, replay.stderr
    lines = [json.loads(raw) for raw in replay.stdout.splitlines()]
    assert lines[-1]["event"] == "replay.end" and lines[-1]["events_match"] is True
    names = [line["event"] for line in lines]
    assert names.count("history.chunk") == 4 and "message.processed" in names


@pytest.mark.anyio
async def test_logged_out_by_the_server_exits_3(tmp_path: Path) -> None:
    """The phone removes the device while it is open: LOGGED_OUT 401, exit 3."""
    async with Emulator() as emulator, connect(emulator, tmp_path / "auth.db") as run:
        jid = await link(emulator, run)
        assert await emulator.send_node(DEVICE_REMOVED, jid=jid) == 1
        assert await run.finish() == 3
    last = last_update(run)
    assert (last["connection"], last["reason"], last["status"]) == ("close", "LOGGED_OUT", 401)


# One backend only: the multi-file store writes (and fsyncs) one file per pre-key, 812 at the
# first login, which takes seconds; the store is the same code under either backend.
@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_folder_is_baileys_multi_file_layout(tmp_path: Path) -> None:
    folder = tmp_path / "baileys-auth"
    folder.mkdir()
    async with Emulator() as emulator, connect(emulator, folder) as run:
        await link(emulator, run)
        assert await run.stop(signal.SIGTERM) == 0
    creds = json.loads((folder / "creds.json").read_text())
    assert creds["me"]["id"].endswith("@s.whatsapp.net")
    # the phone's history took one one-time pre-key (X3DH), so not every id is left
    assert len(list(folder.glob("pre-key-*.json"))) > 1
    assert list(folder.glob("session-*.json"))  # the phone's Signal session, Baileys' layout


@pytest.mark.anyio
async def test_login_refused_exits_3(tmp_path: Path) -> None:
    """Saved creds the server no longer knows: ``<failure reason=401>`` at login, exit 3."""
    auth = tmp_path / "auth.db"
    async with Emulator() as emulator:
        async with connect(emulator, auth) as run:
            jid = await link(emulator, run)
            assert await run.stop(signal.SIGTERM) == 0
        phone, device = jid.split("@")[0].split(":")
        assert emulator.registry.remove_device(phone, int(device))
        async with connect(emulator, auth) as again:
            assert await again.finish() == 3
    closes = [line for line in again.lines if line["connection"] == "close"]
    assert [(c["reason"], c["status"]) for c in closes] == [("LOGGED_OUT", 401)]


@pytest.mark.anyio
async def test_qr_exhausted_exits_4(tmp_path: Path) -> None:
    """Nobody scans: every QR ref times out (--qr-timeout), QR_EXHAUSTED, exit 4."""
    qr_timeout = ("--qr-timeout", "0.1")
    async with Emulator() as emulator, connect(emulator, tmp_path / "auth.db", *qr_timeout) as run:
        assert await run.finish() == 4
    qrs = [line["qr"] for line in run.lines if line["qr"] is not None]
    assert len(qrs) > 1 and len(set(qrs)) == len(qrs)  # the QR rotated
    last = last_update(run)
    assert (last["connection"], last["reason"]) == ("close", "QR_EXHAUSTED")


@pytest.mark.anyio
async def test_pairing_code_login(tmp_path: Path) -> None:
    """--pairing-code prints its line; the phone types the code; open; SIGTERM ends with 0."""
    async with Emulator() as emulator:
        args = ("--pairing-code", f"+{DEFAULT_PHONE}")
        async with connect(emulator, tmp_path / "auth.db", *args) as run:
            line = await run.until(event="pairing_code")
            assert list(line) == ["v", "event", "code"]
            assert re.fullmatch(f"[{PAIRING_CODE_ALPHABET}]{{8}}", line["code"])
            await emulator.phone.enter_pairing_code(line["code"], DEFAULT_PHONE)
            opened = await run.until(connection="open")
            assert opened["is_new_login"] is True
            assert await run.stop(signal.SIGTERM) == 0
        # asked for at start, the code replaces the QR: none is ever shown
        assert all(line.get("qr") is None for line in run.lines)
        # the linked device logs in again with its creds: the option is then ignored
        async with connect(emulator, tmp_path / "auth.db", *args) as again:
            await again.until(connection="open")
            assert await again.stop(signal.SIGINT) == 0
    assert [line for line in again.lines if line["event"] == "pairing_code"] == []


@pytest.mark.anyio
async def test_pairing_timeout_exits_4(tmp_path: Path) -> None:
    """Nobody types the code within --pairing-timeout: PAIRING_TIMEOUT, exit 4."""
    # the timeout starts at the code request and also covers the server's answer with the code:
    # a loaded machine took more than 0.3 s for that answer, and the request failed (exit 1)
    args = ("--pairing-code", DEFAULT_PHONE, "--pairing-timeout", "2")
    async with Emulator() as emulator, connect(emulator, tmp_path / "auth.db", *args) as run:
        assert await run.finish() == 4
    assert [line["event"] for line in run.lines].count("pairing_code") == 1
    last = last_update(run)
    assert (last["connection"], last["reason"]) == ("close", "PAIRING_TIMEOUT")


@pytest.mark.anyio
async def test_rate_limited_pairing_code_exits_1(tmp_path: Path) -> None:
    """A 429 to companion_hello: no code line, the error on stderr, exit 1."""
    async with Emulator() as emulator:
        emulator.pairing_code_rate_limited = True
        async with connect(emulator, tmp_path / "auth.db", "--pairing-code", DEFAULT_PHONE) as run:
            assert await run.finish() == 1
            err = await run.stderr()
    assert all(line["event"] == "connection.update" for line in run.lines)
    assert "no pairing code" in err and "try again later" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--url", "http://127.0.0.1:1/ws/chat"],
        ["--url", "ws://"],
        ["--url", "ws://127.0.0.1:port/ws/chat"],
        ["--url", "ws://127.0.0.1:1/ws chat"],  # a space in the path: was an h11 traceback
        ["--url", "ws://127.0.0.1:1/ws/chat\r\nX-Injected: 1"],
        ["--url", "ws://127.0.0.1:1/wś"],
        ["--capture", "no-such-folder/capture.jsonl"],
        ["--capture", "."],  # a folder
        ["--trust-root", "abcd"],
        ["--trust-root", "zz" * 32],
        ["--qr-timeout", "0"],
        ["--qr-timeout", "soon"],
        ["--pairing-timeout", "-1"],
        ["--pairing-code", "0123456789"],
        ["--pairing-code", "12ab45678"],
        ["--bogus"],
    ],
)
def test_bad_arguments_exit_2(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "walink.cli", "connect", "--json", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROCESS_START,  # a whole run: its start is most of it
    )
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert "usage: walink" in result.stderr or "walink connect:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "walink-auth.db").exists()


def test_unusable_store_exits_2(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a SQLite database, nor anything else" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "walink.cli", "connect", "--json", "--auth", str(corrupt)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROCESS_START,  # a whole run: its start is most of it
    )
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    (line,) = result.stderr.splitlines()  # one line: what is wrong, and what to do
    assert line.startswith(f"walink connect: the store {corrupt} cannot be used: ")
    assert line.endswith("restore it from a backup, or link this machine again with a new --auth")


@pytest.mark.anyio
async def test_a_second_connect_on_the_same_store_is_refused_at_once(tmp_path: Path) -> None:
    auth = f"{tmp_path / 'auth_info_baileys'}/"  # a trailing "/": a new Baileys folder
    async with Emulator() as emulator, connect(emulator, auth) as first:
        await first.qr()  # not linked, nothing saved yet: the store is held all the same
        assert (tmp_path / "auth_info_baileys").is_dir()
        second = await anyio.run_process(
            connect_command(emulator, auth), cwd=REPO_ROOT, check=False
        )
        assert (second.returncode, second.stdout) == (2, b"")
        assert second.stderr.decode().splitlines() == [
            f"walink connect: the store {auth} is in use: another writer holds the credential "
            f"folder (pid {first.process.pid}): {tmp_path / 'auth_info_baileys'}; stop that "
            "process or use another --auth"
        ]
        assert await first.stop(signal.SIGTERM) == 0


@pytest.mark.anyio
async def test_plain_mode_default_store_and_qr_on_stderr(tmp_path: Path) -> None:
    """Without --json: readable lines on stdout, the QR drawn on stderr, ./walink-auth.db."""
    async with Emulator() as emulator:
        command = [sys.executable, "-m", "walink.cli", "connect", "--url", emulator.url]
        command += ["--trust-root", emulator.trust_root_hex]
        async with await anyio.open_process(command, cwd=tmp_path) as process:
            assert process.stdout is not None and process.stderr is not None
            stdout = BufferedByteReceiveStream(process.stdout)
            with anyio.fail_after(LINE_WAIT):
                while b"new QR shown" not in await stdout.receive_until(b"\n", 1 << 16):
                    pass
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(STOP_BOUND):
                rest = b""
                async for chunk in process.stdout:
                    rest += chunk
                err = b"".join([chunk async for chunk in process.stderr]).decode()
                assert await process.wait() == 0
    assert "stopped" in rest.decode() and "not reconnecting: as asked" in rest.decode()
    assert "█" in err or "▀" in err  # segno's terminal drawing
    # a device never linked saves nothing it would need, but the default store is where it said
    assert not (tmp_path / "walink-auth.db").is_dir()


@pytest.mark.anyio
async def test_a_store_the_server_logged_out_exits_3_without_dialing(tmp_path: Path) -> None:
    """The run the server logged out saves the mark; the next run refuses at once (exit 3)."""
    from walink.auth import SQLiteStore

    auth = tmp_path / "auth.db"
    async with Emulator() as emulator:
        async with connect(emulator, auth) as run:
            jid = await link(emulator, run)
            assert await emulator.send_node(DEVICE_REMOVED, jid=jid) == 1
            assert await run.finish() == 3
        with SQLiteStore(auth) as store:
            creds = store.load()
        assert creds is not None and creds.logged_out and creds.me is not None
        assert creds.me.id == jid

        async with connect(emulator, auth) as again:
            assert await again.finish() == 3
            err = await again.stderr()
        # no attempt was started: not even the "connecting" update a dial begins with
        assert [line for line in again.lines if line["event"] == "connection.update"] == []
        assert not emulator.sessions()
    assert f"walink connect: {auth}: these credentials were logged out" in err
    assert "link the device again with a new store" in err


@pytest.mark.anyio
async def test_client_refuses_logged_out_creds_with_a_typed_error() -> None:
    # the Client under the command (belongs with tests/scenarios/test_client_api.py)
    import dataclasses

    from walink.auth import Creds, MemoryStore
    from walink.io import Client, LoggedOutError
    from walink.io.errors import ClientClosedError

    store = MemoryStore()
    store.save(dataclasses.replace(Creds.new(), logged_out=True))
    client = Client(store)
    with pytest.raises(LoggedOutError, match="logged out") as raised:
        async with client:
            pytest.fail("entered a Client with logged-out creds")
    assert isinstance(raised.value, ClientClosedError)
    assert client.creds is None and client.connection == "close"
    loaded = store.load()  # the store is left as it was, still usable
    assert loaded is not None and loaded.logged_out


# -- --proxy -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pproxy]:
    with run_pproxy(tmp_path_factory.mktemp("pproxy")) as proxy:
        yield proxy


@pytest.mark.parametrize(
    "proxy",
    [
        f"https://{USER}:{PASSWORD}@127.0.0.1:8443",
        f"socks5://{USER}:{PASSWORD}@127.0.0.1",
        f"http://a%3Ab:{PASSWORD}@127.0.0.1:8080",
    ],
)
def test_unusable_proxy_exits_2_without_showing_its_password(proxy: str, tmp_path: Path) -> None:
    for how in (["--proxy", proxy], []):
        result = subprocess.run(
            [sys.executable, "-m", "walink.cli", "connect", "--json", *how],
            cwd=tmp_path,
            env={**os.environ, "WALINK_PROXY": proxy},
            capture_output=True,
            text=True,
            timeout=PROCESS_START,  # a whole run: its start is most of it
        )
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert "proxy" in result.stderr and PASSWORD not in result.stderr


@pytest.mark.anyio
async def test_links_through_a_proxy_named_by_the_environment(
    tmp_path: Path, pproxy: Pproxy
) -> None:
    proxy = f"socks5://{USER}:{PASSWORD}@127.0.0.1:{pproxy.socks5_auth}"
    async with (
        Emulator() as emulator,
        # no -v: nobody reads stderr while it runs, and the DEBUG trace would fill the pipe
        connect(emulator, tmp_path / "auth.db", env={"WALINK_PROXY": proxy}) as run,
    ):
        await link(emulator, run)
        assert await run.stop(signal.SIGINT) == 0
        err = await run.stderr()
        assert f"-> 127.0.0.1:{emulator.port}" in pproxy.log_text()
    assert PASSWORD not in err and "".join(map(str, run.lines)).find(PASSWORD) == -1


@pytest.mark.anyio
async def test_a_proxy_refusing_the_credentials_exits_1_with_proxy_error(
    tmp_path: Path, pproxy: Pproxy
) -> None:
    proxy = f"http://{USER}:not-{PASSWORD}@127.0.0.1:{pproxy.http_auth}"
    async with (
        Emulator() as emulator,
        connect(emulator, tmp_path / "auth.db", "-v", "--proxy", proxy) as run,
    ):
        assert await run.finish() == 1
        err = await run.stderr()
        assert not emulator.sessions()
    [close] = [line for line in run.lines if line.get("connection") == "close"]
    assert (close["reason"], close["status"]) == ("PROXY_ERROR", 500)
    assert "407" in close["message"] and "http://***@127.0.0.1" in close["message"]
    assert "refused the credentials" in err
    assert PASSWORD not in err and PASSWORD not in json.dumps(run.lines)


HISTORY_KEYS = [
    "v",
    "event",
    "sync_type",
    "chunk_order",
    "progress",
    "is_latest",
    "chats",
    "contacts",
    "messages",
]


@pytest.mark.anyio
async def test_the_history_is_shown_one_json_line_per_chunk(tmp_path: Path) -> None:
    """A new login gets the emulator phone's history: one exact line per chunk, one per
    status; the blobs come from the emulator with no further option."""
    from walink.testing.history import default_fixture

    fixture = default_fixture()
    async with Emulator() as emulator, connect(emulator, tmp_path / "auth.db") as run:
        await link(emulator, run)
        chunks = [await run.until(event="messaging-history.set") for _ in range(4)]
        for line in chunks:
            assert list(line) == HISTORY_KEYS, line
        by_order = sorted(chunks, key=lambda line: line["chunk_order"])
        assert [c["sync_type"] for c in by_order] == [
            "INITIAL_BOOTSTRAP",
            "RECENT",
            "RECENT",
            "PUSH_NAME",
        ]
        assert [c["is_latest"] for c in by_order] == [True, False, False, False]
        assert [c["progress"] for c in by_order] == [0, 50, 100, None]
        assert by_order[0]["chats"] == len(fixture.bootstrap)
        assert by_order[0]["messages"] == sum(len(c.messages) for c in fixture.bootstrap)
        assert by_order[3]["contacts"] == len(fixture.push_names)
        assert sum(c["messages"] for c in chunks) == fixture.message_count()

        def statuses() -> list[dict[str, Any]]:
            return [line for line in run.lines if line["event"] == "messaging-history.status"]

        while len(statuses()) < 2:
            await run.until(event="messaging-history.status")
        assert {(s["sync_type"], s["status"]) for s in statuses()} == {
            ("INITIAL_BOOTSTRAP", "complete"),
            ("RECENT", "complete"),
        }
        assert all(list(s) == ["v", "event", "sync_type", "status"] for s in statuses())
        assert await run.stop(signal.SIGINT) == 0
