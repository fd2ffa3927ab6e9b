"""walink.auth.multifile_store: Baileys' folder layout, file modes, errors, injected failures."""

from __future__ import annotations

import base64
import dataclasses
import errno
import json
import os
import stat
from pathlib import Path

import pytest

from tests.auth.failing_fs import FAILURES, FailingFileSystem
from tests.auth.strategies import every_key_type, full_creds
from walink.auth import (
    CorruptStoreError,
    Creds,
    KeyPair,
    MultiFileStore,
    StoreReadError,
    StoreWriteError,
)
from walink.auth.files import TEMP_SUFFIX
from walink.auth.multifile_store import key_file_name


def test_layout_is_creds_json_plus_one_file_per_key(tmp_path: Path) -> None:
    folder = tmp_path / "auth_info_baileys"
    with MultiFileStore(folder) as store:
        store.save(full_creds())
        store.set_keys(every_key_type())
    names = set(os.listdir(folder))
    assert "creds.json" in names
    assert "pre-key-7.json" in names
    assert "sender-key-120363@g.us--15551234567--0.json" in names
    assert "identity-key-98765432101234_1.0.json" in names
    assert len(names) == 1 + sum(len(v) for v in every_key_type().values())


@pytest.mark.parametrize(
    ("key_type", "key_id", "name"),
    [
        ("pre-key", "1", "pre-key-1.json"),
        ("sender-key", "g@g.us::u::0", "sender-key-g@g.us--u--0.json"),
        ("app-state-sync-key", "a/b+c=", "app-state-sync-key-a__b+c=.json"),
        ("session", "1_1.0", "session-1_1.0.json"),
    ],
)
def test_file_names_are_escaped_as_baileys_does(key_type: str, key_id: str, name: str) -> None:
    assert key_file_name(key_type, key_id) == name


def test_files_are_bufferjson(tmp_path: Path) -> None:
    pair = KeyPair.generate()
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"pre-key": {"1": pair}})
    text = (tmp_path / "pre-key-1.json").read_text()
    assert json.loads(text)["public"] == {
        "type": "Buffer",
        "data": base64.b64encode(pair.public).decode(),
    }


def test_folder_is_0700_and_files_0600(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "auth"
    with MultiFileStore(folder) as store:
        assert not folder.exists()  # constructing creates nothing
        store.save(Creds.new())
        store.set_keys({"pre-key": {"1": KeyPair.generate()}})
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for entry in folder.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600, entry


def test_load_never_creates_the_folder(tmp_path: Path) -> None:
    store = MultiFileStore(tmp_path / "absent")
    assert store.load() is None
    assert store.get_keys("session", ["x"]) == {"x": None}
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"noiseKey":', b"\xff\xfe", b"[]", b"null", b'{"registrationId":1}'],
)
def test_corrupt_creds_are_an_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "creds.json").write_bytes(content)
    with pytest.raises(CorruptStoreError, match=r"creds\.json"):
        MultiFileStore(tmp_path).load()


def test_truncated_creds_are_an_error(tmp_path: Path) -> None:
    with MultiFileStore(tmp_path) as store:
        store.save(full_creds())
    data = (tmp_path / "creds.json").read_bytes()
    for length in range(0, len(data), 97):
        (tmp_path / "creds.json").write_bytes(data[:length])
        with pytest.raises(CorruptStoreError):
            MultiFileStore(tmp_path).load()


def test_corrupt_key_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "pre-key-3.json").write_text('{"private":')
    with pytest.raises(CorruptStoreError, match=r"pre-key-3\.json"):
        MultiFileStore(tmp_path).get_keys("pre-key", ["3"])


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "auth").write_text("x")
    store = MultiFileStore(tmp_path / "auth")
    with pytest.raises(CorruptStoreError, match="not a directory"):
        store.load()
    with pytest.raises(CorruptStoreError, match="not a directory"):
        store.save(Creds.new())


def test_unreadable_creds_are_a_read_error(tmp_path: Path) -> None:
    with MultiFileStore(tmp_path) as store:
        store.save(Creds.new())
    failing = FailingFileSystem("open", errno.EACCES, match="creds.json")
    with pytest.raises(StoreReadError, match=r"creds\.json") as caught:
        MultiFileStore(tmp_path, fs=failing).load()
    assert "Permission denied" in str(caught.value)


@pytest.mark.parametrize(("operation", "code"), FAILURES)
def test_failed_save_keeps_the_old_creds(tmp_path: Path, operation: str, code: int) -> None:
    old = full_creds()
    with MultiFileStore(tmp_path) as store:
        store.save(old)
    failing = FailingFileSystem(operation, code)
    store = MultiFileStore(tmp_path, fs=failing)
    with pytest.raises(StoreWriteError, match=r"creds\.json") as caught:
        store.save(dataclasses.replace(old, account_sync_counter=99))
    assert os.strerror(code) in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == code
    assert MultiFileStore(tmp_path).load() == old
    assert not [n for n in os.listdir(tmp_path) if n.endswith(TEMP_SUFFIX)]
    failing.armed = False  # the disk recovers: the same store saves again
    newer = dataclasses.replace(old, account_sync_counter=100)
    store.save(newer)
    store.close()
    assert MultiFileStore(tmp_path).load() == newer


@pytest.mark.parametrize(("operation", "code"), FAILURES)
def test_failed_key_write_keeps_the_old_key(tmp_path: Path, operation: str, code: int) -> None:
    old = KeyPair.generate()
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"pre-key": {"1": old}})
    with (
        MultiFileStore(tmp_path, fs=FailingFileSystem(operation, code)) as store,
        pytest.raises(StoreWriteError, match=r"pre-key-1\.json"),
    ):
        store.set_keys({"pre-key": {"1": KeyPair.generate()}})
    assert MultiFileStore(tmp_path).get_keys("pre-key", ["1"]) == {"1": old}


def test_failed_delete_is_an_error(tmp_path: Path) -> None:
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"session": {"a": "x"}})
    with (
        MultiFileStore(tmp_path, fs=FailingFileSystem("unlink", errno.EROFS)) as store,
        pytest.raises(StoreWriteError, match=r"session-a\.json"),
    ):
        store.set_keys({"session": {"a": None}})
    assert MultiFileStore(tmp_path).get_keys("session", ["a"]) == {"a": "x"}


def test_writer_removes_temp_files_a_crash_left(tmp_path: Path) -> None:
    stale = tmp_path / f".creds.json.dead{TEMP_SUFFIX}"
    stale.write_text("half")
    (tmp_path / "unrelated.txt").write_text("mine")
    with MultiFileStore(tmp_path) as store:
        assert store.load() is None
        assert stale.exists()  # readers touch nothing
        store.save(Creds.new())
    assert not stale.exists()
    assert (tmp_path / "unrelated.txt").exists()
