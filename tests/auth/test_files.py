"""walink.auth.files: atomic, durable replacement, and clean failure at every step."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from tests.auth.failing_fs import FailingFileSystem
from walink.auth.files import (
    TEMP_SUFFIX,
    FileSystem,
    atomic_write,
    read_file,
    remove_stale_temps,
    write_temp,
)


class RecordingFileSystem(FileSystem):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def fsync(self, fd: int) -> None:
        self.calls.append("fsync")
        super().fsync(fd)

    def replace(self, source: str, target: str) -> None:
        self.calls.append("replace")
        super().replace(source, target)


def test_atomic_write_fsyncs_the_file_then_renames_then_fsyncs_the_folder(tmp_path: Path) -> None:
    fs = RecordingFileSystem()
    atomic_write(fs, str(tmp_path), "f.json", b"new")
    assert fs.calls == ["fsync", "replace", "fsync"]
    assert (tmp_path / "f.json").read_bytes() == b"new"
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["f.json"]


def test_atomic_write_handles_short_writes(tmp_path: Path) -> None:
    class Dribble(FileSystem):
        def write(self, fd: int, data: bytes) -> int:
            return super().write(fd, data[:3])

    atomic_write(Dribble(), str(tmp_path), "f", b"0123456789")
    assert (tmp_path / "f").read_bytes() == b"0123456789"


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("open", errno.EROFS),
        ("write", errno.ENOSPC),
        ("fsync", errno.EIO),
        ("replace", errno.EACCES),
    ],
)
def test_a_failure_leaves_the_old_file_and_no_temp(
    tmp_path: Path, operation: str, code: int
) -> None:
    (tmp_path / "f.json").write_bytes(b"old")
    with pytest.raises(OSError) as caught:
        atomic_write(FailingFileSystem(operation, code), str(tmp_path), "f.json", b"new")
    assert caught.value.errno == code
    assert (tmp_path / "f.json").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.json"]


def test_write_temp_leaves_a_synced_hidden_temp_beside_the_target(tmp_path: Path) -> None:
    fs = RecordingFileSystem()
    temp = write_temp(fs, str(tmp_path), "f.json", b"new")
    assert fs.calls == ["fsync"]  # the content is durable; the caller renames and syncs the folder
    assert os.path.dirname(temp) == str(tmp_path)
    name = os.path.basename(temp)
    assert name.startswith(".f.json.") and name.endswith(TEMP_SUFFIX)
    assert (tmp_path / name).read_bytes() == b"new"
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize(("operation", "code"), [("write", errno.ENOSPC), ("fsync", errno.EIO)])
def test_a_failed_write_temp_leaves_nothing(tmp_path: Path, operation: str, code: int) -> None:
    with pytest.raises(OSError) as caught:
        write_temp(FailingFileSystem(operation, code), str(tmp_path), "f.json", b"new")
    assert caught.value.errno == code
    assert os.listdir(tmp_path) == []


def test_read_file_missing_is_none_and_errors_propagate(tmp_path: Path) -> None:
    fs = FileSystem()
    assert read_file(fs, str(tmp_path / "absent")) is None
    (tmp_path / "big").write_bytes(b"x" * 200_000)
    assert read_file(fs, str(tmp_path / "big")) == b"x" * 200_000
    with pytest.raises(PermissionError):
        read_file(FailingFileSystem("read", errno.EACCES), str(tmp_path / "big"))


def test_remove_stale_temps_touches_only_temps(tmp_path: Path) -> None:
    (tmp_path / f".creds.json.ab12{TEMP_SUFFIX}").write_text("x")
    (tmp_path / "creds.json").write_text("{}")
    (tmp_path / f"visible{TEMP_SUFFIX}").write_text("not ours: no leading dot")
    remove_stale_temps(FileSystem(), str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["creds.json", f"visible{TEMP_SUFFIX}"]
