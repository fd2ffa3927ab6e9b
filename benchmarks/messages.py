"""The message pipeline: ``<message>`` stanzas through ``SignalProcessor``, committed to a store.

Run: ``python benchmarks/messages.py [--messages 2000]`` (or ``python -m benchmarks.messages``;
``make bench`` calls ``run()`` with a smaller count). A sender (walink's Signal core playing
another user) opens a session with a pkmsg, our device answers once, and the sender then writes
N ``msg`` stanzas of one chain. Each stanza is processed the way a client does it: look up the
redelivery buffer, decrypt, then commit the session, the decrypted message and its buffer entry
in one store batch. Reported in messages per second (wall clock: a SQLite commit waits for its
fsync), on a ``MemoryStore`` and on a ``SQLiteStore`` in a temporary folder, plus the rate of
redeliveries answered from the buffer.

There is no peer row: Baileys' pipeline needs a socket around it. The figure is for comparing
walink with itself (before/after a change, one store against another).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from benchmarks import Row  # noqa: E402
from walink._receive import SignalProcessor  # noqa: E402
from walink._receive.addresses import signal_address  # noqa: E402
from walink.auth.memory_store import MemoryStore  # noqa: E402
from walink.auth.model import Contact, Creds  # noqa: E402
from walink.auth.sqlite_store import SQLiteStore  # noqa: E402
from walink.auth.store import AuthStore  # noqa: E402
from walink.protocol.binary import Node  # noqa: E402
from walink.protocol.keys import KeyPair, generate_registration_id  # noqa: E402
from walink.protocol.signal import (  # noqa: E402
    PreKeyBundle,
    SessionRecord,
    decrypt_message,
    encrypt,
    pad,
    start_session,
)
from walink.testing.contacts import text_message  # noqa: E402

T0 = int(time.time())  # recent: older entries would be pruned from the buffer mid-run
ME = "15550001111:3@s.whatsapp.net"
SENDER = "15550002222@s.whatsapp.net"


def _stanzas(store: AuthStore, creds: Creds, count: int, seed: int = 7) -> list[Node]:
    """A pkmsg processed at once (to open the session), our reply, then ``count`` msg stanzas."""
    rng = random.Random(seed).randbytes
    identity = KeyPair.generate(rng)
    registration = generate_registration_id(rng)
    pre_key = KeyPair.generate(rng)
    store.set_keys({"pre-key": {"1": pre_key}})
    bundle = PreKeyBundle(
        registration_id=creds.registration_id,
        identity_key=creds.signed_identity_key.public,
        signed_pre_key_id=creds.signed_pre_key.key_id,
        signed_pre_key=creds.signed_pre_key.key_pair.public,
        signed_pre_key_signature=creds.signed_pre_key.signature,
        pre_key_id=1,
        pre_key=pre_key.public,
    )
    record = start_session(None, bundle, identity=identity, randbytes=rng, now_ms=T0 * 1000)

    def stanza(n: int) -> Node:
        nonlocal record
        body = pad(text_message(f"message {n} " + "x" * 60), rng)
        out = encrypt(
            record, body, identity=identity, registration_id=registration, now_ms=T0 * 1000
        )
        record = out.record
        enc = Node("enc", {"v": "2", "type": out.kind}, out.ciphertext)
        return Node("message", {"from": SENDER, "id": f"3EB0{n:08d}", "t": str(T0)}, [enc])

    SignalProcessor(store).process(stanza(0))
    # our device answers, so the sender's next messages are plain msgs of one chain
    address = signal_address(SENDER)
    stored = SessionRecord.from_json(store.get_keys("session", [address])[address])
    reply = encrypt(
        stored,
        pad(text_message("hi"), rng),
        identity=creds.signed_identity_key,
        registration_id=creds.registration_id,
        now_ms=T0 * 1000,
    )
    store.set_keys({"session": {address: reply.record.to_json()}})
    record = decrypt_message(
        record, reply.ciphertext, identity=identity, randbytes=rng, now_ms=T0 * 1000
    ).record
    return [stanza(n) for n in range(1, count + 1)]


def _rate(store_factory: Callable[[Path], AuthStore], count: int) -> tuple[float, float]:
    """(first deliveries/s, redeliveries/s) on a fresh store."""
    with tempfile.TemporaryDirectory() as folder:
        store = store_factory(Path(folder))
        try:
            creds = replace(
                Creds.new(random.Random(1).randbytes), me=Contact(id=ME, lid="99990001:3@lid")
            )
            store.save(creds)
            nodes = _stanzas(store, creds, count)
            processor = SignalProcessor(store)
            start = time.perf_counter()
            for node in nodes:
                processor.process(node)
            first = count / (time.perf_counter() - start)
            start = time.perf_counter()
            for node in nodes:
                processor.process(node)
            again = count / (time.perf_counter() - start)
            return first, again
        finally:
            store.close()


def _memory(folder: Path) -> AuthStore:
    return MemoryStore()


def _sqlite(folder: Path) -> AuthStore:
    return SQLiteStore(folder / "walink.db")


def run(messages: int = 300) -> list[Row]:
    """One row per store, and one for redeliveries (``make bench``)."""
    memory, again = _rate(_memory, messages)
    sqlite, _ = _rate(_sqlite, messages)
    return [
        Row("messages: pipeline on MemoryStore", memory, None, "msg/s"),
        Row("messages: pipeline on SQLiteStore (fsync)", sqlite, None, "msg/s"),
        Row("messages: redeliveries from the buffer", again, None, "msg/s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    for row in run(args.messages):
        print(f"{row.name:<48} {row.walink:>10,.0f} {row.unit}", flush=True)


if __name__ == "__main__":
    main()
