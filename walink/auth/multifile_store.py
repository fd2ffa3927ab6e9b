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

Limits: a ``set_keys`` call writes one file per key, each atomically, and makes the whole batch
durable with one folder fsync at the end. A write error before the first rename changes nothing;
a crash (or an error) during the renames can leave some of the batch's keys written and others
not (the format has no journal; Baileys has the same property). File names are not injective
(``a:b`` and ``a-b`` share a file), as in Baileys.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Iterable

from walink.auth.errors import (
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
from walink.auth.key_values import KeyValue
from walink.auth.lock import WriterLock
from walink.auth.model import Creds
from walink.auth.store import KeyUpdates, decode_creds, decode_key, encode_creds, encode_key

__all__ = ["CREDS_FILE", "MultiFileStore", "key_file_name"]

CREDS_FILE = "creds.json"


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

    def load(self) -> Creds | None:
        """The saved creds, None if the folder or its ``creds.json`` does not exist."""
        if os.path.exists(self._folder) and not os.path.isdir(self._folder):
            raise CorruptStoreError("not a directory", self._folder)
        data = self._read(CREDS_FILE)
        if data is None:
            return None
        return decode_creds(data, os.path.join(self._folder, CREDS_FILE))

    def get_keys(self, key_type: str, ids: Iterable[str]) -> dict[str, KeyValue | None]:
        result: dict[str, KeyValue | None] = {}
        for key_id in ids:
            name = key_file_name(key_type, key_id)
            data = self._read(name)
            result[key_id] = (
                None
                if data is None
                else decode_key(key_type, data, os.path.join(self._folder, name))
            )
        return result

    # -- writing (the writer lock) -----------------------------------------------------------

    def _start_writing(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed", self._folder)
        if self._lock.held:
            return
        try:
            info = os.stat(self._folder)
        except FileNotFoundError:
            try:
                os.makedirs(self._folder, mode=DIR_MODE, exist_ok=True)
            except OSError as error:
                raise StoreWriteError(
                    f"cannot create the folder ({error.strerror})", self._folder
                ) from error
        else:
            if not stat.S_ISDIR(info.st_mode):
                raise CorruptStoreError("not a directory", self._folder)
        self._lock.acquire()
        # Leftovers are harmless (hidden, ignored by Baileys); the next writer tries again.
        with contextlib.suppress(OSError):
            remove_stale_temps(self._fs, self._folder)

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
        """Write or delete one file per key, then fsync the folder once for the whole batch.

        Three phases, so a batch of n keys costs n file fsyncs and one folder fsync (not n):
        every new content goes to a fsynced temp file (a failure here changes nothing), then the
        temps are renamed and the deletions made in the caller's order, then the folder is
        fsynced, which makes every rename and deletion durable before this returns.
        """
        planned = [
            (
                key_file_name(key_type, key_id),
                None if value is None else encode_key(key_type, value).encode("utf-8"),
            )
            for key_type, values in updates.items()
            for key_id, value in values.items()
        ]
        with self._mutex:
            self._start_writing()
            temps: list[str | None] = []
            try:
                for name, data in planned:
                    temps.append(None if data is None else self._write_temp(name, data))
                changed = self._rename_and_delete([name for name, _ in planned], temps)
            except BaseException:
                # A renamed temp is gone already (its unlink fails quietly); the rest must go.
                for temp in temps:
                    if temp is not None:
                        discard_temp(self._fs, temp)
                raise
            if changed:
                self._sync_folder(wrote=any(temp is not None for temp in temps))

    def _write_temp(self, name: str, data: bytes) -> str:
        try:
            return write_temp(self._fs, self._folder, name, data)
        except OSError as error:
            raise StoreWriteError(
                f"cannot write ({error.strerror})", os.path.join(self._folder, name)
            ) from error

    def _rename_and_delete(self, names: list[str], temps: list[str | None]) -> bool:
        """Put each temp in place, or delete the file where there is none; True if any changed.

        In order, so a key that appears twice (file names are not injective) ends as the last.
        """
        changed = False
        for name, temp in zip(names, temps, strict=True):
            path = os.path.join(self._folder, name)
            if temp is not None:
                try:
                    self._fs.replace(temp, path)
                except OSError as error:
                    raise StoreWriteError(f"cannot write ({error.strerror})", path) from error
                changed = True
                continue
            try:
                self._fs.unlink(path)
                changed = True
            except FileNotFoundError:
                pass
            except OSError as error:
                raise StoreWriteError(f"cannot delete ({error.strerror})", path) from error
        return changed

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
