"""Argument types shared by the subcommands that dial a server (``connect``, ``logout``).

argparse turns the ``ArgumentTypeError`` they raise into a usage error (exit 2), so a bad value
is refused before anything is opened or dialled, with the same rule the library applies.
"""

from __future__ import annotations

import argparse


def ws_url(text: str) -> str:
    """``--url``: a ``ws://`` or ``wss://`` URL that ``ClientConfig`` accepts (``check_url``)."""
    from walink.io.config import check_url  # the library's own rule, loaded when used

    try:
        return check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def trust_root_hex(text: str) -> bytes:
    """``--trust-root``: the server certificate root key, 64 hex digits."""
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a trust root is 64 hex digits, not {text!r}") from None
    if len(key) != 32:
        raise argparse.ArgumentTypeError(
            f"a trust root is 32 bytes (64 hex digits), this one has {len(key)}"
        )
    return key
