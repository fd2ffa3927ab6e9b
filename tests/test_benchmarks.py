"""The benchmark runner's contract: discovery, the Row type, the table, the handshake rows."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import pytest

from benchmarks import (
    Row,
    best_cpu_seconds,
    codec,
    delivery,
    fleet,
    handshake,
    history,
    render,
)
from benchmarks import __main__ as runner


def test_every_benchmark_module_is_discovered_and_has_run() -> None:
    names = runner.discover()
    assert {"codec", "fleet", "handshake", "history", "signal"} <= set(names)
    assert not [name for name in names if name.startswith("_")]
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        assert callable(getattr(module, "run", None)), f"benchmarks/{name}.py has no run()"


def test_a_row_without_peer_has_no_ratio_and_no_verdict() -> None:
    row = Row(name="history: x", walink=42.25, peer=None, unit="MiB/s", target=1.0)
    assert row.ratio is None and row.meets_target is None
    [_, line] = render([row]).splitlines()
    assert line.split() == ["history:", "x", "42.2", "-", "MiB/s", "-", ">=", "1x"]


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
    assert row.walink > 0 and row.peer is not None and row.peer > 0


def test_history_rows_are_mib_per_second_without_peer() -> None:
    rows = history.run(size_mib=0.05, repeat=1)
    assert [row.unit for row in rows] == ["MiB/s", "MiB/s"]
    assert all(row.name.startswith("history: ") for row in rows)
    assert all(row.peer is None and row.walink > 0 for row in rows)
    assert rows[0].walink > rows[1].walink  # the second adds the HistorySet


def test_delivery_rows_from_its_measurements(monkeypatch: pytest.MonkeyPatch) -> None:
    # delivery.run() pairs a device with an emulator and pushes hundreds of messages: too heavy
    # for the suite (python -m benchmarks.delivery runs it). Its rows, with rates given:
    seen: list[tuple[str, int]] = []

    def measure(kind: str, count: int) -> float:
        seen.append((kind, count))
        return {"memory": 300.0, "sqlite": 100.0}[kind]

    monkeypatch.setattr(delivery, "measure", measure)
    rows = delivery.run(messages=50)
    assert seen == [("memory", 50), ("sqlite", 50)]
    assert [(row.walink, row.unit, row.peer) for row in rows] == [
        (300.0, "msg/s", None),
        (100.0, "msg/s", None),
    ]
    assert all(row.name.startswith("delivery: ") for row in rows)


def test_fleet_rows_from_its_measurements(monkeypatch: pytest.MonkeyPatch) -> None:
    # fleet.run() starts an emulator and two servers: too heavy for the suite. Its rows are
    # built from measure()'s figures, checked here with figures given.
    seen: list[tuple[int, float, int, float]] = []

    def measure(
        devices: int, rate: float, failover_devices: int, ttl: float, *, fresh: bool, idle: float
    ) -> tuple[fleet.MemoryFigures, float]:
        seen.append((devices, rate, failover_devices, ttl))
        memory = fleet.MemoryFigures(
            count=devices,
            rate=rate,
            took=0.5,
            before_kib=1000,
            after_kib=1000 + 256 * devices,
            close_took=0.25,
            late_clients=0,
            idle=idle,
            idle_writes=1,
        )
        return memory, 4.0

    monkeypatch.setattr(fleet, "measure", measure)
    rows = fleet.run()
    assert seen == [(50, 200.0, 10, 2.0)]
    assert [(row.walink, row.unit) for row in rows] == [
        (4096.0, "sessions/GiB"),
        (100.0, "opens/s"),
        (2.5, "devices/s"),
        (200.0, "closes/s"),
    ]
    assert all(row.peer is None and row.name.startswith("fleet: ") for row in rows)


@pytest.mark.peer
def test_signal_rows_compare_with_libsignal_node(peer_dir: Path) -> None:
    from benchmarks import signal

    rows = signal.run(messages=4, pkmsgs=2, rounds=1)
    assert [row.name for row in rows] == [
        f"signal: {kind} decrypt vs libsignal-node" for kind in ("msg", "pkmsg", "skmsg")
    ]
    assert all(row.unit == "decrypts/s" and row.walink > 0 for row in rows)
    assert all(row.peer is not None and row.peer > 0 for row in rows)


def test_codec_rows_compare_both_baileys_decoders(peer_dir: Path) -> None:
    rows = codec.run(nodes=40, runs=1)
    assert [(row.name, row.target) for row in rows] == [
        ("codec: encode vs encodeBinaryNode", 2.5),
        ("codec: decode vs decodeBinaryNode (async)", None),
        ("codec: decode vs decodeDecompressedBinaryNode (sync)", 2.0),
        ("codec: frame path vs Baileys (async decode)", None),
        ("codec: frame path vs Baileys (sync decode)", 4.0),
    ]
    assert all(row.walink > 0 and row.peer is not None and row.peer > 0 for row in rows)
    # both decode rows divide the same walink rate by a different Baileys rate
    assert rows[1].walink == rows[2].walink and rows[3].walink == rows[4].walink


def test_codec_peer_times_one_pass_per_request_and_names_a_bad_loop(peer_dir: Path) -> None:
    bench = codec.BaileysBench(codec.build_corpus(20))
    try:
        for name in codec.PEER_LOOPS:
            assert bench.time(name) >= 0
        with pytest.raises(RuntimeError, match="unknown loop nope"):
            bench.time("nope")
        assert bench.time("decode_sync") >= 0  # still serving after an error
    finally:
        bench.close()


def test_codec_rounds_interleave_walink_and_baileys(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []

    class FakePeer:
        def __init__(self, corpus: list[object]) -> None:
            events.append("start")

        def time(self, loop: str) -> float:
            events.append(f"peer {loop}")
            return 0.5 if loop.endswith("_sync") else 1.0

        def close(self) -> None:
            events.append("close")

    def fake_loops(corpus: list[object]) -> dict[str, object]:
        return {name: (lambda name=name: events.append(f"walink {name}")) for name in codec.LOOPS}

    monkeypatch.setattr(codec, "BaileysBench", FakePeer)
    monkeypatch.setattr(codec, "walink_loops", fake_loops)
    ours, theirs = codec.interleaved_timings(codec.build_corpus(3), runs=2)
    warm_up = ["walink encode", "walink decode", "walink frame"] + [
        f"peer {name}" for name in codec.PEER_LOOPS
    ]
    one_round = [
        "walink encode",
        "peer encode",
        "walink decode",
        "peer decode",
        "peer decode_sync",
        "walink frame",
        "peer frame",
        "peer frame_sync",
    ]
    assert events == ["start", *warm_up, *one_round, *one_round, "close"]
    assert set(ours) == {"encode_s", "decode_s", "frame_s"}
    assert theirs == {
        "encode_s": 1.0,
        "decode_s": 1.0,
        "decode_sync_s": 0.5,
        "frame_s": 1.0,
        "frame_sync_s": 0.5,
    }
