"""WhatsApp's plaintext padding: a ``Message`` protobuf followed by ``n`` bytes equal to ``n``.

Senders pad with n = 1..16 (Baileys draws up to 16, whatsmeow up to 15); we accept exactly that
range and require every padding byte to equal ``n`` (a stricter check than Baileys', which only
looks at the last byte). ``enc v="3"`` carries no padding at all.
"""

from __future__ import annotations

from collections.abc import Callable

from walink.protocol.signal.errors import InvalidPaddingError

__all__ = ["MAX_PADDING", "pad", "unpad", "unpad_for_version"]

MAX_PADDING = 16


def pad(plaintext: bytes, randbytes: Callable[[int], bytes]) -> bytes:
    """``plaintext`` followed by 1..16 bytes of padding (the count drawn from ``randbytes``)."""
    n = randbytes(1)[0] % MAX_PADDING + 1
    return plaintext + bytes((n,)) * n


def unpad(data: bytes) -> bytes:
    """Strip WA padding, checking that all ``n`` trailing bytes equal ``n`` (1 <= n <= 16)."""
    if not data:
        raise InvalidPaddingError("empty plaintext has no padding")
    n = data[-1]
    if not 1 <= n <= MAX_PADDING or n > len(data):
        raise InvalidPaddingError(f"padding length {n} out of range")
    if data[-n:] != bytes((n,)) * n:
        raise InvalidPaddingError("padding bytes differ from the padding length")
    return data[:-n]


def unpad_for_version(data: bytes, version: str) -> bytes:
    """The ``Message`` bytes of a decrypted ``<enc v=…>``: ``"2"`` is padded, ``"3"`` is not."""
    if version == "2":
        return unpad(data)
    if version == "3":
        return data
    raise InvalidPaddingError(f"unknown enc version {version!r}")
