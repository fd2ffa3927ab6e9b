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
import functools
import os
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.auth.strategies import full_creds, seeded_rng
from walink.auth import AuthStore, Creds, KeyPair, KeyUpdates, KeyValue, MultiFileStore, SQLiteStore
from walink.auth.files import TEMP_SUFFIX
from walink.auth.journal import JOURNAL_FILE
from walink.auth.lock import WriterLock

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


_READY = b"ready\n"


def _fork_and_kill(body: Callable[[int], None], delay: float) -> int | None:
    """Fork ``body(report_fd)``, SIGKILL it ``delay`` seconds after it started running; the
    last number it reported.

    The delay counts from the child's first line, not from the fork: on a loaded machine a
    forked child can wait longer than the whole delay before it runs at all, and rounds killed
    before their first instruction would test nothing (a loaded CI run fell short of its saves).
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_fd)
            os.write(write_fd, _READY)  # one write under PIPE_BUF: it arrives whole
            body(write_fd)
        finally:
            os._exit(code)
    os.close(write_fd)
    ready = b""
    while len(ready) < len(_READY) and (chunk := os.read(read_fd, len(_READY) - len(ready))):
        ready += chunk
    assert ready == _READY, f"the writer did not start: {ready!r}"
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


def _run_writer(kind: str, where: Path, start: int, delay: float) -> int | None:
    """Fork a creds writer, SIGKILL it after ``delay`` seconds; the last number it acknowledged."""
    return _fork_and_kill(lambda fd: _write_forever(kind, where, start, fd), delay)


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


# -- multi-file key batches: all or nothing ---------------------------------------------------

BATCH_SESSIONS = 12
BATCH_KILLS = 120


def _batch(number: int) -> KeyUpdates:
    """Batch ``number``: what a decrypted message commits, and then some, all tagged ``number``.

    Sessions (libsignal records, here tagged objects), the pre-key the first one consumed
    (deleted), the next pre-key, an identity key and the walink-only message record.
    """
    sessions: dict[str, KeyValue | None] = {
        f"1555000{i:04d}.0": {"n": number, "pad": "s" * (number * 13 % 700)}
        for i in range(BATCH_SESSIONS)
    }
    pre_keys: dict[str, KeyValue | None] = {str(number): _pre_key(number)}
    if number > 0:
        pre_keys[str(number - 1)] = None
    return {
        "session": sessions,
        "pre-key": pre_keys,
        "identity-key": {"15550000000.0": number.to_bytes(4, "big")},
        "walink-message": {"m": {"n": number}},
    }


def _batch_number(store: AuthStore) -> int | None:
    """The number of the batch ``store`` holds; fails the test on a mix of batches."""
    sessions = store.get_keys("session", [f"1555000{i:04d}.0" for i in range(BATCH_SESSIONS)])
    numbers = {None if value is None else value["n"] for value in sessions.values()}  # type: ignore[index,call-overload]
    assert len(numbers) == 1, f"sessions from different batches: {sorted(map(str, numbers))}"
    (number,) = numbers
    if number is None:
        assert store.get_keys("walink-message", ["m"]) == {"m": None}
        return None
    assert isinstance(number, int)
    assert store.get_keys("identity-key", ["15550000000.0"]) == {
        "15550000000.0": number.to_bytes(4, "big")
    }
    assert store.get_keys("walink-message", ["m"]) == {"m": {"n": number}}
    ids = [str(n) for n in (number - 1, number, number + 1)]
    assert store.get_keys("pre-key", ids) == {
        str(number - 1): None,
        str(number): _pre_key(number),
        str(number + 1): None,
    }
    return number


def _write_batches_forever(folder: Path, start: int, report_fd: int) -> None:
    store = MultiFileStore(folder)
    number = start
    while True:
        store.set_keys(_batch(number))
        os.write(report_fd, f"{number}\n".encode())
        number += 1


def test_sigkill_during_multifile_batches_leaves_whole_batches(fast_dir: Path) -> None:
    folder = fast_dir / "auth"
    rng = random.Random("batches")
    last: int | None = None
    cut_short = 0  # rounds whose kill left an unfinished batch behind
    for _ in range(BATCH_KILLS):
        start = 0 if last is None else last + 1
        acked = _fork_and_kill(
            functools.partial(_write_batches_forever, folder, start),
            delay=rng.uniform(0.001, 0.02),
        )
        allowed = {last, start} if acked is None else {acked, acked + 1}
        unfinished = os.path.exists(folder / JOURNAL_FILE)
        cut_short += unfinished
        # A reader that cannot finish the batch (a writer holds the lock) sees it whole...
        blocker = WriterLock(str(folder), what="test") if folder.exists() else None
        if blocker is not None:
            blocker.acquire()
        try:
            seen = _batch_number(MultiFileStore(folder))
        finally:
            if blocker is not None:
                blocker.release()
        assert seen in allowed, f"batch {seen} after a kill, expected one of {allowed}"
        # ...and a load finishes it, so the folder is whole for Baileys, which knows no journal.
        MultiFileStore(folder).load()
        assert not os.path.exists(folder / JOURNAL_FILE)
        assert _batch_number(MultiFileStore(folder)) == seen
        last = seen
    print(f"multifile batches: {cut_short} of {BATCH_KILLS} kills cut a batch short")
    assert cut_short > 0, "no kill landed inside a batch: the test proves nothing"
    with MultiFileStore(folder) as final:
        final.set_keys(_batch(0))  # the next writer removes what the killed ones left
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
