"""walink.auth.opening: which store a path names, by a rule that does not guess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from walink.auth import MultiFileStore, SQLiteStore
from walink.auth.opening import open_store, store_layout


def test_a_trailing_separator_means_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "auth_info_baileys"
    store = open_store(f"{target}{os.sep}")
    assert isinstance(store, MultiFileStore)
    with store:
        store.acquire()
    assert target.is_dir()  # a folder Baileys can read, never a SQLite file of that name


def test_an_existing_folder_is_multi_file_and_anything_else_sqlite(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    assert store_layout(tmp_path / "folder") == "multifile"
    assert store_layout(tmp_path / "auth.db") == "sqlite"
    assert store_layout(tmp_path / "auth_info_baileys") == "sqlite"  # no separator, no folder
    assert isinstance(open_store(tmp_path / "auth.db"), SQLiteStore)


def test_an_explicit_layout_wins(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    assert isinstance(open_store(tmp_path / "new", layout="multifile"), MultiFileStore)
    assert store_layout(Path("x/"), "multifile") == "multifile"  # Path drops the "/"
    assert store_layout(f"{tmp_path}/x/", "sqlite") == "sqlite"
    with pytest.raises(ValueError, match="layout"):
        store_layout("x", "json")  # type: ignore[arg-type]


def test_opening_creates_nothing(tmp_path: Path) -> None:
    for path in (f"{tmp_path}/a/", str(tmp_path / "b.db")):
        store = open_store(path)
        assert store.load() is None
    assert os.listdir(tmp_path) == []
