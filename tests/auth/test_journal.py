"""walink.auth.journal: a batch cut short at any system call is whole or absent for readers.

The kill -9 loop in ``test_crash_safety`` shows this on real processes at random points; here
every point is tried in turn, deterministically: a file system that "dies" at its k-th change
(every later change fails too, as nothing runs after a crash), for k = 0, 1, 2... until the
batch goes through.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walink.auth import CorruptStoreError, KeyValue, MultiFileStore
from walink.auth.files import FileSystem
from walink.auth.journal import JOURNAL_FILE, Journal, read_journal
from walink.auth.multifile_store import key_file_name


class DiesAtChange(FileSystem):
    """Fails its ``limit``-th change (and every one after) with EIO: a crash, as seen on disk."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.changes = 0

    def _change(self) -> None:
        self.changes += 1
        if self.changes > self.limit:
            raise OSError(errno.EIO, "died here")

    def write(self, fd: int, data: bytes) -> int:
        self._change()
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self._change()
        super().fsync(fd)

    def replace(self, source: str, target: str) -> None:
        self._change()
        super().replace(source, target)

    def unlink(self, path: str) -> None:
        self._change()
        super().unlink(path)


@contextlib.contextmanager
def scratch() -> Iterator[str]:
    where = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=where) as folder:
        yield folder


# Ids from a small alphabet, so batches collide on file names (":" and "-" share one) and
# overwrite and delete what the first batch wrote.
ids = st.text(alphabet="ab:-/_", min_size=1, max_size=3)
values = st.one_of(st.none(), st.integers(0, 9).map(lambda n: {"n": n}))
batches = st.dictionaries(ids, values, min_size=1, max_size=6)


def _expected(
    before: dict[str, KeyValue | None], batch: dict[str, KeyValue | None]
) -> dict[str, KeyValue | None]:
    """The file-name view after ``batch``: the last value per file name wins."""
    after = dict(before)
    for key_id, value in batch.items():
        after[key_file_name("session", key_id)] = value
    return after


def _view(folder: str, names: list[str]) -> dict[str, KeyValue | None]:
    reader = MultiFileStore(folder)
    ids_by_name = {name: name[len("session-") : -len(".json")] for name in names}
    got = reader.get_keys("session", list(ids_by_name.values()))
    return {name: got[key_id] for name, key_id in ids_by_name.items()}


@settings(max_examples=40, deadline=None)
@given(first=batches, second=batches)
def test_a_batch_cut_short_anywhere_is_whole_or_absent(
    first: dict[str, KeyValue | None], second: dict[str, KeyValue | None]
) -> None:
    written = _expected({}, first)
    after = _expected(written, second)
    names = sorted(after)
    old = {name: written.get(name) for name in names}
    new = {name: after[name] for name in names}
    limit = 0
    while True:
        with scratch() as folder:
            with MultiFileStore(folder) as setup:
                setup.set_keys({"session": first})
            dying = DiesAtChange(1 << 30)
            store = MultiFileStore(folder, fs=dying)
            store.acquire()
            dying.limit, dying.changes = limit, 0  # count the batch's changes only
            with contextlib.suppress(OSError, Exception):
                store.set_keys({"session": second})
            went_through = dying.changes <= limit
            store.close()  # the lock dies with the process
            seen = _view(folder, names)
            assert seen in (old, new), f"cut at change {limit}: a mix of two batches"
            MultiFileStore(folder).load()  # finishes a committed batch
            assert _view(folder, names) == seen
            assert not os.path.exists(os.path.join(folder, JOURNAL_FILE))
            if went_through:
                assert seen == new
                return
        limit += 1


@given(st.binary(max_size=300))
def test_any_journal_bytes_parse_or_are_corrupt(data: bytes) -> None:
    with scratch() as folder:
        with open(os.path.join(folder, JOURNAL_FILE), "wb") as file:
            file.write(data)
        try:
            journal = read_journal(FileSystem(), folder)
        except CorruptStoreError as error:
            assert JOURNAL_FILE in str(error)
        else:
            assert isinstance(journal, Journal)


@pytest.mark.parametrize(
    "entry",
    [
        ["../.x.walink-tmp", "pre-key-1.json"],  # a path, not a name
        [".x.walink-tmp", "../creds.json"],
        [".x.walink-tmp", ".hidden.json"],  # only visible key files are targets
        ["creds.json", "pre-key-1.json"],  # only walink's temps are sources
        [".x.walink-tmp", ""],
        [None, "/etc/passwd"],
    ],
)
def test_a_journal_renames_and_deletes_only_inside_its_folder(entry: list[object]) -> None:
    with scratch() as folder:
        with open(os.path.join(folder, JOURNAL_FILE), "w") as file:
            file.write(f'{{"v": 1, "entries": [{_json(entry)}]}}')
        with pytest.raises(CorruptStoreError, match="batch journal"):
            read_journal(FileSystem(), folder)


def _json(entry: list[object]) -> str:
    import json

    return json.dumps(entry)
