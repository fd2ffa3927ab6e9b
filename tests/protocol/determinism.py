"""Reproducible keys and byte sources for the protocol tests (pinned vectors need them)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

from walink.protocol.keys import KeyPair

Rng = Callable[[int], bytes]


def counter_rng(seed: str) -> Rng:
    """A reproducible byte source: SHA-256 of (seed, call number) per 32 bytes."""
    counter = itertools.count()

    def rng(size: int) -> bytes:
        blocks = (size + 31) // 32
        stream = b"".join(
            hashlib.sha256(f"{seed}:{next(counter)}".encode()).digest() for _ in range(blocks)
        )
        return stream[:size]

    return rng


def key_pair(label: str) -> KeyPair:
    """The key pair whose private key is SHA-256 of ``label``."""
    return KeyPair.from_private(hashlib.sha256(label.encode()).digest())
