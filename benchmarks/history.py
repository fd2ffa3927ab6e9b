"""History chunk throughput: verify + decrypt + inflate + parse (+ the HistorySet) of one chunk.

Run: ``python -m benchmarks.history`` (``--size-mib 32`` by default; ``--login CHATS MESSAGES``
times a new login to the last ``messaging-history.set`` against the emulator; ``make bench`` calls
``run()``: an 8 MiB chunk, best of 2, two rows of walink's own MiB/s, no peer). It builds a
deterministic RECENT chunk of about that many MiB of inflated ``HistorySync`` (chats of varied
text messages, so that zlib compresses it about as much as real chats), encrypts it as the phone
uploads it, then times, best of ``--repeat`` runs:

- verify + decrypt: the four checks of ``HistoryDownload.verify`` (two SHA-256, the HMAC, AES-CBC);
- inflate: zlib with the size cap, streamed;
- parse: ``HistorySync`` protobuf;
- event: ``history_set`` (chats, contacts, ``WebMessage`` objects);

and prints MB/s of each step and of the whole, against the inflated size and the download size.

``--emulator CHATS MESSAGES`` (e.g. ``--emulator 1000 50000``) instead times the history of a
new login against a running ``Emulator`` without the Signal hop (the session does not wire
history yet): the phone plans the history (inline bootstrap, RECENT blobs on its port), and the
client side takes each notification in order: inline payload or ``media_conn`` host download
over HTTP, the four checks, inflate, parse, ``history_set``. It prints the time to the last set.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, this folder is sys.path[0], where signal.py would shadow the standard
    # library's module: put the repository root there instead, which also finds benchmarks.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import gc
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from benchmarks import Row
from walink.protocol.history import (
    DEFAULT_MAX_HISTORY_SIZE,
    HistoryDownload,
    history_set,
    inflate_history,
    parse_history_sync,
)
from walink.protocol.proto import e2e_pb2
from walink.testing.history import FixtureChat, FixtureMessage, encrypted_blob, history_sync_of

T = TypeVar("T")

_TEXT = (
    "ok sure tomorrow meeting lunch call me later thanks see you the report is ready "
    "did you get it where are we going tonight happy birthday good morning on my way "
    "running late sorry photo great idea let's do it what time works for you 🙂 👍"
)
_WORDS = tuple(_TEXT.split(" "))


def build_chunk(size: int, seed: int = 1) -> e2e_pb2.HistorySync:
    """A RECENT ``HistorySync`` whose encoding is at least ``size`` bytes."""
    rng = random.Random(seed)
    chats: list[FixtureChat] = []
    total = 0
    index = 0
    while total < size:
        messages = tuple(
            FixtureMessage(
                id="3EB0" + rng.randbytes(8).hex().upper(),
                text=" ".join(rng.choice(_WORDS) for _ in range(rng.randrange(2, 30))),
                timestamp=1_700_000_000 - n * rng.randrange(30, 600),
                from_me=rng.random() < 0.4,
            )
            for n in range(200)
        )
        chat = FixtureChat(f"1555{index:07d}@s.whatsapp.net", f"Contact {index}", messages)
        chats.append(chat)
        total += len(history_sync_of(e2e_pb2.HistorySync.RECENT, chats=[chat]).SerializeToString())
        index += 1
    return history_sync_of(e2e_pb2.HistorySync.RECENT, chats=chats, chunk_order=1, progress=50)


def best(repeat: int, step: Callable[[], T]) -> tuple[float, T]:
    """The fastest of ``repeat`` runs of ``step`` (seconds) and its last result."""
    times = []
    result: T | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    assert result is not None
    return min(times), result


async def emulator_login(chats: int, messages: int, recent_chunks: int) -> None:
    """The phone's history of a new login, from the emulator to the last ``HistorySet``."""
    # imported here: the chunk benchmark needs neither anyio nor httpx
    from walink.io.media import HttpDownloader, download_history
    from walink.protocol.history import decode_history, history_notification, history_source
    from walink.testing import Emulator
    from walink.testing.history import generated_fixture

    fixture = generated_fixture(chats, messages, recent_chunks=recent_chunks)
    async with Emulator(ping_interval=None) as emulator:
        start = time.perf_counter()
        planned = emulator.plan_history(fixture)
        planned_at = time.perf_counter()
        downloader = HttpDownloader()
        received = 0
        for item in planned:
            notification = history_notification(item.message, from_me=True)
            assert notification is not None
            source = history_source(notification, item.message_id)
            if isinstance(source, HistoryDownload):
                source = await download_history(downloader, source, emulator.hub.media_hosts)
            result = history_set(decode_history(source), notification, is_latest=received == 0)
            received += len(result.messages)
        done = time.perf_counter()
    assert received == messages
    print(
        f"emulator history: {chats} chats, {messages} messages in {len(planned)} chunks: "
        f"phone side (encode + encrypt) {(planned_at - start) * 1000:.0f} ms, client side "
        f"(download + verify + inflate + parse + HistorySet) {(done - planned_at) * 1000:.0f} ms, "
        f"total {(done - start) * 1000:.0f} ms"
    )


