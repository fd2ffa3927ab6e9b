"""Signal decrypt throughput: walink against libsignal-node (Baileys' Signal library).

Run: ``python benchmarks/signal.py`` (or ``python -m benchmarks.signal``; ``make bench`` calls
``run()``, smaller lists, one row per kind). It sets up, through tests/peer/signal-bridge.mjs:

- ``msg``: a libsignal sender with an established session; N messages of one chain, decrypted in
  order by walink and by a libsignal receiver that loaded walink's session record (the same
  state on both sides);
- ``pkmsg``: N first messages of N fresh sessions (X3DH without a one-time pre-key + the first
  decrypt), each decrypted with no stored record;
- ``skmsg``: N group messages from Baileys' sender-key code (iterations 0, 2, 4, …), decrypted
  in order after the same distribution message.

Each side repeats the whole list ``--rounds`` times from the same starting state and reports
decrypts per second. libsignal's receiver keeps its records as objects in memory (no JSON), and
walink's records stay objects too, so both figures are the crypto core's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder is sys.path[0], where "signal" would shadow the standard
# library's module (which subprocess imports): put the repository root there instead.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from benchmarks import Row  # noqa: E402
from tests.peer_bridge import PeerBridge  # noqa: E402
from tests.protocol.signal.peer import Device  # noqa: E402
from walink.protocol.signal import (  # noqa: E402
    SenderKeyRecord,
    SessionRecord,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    group_decrypt,
    process_distribution,
    start_session,
)

PEER_DIR = ROOT / "tests" / "peer"
US = "15550001111.0"
SENDER = "15550002222.0"
TEXT = b"x" * 100  # about a padded text message


def _walink_rate(run: Callable[[], None], count: int, rounds: int) -> float:
    run()  # warm-up
    start = time.perf_counter()
    for _ in range(rounds):
        run()
    return count * rounds / (time.perf_counter() - start)


def bench_msg(bridge: PeerBridge, ours: Device, count: int, rounds: int) -> tuple[float, float]:
    theirs = Device.make("bench-sender", 2222)
    theirs.register(bridge)
    bridge.call("startSession", party=theirs.name, address=US, bundle=ours.bridge_bundle(1))
    first = bridge.call("encrypt", party=theirs.name, address=US, plaintext=TEXT.hex())
    result = decrypt_prekey_message(
        None,
        bytes.fromhex(first["body"]),
        identity=ours.identity,
        signed_pre_key=ours.signed_lookup,
        one_time_pre_key=ours.one_time.get,
        randbytes=os.urandom,
        now_ms=1,
    )
    reply = encrypt(result.record, TEXT, identity=ours.identity, registration_id=1, now_ms=2)
    bridge.call(
        "decrypt", party=theirs.name, address=US, type=reply.kind, body=reply.ciphertext.hex()
    )
    record: SessionRecord = reply.record
    bodies = []
    for _ in range(count):
        sent = bridge.call("encrypt", party=theirs.name, address=US, plaintext=TEXT.hex())
        assert sent["type"] == "msg"
        bodies.append(bytes.fromhex(sent["body"]))

    def run() -> None:
        current = record
        for body in bodies:
            current = decrypt_message(
                current, body, identity=ours.identity, randbytes=os.urandom, now_ms=3
            ).record

    ours_rate = _walink_rate(run, count, rounds)
    receiver = Device.make("bench-receiver", 1111)
    receiver.identity, receiver.signed = ours.identity, ours.signed
    receiver.register(bridge, cacheRecords=True)
    bridge.call(
        "setSession", party=receiver.name, address=SENDER, json=json.dumps(record.to_json())
    )
    theirs_result = bridge.call(
        "bench",
        party=receiver.name,
        address=SENDER,
        kind="msg",
        bodies=[b.hex() for b in bodies],
        rounds=rounds,
    )
    return ours_rate, theirs_result["count"] / theirs_result["seconds"]


def bench_pkmsg(bridge: PeerBridge, ours: Device, count: int, rounds: int) -> tuple[float, float]:
    bodies = []
    for index in range(count):
        sender = Device.make(f"bench-initiator-{index}", 3000 + index, pre_keys=0)
        record = start_session(
            None, ours.bundle(None), identity=sender.identity, randbytes=os.urandom, now_ms=1
        )
        bodies.append(
            encrypt(record, TEXT, identity=sender.identity, registration_id=3, now_ms=1).ciphertext
        )

    def run() -> None:
        for body in bodies:
            decrypt_prekey_message(
                None,
                body,
                identity=ours.identity,
                signed_pre_key=ours.signed_lookup,
                one_time_pre_key=ours.one_time.get,
                randbytes=os.urandom,
                now_ms=3,
            )

    ours_rate = _walink_rate(run, count, rounds)
    receiver = Device.make("bench-pk-receiver", 1111)
    receiver.identity, receiver.signed = ours.identity, ours.signed
    receiver.register(bridge, cacheRecords=True, keepPreKeys=True)
    theirs_result = bridge.call(
        "bench", party=receiver.name, kind="pkmsg", bodies=[b.hex() for b in bodies], rounds=rounds
    )
    return ours_rate, theirs_result["count"] / theirs_result["seconds"]


def bench_skmsg(bridge: PeerBridge, count: int, rounds: int) -> tuple[float, float]:
    sender = Device.make("bench-group-sender", 4444)
    sender.register(bridge)
    group = "bench@g.us"
    skdm = bytes.fromhex(bridge.call("skCreate", party=sender.name, group=group)["skdm"])
    bodies = [
        bytes.fromhex(
            bridge.call("skEncrypt", party=sender.name, group=group, plaintext=TEXT.hex())["body"]
        )
        for _ in range(count)
    ]
    start: SenderKeyRecord = process_distribution(None, skdm)

    def run() -> None:
        current = start
        for body in bodies:
            _, current = group_decrypt(current, body)

    ours_rate = _walink_rate(run, count, rounds)
    receiver = Device.make("bench-group-receiver", 5555)
    receiver.register(bridge)
    bridge.call("skProcess", party=receiver.name, group=group, skdm=skdm.hex())
    theirs_result = bridge.call(
        "bench",
        party=receiver.name,
        group=group,
        kind="skmsg",
        bodies=[b.hex() for b in bodies],
        rounds=rounds,
    )
    return ours_rate, theirs_result["count"] / theirs_result["seconds"]


def measure(messages: int, pkmsgs: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Decrypts per second of each kind: ``{kind: (walink, libsignal-node)}``."""
    ours = Device.make("bench-walink", 1111, pre_keys=1)
    with PeerBridge(PEER_DIR, "signal-bridge.mjs") as bridge:
        return {
            "msg": bench_msg(bridge, ours, messages, rounds),
            "pkmsg": bench_pkmsg(bridge, ours, pkmsgs, rounds),
            "skmsg": bench_skmsg(bridge, messages, rounds),
        }


def run(messages: int = 300, pkmsgs: int = 60, rounds: int = 3) -> list[Row]:
    """The ``make bench`` entry point: one row per kind against libsignal-node."""
    return [
        Row(
            name=f"signal: {kind} decrypt vs libsignal-node",
            walink=ours,
            peer=theirs,
            unit="decrypts/s",
        )
        for kind, (ours, theirs) in measure(messages, pkmsgs, rounds).items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1000, help="msg and skmsg per round")
    parser.add_argument("--pkmsgs", type=int, default=200, help="pkmsg per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rows = measure(args.messages, args.pkmsgs, args.rounds)
    print(f"{'kind':<7} {'walink decrypts/s':>18} {'libsignal-node decrypts/s':>26} {'ratio':>7}")
    for kind, (our_rate, their_rate) in rows.items():
        print(f"{kind:<7} {our_rate:>18,.0f} {their_rate:>26,.0f} {our_rate / their_rate:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
