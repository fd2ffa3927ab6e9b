"""Codec throughput, walink against Baileys on the same corpus, measured side by side.

Run: ``python -m benchmarks.codec`` (or ``make bench`` for every benchmark). It builds a
deterministic corpus of message, receipt and usync-iq nodes, times three loops over it in this
process (encode, decode, and the frame path: encode + AES-256-GCM encrypt + 3-byte length frame +
frame decoder + decrypt + decode, through walink's ``TransportCipher`` and ``FrameDecoder``), then
runs tests/peer/bench-codec.mjs on the same corpus. Baileys has two decoders, and both are
reported: ``decodeBinaryNode`` (async, one promise per node: what its socket awaits) and
``decodeDecompressedBinaryNode`` (sync, its fastest); the targets apply to the sync one.

Both sides report the least process CPU time of ``--runs`` passes after a warm-up. Loops discard
their results and the GC is frozen after setup, so that the collector does not walk the kept
trees.
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
from pathlib import Path

from benchmarks import Row, best_cpu_seconds, render
from walink.protocol.binary import COMPILED, Node, decode_node, encode_node
from walink.protocol.frames import FrameDecoder, encode_frame
from walink.protocol.noise import TransportCipher

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


def walink_timings(corpus: list[Node], runs: int) -> dict[str, float]:
    """Least CPU seconds per pass over ``corpus`` for each loop."""
    encoded = [encode_node(node) for node in corpus]
    key = bytes(range(32))

    def encode_loop() -> None:
        for node in corpus:
            encode_node(node)

    def decode_loop() -> None:
        for data in encoded:
            decode_node(data)

    def frame_loop() -> None:
        # one cipher per direction with the same key, as the two ends of a connection hold them
        sender = TransportCipher(encrypt_key=key, decrypt_key=key)
        receiver = TransportCipher(encrypt_key=key, decrypt_key=key)
        decoder = FrameDecoder()
        for node in corpus:
            for payload in decoder.feed(encode_frame(sender.encrypt(encode_node(node)))):
                decode_node(receiver.decrypt(payload))

    gc.collect()
    gc.freeze()
    try:
        return {
            "encode_s": best_cpu_seconds(encode_loop, runs),
            "decode_s": best_cpu_seconds(decode_loop, runs),
            "frame_s": best_cpu_seconds(frame_loop, runs),
        }
    finally:
        gc.unfreeze()


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


def rows(ours: dict[str, float], theirs: dict[str, float], count: int) -> list[Row]:
    """The table rows: nodes/s for walink and Baileys, with the issue's targets."""

    def row(name: str, our_key: str, their_key: str, target: float | None) -> Row:
        return Row(
            name=name,
            walink=count / ours[our_key],
            peer=count / theirs[their_key],
            unit="nodes/s",
            target=target,
        )

    return [
        row("codec: encode vs encodeBinaryNode", "encode_s", "encode_s", 2.5),
        row("codec: decode vs decodeBinaryNode (async)", "decode_s", "decode_s", None),
        row(
            "codec: decode vs decodeDecompressedBinaryNode (sync)", "decode_s", "decode_sync_s", 2.0
        ),
        row("codec: frame path vs Baileys (async decode)", "frame_s", "frame_s", None),
        row("codec: frame path vs Baileys (sync decode)", "frame_s", "frame_sync_s", 4.0),
    ]


def run(nodes: int = 10_000, runs: int = 5, seed: int = 1) -> list[Row]:
    """The ``make bench`` entry point: both sides on the same corpus, in this run."""
    corpus = build_corpus(nodes, seed)
    ours = walink_timings(corpus, runs)
    theirs = baileys_timings(corpus, runs)
    return rows(ours, theirs, len(corpus))


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
        f"codec: {'compiled (mypyc)' if COMPILED else 'pure Python'}",
        flush=True,
    )
    ours = walink_timings(corpus, args.runs)
    if args.no_baileys:
        for name in ("encode", "decode", "frame"):
            print(f"{name:<8} {len(corpus) / ours[f'{name}_s']:>12,.0f} nodes/s", flush=True)
        return 0
    theirs = baileys_timings(corpus, args.runs)
    print(render(rows(ours, theirs, len(corpus))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
