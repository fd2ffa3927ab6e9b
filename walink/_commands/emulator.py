"""``walink emulator``: run the WhatsApp server emulator until SIGINT or SIGTERM.

The first stdout line, flushed, says where it listens and what to trust
(docs/protocol/server.md#phone-endpoint): in ``--json`` mode ``{"v": 1, "url": …, "trust_root": …,
"phone": …}``, otherwise one readable line with the same three values and a ready-to-paste
``walink connect`` command. Nothing else goes to stdout; logs go to stderr. Both signals end it
cleanly with exit 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from walink._commands.options import add_verbose_option, configure_logging
from walink._commands.timeline import EXIT_ERROR, EXIT_OK, EXIT_USAGE


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "emulator", help="run the WhatsApp server emulator (WebSocket + phone endpoint)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=0, help="port to bind (default: a free one)")
    parser.add_argument("--json", action="store_true", help="first line as a JSON object")
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the device registry, test root and server key in DIR across restarts",
    )
    add_verbose_option(parser)
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def ready_line(url: str, trust_root_hex: str, phone_url: str) -> str:
    """The plain-mode first line: the three values and the command to connect."""
    return (
        f"walink emulator: url {url}  trust root {trust_root_hex}  phone {phone_url}  "
        f"connect with: walink connect --url {url} --trust-root {trust_root_hex}"
    )


def run(args: argparse.Namespace) -> int:
    import anyio

    from walink.testing.emulator import StateError
    from walink.testing.registry import RegistryError

    # INFO too: the emulator says who connects and what its phone does
    configure_logging("emulator", args.verbose, fields="%(message)s", level=logging.INFO)
    if args.state is not None and args.state.exists() and not args.state.is_dir():
        print(f"walink emulator: --state {args.state} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        return anyio.run(_serve, args)
    except (StateError, RegistryError) as exc:
        print(f"walink emulator: unusable state folder: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"walink emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_ERROR


async def _serve(args: argparse.Namespace) -> int:
    import anyio

    from walink._commands.output import emit_json, emit_text
    from walink.testing.emulator import Emulator

    # The signals are taken over before anything starts, so an early one is a clean stop too.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with Emulator(host=args.host, port=args.port, state_dir=args.state) as emulator:
            if args.json:
                emit_json(
                    {
                        "url": emulator.url,
                        "trust_root": emulator.trust_root_hex,
                        "phone": emulator.phone_url,
                    }
                )
            else:
                emit_text(ready_line(emulator.url, emulator.trust_root_hex, emulator.phone_url))
            async for received in signals:
                logging.getLogger("walink.testing").info(
                    "%s received: shutting down", signal.Signals(received).name
                )
                break
    return EXIT_OK
