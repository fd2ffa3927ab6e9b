"""A folder Baileys wrote, imported into a PostgreSQL device store, logs in with walink there."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from tests.interop.test_baileys_lifecycle import pair_with_qr
from tests.scenarios.harness import config_for, running
from walink.auth import MultiFileStore, import_store, open_device_store
from walink.io.client import Client
from walink.testing.emulator import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.peer]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_baileys_folder_imports_into_postgres_and_opens_there(
    peer_dir: Path, tmp_path: Path, postgres_url: str
) -> None:
    state_dir, auth_dir = tmp_path / "emulator", tmp_path / "baileys"
    auth_dir.mkdir()
    async with Emulator(state_dir=state_dir) as emulator:
        run = await pair_with_qr(peer_dir, emulator, auth_dir)
        assert run.opened_on() == [2], run.lines
    # the harness exits only when Baileys' own in-place writes are done: none is left empty
    assert [name for name in os.listdir(auth_dir) if not (auth_dir / name).stat().st_size] == []
    with open_device_store(postgres_url) as store:
        device = import_store(store, auth_dir)
        (info,) = store.devices()
        assert info.id == device and info.jid == run.scanned[0]
        handle = store.device(device)
        assert handle.load() == MultiFileStore(auth_dir).load()
        # every key file came along: Baileys' pre-keys are there under their ids
        pre_keys = [name for name in os.listdir(auth_dir) if name.startswith("pre-key-")]
        assert pre_keys
        ids = [name.removeprefix("pre-key-").removesuffix(".json") for name in pre_keys]
        assert None not in handle.get_keys("pre-key", ids).values()
        async with (
            Emulator(state_dir=state_dir) as emulator,
            running(Client(handle, config_for(emulator))) as recorder,
        ):
            opened = await recorder.wait_open()
            assert not opened.is_new_login
            assert recorder.qrs == []
        with anyio.fail_after(1):
            handle.close()