async def client_login(chats: int, messages: int, recent_chunks: int) -> None:
    """From a new login's QR scan to the last ``HistorySet`` a ``Client`` publishes."""
    import anyio

    from walink.auth.memory_store import MemoryStore
    from walink.io.client import Client
    from walink.io.config import ClientConfig
    from walink.io.events import ConnectionUpdate
    from walink.protocol.history import HistorySet
    from walink.testing import Emulator
    from walink.testing.history import generated_fixture

    fixture = generated_fixture(chats, messages, recent_chunks=recent_chunks)
    async with Emulator(ping_interval=None, history=fixture) as emulator:
        config = ClientConfig(url=emulator.url, trust_root=emulator.trust_root)
        received = chunks = 0
        scanned_at = 0.0
        async with Client(MemoryStore(), config) as client:
            with anyio.fail_after(600):
                async for event in client:
                    if isinstance(event, ConnectionUpdate) and event.qr and not scanned_at:
                        await emulator.phone.scan_qr(event.qr)
                        scanned_at = time.perf_counter()
                    elif isinstance(event, HistorySet):
                        received += len(event.messages)
                        chunks += 1
                        if received >= messages:
                            break
            done = time.perf_counter()
    assert received == messages
    print(
        f"client history: {chats} chats, {messages} messages in {chunks} chunks: "
        f"{(done - scanned_at) * 1000:.0f} ms from the new login (QR scan) to the last "
        f"messaging-history.set"
    )


@dataclass(frozen=True, slots=True)
class ChunkTimes:
    """Best seconds of each step on one chunk, and the chunk's sizes."""

    inflated: int
    """Bytes of encoded ``HistorySync``."""
    download: int
    """Bytes of the encrypted download."""
    chats: int
    messages: int
    verify: float
    inflate: float
    parse: float
    event: float

    @property
    def pipeline(self) -> float:
        """verify + decrypt + inflate + parse."""
        return self.verify + self.inflate + self.parse


def measure_chunk(size_mib: float, repeat: int) -> ChunkTimes:
    """Build, encrypt and time one chunk of about ``size_mib`` MiB of ``HistorySync``."""
    sync = build_chunk(int(size_mib * 1024 * 1024))
    encoded = sync.SerializeToString()
    compressed = zlib.compress(encoded)
    media_key = bytes(range(32))
    request, data = encrypted_blob(compressed, media_key, message_id="BENCH", direct_path="/bench")
    notification = e2e_pb2.Message.HistorySyncNotification(
        sync_type=e2e_pb2.Message.RECENT, chunk_order=1
    )
    messages = sum(len(c.messages) for c in sync.conversations)
    del sync
    gc.collect()

    verify_s, plain = best(repeat, lambda: request.verify(data))
    inflate_s, inflated = best(
        repeat, lambda: inflate_history(plain, max_size=DEFAULT_MAX_HISTORY_SIZE)
    )
    parse_s, parsed = best(repeat, lambda: parse_history_sync(inflated))
    event_s, result = best(repeat, lambda: history_set(parsed, notification, is_latest=False))
    assert len(result.messages) == messages
    return ChunkTimes(
        inflated=len(encoded),
        download=len(data),
        chats=len(parsed.conversations),
        messages=messages,
        verify=verify_s,
        inflate=inflate_s,
        parse=parse_s,
        event=event_s,
    )


_MIB = 1024 * 1024


def run(size_mib: float = 8.0, repeat: int = 2) -> list[Row]:
    """The ``make bench`` entry point: walink's MiB/s of HistorySync, no peer to compare with."""
    times = measure_chunk(size_mib, repeat)
    size = times.inflated / _MIB
    return [
        Row(
            name=f"history: verify+decrypt+inflate+parse of a {size:.0f} MiB chunk",
            walink=size / times.pipeline,
            peer=None,
            unit="MiB/s",
        ),
        Row(
            name="history: the same with the HistorySet",
            walink=size / (times.pipeline + times.event),
            peer=None,
            unit="MiB/s",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=float, default=32.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--emulator", type=int, nargs=2, metavar=("CHATS", "MESSAGES"))
    parser.add_argument("--login", type=int, nargs=2, metavar=("CHATS", "MESSAGES"))
    parser.add_argument("--recent-chunks", type=int, default=4)
    args = parser.parse_args(argv)
    if args.login is not None:
        import anyio

        anyio.run(client_login, args.login[0], args.login[1], args.recent_chunks)
        return 0
    if args.emulator is not None:
        import anyio

        anyio.run(emulator_login, args.emulator[0], args.emulator[1], args.recent_chunks)
        return 0

    times = measure_chunk(args.size_mib, args.repeat)
    mib = _MIB
    encoded_size, download_size = times.inflated, times.download
    total = times.pipeline
    print(
        f"chunk: {encoded_size / mib:.1f} MiB HistorySync, {download_size / mib:.1f} MiB "
        f"download, {times.chats} chats, {times.messages} messages"
    )
    for name, seconds, size in (
        ("verify+decrypt", times.verify, download_size),
        ("inflate", times.inflate, encoded_size),
        ("parse", times.parse, encoded_size),
        ("HistorySet", times.event, encoded_size),
    ):
        print(f"  {name:15} {seconds * 1000:8.1f} ms  {size / mib / seconds:8.1f} MiB/s")
    print(
        f"verify+decrypt+inflate+parse: {total * 1000:.1f} ms = "
        f"{encoded_size / mib / total:.1f} MiB/s of HistorySync "
        f"({download_size / mib / total:.1f} MiB/s of download); "
        f"with the HistorySet: {encoded_size / mib / (total + times.event):.1f} MiB/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
