"""The benchmark runner's contract: discovery, the Row type, the table, the handshake rows."""

from __future__ import annotations

import sys
import types

import pytest

from benchmarks import Row, best_cpu_seconds, handshake, render
from benchmarks import __main__ as runner


def test_every_benchmark_module_is_discovered_and_has_run() -> None:
    names = runner.discover()
    assert {"codec", "handshake"} <= set(names)
    assert not [name for name in names if name.startswith("_")]


def test_row_ratio_and_target() -> None:
    row = Row(name="x: a vs b", walink=300.0, peer=100.0, unit="ops/s", target=2.5)
    assert row.ratio == 3.0 and row.meets_target is True
    assert Row(name="y", walink=1.0, peer=1.0).meets_target is None
    assert Row(name="z", walink=1.0, peer=2.0, target=1.0).meets_target is False


def test_table_has_one_line_per_row_with_ratio_and_verdict() -> None:
    table = render(
        [
            Row(name="codec: encode", walink=120_000, peer=40_000, unit="nodes/s", target=2.5),
            Row(name="handshake: pairs", walink=1_000, peer=2_000, unit="pairs/s", target=0.75),
            Row(name="other", walink=5, peer=5),
        ]
    )
    lines = table.splitlines()
    assert len(lines) == 4
    assert lines[1].split()[-4:] == ["3.00x", ">=", "2.5x", "ok"]
    assert lines[2].endswith("0.50x  >= 0.75x MISSED")
    assert lines[3].endswith("1.00x")


def test_a_module_without_run_is_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "benchmarks.norun", types.ModuleType("benchmarks.norun"))
    fake = types.ModuleType("benchmarks.fake")
    fake.run = lambda: [Row(name="fake: a vs b", walink=2.0, peer=1.0)]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.fake", fake)
    rows, notes = runner.collect(["norun", "fake"])
    assert [row.name for row in rows] == ["fake: a vs b"]
    assert notes == ["benchmarks/norun.py has no run() -> list[Row]: skipped"]


def test_best_cpu_seconds_is_the_least_of_the_runs() -> None:
    calls: list[int] = []
    assert best_cpu_seconds(lambda: calls.append(1), runs=3) >= 0
    assert len(calls) == 4  # one warm-up, three timed


def test_handshake_rows_compare_with_the_x25519_floor() -> None:
    [row] = handshake.run(seconds=0.01, repeat=1)
    assert row.unit == "pairs/s" and row.target == 0.75
    assert row.walink > 0 and row.peer > 0
