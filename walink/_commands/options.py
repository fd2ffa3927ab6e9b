"""What the subcommands share: argument types, options several of them take, their client
configuration and their logging.

The argument types raise ``ArgumentTypeError``, which argparse turns into a usage error (exit
2), so a bad value is refused before anything is opened or dialled, with the same rule the
library applies. The options are added by functions rather than a parent parser because each
command keeps its options in its own order, and their help texts word for word: ``--help`` is
read by scripts (``tests/test_cli.py`` holds every command's to its released text).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from walink.io.config import ClientConfig

CLOSE_TIMEOUT = 3.0
"""Seconds a command's client takes at most to close its WebSocket (``close_timeout``; the
library's default is longer): a command stopped by a signal must end promptly."""


# -- argument types -------------------------------------------------------------------------------


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


def seconds(text: str) -> float:
    """A positive, finite number of seconds (``--lease-ttl``, ``--qr-timeout``...)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"seconds must be positive: {text!r}")
    return value


# -- options --------------------------------------------------------------------------------------


def add_url_option(parser: argparse.ArgumentParser, *, say_default: bool = True) -> None:
    """``--url`` (``args.url``: the server's WebSocket URL, None for WhatsApp Web's).

    ``say_default``: the help names the default (``walink serve``'s help never did).
    """
    default = " (default WhatsApp Web's)" if say_default else ""
    parser.add_argument("--url", default=None, type=ws_url, help=f"server WebSocket URL{default}")


def add_trust_root_option(parser: argparse.ArgumentParser, *, say_default: bool = True) -> None:
    """``--trust-root`` (``args.trust_root``: the key as bytes, None for WhatsApp's root).

    ``say_default``: the help names the default (``walink serve``'s help never did).
    """
    default = "; default WhatsApp's" if say_default else ""
    parser.add_argument(
        "--trust-root",
        default=None,
        type=trust_root_hex,
        metavar="HEX",
        help=f"the server certificate root key, 64 hex digits (an emulator's{default})",
    )


def add_loop_options(parser: argparse.ArgumentParser) -> None:
    """``--backend`` and ``-v``/``--verbose``: the last options of a command that runs a client."""
    parser.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="the event loop to use"
    )
    add_verbose_option(parser)


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    """``-v``/``--verbose`` (``args.verbose``): debug logs; see ``configure_logging``."""
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")


# -- what the options give ------------------------------------------------------------------------


def client_config(args: argparse.Namespace, **fields: Any) -> ClientConfig:
    """The ``ClientConfig`` of ``--url`` and ``--trust-root``, closing within ``CLOSE_TIMEOUT``,
    with a command's own ``fields``.

    Raises ``ValueError`` for a field the library refuses (a usage error for the command).
    """
    from walink.io.config import DEFAULT_URL, ClientConfig
    from walink.protocol.certs import WHATSAPP_ROOT, TrustRoot

    trust_root = WHATSAPP_ROOT
    if args.trust_root is not None:
        # named after the flag: a certificate error then says which root it was checked against
        trust_root = TrustRoot(public_key=args.trust_root, name="--trust-root")
    return ClientConfig(
        url=args.url or DEFAULT_URL,
        trust_root=trust_root,
        close_timeout=CLOSE_TIMEOUT,
        **fields,
    )


def configure_logging(
    command: str,
    verbose: bool,
    *,
    fields: str = "%(levelname)s %(message)s",
    level: int = logging.WARNING,
) -> None:
    """Send the ``walink`` loggers to stderr (stdout is the command's output, which tools parse),
    each line led by ``walink <command>:``; DEBUG with ``--verbose``, else ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"walink {command}: {fields}"))
    root = logging.getLogger("walink")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else level)
