"""Choosing the codec: compiled when current, the source when stale, forced or absent."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from walink.protocol import _builds, binary
from walink.protocol.binary import _loader


def test_env_var_forces_the_source() -> None:
    code = (
        "import walink.protocol.binary as b, walink.protocol.binary._codec as c;"
        "print(b.COMPILED, c.__file__.endswith('.py'), b.Node is c.Node)"
    )
    env = {**os.environ, "WALINK_PURE_PYTHON": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    assert result.stdout.split() == ["False", "True", "True"]


def test_source_module_is_plain_python() -> None:
    source = _loader.load_source()
    assert source.__file__ == str(_loader.CODEC_SOURCE)
    assert _loader.load_source() is source  # loaded once
    assert source.encode_node(source.Node("iq", {"id": "1"})).hex() == "00f803190855"


def _fake_build(monkeypatch: pytest.MonkeyPatch, digest: str | None, compiled: bool) -> None:
    suffix = ".cpython-311-x86_64-linux-gnu.so" if compiled else ".py"
    fake = SimpleNamespace(__file__="/x/_build_info" + suffix, SOURCE_SHA256=digest)
    real_import = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> Any:
        if name == _loader.BUILD_INFO_MODULE:
            if digest is None:
                raise ImportError(name)
            return fake
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", fake_import)


def test_stale_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    current = _loader.source_sha256()
    assert current is not None
    _fake_build(monkeypatch, current, compiled=True)
    assert _loader._stale_reason() is None
    _fake_build(monkeypatch, "0" * 64, compiled=True)
    assert "stale" in (_loader._stale_reason() or "")
    _fake_build(monkeypatch, current, compiled=False)
    assert "not compiled" in (_loader._stale_reason() or "")
    _fake_build(monkeypatch, None, compiled=True)
    assert "no build hash" in (_loader._stale_reason() or "")


def test_stale_build_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_builds.PURE_ENV_VAR, raising=False)
    spec = SimpleNamespace(origin="/x/_codec.cpython-311-x86_64-linux-gnu.so")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    monkeypatch.setattr(_loader, "_stale_reason", lambda: "the compiled codec is stale")
    loaded: list[str] = []

    def fake_load_source(name: str = _loader.PURE_MODULE) -> ModuleType:
        loaded.append(name)
        return ModuleType(name)

    monkeypatch.setattr(_loader, "load_source", fake_load_source)
    with pytest.warns(RuntimeWarning, match="stale; using the pure-Python codec"):
        module, compiled = _loader.load_codec()
    assert compiled is False and loaded == [_loader.CODEC_MODULE]
    assert module.__name__ == _loader.CODEC_MODULE


def test_librt_version_conflict_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build made against another librt ABI raises ValueError at import: use the source."""
    monkeypatch.delenv(_builds.PURE_ENV_VAR, raising=False)
    spec = SimpleNamespace(origin="/x/_codec.cpython-311-x86_64-linux-gnu.so")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    monkeypatch.setattr(_loader, "_stale_reason", lambda: None)
    real_import = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> Any:
        if name == _loader.CODEC_MODULE:
            raise ValueError("ABI version conflict for librt.strings, expected 1, found 2")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    monkeypatch.setattr(_loader, "load_source", lambda name=_loader.PURE_MODULE: ModuleType(name))
    with pytest.warns(RuntimeWarning, match="ABI version conflict"):
        module, compiled = _loader.load_codec()
    assert compiled is False and module.__name__ == _loader.CODEC_MODULE


@pytest.mark.skipif(not binary.COMPILED, reason="the compiled codec is not loaded")
def test_loaded_compiled_codec_matches_the_source() -> None:
    build_info = importlib.import_module(_loader.BUILD_INFO_MODULE)
    assert _loader.source_sha256() == build_info.SOURCE_SHA256


def test_ci_runs_the_compiled_codec() -> None:
    """In CI (an editable install with a C compiler) the compiled codec must be what loads."""
    if os.environ.get("CI") != "true" or os.environ.get(_builds.PURE_ENV_VAR):
        pytest.skip("only checked under CI=true")
    if os.environ.get("WALINK_NO_MYPYC") or shutil.which("cc") is None:
        pytest.skip("compilation disabled or no C compiler")
    assert binary.COMPILED
