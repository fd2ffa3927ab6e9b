"""The scenario harness: a ``Client`` against the ``Emulator`` over loopback, with a recorder.

``Recorder`` consumes a client's events in a task (as an application would) and lets a test wait
for the one it expects, always under a deadline, so a broken scenario fails instead of hanging.
"""

from __future__ import annotations

import base64
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import anyio.abc

from tests.bounds import EVENT_WAIT
from walink.auth import MemoryStore
from walink.auth.model import Creds
from walink.fsm.policy import PolicyConfig
from walink.io.client import Client
from walink.io.config import ClientConfig
from walink.io.events import ClientEvent, Closed, ConnectionUpdate, CredsUpdate, NodeReceived
from walink.protocol.binary import Node
from walink.testing.emulator import Emulator

PING = Node("iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"}, [Node("ping")])
"""A query the emulator answers with a result."""

WAIT = EVENT_WAIT
"""Seconds a scenario waits for an expected event before it fails (a bound on a hang only)."""

FAST_POLICY = PolicyConfig(backoff_unit=0.01, backoff_cap=0.05, jitter=0.0)
"""Backoff in hundredths of a second, so reconnect scenarios run in milliseconds."""


def config_for(emulator: Emulator, seed: int = 0, **overrides: Any) -> ClientConfig:
    """A client configuration that talks to ``emulator`` and reconnects quickly."""
    base = ClientConfig(
        url=emulator.url,
        trust_root=emulator.trust_root,
        rng=random.Random(seed),
        policy=FAST_POLICY,
        close_timeout=0.3,
    )
    return replace(base, **overrides)


class Recorder:
    """Every event a client published, in order, with waits on them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.events: list[ClientEvent] = []
        self._changed = anyio.Event()
        self.done = anyio.Event()
        self.on_qr: Callable[[str], Any] | None = None

    async def run(self) -> None:
        try:
            async for event in self.client:
                self.events.append(event)
                self._changed.set()
                self._changed = anyio.Event()
        finally:
            self.done.set()
            self._changed.set()

    @property
    def updates(self) -> list[ConnectionUpdate]:
        return [e for e in self.events if isinstance(e, ConnectionUpdate)]

    @property
    def closes(self) -> list[Closed]:
        return [e for e in self.events if isinstance(e, Closed)]

    @property
    def close_updates(self) -> list[ConnectionUpdate]:
        return [e for e in self.updates if e.connection == "close"]

    @property
    def nodes(self) -> list[NodeReceived]:
        return [e for e in self.events if isinstance(e, NodeReceived)]

    @property
    def creds_updates(self) -> list[CredsUpdate]:
        return [e for e in self.events if isinstance(e, CredsUpdate)]

    @property
    def qrs(self) -> list[str]:
        seen: list[str] = []
        for update in self.updates:
            if update.qr is not None and (not seen or seen[-1] != update.qr):
                seen.append(update.qr)
        return seen

    async def wait_for(
        self, predicate: Callable[[ClientEvent], bool], *, start: int = 0, timeout: float = WAIT
    ) -> ClientEvent:
        """The first event from index ``start`` on that matches (waiting for it if needed)."""
        with anyio.fail_after(timeout):
            index = start
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if predicate(event):
                        return event
                if self.done.is_set():
                    raise AssertionError(f"the events ended without a match: {self.events}")
                await self._changed.wait()

    async def wait_open(self, *, timeout: float = WAIT) -> ConnectionUpdate:
        event = await self.wait_for(
            lambda e: isinstance(e, ConnectionUpdate) and e.connection == "open", timeout=timeout
        )
        assert isinstance(event, ConnectionUpdate)
        return event

    async def wait_closed(self, count: int = 1, *, timeout: float = WAIT) -> Closed:
        """The ``count``-th ``Closed`` event."""
        with anyio.fail_after(timeout):
            while len(self.closes) < count:
                if self.done.is_set():
                    raise AssertionError(f"only {len(self.closes)} closes: {self.closes}")
                await self._changed.wait()
        return self.closes[count - 1]


@asynccontextmanager
async def running(client: Client) -> AsyncIterator[Recorder]:
    """Enter ``client`` and record its events until the block ends (then close it)."""
    async with client, anyio.create_task_group() as task_group:
        recorder = Recorder(client)
        task_group.start_soon(recorder.run)
        try:
            yield recorder
        finally:
            with anyio.fail_after(WAIT):
                await client.aclose()
                await recorder.done.wait()


async def scan_when_shown(emulator: Emulator, recorder: Recorder) -> str:
    """Wait for the first QR, hand it to the simulated phone, return the new device's JID."""
    update = await recorder.wait_for(lambda e: isinstance(e, ConnectionUpdate) and e.qr is not None)
    assert isinstance(update, ConnectionUpdate) and update.qr is not None
    return await emulator.phone.scan_qr(update.qr)


async def paired_store(emulator: Emulator, seed: int = 0) -> MemoryStore:
    """A store holding the creds of a device linked to ``emulator`` (QR, 515, login, close).

    It closes once the phone's history, which arrives during the login and is published after
    the open, is handled and acked: the next login does not get it again."""
    store = MemoryStore()
    async with running(Client(store, config_for(emulator, seed))) as recorder:
        await scan_when_shown(emulator, recorder)
        await recorder.wait_open()
        with anyio.fail_after(WAIT):
            while any(session.unacked_messages for session in emulator.sessions()):
                await anyio.sleep(0.01)
    return store


def secret_bytes(creds: Creds) -> list[bytes]:
    """Everything of ``creds`` that must never reach a log or a capture."""
    found = [
        creds.noise_key.private,
        creds.pairing_ephemeral_key_pair.private,
        creds.signed_identity_key.private,
        creds.signed_pre_key.key_pair.private,
        creds.signed_pre_key.signature,
        creds.adv_secret_key,
    ]
    account = creds.account
    if account is not None:
        for blob in (account.account_signature, account.device_signature):
            if blob is not None:
                found.append(blob)
    return found


def secret_texts(creds: Creds) -> list[str]:
    """``secret_bytes`` as text could show them: hex, base64 (both alphabets), without padding,
    and their first bytes alone (a log line cuts long contents short)."""
    texts: list[str] = []
    for blob in secret_bytes(creds):
        for part in (blob, blob[:15]):
            texts.append(part.hex())
            texts.append(base64.b64encode(part).decode().rstrip("="))
            texts.append(base64.urlsafe_b64encode(part).decode().rstrip("="))
    return texts
