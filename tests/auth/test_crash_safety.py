"""Crash safety: writers killed with SIGKILL at random points never leave garbage behind.

Each round forks a writer that saves creds numbered i, i+1, ... (each with a pre-key of the same
number) and reports each number once its save returned; the parent kills it with SIGKILL after a
random delay, then loads. The loaded creds must be exactly the last acknowledged ones or the next
ones, and every acknowledged pre-key must be there. Forking (not spawning) keeps rounds cheap.

The stores live on tmpfs when there is one: a killed process leaves the page cache intact, so
fsync plays no part in this property, and tmpfs makes hundreds of saves take well under a second.
(Power loss is the fsync's job; no test here can cut the power.)
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.strategies import full_creds, seeded_rng
from walink.auth import AuthStore, Creds, KeyPair, MultiFileStore, SQLiteStore
from walink.auth.files import TEMP_SUFFIX

MIN_KILLS = 25
MIN_SAVES = 300
MAX_KILLS = 400
BASE = full_creds(seed=99)


def _creds(number: int) -> Creds:
    # The size changes from save to save, so a torn write would show as a truncated file.
    return dataclasses.replace(
        BASE,
        account_sync_counter=number,
        routing_info=number.to_bytes(4, "big"),
        additional_data={"pad": "x" * (number * 37 % 3000)},
    )


def _pre_key(number: int) -> KeyPair:
    return KeyPair.generate(seeded_rng(number))


def _store(kind: str, where: Path) -> AuthStore:
    return SQLiteStore(where / "auth.db") if kind == "sqlite" else MultiFileStore(where / "auth")


def _write_forever(kind: str, where: Path, start: int, report_fd: int) -> None:
    store = _store(kind, where)
    number = start
    while True:
        store.save(_creds(number))
        store.set_keys({"pre-key": {str(number): _pre_key(number)}})
        os.write(report_fd, f"{number}\n".encode())
        number += 1


def _run_writer(kind: str, where: Path, start: int, delay: float) -> int | None:
    """Fork a writer, SIGKILL it after ``delay`` seconds; the last number it acknowledged."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_fd)
            _write_forever(kind, where, start, write_fd)
        finally:
            os._exit(code)
    os.close(write_fd)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), "the writer died on its own: see its error above"
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    lines = b"".join(chunks).split()
    return int(lines[-1]) if lines else None


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="walink-crash-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("kind", ["sqlite", "multifile"])
def test_sigkill_during_saves_leaves_old_or_new_creds(kind: str, fast_dir: Path) -> None:
    tmp_path = fast_dir
    rng = random.Random(kind)
    last_loaded: int | None = None
    highest_acked = -1
    total_saves = 0
    kills = 0
    while kills < MIN_KILLS or total_saves < MIN_SAVES:
        assert kills < MAX_KILLS, f"only {total_saves} saves in {kills} rounds: writer too slow"
        kills += 1
        # Restart from the loaded number: its pre-key may be the one a kill cut off.
        start = 0 if last_loaded is None else last_loaded
        acked = _run_writer(kind, tmp_path, start, delay=rng.uniform(0.001, 0.03))
        reader = _store(kind, tmp_path)
        loaded = reader.load()
        if acked is None:
            allowed = {last_loaded, start}
        else:
            total_saves += acked - start + 1
            highest_acked = max(highest_acked, acked)
            allowed = {acked, acked + 1}
        number = None if loaded is None else loaded.account_sync_counter
        assert number in allowed, f"loaded {number}, expected one of {allowed}"
        if number is not None:
            assert loaded == _creds(number)  # every field, not just the counter
            # This round's keys (earlier rounds' keys are checked once, at the end).
            acked_keys = range(min(start, highest_acked + 1), highest_acked + 1)
            keys = reader.get_keys("pre-key", [str(n) for n in acked_keys])
            assert keys == {str(n): _pre_key(n) for n in acked_keys}
        last_loaded = number
    print(f"{kind}: {total_saves} acknowledged saves over {kills} kills")
    every_key = [str(n) for n in range(highest_acked + 1)]
    assert _store(kind, tmp_path).get_keys("pre-key", every_key) == {
        str(n): _pre_key(n) for n in range(highest_acked + 1)
    }
    with _store(kind, tmp_path) as final:
        final.save(_creds(0))  # the lock died with the writers; the next writer cleans up
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(TEMP_SUFFIX)]
    assert leftovers == []
