"""The batch journal that makes a multi-file key batch all or nothing.

Theory of operation. Baileys' folder layout is one file per key, and a batch of keys (a Signal
session and the pre-key it consumed, the decrypted message they go with) must never be seen half
written: a rename is atomic for one file, not for ten. So a batch of more than one file goes:

1. every new content to its own fsynced temp file (hidden, ``files.TEMP_SUFFIX``);
2. the journal: one hidden file naming each temp and the key file it becomes (or, with no temp,
   the key file to delete), written atomically (temp, fsync, rename, folder fsync). Its rename
   is the commit point: before it the batch does not exist (its temps are litter the next writer
   removes), after it the batch is decided;
3. the renames and deletions, one folder fsync, then the journal is removed.

A writer killed in step 3 leaves the journal. Finishing it (``finish``) is idempotent: a temp
that is still there is renamed (one that is gone was renamed already), a deletion is redone.
Only the writer-lock holder finishes a journal; it does so before anything else (before stale
temps are removed, since the journal's temps are not stale). A reader that cannot finish it
reads through it instead (``JournalView``): a key the journal names is read from its temp while
the temp exists, so a reader sees the whole committed batch either way.

Every key file is named at most once in a journal (the store keeps the last of duplicate
names), so redoing a deletion can never remove a file the same batch wrote. Baileys never lists
the folder, so the journal and the temps are invisible to it; once a journal is finished the
folder is exactly what Baileys' own writer would have left.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass

from walink.auth.errors import CorruptStoreError
from walink.auth.files import (
    TEMP_SUFFIX,
    FileSystem,
    discard_temp,
    fsync_dir,
    read_file,
    write_temp,
)

__all__ = ["JOURNAL_FILE", "Journal", "apply", "commit", "finish", "read_journal"]

#: Hidden, so Baileys (which only opens the files it names) and people's ``ls`` pass it by.
JOURNAL_FILE = ".walink-journal.json"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Journal:
    """A committed batch: ``(temp, target)`` file names in the folder; temp None deletes."""

    entries: tuple[tuple[str | None, str], ...]

    def by_target(self) -> dict[str, str | None]:
        """Every key file the batch names, to the temp with its new content (None: deleted)."""
        return {target: temp for temp, target in self.entries}


def _plain_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\x00" not in name
    )


def _parse(data: bytes, path: str) -> Journal:
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("v") != _VERSION:
            raise ValueError("unknown journal version")
        entries: list[tuple[str | None, str]] = []
        for entry in document["entries"]:
            temp, target = entry
            # Names only, never paths: a journal can rename and delete nothing outside the folder,
            # and only walink's own temps into visible key files.
            if not _plain_name(target) or target.startswith("."):
                raise ValueError(f"bad key file name {target!r}")
            if temp is not None and not (
                _plain_name(temp) and temp.startswith(".") and temp.endswith(TEMP_SUFFIX)
            ):
                raise ValueError(f"bad temp file name {temp!r}")
            entries.append((temp, target))
    except (ValueError, TypeError, KeyError) as error:
        raise CorruptStoreError(
            f"unreadable batch journal ({error}); remove it to drop that batch", path
        ) from None
    return Journal(tuple(entries))


def read_journal(fs: FileSystem, folder: str) -> Journal | None:
    """The folder's committed, unfinished batch, or None. OS errors propagate."""
    path = os.path.join(folder, JOURNAL_FILE)
    data = read_file(fs, path)
    return None if data is None else _parse(data, path)


def commit(fs: FileSystem, folder: str, journal: Journal) -> None:
    """Put the journal in place (step 2 above): once this returns, the batch is decided.

    On an error nothing is committed (the journal's temp is removed) and the error propagates.
    ``finish(..., sync_first=True)`` then makes the journal durable before the first rename.
    """
    document = {"v": _VERSION, "entries": [list(entry) for entry in journal.entries]}
    temp = write_temp(fs, folder, JOURNAL_FILE, json.dumps(document).encode("utf-8"))
    try:
        fs.replace(temp, os.path.join(folder, JOURNAL_FILE))
    except BaseException:
        discard_temp(fs, temp)
        raise


def apply(fs: FileSystem, folder: str, journal: Journal) -> None:
    """Rename each temp still there and delete each file to delete (idempotent; OS errors raise).

    The ``OSError`` raised carries the key file's path in ``filename``.
    """
    for temp, target in journal.entries:
        path = os.path.join(folder, target)
        if temp is None:
            with contextlib.suppress(FileNotFoundError):
                fs.unlink(path)
            continue
        try:
            fs.replace(os.path.join(folder, temp), path)
        except FileNotFoundError:
            pass  # renamed before the writer died
        except OSError as error:
            raise OSError(error.errno, error.strerror, path) from error


def finish(fs: FileSystem, folder: str, journal: Journal, *, sync_first: bool = False) -> None:
    """Apply a committed batch, make it durable, then drop the journal (the lock holder only).

    ``sync_first`` fsyncs the folder before the first rename, so that after a power cut no key
    file can be new while the journal that makes its batch whole is lost.
    """
    if sync_first:
        fsync_dir(fs, folder)
    apply(fs, folder, journal)
    fsync_dir(fs, folder)
    # No folder fsync after the removal: a journal that comes back after a power cut is finished
    # again harmlessly (its temps are gone, its deletions redone), and the next write's folder
    # fsync makes the removal durable anyway.
    fs.unlink(os.path.join(folder, JOURNAL_FILE))
