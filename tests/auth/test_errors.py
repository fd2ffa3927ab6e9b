"""walink.auth.errors: every error names its file and sits under one base class."""

from __future__ import annotations

from pathlib import Path

import pytest

from walink.auth import (
    AuthStoreError,
    CorruptStoreError,
    StoreClosedError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
    UnknownSchemaError,
)


@pytest.mark.parametrize(
    "error_type",
    [
        CorruptStoreError,
        UnknownSchemaError,
        StoreReadError,
        StoreWriteError,
        StoreLockedError,
        StoreClosedError,
    ],
)
def test_errors_name_the_file(error_type: type[AuthStoreError], tmp_path: Path) -> None:
    error = error_type("it broke", tmp_path / "creds.json")
    assert isinstance(error, AuthStoreError)
    assert str(error) == f"it broke: {tmp_path / 'creds.json'}"
    assert error.path == str(tmp_path / "creds.json")


def test_an_unknown_schema_is_a_kind_of_corruption() -> None:
    assert issubclass(UnknownSchemaError, CorruptStoreError)


def test_an_error_without_a_file() -> None:
    error = StoreClosedError("closed")
    assert (str(error), error.path) == ("closed", None)
