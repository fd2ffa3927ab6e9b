"""Run every benchmark of this folder and print one table of ratios against the peers.

    python -m benchmarks [--only codec,handshake] [--json]

A benchmark is a module ``benchmarks/<name>.py`` (not starting with ``_``) that defines
``run() -> list[Row]``; modules without ``run`` are skipped with a note. Each module measures
walink and its peer side by side in this one process run, so the ratios are comparable even
when the machine is busy.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

from benchmarks import Row, render

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """The benchmark module names, sorted (the package's own modules excluded)."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(HERE)])
        if not info.name.startswith("_") and not info.ispkg
    )


def collect(names: list[str]) -> tuple[list[Row], list[str]]:
    """Run each module's ``run()``; return the rows and notes about modules without one."""
    rows: list[Row] = []
    notes: list[str] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        run = getattr(module, "run", None)
        if not callable(run):
            notes.append(f"benchmarks/{name}.py has no run() -> list[Row]: skipped")
            continue
        print(f"running benchmarks/{name}.py ...", file=sys.stderr, flush=True)
        rows.extend(cast(Callable[[], list[Row]], run)())
    return rows, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated module names (default: all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"no such benchmark: {', '.join(unknown)}")
        names = [name for name in names if name in wanted]
    rows, notes = collect(names)
    for note in notes:
        print(note, file=sys.stderr, flush=True)
    if args.json:
        for row in rows:
            record = {
                "v": 1,
                "name": row.name,
                "walink": row.walink,
                "peer": row.peer,
                "unit": row.unit,
                "ratio": row.ratio,
                "target": row.target,
            }
            print(json.dumps(record), flush=True)
    elif rows:
        print(render(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
