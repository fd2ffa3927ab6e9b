"""Moving a one-device store into a many-device store: Baileys' folder, a walink SQLite file.

Both read the source without its writer lock (the source must not be running) and copy the
creds and every key into a new device of the target, under that device's lease.

Baileys' folder names a key file ``{type}-{id}.json`` with ``/`` written as ``__`` and ``:`` as
``-``. The type is the longest known type name the file name starts with; the id is the rest,
with ``__`` turned back into ``/``. A ``:`` cannot be told from a ``-`` there: an id that had one
is imported under its file-name spelling (Baileys itself cannot tell them apart either).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from walink.auth.devices import DeviceStore
from walink.auth.errors import CorruptStoreError, StoreReadError
from walink.auth.key_values import KEY_TYPES
from walink.auth.multifile_store import CREDS_FILE, MultiFileStore
from walink.auth.sqlite_store import SQLiteStore

__all__ = ["import_baileys_folder", "import_sqlite_file", "import_store"]

_BY_LENGTH = sorted(KEY_TYPES, key=len, reverse=True)


def _folder_keys(folder: Path) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for name in sorted(os.listdir(folder)):
        if name == CREDS_FILE or not name.endswith(".json") or name.startswith("."):
            continue
        stem = name.removesuffix(".json")
        for key_type in _BY_LENGTH:
            if stem.startswith(key_type + "-"):
                keys.append((key_type, stem[len(key_type) + 1 :].replace("__", "/")))
                break
    return keys


def import_baileys_folder(target: DeviceStore, folder: str | os.PathLike[str]) -> str:
    """Copy an ``auth_info_baileys`` folder into a new device of ``target``; its id."""
    path = Path(folder)
    try:
        keys = _folder_keys(path)
    except OSError as error:
        raise StoreReadError(f"cannot list ({error.strerror})", path) from None
    source = MultiFileStore(path)
    try:
        return target.import_from(source, keys)
    finally:
        source.close()


def import_sqlite_file(target: DeviceStore, path: str | os.PathLike[str]) -> str:
    """Copy a one-device walink SQLite file into a new device of ``target``; its id."""
    source = SQLiteStore(path)
    try:
        if source.load() is None:  # also checks that it is a walink database, and whole
            raise CorruptStoreError("no credentials to import", os.fspath(path))
        uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = conn.execute("SELECT type, id FROM keys ORDER BY type, id").fetchall()
        except sqlite3.DatabaseError as error:
            raise CorruptStoreError(f"cannot list its keys ({error})", os.fspath(path)) from None
        finally:
            conn.close()
        return target.import_from(source, [(str(t), str(i)) for t, i in rows])
    finally:
        source.close()


def import_store(target: DeviceStore, source: str | os.PathLike[str]) -> str:
    """A folder is Baileys' layout, a file a walink SQLite database."""
    if Path(source).is_dir():
        return import_baileys_folder(target, source)
    return import_sqlite_file(target, source)
