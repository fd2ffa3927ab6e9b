"""The writer lock: one writer per store, across threads and processes.

``flock`` locks belong to an open file description, so two stores in the same process conflict
exactly like two processes do, and the kernel drops the lock when a writer dies (even by SIGKILL):
no stale lock files to clean up. Readers never take it.

Who holds it, for the refusal message: a lock *file* records its holder (``pid host``) once
locked; a refused writer reads that back. A locked folder gets no file (a Baileys folder stays as
Baileys made it), so the holder is looked up in Linux's ``/proc/locks`` instead. Both are best
effort: a refusal without a holder still names the store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket

from walink.auth.errors import StoreLockedError, StoreWriteError

__all__ = ["WriterLock"]

_PROC_LOCKS = "/proc/locks"


class WriterLock:
    """An exclusive, non-blocking ``flock`` on ``path`` (a lock file, created 0600, or a folder)."""

    def __init__(self, path: str, *, what: str) -> None:
        self._path = path
        self._what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise ``StoreLockedError`` at once if another writer has it.

        ``StoreWriteError`` when the lock file cannot be created (a read-only or missing folder).
        """
        if self._fd is not None:
            return
        is_folder = os.path.isdir(self._path)
        try:
            if is_folder:
                fd = os.open(self._path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            else:
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise StoreWriteError(
                f"cannot create the {self._what}'s lock ({error.strerror})", self._path
            ) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                pid, host = self._holder(is_folder)
                raise StoreLockedError(
                    f"another writer holds the {self._what} ({_describe(pid, host)})",
                    self._path,
                    pid=pid,
                    host=host,
                ) from None
            raise StoreWriteError(
                f"cannot lock the {self._what} ({error.strerror})", self._path
            ) from error
        if not is_folder:
            # Best effort: a lock that cannot say who holds it still locks.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the last descriptor releases the flock

    def _holder(self, is_folder: bool) -> tuple[int | None, str | None]:
        if not is_folder:
            with contextlib.suppress(OSError, ValueError), open(self._path, "rb") as file:
                pid_text, host = file.read(512).decode().split()
                return int(pid_text), host
        return _proc_locks_holder(self._path), None


def _describe(pid: int | None, host: str | None) -> str:
    if pid is None:
        return "this process or another"
    if pid == os.getpid() and host in (None, socket.gethostname()):
        return f"this process, pid {pid}"
    return f"pid {pid}" + ("" if host is None else f" on {host}")


def _proc_locks_holder(path: str) -> int | None:
    """The pid of the ``flock`` on ``path`` in ``/proc/locks`` (Linux), or None."""
    try:
        info = os.stat(path)
        with open(_PROC_LOCKS, encoding="ascii", errors="replace") as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF": the device as hex major:minor.
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            with contextlib.suppress(ValueError):
                return int(fields[4])
    return None
