"""Codec throughput, walink against Baileys on the same corpus, measured side by side.

Run: ``python -m benchmarks.codec`` (or ``make bench`` for every benchmark). It builds a
deterministic corpus of message, receipt and usync-iq nodes, times three loops over it in this
process (encode, decode, and the frame path: encode + AES-256-GCM encrypt + 3-byte length frame +
frame decoder + decrypt + decode, through walink's ``TransportCipher`` and ``FrameDecoder``), then
times the same loops in Baileys through tests/peer/bench-codec.mjs on the same corpus. Baileys has
two decoders, and both are reported: ``decodeBinaryNode`` (async, one promise per node: what its
socket awaits) and ``decodeDecompressedBinaryNode`` (sync, its fastest); the targets apply to the
sync one.

Both sides are measured alike: one warm-up pass of every loop, then ``--runs`` rounds in which
walink's pass of a loop and Baileys' passes of the same loop alternate, so that the load of a
shared machine hits both; each side reports the least process CPU time of its rounds. Loops
discard their results; inputs (the encoded frames, and for Baileys' sync decoder the bytes after
the flags byte) are prepared outside the timed passes, and walink's GC is frozen after setup, so
that the collector does not walk the kept corpus.
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

from benchmarks import Row, render
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


LOOPS: tuple[str, ...] = ("encode", "decode", "frame")
"""walink's loops; Baileys has these and ``decode_sync``, ``frame_sync`` (its sync decoder)."""

# Baileys' loops and the walink loop each is compared with
PEER_LOOPS: dict[str, str] = {
    "encode": "encode",
    "decode": "decode",
    "decode_sync": "decode",
    "frame": "frame",
    "frame_sync": "frame",
}


def walink_loops(corpus: list[Node]) -> dict[str, Callable[[], None]]:
    """One pass over ``corpus`` for each of walink's loops, its inputs prepared outside."""
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

    return {"encode": encode_loop, "decode": decode_loop, "frame": frame_loop}


class BaileysBench:
    """tests/peer/bench-codec.mjs, kept running: it times one pass of one of its loops per call."""

    def __init__(self, corpus: list[Node]) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump([to_bridge_json(node) for node in corpus], handle)
            self._corpus_path = Path(handle.name)
        self._process = subprocess.Popen(
            ["node", "bench-codec.mjs", str(self._corpus_path)],
            cwd=PEER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._next_id = 0

    def time(self, loop: str) -> float:
        """CPU seconds of one pass of Baileys' ``loop`` over the corpus."""
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        self._next_id += 1
        process.stdin.write(json.dumps({"id": self._next_id, "op": "time", "loop": loop}) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"bench-codec.mjs exited ({process.wait()})")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"bench-codec.mjs: {reply.get('error')}")
        seconds: float = reply["s"]
        return seconds

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._corpus_path.unlink(missing_ok=True)


def interleaved_timings(
    corpus: list[Node], runs: int, with_baileys: bool = True
) -> tuple[dict[str, float], dict[str, float]]:
    """Least CPU seconds per pass for walink's loops and Baileys', measured round by round.

    Both sides are timed the same way: the same corpus, one warm-up pass of every loop (V8's
    JIT compiles Baileys' hot functions during it), then ``runs`` rounds, each one pass of every
    loop on both sides, alternately, keeping each loop's least time. Interleaving makes the
    load of a shared machine fall on both sides alike; the least time is the least disturbed.
    """
    ours = walink_loops(corpus)
    peer = BaileysBench(corpus) if with_baileys else None
    best_ours = dict.fromkeys(ours, float("inf"))
    best_peer = dict.fromkeys(PEER_LOOPS, float("inf"))
    gc.collect()
    gc.freeze()  # the corpus and the encoded frames stay out of the collector's walks
    try:
        for loop in ours.values():
            loop()
        if peer is not None:
            for name in PEER_LOOPS:
                peer.time(name)
        for _ in range(runs):
            for name, loop in ours.items():
                start = time.process_time()
                loop()
                best_ours[name] = min(best_ours[name], time.process_time() - start)
                if peer is None:
                    continue
                for peer_name, compared in PEER_LOOPS.items():
                    if compared == name:
                        best_peer[peer_name] = min(best_peer[peer_name], peer.time(peer_name))
    finally:
        gc.unfreeze()
        if peer is not None:
            peer.close()
    return {f"{name}_s": seconds for name, seconds in best_ours.items()}, {
        f"{name}_s": seconds for name, seconds in best_peer.items()
    }


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


def run(nodes: int = 10_000, runs: int = 7, seed: int = 1) -> list[Row]:
    """The ``make bench`` entry point: both sides on the same corpus, in this run."""
    corpus = build_corpus(nodes, seed)
    ours, theirs = interleaved_timings(corpus, runs)
    return rows(ours, theirs, len(corpus))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
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
    ours, theirs = interleaved_timings(corpus, args.runs, with_baileys=not args.no_baileys)
    if args.no_baileys:
        for name in LOOPS:
            print(f"{name:<8} {len(corpus) / ours[f'{name}_s']:>12,.0f} nodes/s", flush=True)
        return 0
    print(render(rows(ours, theirs, len(corpus))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
