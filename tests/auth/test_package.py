"""walink.auth's public names: the import other tools rely on stays stable."""

from __future__ import annotations

from pathlib import Path

import walink.auth


def test_the_stable_import() -> None:
    from walink.auth import Creds, MemoryStore, MultiFileStore, SQLiteStore

    for public in (Creds, MemoryStore, MultiFileStore, SQLiteStore):
        assert public.__name__ in walink.auth.__all__


def test_all_lists_only_names_that_exist() -> None:
    for name in walink.auth.__all__:
        assert hasattr(walink.auth, name), name
    assert len(set(walink.auth.__all__)) == len(walink.auth.__all__)


def test_every_store_is_an_auth_store(tmp_path: Path) -> None:
    from walink.auth import AuthStore, MemoryStore, MultiFileStore, SQLiteStore

    # mypy checks these assignments against the Protocol; the loop checks at run time.
    stores: list[AuthStore] = [
        MemoryStore(),
        MultiFileStore(tmp_path / "folder"),
        SQLiteStore(tmp_path / "auth.db"),
    ]
    assert all(store.load() is None for store in stores)

    store_methods = {
        "load",
        "acquire",
        "save",
        "get_keys",
        "set_keys",
        "list_key_ids",
        "close",
        "__enter__",
        "__exit__",
    }
    assert store_methods <= set(dir(AuthStore))
    for store_type in (MemoryStore, MultiFileStore, SQLiteStore):
        assert store_methods <= set(dir(store_type)), store_type
