"""``walink demo``: placeholder until the anyio client lands (issue: client, connect and demo)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="run a client against the embedded emulator (not built yet)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(
        "walink demo is not built yet: it needs the anyio client and the emulator, "
        "which are still open issues. Run `make test` to see what exists.",
        file=sys.stderr,
    )
    return 0
