"""Benchmarks: numbers, not assertions. ``make bench`` runs them all (``python -m benchmarks``).

The contract a benchmark module plugs into (see benchmarks/README.md): a module
``benchmarks/<name>.py`` that defines ``run() -> list[Row]`` is found and run by
``python -m benchmarks``, which prints every row in one table. Each row compares walink with a
peer measured in the same run, on the same machine, side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Row", "best_cpu_seconds", "render"]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: walink's rate against a peer's, higher is better for both."""

    name: str
    """What was measured, e.g. ``"codec: decode vs decodeDecompressedBinaryNode (sync)"``."""
    walink: float
    """walink's rate, in ``unit``."""
    peer: float | None
    """The peer's rate in the same unit, measured in the same run (Baileys, libsignal-node, or a
    floor); None for a figure of walink's own that has no peer (history's MiB/s, fleet's)."""
    unit: str = "ops/s"
    target: float | None = None
    """The ratio walink/peer this row should reach, when the project has set one."""

    @property
    def ratio(self) -> float | None:
        """walink / peer: above 1 means walink is faster; None without a peer."""
        if self.peer is None:
            return None
        return self.walink / self.peer if self.peer else float("inf")

    @property
    def meets_target(self) -> bool | None:
        """Whether the ratio reaches the target (None without a target or without a peer)."""
        ratio = self.ratio
        return None if self.target is None or ratio is None else ratio >= self.target


def best_cpu_seconds(loop: Callable[[], None], runs: int) -> float:
    """The least process CPU time of ``runs`` calls of ``loop``, after one warm-up call.

    CPU time rather than wall time, and the best run rather than the median: on a shared
    machine other work inflates both, and the least disturbed run is the closest to the cost.
    """
    loop()
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        loop()
        best = min(best, time.process_time() - start)
    return best


def render(rows: list[Row]) -> str:
    """The table: name, walink rate, peer rate, unit, ratio, target."""
    width = max([len(row.name) for row in rows] + [9])
    lines = [
        f"{'benchmark':<{width}} {'walink':>12} {'peer':>12} {'unit':<12} {'ratio':>7}  target"
    ]
    for row in rows:
        target = ""
        if row.target is not None:
            verdict = {None: "", True: "ok", False: "MISSED"}[row.meets_target]
            target = f">= {row.target:g}x {verdict}"
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        lines.append(
            f"{row.name:<{width}} {_rate(row.walink):>12} {_rate(row.peer):>12} {row.unit:<12} "
            f"{ratio:>7}  {target}".rstrip()
        )
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    """A rate for the table: thousands separated, one decimal below 100 (MiB/s), ``-`` if none."""
    if value is None:
        return "-"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
