"""Helpers for the tests of events that wait for the application: handlers that block.

``Blocking`` is an ``on()`` handler that holds the first event it gets until the test releases
it; ``Updates`` is a ``connection.update`` handler that tells the test when the QR is shown and
when the connection opened. The message and history tests use them alike: while the handler
blocks, nothing about its event (a receipt, an ack, a chunk recorded) may leave.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import anyio

from walink.io.events import ConnectionUpdate

E = TypeVar("E")


class Blocking(Generic[E]):
    """An ``on()`` handler: records every event, and blocks in each until ``release`` is set."""

    def __init__(self) -> None:
        self.seen: list[E] = []
        self.entered = anyio.Event()
        """Set once the handler got its first event."""
        self.release = anyio.Event()

    async def __call__(self, event: E) -> None:
        self.seen.append(event)
        self.entered.set()
        await self.release.wait()

    async def wait_entered(self, timeout: float = 10) -> None:
        with anyio.fail_after(timeout):
            await self.entered.wait()


class Updates:
    """A ``connection.update`` handler: the QRs shown, and whether the connection opened."""

    def __init__(self) -> None:
        self.qrs: list[str] = []
        self.shown = anyio.Event()
        self.opened = anyio.Event()

    def __call__(self, event: ConnectionUpdate) -> None:
        if event.qr is not None:
            self.qrs.append(event.qr)
            self.shown.set()
        if event.connection == "open":
            self.opened.set()
