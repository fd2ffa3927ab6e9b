"""The device registry: phones on demand, devices, and atomic JSON persistence."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path

import pytest

from walink.testing.registry import DEFAULT_PHONE, Registry, RegistryError


def _rng(seed: int = 1) -> random.Random:
    return random.Random(seed)


def make_registry(state_dir: Path | None = None, seed: int = 1) -> Registry:
    source = _rng(seed)
    return Registry(rng=source.randbytes, state_dir=state_dir)


def test_phone_is_created_once_per_number() -> None:
    registry = make_registry()
    default = registry.phone()
    assert default.number == DEFAULT_PHONE
    assert registry.phone(DEFAULT_PHONE) is default
    other = registry.phone("4915123456789")
    assert other is not default
    assert other.identity.public != default.identity.public
    assert len(other.lid) == 15 and other.lid.isdigit()


def test_phone_number_must_be_digits() -> None:
    with pytest.raises(ValueError):
        make_registry().phone("+49 151")


def test_device_numbers_and_key_indexes_are_never_reused() -> None:
    registry = make_registry()
    phone = registry.phone()
    first = registry.allocate_device(phone)
    second = registry.allocate_device(phone)
    assert first == (1, 1)
    assert second == (2, 2)
    device = registry.add_device(
        phone, device=2, key_index=2, noise_key=b"n" * 32, identity_key=b"i" * 32
    )
    assert device.jid == f"{DEFAULT_PHONE}:2@s.whatsapp.net"
    assert device.lid_jid == f"{phone.lid}:2@lid"
    assert registry.device(DEFAULT_PHONE, 2) is device
    assert registry.device(DEFAULT_PHONE, 1) is None
    assert registry.remove_device(DEFAULT_PHONE, 2)
    assert not registry.remove_device(DEFAULT_PHONE, 2)
    assert registry.allocate_device(phone) == (3, 3)


def test_state_folder_round_trip(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    phone = registry.phone()
    number, key_index = registry.allocate_device(phone)
    device = registry.add_device(
        phone, device=number, key_index=key_index, noise_key=b"n" * 32, identity_key=b"i" * 32
    )
    registry.store_pre_keys(device, {1: b"a" * 32, 2: b"b" * 32})
    path = tmp_path / "registry.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["registry.json"]  # no temp file left

    reloaded = make_registry(tmp_path, seed=99)
    again = reloaded.phone()
    assert again.identity.private == phone.identity.private
    assert again.lid == phone.lid
    assert (again.next_device, again.next_key_index) == (2, 2)
    stored = reloaded.device(DEFAULT_PHONE, number)
    assert stored is not None
    assert stored.noise_key == b"n" * 32
    assert stored.pre_key_count == 2
    assert stored.pre_keys[2] == b"b" * 32


def test_corrupt_state_is_an_error_not_an_empty_registry(tmp_path: Path) -> None:
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(RegistryError):
        make_registry(tmp_path)
    (tmp_path / "registry.json").write_text(json.dumps({"v": 7}))
    with pytest.raises(RegistryError, match="unknown registry format"):
        make_registry(tmp_path)
    (tmp_path / "registry.json").write_text(json.dumps({"v": 1, "phones": [{}], "devices": []}))
    with pytest.raises(RegistryError, match="corrupt"):
        make_registry(tmp_path)


def test_in_memory_registry_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    registry = make_registry()
    registry.allocate_device(registry.phone())
    assert list(tmp_path.iterdir()) == []
