"""Crash-safe file writes, and the one seam through which the file stores touch the disk.

``atomic_write`` is the classic sequence: write a temp file in the same folder, fsync it,
rename it over the target, fsync the folder. After a crash at any point the target holds either
its old bytes or its new ones, never a mix; at worst a temp file is left behind, which the next
writer removes (``remove_stale_temps``). ``write_temp`` is its first half, so a batch can write
and fsync every temp, rename them all, then fsync the folder once (``MultiFileStore.set_keys``).

Every system call goes through a ``FileSystem`` object so tests can inject ENOSPC, EROFS or
EACCES at a precise step (tests run as root, where chmod proves nothing).
"""

from __future__ import annotations

import contextlib
import os
import secrets

__all__ = [
    "TEMP_SUFFIX",
    "FileSystem",
    "atomic_write",
    "discard_temp",
    "fsync_dir",
    "read_file",
    "remove_stale_temps",
    "write_temp",
]

#: Temp files are hidden (leading dot) and end with this, so Baileys never mistakes them for keys.
TEMP_SUFFIX = ".walink-tmp"
FILE_MODE = 0o600
DIR_MODE = 0o700


class FileSystem:
    """The system calls the file stores make; subclass and override one to inject a failure."""

    def open(self, path: str, flags: int, mode: int = FILE_MODE) -> int:
        return os.open(path, flags, mode)

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def read(self, fd: int, size: int) -> bytes:
        return os.read(fd, size)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def replace(self, source: str, target: str) -> None:
        os.replace(source, target)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def mkdir(self, path: str, mode: int = DIR_MODE) -> None:
        os.mkdir(path, mode)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)


def read_file(fs: FileSystem, path: str) -> bytes | None:
    """The whole file, or None when it does not exist. Other OS errors propagate."""
    try:
        fd = fs.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := fs.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        fs.close(fd)


def _write_all(fs: FileSystem, fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = fs.write(fd, view.tobytes())
        view = view[written:]


def fsync_dir(fs: FileSystem, folder: str) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    fd = fs.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fs.fsync(fd)
    finally:
        fs.close(fd)


def write_temp(fs: FileSystem, folder: str, name: str, data: bytes) -> str:
    """Write ``data`` to a new temp file beside ``folder/name`` and fsync it; its path.

    The first half of ``atomic_write``, for callers that rename many temps before one folder
    fsync. On any error the temp file is removed and the error propagates.
    """
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = fs.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            _write_all(fs, fd, data)
            # Before the rename, or a power cut could leave the new name on empty content.
            fs.fsync(fd)
        finally:
            fs.close(fd)
    except BaseException:
        discard_temp(fs, temp)
        raise
    return temp


def discard_temp(fs: FileSystem, temp: str) -> None:
    """Remove a temp file, best effort: if the disk refuses, a later writer cleans up."""
    with contextlib.suppress(OSError):
        fs.unlink(temp)


def atomic_write(fs: FileSystem, folder: str, name: str, data: bytes) -> None:
    """Replace ``folder/name`` with ``data`` atomically and durably, mode 0600.

    On any error the temp file is removed and the old file is untouched; the error propagates.
    """
    temp = write_temp(fs, folder, name, data)
    try:
        fs.replace(temp, os.path.join(folder, name))
    except BaseException:
        discard_temp(fs, temp)
        raise
    fsync_dir(fs, folder)


def remove_stale_temps(fs: FileSystem, folder: str) -> None:
    """Delete temp files a crashed writer left behind (only the lock holder may call this)."""
    for name in fs.listdir(folder):
        if name.startswith(".") and name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                fs.unlink(os.path.join(folder, name))
