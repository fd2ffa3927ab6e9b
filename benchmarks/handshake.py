"""Full Noise XX handshakes per second: our initiator against our responder, in one process.

Each pair is what one connection costs both ends: two fresh ephemeral keys, six X25519 agreements,
the symmetric state, the protobuf messages, the split; "with certificate checks" adds the client's
verification of the server's chain (two XEdDSA verifications and the field checks).

    .venv/bin/python -m benchmarks.handshake [--seconds 0.5] [--repeat 5]

Time is this process's CPU time, so other work on a shared machine disturbs it less; even so,
quote the best round (the median shows the noise).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per case")
    args = parser.parse_args()

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
    cases: list[tuple[str, Callable[[], None]]] = [
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
    ]
    print(f"{'':30s} {'best':>8s} {'median':>8s}  (ms per client+server pair)")
    for name, run_once in cases:
        rounds = sorted(_measure(run_once, args.seconds, args.repeat))
        best, median = rounds[0], rounds[len(rounds) // 2]
        print(f"{name:30s} {best * 1e3:8.3f} {median * 1e3:8.3f}  = {1 / best:6.0f} handshakes/s")


if __name__ == "__main__":
    main()
