"""Fuzz target: the handshake's symmetric primitives, the C twin against the pure reference.

The C twin (``walink/protocol/_noise_crypto.c``) is the one piece of walink written in a
memory-unsafe language, so it is fed arbitrary sizes and bytes here. Byte 0 chooses the
primitive; the rest is cut into its arguments by length bytes taken from the input:

- 0: ``hkdf(salt, ikm)`` (salts past a SHA-256 block included);
- 1: ``seal(key, counter, plaintext, h)``, then ``unseal`` of the result;
- 2: ``unseal(key, counter, ciphertext, h)`` of arbitrary bytes (nearly always a bad tag);
- 3: ``mix(h, data)``.

The key is 32 bytes, or another size when bit 7 of byte 0 is set (both must refuse it with
``ValueError``). Invariant: the twin and the reference give the same result or both raise
``ValueError``; a sealed text unseals to its plaintext; nothing else escapes. Without a built
twin, the reference is checked against itself and hashlib.

Run: ``python fuzz/noise_crypto.py -max_total_time=60`` (atheris; see fuzz/README.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from _atheris import fuzz, instrumented

with instrumented(__name__):
    from walink.protocol import _noise_crypto
    from walink.protocol._noise_crypto import PURE

TWIN = _noise_crypto.LOADED if _noise_crypto.ACCELERATED else None
"""The C twin when it is the loaded implementation, else None."""


class _Reader:
    """Arguments cut from the input: each a length byte then that many bytes (what is left)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def take(self, scale: int = 1) -> bytes:
        if self._position >= len(self._data):
            return b""
        length = self._data[self._position] * scale
        start = self._position + 1
        self._position = start + length
        return self._data[start : start + length]

    def counter(self) -> int:
        return int.from_bytes(self.take()[:5], "big")  # up to 2^40: past the 32-bit range too

    def rest(self) -> bytes:
        rest = self._data[self._position :]
        self._position = len(self._data)
        return rest


def _outcome(call: Callable[[], object]) -> object:
    """The result, or the ValueError's type (the messages differ only in wording)."""
    try:
        return call()
    except ValueError:
        return ValueError


def _key(reader: _Reader, wrong_size: bool) -> bytes:
    key = reader.take()
    if wrong_size:
        return key if len(key) != 32 else key[:31]
    return key.ljust(32, b"\x00")[:32]


def _agree(name: str, *args: object) -> object:
    pure = _outcome(lambda: getattr(PURE, name)(*args))
    if TWIN is not None:
        twin = _outcome(lambda: getattr(TWIN, name)(*args))
        assert twin == pure, f"{name}: the twin gives {twin!r}, the reference {pure!r}"
    return pure


def target(data: bytes) -> None:
    if not data:
        return
    mode, wrong_size = data[0] & 3, bool(data[0] & 0x80)
    reader = _Reader(data[1:])
    if mode == 0:
        salt, ikm = reader.take(scale=2), reader.rest()
        halves = _agree("hkdf", salt, ikm)
        assert isinstance(halves, tuple)
        assert [len(half) for half in halves] == [32, 32]
    elif mode == 1:
        key, counter, h = _key(reader, wrong_size), reader.counter(), reader.take()
        plaintext = reader.rest()
        sealed = _agree("seal", key, counter, plaintext, h)
        if sealed is ValueError:
            assert len(key) != 32 or counter >= 2**32
            return
        assert isinstance(sealed, tuple)
        ciphertext, next_h = sealed
        assert len(ciphertext) == len(plaintext) + 16
        assert next_h == hashlib.sha256(h + ciphertext).digest()
        assert _agree("unseal", key, counter, ciphertext, h) == (plaintext, next_h)
    elif mode == 2:
        key, counter, h = _key(reader, wrong_size), reader.counter(), reader.take()
        opened = _agree("unseal", key, counter, reader.rest(), h)
        assert opened is None or opened is ValueError or isinstance(opened, tuple)
    else:
        h, rest = reader.take(), reader.rest()
        assert _agree("mix", h, rest) == hashlib.sha256(h + rest).digest()


def seeds() -> list[bytes]:
    key = b"\x20" + bytes(range(32))
    return [
        b"\x00\x10" + b"s" * 32 + b"ikm",
        b"\x00\x30" + b"s" * 96 + b"long salt",  # a salt past one block
        b"\x01" + key + b"\x01\x07\x20" + b"h" * 32 + b"plaintext",
        b"\x81\x10" + b"k" * 16 + b"\x00\x00plaintext",  # a 16-byte key: refused
        b"\x01" + key + b"\x05\xff\xff\xff\xff\xff\x00text",  # a counter past 2^32
        b"\x02" + key + b"\x01\x01\x20" + b"h" * 32 + b"c" * 40,
        b"\x03\x20" + b"h" * 32 + b"data",
    ]


if __name__ == "__main__":
    fuzz("noise_crypto", target, seeds)
