"""walink._commands.options: what the subcommands share (argument types, options, config, logs)."""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink._commands.options import (
    CLOSE_TIMEOUT,
    add_loop_options,
    add_trust_root_option,
    add_url_option,
    client_config,
    configure_logging,
    seconds,
    trust_root_hex,
    ws_url,
)
from walink.io.config import DEFAULT_URL
from walink.protocol.certs import WHATSAPP_ROOT


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="walink test", exit_on_error=False)
    add_url_option(parser)
    add_trust_root_option(parser)
    add_loop_options(parser)
    return parser


def test_without_options_the_client_dials_whatsapp_and_closes_promptly() -> None:
    args = parser().parse_args([])
    assert (args.url, args.trust_root, args.backend, args.verbose) == (None, None, "asyncio", False)
    config = client_config(args, qr_timeout=7.0)
    assert config.url == DEFAULT_URL and config.trust_root == WHATSAPP_ROOT
    assert config.close_timeout == CLOSE_TIMEOUT and config.qr_timeout == 7.0


def test_url_and_trust_root_reach_the_config() -> None:
    key = bytes(range(32))
    argv = ["--url", "ws://127.0.0.1:5/ws/chat", "--trust-root", key.hex(), "--backend", "trio"]
    args = parser().parse_args([*argv, "-v"])
    config = client_config(args, print_qr_in_terminal=False)
    assert config.url == "ws://127.0.0.1:5/ws/chat"
    assert config.trust_root.public_key == key and config.trust_root.name == "--trust-root"
    assert not config.print_qr_in_terminal and args.backend == "trio" and args.verbose


def test_a_field_the_library_refuses_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="qr_timeout"):
        client_config(parser().parse_args([]), qr_timeout=-1.0)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (ws_url, "http://127.0.0.1/ws/chat"),
        (trust_root_hex, "zz"),
        (trust_root_hex, "00" * 31),
        (seconds, "soon"),
        (seconds, "0"),
        (seconds, "-1"),
        (seconds, "inf"),
        (seconds, "nan"),
    ],
)
def test_bad_values_are_argument_errors(kind: object, text: str) -> None:
    assert callable(kind)
    with pytest.raises(argparse.ArgumentTypeError):
        kind(text)


@given(st.floats(min_value=1e-9, allow_infinity=False, allow_nan=False))
def test_any_positive_finite_number_is_seconds(value: float) -> None:
    assert seconds(repr(value)) == value and math.isfinite(value)


@pytest.fixture
def walink_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger("walink")
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_logs_go_to_stderr_named_by_the_command(
    walink_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("serve", verbose=False)
    assert walink_logger.level == logging.WARNING
    logging.getLogger("walink.fleet").warning("a %s", "warning")
    logging.getLogger("walink.fleet").info("not shown")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "walink serve: WARNING a warning\n"
    configure_logging("emulator", verbose=True, fields="%(message)s", level=logging.INFO)
    assert walink_logger.level == logging.DEBUG
