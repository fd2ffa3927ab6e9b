"""MultiFileStore against Baileys' own useMultiFileAuthState, both ways (auth-bridge.mjs).

Equality is checked on Baileys' JSON form: what Baileys holds in memory, serialised with its
BufferJSON, must equal walink's encoding of what walink loaded (and the reverse), key by key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.auth.strategies import every_key_type, full_creds
from tests.peer_bridge import PeerBridge
from walink.auth import Creds, KeyPair, MultiFileStore, bufferjson
from walink.auth.creds_json import creds_to_json
from walink.auth.key_values import key_to_json

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def baileys(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "auth-bridge.mjs") as bridge:
        yield bridge


def _as_json(keys: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        key_type: {key_id: key_to_json(key_type, value) for key_id, value in values.items()}
        for key_type, values in keys.items()
    }


def test_walink_loads_a_folder_baileys_wrote(baileys: PeerBridge, tmp_path: Path) -> None:
    folder = tmp_path / "auth_info_baileys"
    reply = baileys.call("write", folder=str(folder))
    expected_creds: Any = bufferjson.loads(reply["creds"])
    expected_keys: Any = bufferjson.loads(reply["keys"])

    store = MultiFileStore(folder)
    creds = store.load()
    assert creds is not None
    assert creds_to_json(creds) == expected_creds
    # Spot checks on the typed side, so the comparison above cannot pass vacuously.
    assert creds.noise_key.private == expected_creds["noiseKey"]["private"]
    assert creds.signed_pre_key.signature == expected_creds["signedPreKey"]["signature"]
    assert len(creds.adv_secret_key) == 32
    assert creds.me is not None and creds.me.lid == "98765432101234:3@lid"
    assert creds.account is not None and len(creds.account.device_signature or b"") == 64
    assert creds.registered and creds.platform == "smba"
    assert 0 <= creds.registration_id <= 16383

    loaded = {
        key_type: store.get_keys(key_type, list(values))
        for key_type, values in expected_keys.items()
    }
    assert set(loaded) == set(every_key_type())
    assert _as_json(loaded) == expected_keys
    pre_key = loaded["pre-key"]["7"]
    assert isinstance(pre_key, KeyPair)
    assert pre_key.private == expected_keys["pre-key"]["7"]["private"]


def test_a_baileys_folder_survives_a_walink_save(baileys: PeerBridge, tmp_path: Path) -> None:
    folder = tmp_path / "auth_info_baileys"
    written = bufferjson.loads(baileys.call("write", folder=str(folder))["creds"])
    with MultiFileStore(folder) as store:
        creds = store.load()
        assert creds is not None
        store.save(creds)
    reread = baileys.call("read", folder=str(folder), ids={})
    assert bufferjson.loads(reread["creds"]) == written


@pytest.mark.parametrize("make", [full_creds, Creds.new], ids=["paired", "fresh"])
def test_baileys_loads_a_folder_walink_wrote(
    baileys: PeerBridge, tmp_path: Path, make: Any
) -> None:
    folder = tmp_path / "walink_auth"
    creds: Creds = make()
    keys = every_key_type()
    with MultiFileStore(folder) as store:
        store.save(creds)
        store.set_keys(keys)
    reply = baileys.call(
        "read",
        folder=str(folder),
        ids={key_type: list(values) for key_type, values in keys.items()},
    )
    assert bufferjson.loads(reply["creds"]) == creds_to_json(creds)
    assert reply["signatureOk"] is True  # Baileys' libsignal accepts our XEdDSA signed pre-key
    assert bufferjson.loads(reply["keys"]) == _as_json(keys)


def test_baileys_sees_deleted_keys_as_missing(baileys: PeerBridge, tmp_path: Path) -> None:
    with MultiFileStore(tmp_path) as store:
        store.save(Creds.new())
        store.set_keys(every_key_type())
        store.set_keys({"pre-key": {"7": None}})
    reply = baileys.call("read", folder=str(tmp_path), ids={"pre-key": ["7", "8"]})
    keys: Any = bufferjson.loads(reply["keys"])
    assert keys["pre-key"]["7"] is None
    assert keys["pre-key"]["8"] == key_to_json("pre-key", every_key_type()["pre-key"]["8"])
