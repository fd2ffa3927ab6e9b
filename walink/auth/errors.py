"""Errors of the credential stores, named by cause (the trio convention).

Every error names the file (or database) it is about, because the reader of the message is a
person deciding whether to restore a backup: "corrupt" and "locked" need different actions, and
neither may ever be answered by silently making a fresh identity.
"""

from __future__ import annotations

import os


class AuthStoreError(Exception):
    """Base class of every error a credential store raises on purpose."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message if path is None else f"{message}: {os.fspath(path)}")
        self.path = None if path is None else os.fspath(path)


class CorruptStoreError(AuthStoreError):
    """The store exists but its contents cannot be parsed: truncated, garbled, wrong shape."""


class UnknownSchemaError(CorruptStoreError):
    """The store was written by a newer walink (or something else) with a schema we do not know."""


class StoreAccessError(AuthStoreError):
    """The operating system refused the access the store needs; its contents are not at fault.

    A read-only file system, a permission, a full disk, an I/O error: the saved credentials may
    be perfectly good, so this is never reported as corruption. ``StoreReadError`` and
    ``StoreWriteError`` say which way the access failed.
    """


class StoreReadError(StoreAccessError):
    """The store exists but the operating system refused to read it (EACCES, EIO, ...)."""


class StoreWriteError(StoreAccessError):
    """A write failed (ENOSPC, EROFS, EACCES, ...), or ``acquire`` found the store unwritable.

    What ``load`` returns is the state before the failed call, except for a multi-file batch
    that failed after its commit point: then it is the whole batch (never a part of it).
    """


class StoreLockedError(AuthStoreError):
    """Another writer (in this process or another) holds the store's writer lock.

    ``pid`` and ``host`` name the holder where the store could find out (None otherwise).
    """

    def __init__(
        self,
        message: str,
        path: str | os.PathLike[str] | None = None,
        *,
        pid: int | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(message, path)
        self.pid = pid
        self.host = host


class StoreClosedError(AuthStoreError):
    """The store was closed; open a new one to keep writing."""


class UnknownDeviceError(AuthStoreError):
    """A device store holds no device by that id or JID."""


class DeviceLeasedError(StoreLockedError):
    """Another process (or another store object) holds the device's lease.

    ``holder`` names the lease's owner (``host:pid:tag``), ``epoch`` is its fencing number and
    ``expires_in`` the seconds left before it lapses unless renewed.
    """

    def __init__(
        self, message: str, path: str | None, *, holder: str, epoch: int, expires_in: float
    ) -> None:
        super().__init__(message, path)
        self.holder = holder
        self.epoch = epoch
        self.expires_in = expires_in


class LeaseLostError(StoreWriteError):
    """A write came under a device lease this process no longer holds (expired, or taken over
    by another process with a newer epoch). Nothing was written; the device must stop here."""
