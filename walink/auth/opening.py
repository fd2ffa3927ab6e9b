"""``open_store``: the store a path names, by one rule that does not depend on what exists yet.

The rule: ``layout`` when given; else a path that ends in a separator (``auth_info_baileys/``)
or names an existing folder is Baileys' multi-file folder; anything else is a SQLite file. A
new device given ``auth_info_baileys/`` therefore gets a folder Baileys can read, never a
SQLite file of that name. Note that ``pathlib.Path`` drops a trailing separator: pass a string,
or ``layout="multifile"``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal, TypeAlias

from walink.auth.multifile_store import MultiFileStore
from walink.auth.sqlite_store import SQLiteStore

if TYPE_CHECKING:
    from walink.auth.devices import DeviceHandle

__all__ = ["Layout", "open_store", "store_layout"]

Layout: TypeAlias = Literal["sqlite", "multifile"]


def store_layout(path: str | os.PathLike[str], layout: Layout | None = None) -> Layout:
    """The layout ``open_store`` picks for ``path`` (see the module docstring)."""
    if layout is not None:
        if layout not in ("sqlite", "multifile"):
            raise ValueError(f"a store layout is 'sqlite' or 'multifile', not {layout!r}")
        return layout
    text = os.fspath(path)
    separators = tuple(sep for sep in (os.sep, os.altsep) if sep)
    if text.endswith(separators) or os.path.isdir(text):
        return "multifile"
    return "sqlite"


def open_store(
    path: str | os.PathLike[str], *, layout: Layout | None = None
) -> SQLiteStore | MultiFileStore | DeviceHandle:
    """The store at ``path``: Baileys' multi-file folder or a SQLite file (the module's rule).

    A URL (``postgresql://…``, ``sqlite:///…``) is a store of many devices: the store's only
    device (a new one when it is empty), run under its lease (``walink.auth.devices``).
    Opening a path reads and creates nothing; ``acquire`` (or the first save) does.
    """
    from walink.auth.devices import is_store_url, open_single_device  # loaded when used

    if layout is None and is_store_url(path):
        return open_single_device(os.fspath(path))
    if store_layout(path, layout) == "multifile":
        return MultiFileStore(path)
    return SQLiteStore(path)
