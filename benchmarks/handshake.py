"""Full Noise XX handshakes per second: our initiator against our responder, in one process.

Each pair is what one connection costs both ends: two fresh ephemeral keys, six X25519 agreements,
the symmetric state, the protobuf messages, the split; "with certificate checks" adds the client's
verification of the server's chain (the validity windows and the leaf/static-key match on every
handshake; the two XEdDSA signatures once per chain, as a client meets the same chain again).

    .venv/bin/python -m benchmarks.handshake [--seconds 0.5] [--repeat 5]

The last row is the floor, timed in the same run: the nine X25519 operations a pair costs when
nothing is prepared (three key loads, each deriving a public key, and six agreements), done
directly with ``cryptography``. Time is this process's CPU time, so other work on a shared
machine disturbs it less; even so, quote the best round (the median shows the noise).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from benchmarks import Row
from walink.protocol.certs import make_cert_chain, make_test_root, verify_cert_chain
from walink.protocol.keys import KeyPair
from walink.protocol.noise import NoiseInitiator, NoiseResponder, ServerVerifier, StaticKey

PAYLOAD = b"\x00" * 120
"""About the size of a login ClientPayload."""


def _handshake(
    client_static: StaticKey,
    server_static: StaticKey,
    cert_chain: bytes,
    verify_server: ServerVerifier | None,
) -> None:
    initiator = NoiseInitiator(static=client_static, rng=os.urandom, verify_server=verify_server)
    responder = NoiseResponder(static=server_static, rng=os.urandom)
    responder.receive_client_hello(initiator.client_hello())
    initiator.receive_server_hello(responder.server_hello(cert_chain))
    responder.receive_client_finish(initiator.client_finish(PAYLOAD))


def _measure(run_once: Callable[[], None], seconds: float, repeat: int) -> list[float]:
    """Seconds per pair in each of ``repeat`` rounds; the best round is the least disturbed."""
    for _ in range(50):  # warm caches and the allocator before timing
        run_once()
    rounds = []
    for _ in range(repeat):
        count = 0
        start = time.process_time()
        deadline = start + seconds
        while True:
            for _ in range(50):
                run_once()
            count += 50
            now = time.process_time()
            if now >= deadline:
                rounds.append((now - start) / count)
                break
    return rounds


def _x25519_floor() -> Callable[[], None]:
    """One pair's nine X25519 operations: three key loads and six agreements."""
    seeds = [os.urandom(32) for _ in range(3)]
    peers = [X25519PrivateKey.from_private_bytes(os.urandom(32)).public_key() for _ in range(6)]

    def run_once() -> None:
        keys = [X25519PrivateKey.from_private_bytes(seed) for seed in seeds]
        for index, peer in enumerate(peers):
            keys[index % 3].exchange(peer)

    return run_once


def cases() -> list[tuple[str, Callable[[], None]]]:
    """The timed cases, the floor last."""
    client_static = KeyPair.generate()
    # A server answers every client with the same static key: prepared once, as the emulator does.
    server_key_pair = KeyPair.generate()
    server_static = X25519PrivateKey.from_private_bytes(server_key_pair.private)
    root = make_test_root()
    now = int(time.time())
    chain = make_cert_chain(
        root, server_key_pair.public, not_before=now - 3600, not_after=now + 3600
    )

    def verify(cert_chain: bytes, static: bytes) -> None:
        verify_cert_chain(cert_chain, server_static=static, now=now, trust_root=root.trust_root)

    prepared_client = X25519PrivateKey.from_private_bytes(client_static.private)
    return [
        (
            "without certificate checks",
            lambda: _handshake(client_static, server_static, chain, None),
        ),
        (
            "  (client key prepared too)",
            lambda: _handshake(prepared_client, server_static, chain, None),
        ),
        (
            "with certificate checks",
            lambda: _handshake(client_static, server_static, chain, verify),
        ),
        (FLOOR, _x25519_floor()),
    ]


FLOOR = "X25519 floor (9 operations)"
WITH_CHECKS = "with certificate checks"


def measure(seconds: float, repeat: int) -> dict[str, list[float]]:
    """Sorted seconds per pair of each case's rounds (the best first)."""
    return {name: sorted(_measure(run_once, seconds, repeat)) for name, run_once in cases()}


def run(seconds: float = 0.5, repeat: int = 5) -> list[Row]:
    """The ``make bench`` entry point: a pair with certificate checks against the floor."""
    rounds = measure(seconds, repeat)
    return [
        Row(
            name="handshake: Noise XX pair with cert checks vs X25519 floor",
            walink=1 / rounds[WITH_CHECKS][0],
            peer=1 / rounds[FLOOR][0],
            unit="pairs/s",
            target=0.75,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per case")
    args = parser.parse_args()

    rounds = measure(args.seconds, args.repeat)
    print(f"{'':30s} {'best':>8s} {'median':>8s}  (ms per client+server pair)")
    for name, times in rounds.items():
        best, median = times[0], times[len(times) // 2]
        print(f"{name:30s} {best * 1e3:8.3f} {median * 1e3:8.3f}  = {1 / best:6.0f} handshakes/s")
    share = rounds[FLOOR][0] / rounds[WITH_CHECKS][0]
    print(f"with certificate checks: {share:.0%} of the X25519 floor's pairs/s", flush=True)


if __name__ == "__main__":
    main()
