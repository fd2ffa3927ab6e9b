"""The public API: every advertised name resolves, and the sans-IO core stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import walink


@pytest.mark.parametrize("name", sorted(walink._EXPORTS))
def test_every_export_resolves(name: str) -> None:
    assert getattr(walink, name) is not None
    assert name in walink.__all__
    assert name in dir(walink)


def test_unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = walink.no_such_name


def test_importing_the_core_does_not_import_io_or_emulator() -> None:
    code = (
        "import sys, walink, walink.protocol.connection, walink.fsm, walink.auth\n"
        "heavy = [m for m in ('anyio', 'trio', 'wsproto', 'walink.testing', 'walink.cli',"
        " 'walink.io') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
