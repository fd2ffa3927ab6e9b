"""walink.auth.lock: one writer across threads and processes; freed by close and by death."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from walink.auth import StoreLockedError, StoreWriteError
from walink.auth.lock import WriterLock

REPO = Path(__file__).resolve().parents[2]


def test_second_lock_in_the_same_process_is_refused(tmp_path: Path) -> None:
    first = WriterLock(str(tmp_path / "x.lock"), what="test store")
    second = WriterLock(str(tmp_path / "x.lock"), what="test store")
    first.acquire()
    first.acquire()  # re-entrant for its owner
    with pytest.raises(StoreLockedError, match="another writer") as caught:
        second.acquire()
    assert caught.value.path == str(tmp_path / "x.lock")
    assert not second.held
    first.release()
    second.acquire()
    assert second.held
    second.release()
    second.release()  # releasing twice is harmless


def test_a_folder_can_be_the_lock(tmp_path: Path) -> None:
    first, second = (WriterLock(str(tmp_path), what="folder") for _ in range(2))
    first.acquire()
    with pytest.raises(StoreLockedError):
        second.acquire()
    first.release()
    assert os.listdir(tmp_path) == []  # locking a folder adds no file to it


def _other_process(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_another_process_is_refused_and_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "x.lock")
    holder = _other_process(
        "import sys\n"
        "from walink.auth.lock import WriterLock\n"
        f"WriterLock({path!r}, what='t').acquire()\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(StoreLockedError, match=rf"pid {holder.pid} on ") as caught:
            WriterLock(path, what="t").acquire()
        # A lock file records its holder: the refusal names the process and the machine.
        assert (caught.value.pid, caught.value.host) == (holder.pid, socket.gethostname())
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    lock = WriterLock(path, what="t")
    lock.acquire()  # no stale lock after a SIGKILL
    lock.release()


def test_another_process_store_gets_a_clear_error(tmp_path: Path) -> None:
    from walink.auth import Creds, MultiFileStore, SQLiteStore

    for store in (SQLiteStore(tmp_path / "auth.db"), MultiFileStore(tmp_path / "folder")):
        creds = Creds.new()
        store.save(creds)
        target = getattr(store, "path", None) or getattr(store, "folder", "")
        other = _other_process(
            "from walink.auth import Creds, SQLiteStore, MultiFileStore, StoreLockedError\n"
            f"store = {type(store).__name__}({target!r})\n"
            "print(store.load().registration_id)\n"
            "try:\n"
            "    store.save(Creds.new())\n"
            "except StoreLockedError as error:\n"
            "    print('locked:', error)\n"
        )
        out, _ = other.communicate(timeout=60)
        reader_line, error_line = out.splitlines()
        assert reader_line == str(creds.registration_id)  # the reader loaded while we write
        assert error_line.startswith("locked: another writer")
        assert store.load() == creds
        store.close()


def test_a_locked_folder_names_its_holder_from_proc_locks(tmp_path: Path) -> None:
    holder = _other_process(
        "import sys\n"
        "from walink.auth.lock import WriterLock\n"
        f"WriterLock({str(tmp_path)!r}, what='t').acquire()\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(StoreLockedError, match=rf"\(pid {holder.pid}\)") as caught:
            WriterLock(str(tmp_path), what="t").acquire()
        assert caught.value.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert os.listdir(tmp_path) == []  # nothing was written into the folder to say so


def test_a_lock_file_that_cannot_be_created_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(StoreWriteError, match="cannot create") as caught:
        WriterLock(str(tmp_path / "missing" / "x.lock"), what="t").acquire()
    assert isinstance(caught.value.__cause__, FileNotFoundError)
