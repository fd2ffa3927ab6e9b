"""Fixtures: each codec test runs on the loaded codec and, when that is compiled, on the source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.peer_bridge import PeerBridge
from walink.protocol import binary
from walink.protocol.binary import _loader

# "source" runs the pure-Python module beside the compiled one; without a compiled build the
# loaded module is the source already, and a second run would test nothing new.
CODEC_VARIANTS = ["loaded", "source"] if binary.COMPILED else ["loaded"]


@pytest.fixture(scope="session", params=CODEC_VARIANTS)
def codec(request: pytest.FixtureRequest) -> ModuleType:
    """The codec module under test: Node, encode_node, decode_node, render_node."""
    if request.param == "source":
        return _loader.load_source()
    return binary._codec_module


@pytest.fixture(scope="session")
def codec_peer(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "codec-bridge.mjs") as bridge:
        yield bridge
