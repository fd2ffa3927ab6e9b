"""The message pipeline end to end, acks after the application: messages per second.

    python -m benchmarks.delivery [--messages N] [--store memory|sqlite]

A device paired with the emulator is offline while a contact sends it ``N`` texts (they wait in
its offline backlog, encrypted beforehand, so the contact's work is not timed). Then a
``Client`` connects; its consumer takes each event at once (``async for``). Timed: from the
connection's open to the server holding the ack of the last message, that is every message
pulled from the backlog, decrypted, committed with its Signal state, published, handled by the
application, and only then receipted and acked. On SQLite every commit is a transaction on
disk. There is no peer to compare with: the rows are walink's own rates.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks import Row

__all__ = ["measure", "run"]

_CONTACT = "15550002222"


async def _delivery(kind: str, count: int) -> float:
    """Seconds from open to the last ack, for ``count`` backlog texts on a ``kind`` store."""
    import anyio

    from walink.auth import AuthStore, MemoryStore, SQLiteStore
    from walink.io.client import Client
    from walink.io.config import ClientConfig
    from walink.io.events import ConnectionUpdate
    from walink.testing import Emulator

    async with Emulator(ping_interval=None, history=None) as emulator:
        config = ClientConfig(url=emulator.url, trust_root=emulator.trust_root)
        paired = MemoryStore()
        async with Client(paired, config) as client:
            async for event in client:
                if isinstance(event, ConnectionUpdate) and event.qr is not None:
                    await emulator.phone.scan_qr(event.qr)
                elif isinstance(event, ConnectionUpdate) and event.connection == "open":
                    break
        creds = paired.load()
        assert creds is not None and creds.me is not None
        jid = creds.me.id
        with tempfile.TemporaryDirectory() as folder:
            store: AuthStore = paired
            if kind == "sqlite":
                store = SQLiteStore(Path(folder) / "auth.db")
                store.save(creds)
                ids = paired.list_key_ids("pre-key")
                store.set_keys({"pre-key": dict(paired.get_keys("pre-key", ids).items())})
            contact = emulator.contact(_CONTACT, "Bench")
            sent = {await contact.send_text(jid, f"text {n}") for n in range(count)}

            def acked() -> set[str]:
                return {
                    n.attrs["id"]
                    for s in emulator.sessions()
                    for n in s.received
                    if n.tag == "ack" and n.attr("class") == "message"
                }

            opened_at = 0.0
            async with Client(store, config) as client, anyio.create_task_group() as tasks:

                async def consume() -> None:
                    nonlocal opened_at
                    async for event in client:  # handled at once: the next one is asked for
                        if isinstance(event, ConnectionUpdate) and event.connection == "open":
                            opened_at = time.perf_counter()

                tasks.start_soon(consume)
                with anyio.fail_after(600):
                    while not sent <= acked():
                        await anyio.sleep(0.002)
                done = time.perf_counter()
                tasks.cancel_scope.cancel()
            if kind == "sqlite":
                store.close()
    return done - opened_at


def measure(kind: str, count: int) -> float:
    """Messages per second through the whole pipeline on a ``kind`` store."""
    import anyio

    return count / anyio.run(_delivery, kind, count)


def run(messages: int = 300) -> list[Row]:
    """The ``make bench`` entry point: walink's msg/s on MemoryStore and SQLite, no peer."""
    return [
        Row(
            name=f"delivery: {kind} backlog decrypted, handled, then acked",
            walink=measure(kind, messages),
            peer=None,
            unit="msg/s",
        )
        for kind in ("memory", "sqlite")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--store", choices=("memory", "sqlite"), action="append")
    args = parser.parse_args(argv)
    for kind in args.store or ("memory", "sqlite"):
        rate = measure(kind, args.messages)
        print(f"{kind}: {args.messages} messages, {rate:.0f} msg/s (open to the last ack)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
