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

from tests.auth.failing_fs import FAILURES, FailingFileSystem, acquired
from tests.auth.strategies import every_key_type, full_creds
from walink.auth import (
    CorruptStoreError,
    Creds,
    KeyPair,
    MultiFileStore,
    StoreReadError,
    StoreWriteError,
)
from walink.auth.files import TEMP_SUFFIX, FileSystem
from walink.auth.journal import JOURNAL_FILE
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
    store = acquired(MultiFileStore(tmp_path, fs=failing), failing)
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
    failing = FailingFileSystem(operation, code)
    with (
        acquired(MultiFileStore(tmp_path, fs=failing), failing) as store,
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


class BatchRecordingFileSystem(FileSystem):
    """Records fsyncs (of a file or of the folder) and renames, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._folders: set[int] = set()

    def open(self, path: str, flags: int, mode: int = 0o600) -> int:
        fd = super().open(path, flags, mode)
        if flags & os.O_DIRECTORY:
            self._folders.add(fd)
        return fd

    def close(self, fd: int) -> None:
        self._folders.discard(fd)
        super().close(fd)

    def fsync(self, fd: int) -> None:
        self.calls.append("fsync folder" if fd in self._folders else "fsync file")
        super().fsync(fd)

    def replace(self, source: str, target: str) -> None:
        self.calls.append("replace")
        super().replace(source, target)


def _pre_keys(count: int) -> dict[str, KeyPair]:
    return {str(n): KeyPair.generate() for n in range(count)}


def test_a_batch_syncs_its_files_then_commits_its_journal_then_renames(tmp_path: Path) -> None:
    fs = BatchRecordingFileSystem()
    keys = _pre_keys(5)
    with MultiFileStore(tmp_path, fs=fs) as store:
        store.acquire()  # its probe file is not part of the batch
        fs.calls.clear()
        store.set_keys({"pre-key": keys, "session": {"gone": None}})
    assert fs.calls == (
        ["fsync file"] * 5  # every key's temp file
        + ["fsync file", "replace", "fsync folder"]  # the journal: the commit point, durable
        + ["replace"] * 5
        + ["fsync folder"]
    )
    assert MultiFileStore(tmp_path).get_keys("pre-key", keys) == keys
    assert sorted(os.listdir(tmp_path)) == sorted(f"pre-key-{n}.json" for n in keys)


def test_a_one_file_batch_needs_no_journal(tmp_path: Path) -> None:
    fs = BatchRecordingFileSystem()
    with MultiFileStore(tmp_path, fs=fs) as store:
        store.acquire()
        fs.calls.clear()
        # A deletion of a file that is not there changes nothing: one file changes.
        store.set_keys({"pre-key": _pre_keys(1), "session": {"never": None}})
    assert fs.calls == ["fsync file", "replace", "fsync folder"]


def test_a_batch_of_deletions_is_journaled_too(tmp_path: Path) -> None:
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"session": {"a": "x", "b": "y"}})
    fs = BatchRecordingFileSystem()
    with MultiFileStore(tmp_path, fs=fs) as store:
        store.acquire()
        fs.calls.clear()
        store.set_keys({"session": {"a": None, "b": None, "never": None}})
        store.set_keys({"session": {"a": None}})  # nothing left to delete: nothing to sync
    assert fs.calls == ["fsync file", "replace", "fsync folder", "fsync folder"]
    assert os.listdir(tmp_path) == []


def test_a_batch_applies_writes_and_deletions_in_order(tmp_path: Path) -> None:
    # "a:b" and "a-b" share a file (as in Baileys): the later entry wins, either way round.
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"session": {"a:b": "first", "a-b": None}})
        assert store.get_keys("session", ["a-b"]) == {"a-b": None}
        store.set_keys({"session": {"a-b": None, "a:b": "second"}})
        assert store.get_keys("session", ["a-b"]) == {"a-b": "second"}
        store.set_keys({"session": {"a:b": "third", "a-b": "fourth"}})
        assert store.get_keys("session", ["a:b"]) == {"a:b": "fourth"}
    assert os.listdir(tmp_path) == ["session-a-b.json"]


@pytest.mark.parametrize(
    ("operation", "code"),
    [("open", errno.EROFS), ("write", errno.ENOSPC), ("fsync", errno.EIO)],
)
def test_a_temp_failure_mid_batch_changes_no_key(tmp_path: Path, operation: str, code: int) -> None:
    old = _pre_keys(6)
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"pre-key": old, "session": {"s": "kept"}})
    failing = FailingFileSystem(operation, code, match="pre-key-3.json")
    with (
        MultiFileStore(tmp_path, fs=failing) as store,
        pytest.raises(StoreWriteError, match=r"pre-key-3\.json") as caught,
    ):
        store.set_keys({"session": {"s": None}, "pre-key": _pre_keys(6)})
    assert os.strerror(code) in str(caught.value)
    reader = MultiFileStore(tmp_path)
    assert reader.get_keys("pre-key", old) == old  # not even keys 0-2, written before the error
    assert reader.get_keys("session", ["s"]) == {"s": "kept"}  # deletions come after temps
    assert not [n for n in os.listdir(tmp_path) if n.endswith(TEMP_SUFFIX)]


def test_a_refused_rename_mid_batch_is_finished_by_the_next_load(tmp_path: Path) -> None:
    old = _pre_keys(6)
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"pre-key": old, "session": {"s": "old"}})
    new = _pre_keys(6)
    failing = FailingFileSystem("replace", errno.EACCES, match="pre-key-3.json")
    store = acquired(MultiFileStore(tmp_path, fs=failing), failing)
    with pytest.raises(StoreWriteError, match=r"committed.*pre-key-3\.json"):
        store.set_keys({"pre-key": new, "session": {"s": None}})
    # Committed: a reader sees the whole batch at once, though keys 3-5 are not renamed yet
    # (the writer holds the lock, so the reader reads through the journal).
    assert MultiFileStore(tmp_path).get_keys("pre-key", old) == new
    assert MultiFileStore(tmp_path).get_keys("session", ["s"]) == {"s": None}
    assert MultiFileStore(tmp_path).list_key_ids("session") == []
    with pytest.raises(StoreWriteError, match=r"finish the last batch"):
        store.set_keys({"session": {"t": "later"}})  # never mixed into the unfinished one
    failing.armed = False  # the disk recovers: the writer finishes the batch first
    store.set_keys({"session": {"t": "later"}})
    store.close()
    assert not (tmp_path / JOURNAL_FILE).exists()
    assert MultiFileStore(tmp_path).get_keys("pre-key", old) == new
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*(f"pre-key-{n}.json" for n in new), "session-t.json"]
    )


def test_a_dead_writers_batch_is_finished_by_a_load_unless_a_writer_holds_it(
    tmp_path: Path,
) -> None:
    old, new = _pre_keys(4), _pre_keys(4)
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"pre-key": old})
    failing = FailingFileSystem("replace", errno.EIO, match="pre-key-2.json")
    writer = acquired(MultiFileStore(tmp_path, fs=failing), failing)
    with pytest.raises(StoreWriteError):
        writer.set_keys({"pre-key": new})
    reader = MultiFileStore(tmp_path)
    assert reader.load() is None  # the writer holds the lock: the reader leaves it alone
    assert (tmp_path / JOURNAL_FILE).exists()
    writer.close()  # as if it died: the lock goes, the journal stays
    assert reader.load() is None
    assert not (tmp_path / JOURNAL_FILE).exists()
    # The folder alone (as Baileys reads it) holds the whole batch.
    for n, pair in new.items():
        text = (tmp_path / f"pre-key-{n}.json").read_text()
        assert json.loads(text)["public"]["data"] == base64.b64encode(pair.public).decode()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"v": 2, "entries": []}', b'{"v": 1, "entries": [["../x", "pre-key-1.json"]]}'],
)
def test_an_unreadable_journal_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    (tmp_path / JOURNAL_FILE).write_bytes(content)
    with pytest.raises(CorruptStoreError, match=r"batch journal.*walink-journal"):
        MultiFileStore(tmp_path).get_keys("pre-key", ["1"])
    with pytest.raises(CorruptStoreError, match=r"batch journal"):
        MultiFileStore(tmp_path).acquire()


class FolderSyncFails(BatchRecordingFileSystem):
    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def fsync(self, fd: int) -> None:
        super().fsync(fd)
        if self.calls[-1] == "fsync folder":
            raise OSError(self.code, os.strerror(self.code))


@pytest.mark.parametrize("code", [errno.EIO, errno.EINVAL])
def test_a_failed_folder_sync_is_an_error_for_written_keys(tmp_path: Path, code: int) -> None:
    with (
        MultiFileStore(tmp_path, fs=FolderSyncFails(code)) as store,
        pytest.raises(StoreWriteError, match="cannot sync") as caught,
    ):
        store.set_keys({"pre-key": _pre_keys(1)})
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == code
    assert not [n for n in os.listdir(tmp_path) if n.endswith(TEMP_SUFFIX)]


def test_a_failed_folder_sync_after_the_commit_leaves_the_batch_committed(tmp_path: Path) -> None:
    keys = _pre_keys(3)
    with (
        MultiFileStore(tmp_path, fs=FolderSyncFails(errno.EIO)) as store,
        pytest.raises(StoreWriteError, match=r"Input/output error.*committed"),
    ):
        store.set_keys({"pre-key": keys})  # the folder sync that makes the journal durable fails
    # The journal was in place before its folder sync failed: the batch is committed.
    assert MultiFileStore(tmp_path).get_keys("pre-key", keys) == keys  # read through
    assert MultiFileStore(tmp_path).load() is None  # and finished
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_deletions_tolerate_a_folder_that_cannot_be_synced(tmp_path: Path) -> None:
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"session": {"a": "x"}})
    with MultiFileStore(tmp_path, fs=FolderSyncFails(errno.EINVAL)) as store:
        store.set_keys({"session": {"a": None}})  # EINVAL: the file system cannot; not an error
    assert os.listdir(tmp_path) == []
    with MultiFileStore(tmp_path) as store:
        store.set_keys({"session": {"b": "y"}})
    with (
        MultiFileStore(tmp_path, fs=FolderSyncFails(errno.EIO)) as store,
        pytest.raises(StoreWriteError, match="cannot sync"),
    ):
        store.set_keys({"session": {"b": None}})  # any other error is one


# -- acquire -----------------------------------------------------------------------------------


def test_acquire_creates_the_folder_and_leaves_nothing_in_it(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "auth_info_baileys"
    with MultiFileStore(folder) as store:
        store.acquire()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert os.listdir(folder) == []  # the probe is gone, the lock is on the folder itself


@pytest.mark.parametrize(("operation", "code"), [("open", errno.EROFS), ("write", errno.ENOSPC)])
def test_acquire_finds_a_folder_that_cannot_be_written(
    tmp_path: Path, operation: str, code: int
) -> None:
    with MultiFileStore(tmp_path) as store:
        store.save(Creds.new())
    store = MultiFileStore(tmp_path, fs=FailingFileSystem(operation, code, match="probe"))
    with pytest.raises(
        StoreWriteError, match=rf"cannot write in the folder \({os.strerror(code)}\)"
    ):
        store.acquire()
    assert sorted(os.listdir(tmp_path)) == ["creds.json"]
    MultiFileStore(tmp_path).acquire()  # the refused acquire released the lock


def test_a_file_where_a_new_folder_should_go_is_refused_at_acquire(tmp_path: Path) -> None:
    (tmp_path / "auth").write_text("x")
    with pytest.raises(CorruptStoreError, match="not a directory"):
        MultiFileStore(tmp_path / "auth").acquire()


# -- the names Baileys gives Signal state ------------------------------------------------------


def test_signal_state_files_have_baileys_names(tmp_path: Path) -> None:
    digest = "ab" * 32
    with MultiFileStore(tmp_path) as store:
        store.set_keys(
            {
                "session": {"15551234567.0": {"_sessions": {}, "version": "v1"}},
                "identity-key": {"98765432101234_1.3": b"\x05" + bytes(32)},
                "pre-key": {"812": KeyPair.generate()},
                "sender-key": {"120363@g.us::98765432101234_1::3": b"[]"},
                "sender-key-memory": {"120363@g.us": {"15551234567@s.whatsapp.net": True}},
                "walink-message": {digest: {"id": "3EB0"}},
            }
        )
        assert store.list_key_ids("sender-key") == ["120363@g.us--98765432101234_1--3"]
    assert sorted(os.listdir(tmp_path)) == [
        "identity-key-98765432101234_1.3.json",
        "pre-key-812.json",
        "sender-key-120363@g.us--98765432101234_1--3.json",
        "sender-key-memory-120363@g.us.json",
        "session-15551234567.0.json",
        f"walink-message-{digest}.json",
    ]
