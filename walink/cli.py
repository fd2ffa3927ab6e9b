"""The ``walink`` command: one argparse front end, one private module per subcommand.

Contract (docs/protocol/architecture.md#command-line): with ``--json`` every stdout line is one JSON
object with ``"v": 1``, flushed when written; logs go to stderr. Exit codes: 0 normal end, 2 bad
arguments or input, 3 logged out by the server, 4 QR refs exhausted or pairing timed out, 1 anything
else (the constants below; ``walink._commands.timeline`` defines them). Each subcommand module in
``walink._commands`` exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
``(args) -> int`` callable; the options several commands share are in ``walink._commands.options``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from walink._commands.timeline import (
    EXIT_ERROR,
    EXIT_LOGGED_OUT,
    EXIT_OK,
    EXIT_QR_EXHAUSTED,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_LOGGED_OUT",
    "EXIT_OK",
    "EXIT_QR_EXHAUSTED",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

# subcommand modules, in the order `walink --help` lists them
_COMMAND_MODULES = (
    "walink._commands.version",
    "walink._commands.demo",
    "walink._commands.connect",
    "walink._commands.logout",
    "walink._commands.serve",
    "walink._commands.devices",
    "walink._commands.diagram",
    "walink._commands.emulator",
    "walink._commands.replay",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="walink", description="WhatsApp Web linked-device connection layer"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits with 2 on bad arguments
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # stdout closed by the reader (e.g. `| head`): not our error, but stop writing
        sys.stderr.close()
        return EXIT_ERROR
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
