"""``walink diagram``: draw the connection state machine from its declaration.

Mermaid (the default) is byte-stable, so ``diagrams/connection.mmd`` and the README embed it and
CI compares them with this command's output. DOT and SVG carry object ids and Graphviz layout
details that change between runs; they are for looking at, not for committing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("mermaid", "dot", "svg")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diagram", help="print the connection state diagram (Mermaid, DOT or SVG)"
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="mermaid", help="output format (default: mermaid)"
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="write to FILE instead of stdout"
    )
    parser.set_defaults(func=run)


def render(fmt: str) -> str:
    """The diagram of ``ConnectionMachine`` in ``fmt``, ending with exactly one newline."""
    from walink.fsm.machine import ConnectionMachine

    text = format(ConnectionMachine, fmt)
    return text.rstrip("\n") + "\n"


def run(args: argparse.Namespace) -> int:
    from statemachine.contrib.diagram.graphviz import GraphvizError

    try:
        text = render(args.format)
    except ImportError as error:
        # DOT and SVG go through pydot (python-statemachine's `diagrams` extra)
        print(f"walink diagram: {args.format} needs pydot: {error}", file=sys.stderr)
        return 1
    except FileNotFoundError as error:
        # python-statemachine raises a FileNotFoundError subclass when `dot` is not on PATH
        print(f"walink diagram: Graphviz is needed for SVG: {error}", file=sys.stderr)
        return 1
    except GraphvizError as error:
        print(f"walink diagram: Graphviz failed: {error}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8", newline="\n")
    return 0
