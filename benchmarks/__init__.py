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
    peer: float
    """The peer's rate in the same unit, measured in the same run (Baileys, or a floor)."""
    unit: str = "ops/s"
    target: float | None = None
    """The ratio walink/peer this row should reach, when the project has set one."""

    @property
    def ratio(self) -> float:
        """walink / peer: above 1 means walink is faster."""
        return self.walink / self.peer if self.peer else float("inf")

    @property
    def meets_target(self) -> bool | None:
        """Whether the ratio reaches the target (None without a target)."""
        return None if self.target is None else self.ratio >= self.target


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
        f"{'benchmark':<{width}} {'walink':>12} {'peer':>12} {'unit':<10} {'ratio':>7}  target"
    ]
    for row in rows:
        target = ""
        if row.target is not None:
            target = f">= {row.target:g}x " + ("ok" if row.meets_target else "MISSED")
        lines.append(
            f"{row.name:<{width}} {row.walink:>12,.0f} {row.peer:>12,.0f} {row.unit:<10} "
            f"{row.ratio:>6.2f}x  {target}".rstrip()
        )
    return "\n".join(lines)
