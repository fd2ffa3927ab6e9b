"""``walink version``: the version and which codec implementation is loaded."""

from __future__ import annotations

import argparse
from typing import Any

from walink._commands.output import emit_json, emit_text
from walink._version import __version__


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "version", help="print the version and whether the compiled codec is loaded"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from walink.protocol.binary import COMPILED

    if args.json:
        emit_json({"version": __version__, "compiled": COMPILED})
    else:
        kind = "compiled (mypyc)" if COMPILED else "pure Python"
        emit_text(f"walink {__version__} (codec: {kind})")
    return 0
