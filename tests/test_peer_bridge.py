"""The JSON-lines bridge to the Baileys peer folder works both ways, errors included."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peer_bridge import PeerBridge, PeerError


def test_echo_and_error(peer_dir: Path) -> None:
    with PeerBridge(peer_dir, "echo-bridge.mjs") as bridge:
        assert bridge.call("echo", value={"a": [1, "x"]})["value"] == {"a": [1, "x"]}
        with pytest.raises(PeerError, match="asked to fail"):
            bridge.call("fail")
        with pytest.raises(PeerError, match="unknown op"):
            bridge.call("nope")
        assert bridge.call("echo", value=3)["value"] == 3
