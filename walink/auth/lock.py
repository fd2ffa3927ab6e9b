"""The writer lock: one writer per store, across threads and processes.

``flock`` locks belong to an open file description, so two stores in the same process conflict
exactly like two processes do, and the kernel drops the lock when a writer dies (even by SIGKILL):
no stale lock files to clean up. Readers never take it.
"""

from __future__ import annotations

import errno
import fcntl
import os

from walink.auth.errors import StoreLockedError

__all__ = ["WriterLock"]


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
        """Take the lock, or raise ``StoreLockedError`` at once if another writer has it."""
        if self._fd is not None:
            return
        if os.path.isdir(self._path):
            fd = os.open(self._path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StoreLockedError(
                    f"another writer (this process or another) holds the {self._what}",
                    self._path,
                ) from None
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the last descriptor releases the flock
