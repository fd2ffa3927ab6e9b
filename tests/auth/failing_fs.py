"""A FileSystem that fails one chosen system call with one chosen errno (tests run as root)."""

from __future__ import annotations

import errno
import os
from typing import TypeVar

from walink.auth.files import FileSystem
from walink.auth.store import AuthStore

S = TypeVar("S", bound=AuthStore)


class FailingFileSystem(FileSystem):
    """Raise ``OSError(code)`` from ``operation`` whenever its path contains ``match``.

    ``operation`` is a ``FileSystem`` method name; for descriptor calls (write, read, fsync) the
    match is on the path the descriptor was opened with.
    """

    def __init__(self, operation: str, code: int, match: str = "") -> None:
        self.operation, self.code, self.match = operation, code, match
        self.armed = True
        self._paths: dict[int, str] = {}

    def _check(self, operation: str, path: str) -> None:
        if self.armed and operation == self.operation and self.match in path:
            raise OSError(self.code, os.strerror(self.code), path)

    def open(self, path: str, flags: int, mode: int = 0o600) -> int:
        self._check("open", path)
        fd = super().open(path, flags, mode)
        self._paths[fd] = path
        return fd

    def write(self, fd: int, data: bytes) -> int:
        self._check("write", self._paths.get(fd, ""))
        return super().write(fd, data)

    def read(self, fd: int, size: int) -> bytes:
        self._check("read", self._paths.get(fd, ""))
        return super().read(fd, size)

    def fsync(self, fd: int) -> None:
        self._check("fsync", self._paths.get(fd, ""))
        super().fsync(fd)

    def close(self, fd: int) -> None:
        self._paths.pop(fd, None)
        super().close(fd)

    def replace(self, source: str, target: str) -> None:
        self._check("replace", target)
        super().replace(source, target)

    def unlink(self, path: str) -> None:
        self._check("unlink", path)
        super().unlink(path)


#: (operation, errno) pairs for a failed write: full disk, read-only file system, permission,
#: an I/O error at fsync, a refused rename.
FAILURES = [
    ("write", errno.ENOSPC),
    ("open", errno.EROFS),
    ("open", errno.EACCES),
    ("fsync", errno.EIO),
    ("replace", errno.EACCES),
]


def acquired(store: S, fs: FailingFileSystem) -> S:
    """``store`` as a writer that ``acquire`` found healthy, with ``fs`` failing from now on.

    ``acquire`` probes the disk, so a failure meant for a later write must be armed after it.
    """
    fs.armed = False
    store.acquire()
    fs.armed = True
    return store
