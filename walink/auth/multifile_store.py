"""``MultiFileStore``: Baileys' ``useMultiFileAuthState`` folder, read and written exactly.

Layout (Baileys 7): ``creds.json``, plus one ``{type}-{id}.json`` per key with ``/`` replaced by
``__`` and ``:`` by ``-`` in the file name; every file is BufferJSON text. A Baileys user can point
walink at an ``auth_info_baileys`` folder, and Baileys reads a folder walink wrote.

What walink does differently from Baileys, on purpose:

- every write is atomic and durable (``files.atomic_write``), so a crash never leaves a
  half-written ``creds.json`` (Baileys' plain ``writeFile`` can, and then starts a fresh identity);
- an unreadable or corrupt file is an error naming it, never "no creds" or "no key";
- the folder is created 0700 and the files 0600, at the first write (never by a reader);
- one writer: the writer lock is an ``flock`` on the folder itself, so no extra file appears.

Batches: a ``set_keys`` that changes more than one file is all or nothing, even under kill -9
or a power cut, through a hidden journal (``walink.auth.journal`` tells how). A reader that finds
an unfinished journal finishes it when no writer holds the lock (``load`` does), and otherwise
reads through it, so a whole batch is what every reader sees. File names are not injective
(``a:b`` and ``a-b`` share a file), as in Baileys: the last of such keys in a batch wins.

``list_key_ids`` answers from the file names, so an id comes back in its file-name form (``:``
as ``-``, ``/`` as ``__``), which names the same file in ``get_keys`` and ``set_keys``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Iterable

from walink.auth.errors import (
    AuthStoreError,
    CorruptStoreError,
    StoreClosedError,
    StoreReadError,
    StoreWriteError,
)
from walink.auth.files import (
    DIR_MODE,
    FileSystem,
    atomic_write,
    discard_temp,
    fsync_dir,
    read_file,
    remove_stale_temps,
    write_temp,
)
from walink.auth.journal import Journal, commit, finish, read_journal
from walink.auth.key_values import KEY_TYPES, WALINK_KEY_TYPES, KeyValue
from walink.auth.lock import WriterLock
from walink.auth.model import Creds
from walink.auth.store import KeyUpdates, decode_creds, decode_key, encode_creds, encode_key

__all__ = ["CREDS_FILE", "MultiFileStore", "key_file_name"]

CREDS_FILE = "creds.json"
_KNOWN_TYPES = (*KEY_TYPES, *WALINK_KEY_TYPES)


def key_file_name(key_type: str, key_id: str) -> str:
    """Baileys' ``fixFileName(`${type}-${id}.json`)``."""
    return f"{key_type}-{key_id}.json".replace("/", "__").replace(":", "-")


