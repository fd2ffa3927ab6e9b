"""``walink`` (walink.cli): the flags and help texts of every command, byte for byte.

Flags and help texts are a contract that scripts and other tools parse, so the ``--help`` of the
top-level command and of every subcommand is compared with ``tests/data/cli-help.txt``, written
from the commands as they were released. A deliberate change of a flag or a help text rewrites
that file (``python -c "from tests.test_cli import help_texts; print(help_texts(), end='')" >
tests/data/cli-help.txt``) and the diff shows the change for review.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from unittest import mock

import pytest

from walink.cli import EXIT_USAGE, main

HELP_FILE = Path(__file__).parent / "data" / "cli-help.txt"

COMMANDS = (
    "version",
    "demo",
    "connect",
    "logout",
    "serve",
    "devices",
    "diagram",
    "emulator",
    "replay",
)
"""Every subcommand, in the order ``walink --help`` lists them."""


def _help(argv: list[str]) -> str:
    out = io.StringIO()
    # the width argparse wraps at, fixed; no colours (Python 3.14's argparse may add them)
    environment = {"COLUMNS": "100", "NO_COLOR": "1"}
    with (
        mock.patch.dict(os.environ, environment),
        contextlib.redirect_stdout(out),
        pytest.raises(SystemExit) as exited,
    ):
        main(argv)
    assert exited.value.code == 0
    return out.getvalue()


def help_texts() -> str:
    """The ``--help`` of ``walink`` and of each subcommand, each under a ``$ walink …`` line."""
    sections = [(["--help"], "$ walink --help")]
    sections += [([name, "--help"], f"$ walink {name} --help") for name in COMMANDS]
    return "".join(f"{title}\n{_help(argv)}\n" for argv, title in sections)


def test_every_help_text_is_as_released() -> None:
    assert help_texts() == HELP_FILE.read_text(encoding="utf-8")


def test_the_commands_listed_are_all_there_are() -> None:
    top = _help(["--help"])
    listed = [line.split()[0] for line in top.splitlines() if line.startswith(" " * 4)]
    assert tuple(listed) == COMMANDS


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["no-such-command"])
    assert exited.value.code == EXIT_USAGE
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err
