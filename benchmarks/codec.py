"""Codec throughput, walink against Baileys on the same corpus (PEER.md §6 and §10).

Run: ``python benchmarks/codec.py`` (or ``make bench``). It builds a deterministic corpus of
message, receipt and usync-iq nodes, times three loops over it in this process (encode,
decode, and the frame path: encode + AES-256-GCM encrypt + 3-byte length frame + frame
decoder + decrypt + decode), then runs tests/peer/bench-codec.mjs on the same corpus and prints
nodes/s for both and the ratio walink/Baileys. Loops discard their results and the GC is frozen
after setup, so that the collector does not walk the kept trees.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from walink.protocol.binary import COMPILED, Node, decode_node, encode_node
from walink.protocol.frames import FrameDecoder, encode_frame

PEER_DIR = Path(__file__).resolve().parent.parent / "tests" / "peer"


def _phone(rng: random.Random) -> str:
    return str(rng.randrange(10**10, 10**13))


def _message_id(rng: random.Random) -> str:
    return "3EB0" + "".join(rng.choice("0123456789ABCDEF") for _ in range(rng.choice((16, 18))))


def _name(rng: random.Random) -> str:
    return rng.choice(("Alice", "Bob", "Carol Smith", "Dave ✓", "Eve", "Frank O.", "Grace"))


def build_corpus(count: int, seed: int = 1) -> list[Node]:
    """About 60 % messages, 25 % receipts, 15 % usync queries; mean encoded size ~300 bytes."""
    rng = random.Random(seed)
    corpus: list[Node] = []
    for _ in range(count):
        kind = rng.random()
        timestamp = str(1_700_000_000 + rng.randrange(10**7))
        if kind < 0.60:
            to = (
                f"{_phone(rng)}@s.whatsapp.net"
                if rng.random() < 0.7
                else f"{_phone(rng)}-{rng.randrange(10**9, 10**10)}@g.us"
            )
            attrs = {"to": to, "id": _message_id(rng), "type": "text", "t": timestamp}
            attrs["notify"] = _name(rng)
            if rng.random() < 0.5:
                attrs["participant"] = f"{_phone(rng)}:{rng.randrange(1, 30)}@s.whatsapp.net"
            children = [
                Node(
                    "enc",
                    {"v": "2", "type": rng.choice(("msg", "pkmsg"))},
                    rng.randbytes(rng.randrange(120, 380)),
                )
            ]
            if rng.random() < 0.3:
                children.append(Node("device-identity", {}, rng.randbytes(rng.randrange(90, 140))))
            corpus.append(Node("message", attrs, children))
        elif kind < 0.85:
            attrs = {
                "from": f"{_phone(rng)}@s.whatsapp.net",
                "id": _message_id(rng),
                "type": "read",
                "t": timestamp,
            }
            items = [Node("item", {"id": _message_id(rng)}) for _ in range(rng.randrange(8, 21))]
            corpus.append(Node("receipt", attrs, [Node("list", {}, items)]))
        else:
            users = [
                Node(
                    "user",
                    {"jid": f"{_phone(rng)}@s.whatsapp.net"},
                    [Node("devices", {"version": "2"})],
                )
                for _ in range(rng.randrange(6, 15))
            ]
            usync = Node(
                "usync",
                {
                    "sid": f"{rng.randrange(10**12)}.{rng.randrange(10**5)}-{rng.randrange(99)}",
                    "mode": "query",
                    "last": "true",
                    "index": "0",
                    "context": "message",
                },
                [Node("query", {}, [Node("devices", {"version": "2"})]), Node("list", {}, users)],
            )
            attrs = {
                "id": f"{rng.randrange(10**5)}.{rng.randrange(10**5)}-{rng.randrange(99)}",
                "to": "@s.whatsapp.net",
                "type": "get",
                "xmlns": "usync",
            }
            corpus.append(Node("iq", attrs, [usync]))
    return corpus


def to_bridge_json(node: Node) -> dict[str, object]:
    content = node.content
    encoded: object
    if isinstance(content, list):
        encoded = [to_bridge_json(child) for child in content]
    elif isinstance(content, bytes):
        encoded = {"$b": content.hex()}
    else:
        encoded = content
    return {"tag": node.tag, "attrs": node.attrs, "content": encoded}


def _time(loop: Callable[[], None], runs: int) -> float:
    loop()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        loop()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def walink_timings(corpus: list[Node], runs: int) -> dict[str, float]:
    encoded = [encode_node(node) for node in corpus]
    aead = AESGCM(bytes(range(32)))  # one key object, reused as a transport would

    def encode_loop() -> None:
        for node in corpus:
            encode_node(node)

    def decode_loop() -> None:
        for data in encoded:
            decode_node(data)

    def frame_loop() -> None:
        decoder = FrameDecoder()
        for counter, node in enumerate(corpus):
            nonce = counter.to_bytes(12, "big")  # the transport IV: 8 zero bytes, 32-bit counter
            frame = encode_frame(aead.encrypt(nonce, encode_node(node), None))
            for payload in decoder.feed(frame):
                decode_node(aead.decrypt(nonce, payload, None))

    gc.collect()
    gc.freeze()
    return {
        "encode_s": _time(encode_loop, runs),
        "decode_s": _time(decode_loop, runs),
        "frame_s": _time(frame_loop, runs),
    }


def baileys_timings(corpus: list[Node], runs: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump([to_bridge_json(node) for node in corpus], handle)
        path = handle.name
    try:
        output = subprocess.run(
            ["node", "bench-codec.mjs", path, str(runs)],
            cwd=PEER_DIR,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        Path(path).unlink()
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-baileys", action="store_true", help="time walink only")
    args = parser.parse_args(argv)

    corpus = build_corpus(args.nodes, args.seed)
    sizes = [len(encode_node(node)) for node in corpus]
    print(
        f"corpus: {len(corpus)} nodes, mean {statistics.mean(sizes):.0f} B, "
        f"median {statistics.median(sizes):.0f} B, max {max(sizes)} B; "
        f"codec: {'compiled (mypyc)' if COMPILED else 'pure Python'}"
    )
    ours = walink_timings(corpus, args.runs)
    theirs = None if args.no_baileys else baileys_timings(corpus, args.runs)
    print(f"{'loop':<8} {'walink nodes/s':>15} {'Baileys nodes/s':>16} {'ratio':>7}")
    for name in ("encode", "decode", "frame"):
        our_rate = len(corpus) / ours[f"{name}_s"]
        if theirs is None:
            print(f"{name:<8} {our_rate:>15,.0f}")
            continue
        their_rate = len(corpus) / theirs[f"{name}_s"]
        print(f"{name:<8} {our_rate:>15,.0f} {their_rate:>16,.0f} {our_rate / their_rate:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