class MultiFileStore:
    """An ``AuthStore`` over a Baileys ``useMultiFileAuthState`` folder."""

    def __init__(self, folder: str | os.PathLike[str], *, fs: FileSystem | None = None) -> None:
        self._folder = os.path.abspath(os.fspath(folder))
        self._fs = fs if fs is not None else FileSystem()
        self._lock = WriterLock(self._folder, what="credential folder")
        self._mutex = threading.RLock()
        self._closed = False
        # A batch this writer committed but could not finish (an error mid-rename): finished
        # before anything else is written, so no later batch can be mixed into it.
        self._unfinished: Journal | None = None

    @property
    def folder(self) -> str:
        return self._folder

    def __repr__(self) -> str:
        return f"MultiFileStore({self._folder!r})"

    # -- reading (no lock) -------------------------------------------------------------------

    def _read(self, name: str) -> bytes | None:
        path = os.path.join(self._folder, name)
        try:
            return read_file(self._fs, path)
        except NotADirectoryError:
            raise CorruptStoreError("not a directory", self._folder) from None
        except IsADirectoryError:
            raise CorruptStoreError("a directory where a file was expected", path) from None
        except OSError as error:
            raise StoreReadError(f"cannot read ({error.strerror})", path) from error

    def _journal(self) -> Journal | None:
        """The folder's unfinished batch, if any (``CorruptStoreError`` if unreadable)."""
        try:
            return read_journal(self._fs, self._folder)
        except NotADirectoryError:
            raise CorruptStoreError("not a directory", self._folder) from None
        except OSError as error:
            raise StoreReadError(
                f"cannot read the batch journal ({error.strerror})", self._folder
            ) from error

    def load(self) -> Creds | None:
        """The saved creds, None if the folder or its ``creds.json`` does not exist.

        An unfinished batch a dead writer left is finished here when no writer holds the folder,
        so the folder is whole again for Baileys too (best effort: a read-only folder is read
        through the journal instead).
        """
        if os.path.exists(self._folder) and not os.path.isdir(self._folder):
            raise CorruptStoreError("not a directory", self._folder)
        with self._mutex:
            self._settle()
            data = self._read(CREDS_FILE)
        if data is None:
            return None
        return decode_creds(data, os.path.join(self._folder, CREDS_FILE))

    def _settle(self) -> None:
        """Finish a batch a dead writer (or this one, after an error) left, if the lock allows."""
        if self._lock.held:
            with contextlib.suppress(AuthStoreError):
                self._finish_unfinished()
            return
        if self._journal() is None:
            return
        borrowed = WriterLock(self._folder, what="credential folder")
        try:
            borrowed.acquire()
        except AuthStoreError:
            return  # a live writer owns it: readers read through the journal
        try:
            journal = self._journal()
            if journal is not None:
                with contextlib.suppress(OSError):
                    finish(self._fs, self._folder, journal)
        finally:
            borrowed.release()

    def get_keys(self, key_type: str, ids: Iterable[str]) -> dict[str, KeyValue | None]:
        with self._mutex:
            journal = self._journal()
            pending = {} if journal is None else journal.by_target()
            result: dict[str, KeyValue | None] = {}
            for key_id in ids:
                name = key_file_name(key_type, key_id)
                data = self._read_through(name, pending)
                result[key_id] = (
                    None
                    if data is None
                    else decode_key(key_type, data, os.path.join(self._folder, name))
                )
        return result

    def _read_through(self, name: str, pending: dict[str, str | None]) -> bytes | None:
        """A key file's content as of the last committed batch, finished or not."""
        if name in pending:
            temp = pending[name]
            if temp is None:
                return None  # the batch deletes it
            data = self._read(temp)
            if data is not None:
                return data
            # Renamed already (by the writer, or by whoever finished the journal).
        return self._read(name)

    def list_key_ids(self, key_type: str) -> list[str]:
        """The ids of every stored key of ``key_type``, sorted, in their file-name form."""
        prefix = f"{key_type}-"
        # "sender-key-…" files also start "sender-key-memory-…": longer known names are theirs.
        longer = [f"{other}-" for other in _KNOWN_TYPES if other.startswith(prefix)]
        with self._mutex:
            journal = self._journal()
            try:
                names = set(self._fs.listdir(self._folder))
            except (FileNotFoundError, NotADirectoryError):
                names = set()
            except OSError as error:
                raise StoreReadError(f"cannot list ({error.strerror})", self._folder) from error
        if journal is not None:
            for name, written in journal.by_target().items():
                if written is None:
                    names.discard(name)
                else:
                    names.add(name)
        return sorted(
            name[len(prefix) : -len(".json")]
            for name in names
            if name.startswith(prefix)
            and name.endswith(".json")
            and len(name) > len(prefix) + len(".json")
            and not any(name.startswith(other) for other in longer)
        )

    # -- writing (the writer lock) -----------------------------------------------------------

    def acquire(self) -> None:
        """Take the writer lock now and prove the folder writable (see ``AuthStore.acquire``).

        Creates the folder (0700) if needed, finishes a batch a dead writer left, removes its
        litter, and writes and removes a probe file: a read-only or full file system is a
        ``StoreWriteError`` here, before a phone links a device that could not be saved.
        """
        with self._mutex:
            if self._closed:
                raise StoreClosedError("the store is closed", self._folder)
            if self._lock.held:
                return
            self._make_folder()
            self._lock.acquire()
            try:
                journal = self._journal()
                if journal is not None:
                    self._unfinished = journal
                    self._finish_unfinished()
                # Leftovers are harmless (hidden, ignored by Baileys); the next writer tries again.
                with contextlib.suppress(OSError):
                    remove_stale_temps(self._fs, self._folder)
                self._probe()
            except BaseException:
                self._lock.release()
                raise

    def _make_folder(self) -> None:
        try:
            info = os.stat(self._folder)
        except FileNotFoundError:
            try:
                os.makedirs(self._folder, mode=DIR_MODE, exist_ok=True)
            except OSError as error:
                raise StoreWriteError(
                    f"cannot create the folder ({error.strerror})", self._folder
                ) from error
        except OSError as error:
            raise StoreReadError(f"cannot open ({error.strerror})", self._folder) from error
        else:
            if not stat.S_ISDIR(info.st_mode):
                raise CorruptStoreError("not a directory", self._folder)

    def _probe(self) -> None:
        try:
            probe = write_temp(self._fs, self._folder, "walink-probe", b"probe")
        except OSError as error:
            raise StoreWriteError(
                f"cannot write in the folder ({error.strerror})", self._folder
            ) from error
        discard_temp(self._fs, probe)

    def _finish_unfinished(self) -> None:
        journal = self._unfinished
        if journal is None:
            return
        try:
            finish(self._fs, self._folder, journal)
        except OSError as error:
            raise StoreWriteError(
                f"cannot finish the last batch ({error.strerror})",
                error.filename or self._folder,
            ) from error
        self._unfinished = None

    def _start_writing(self) -> None:
        self.acquire()
        self._finish_unfinished()

    def _write(self, name: str, data: bytes) -> None:
        try:
            atomic_write(self._fs, self._folder, name, data)
        except OSError as error:
            raise StoreWriteError(
                f"cannot write ({error.strerror})",
                os.path.join(self._folder, name),
            ) from error

    def save(self, creds: Creds) -> None:
        """Replace ``creds.json`` atomically (temp file, fsync, rename, fsync folder)."""
        data = encode_creds(creds).encode("utf-8")
        with self._mutex:
            self._start_writing()
            self._write(CREDS_FILE, data)

    def set_keys(self, updates: KeyUpdates) -> None:
        """Write or delete one file per key, all or nothing.

        Every new content goes to a fsynced temp file first (a failure here changes nothing).
        A batch of one file is then one rename (or deletion) and a folder fsync. A larger batch
        is committed by its journal, then renamed and deleted, then the folder is fsynced once:
        n keys cost n + 1 file fsyncs and two folder fsyncs.
        """
        # The last value of each file wins (file names are not injective); a journal names
        # each file once.
        planned: dict[str, bytes | None] = {}
        for key_type, values in updates.items():
            for key_id, value in values.items():
                name = key_file_name(key_type, key_id)
                planned.pop(name, None)
                planned[name] = (
                    None if value is None else encode_key(key_type, value).encode("utf-8")
                )
        with self._mutex:
            self._start_writing()
            changes = {
                name: data
                for name, data in planned.items()
                if data is not None or os.path.lexists(os.path.join(self._folder, name))
            }
            if not changes:
                return
            entries: list[tuple[str | None, str]] = []
            try:
                for name, data in changes.items():
                    entries.append((None if data is None else self._write_temp(name, data), name))
                if len(entries) == 1:
                    self._apply_one(*entries[0])
                else:
                    self._commit(Journal(tuple(entries)))
            except BaseException:
                # Uncommitted temps must go; a committed batch's temps belong to its journal.
                if self._unfinished is None:
                    for temp, _ in entries:
                        if temp is not None:
                            discard_temp(self._fs, os.path.join(self._folder, temp))
                raise

    def _write_temp(self, name: str, data: bytes) -> str:
        try:
            return os.path.basename(write_temp(self._fs, self._folder, name, data))
        except OSError as error:
            raise StoreWriteError(
                f"cannot write ({error.strerror})", os.path.join(self._folder, name)
            ) from error

    def _apply_one(self, temp: str | None, name: str) -> None:
        """A one-file batch: atomic by itself."""
        path = os.path.join(self._folder, name)
        try:
            if temp is None:
                self._fs.unlink(path)
            else:
                self._fs.replace(os.path.join(self._folder, temp), path)
        except FileNotFoundError:
            if temp is not None:
                raise StoreWriteError("cannot write (the folder vanished)", path) from None
            return  # deleted by someone else meanwhile: nothing to make durable
        except OSError as error:
            verb = "write" if temp is not None else "delete"
            raise StoreWriteError(f"cannot {verb} ({error.strerror})", path) from error
        self._sync_folder(wrote=temp is not None)

    def _commit(self, journal: Journal) -> None:
        try:
            commit(self._fs, self._folder, journal)
        except OSError as error:
            raise StoreWriteError(
                f"cannot write the batch journal ({error.strerror})", self._folder
            ) from error
        # Committed: from here on the batch is whole for every reader, whatever happens next.
        self._unfinished = journal
        try:
            finish(self._fs, self._folder, journal, sync_first=True)
        except OSError as error:
            raise StoreWriteError(
                f"cannot finish the batch ({error.strerror}); it is committed, and the next "
                "write or load of this folder completes it",
                error.filename or self._folder,
            ) from error
        self._unfinished = None

    def _sync_folder(self, *, wrote: bool) -> None:
        try:
            fsync_dir(self._fs, self._folder)
        except OSError as error:
            # Some file systems cannot fsync a folder (EINVAL). Only a batch of deletions shrugs
            # that off; a written key is never acknowledged unsynced (``save`` raises too).
            if wrote or error.errno != errno.EINVAL:
                raise StoreWriteError(f"cannot sync ({error.strerror})", self._folder) from error

    def close(self) -> None:
        """Release the writer lock; later writes raise ``StoreClosedError``."""
        with self._mutex:
            self._closed = True
            self._lock.release()

    def __enter__(self) -> MultiFileStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
