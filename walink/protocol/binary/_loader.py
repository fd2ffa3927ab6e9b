"""Choose the codec implementation: the mypyc-compiled module when it is current, else the source.

setup.py compiles ``_codec.py`` together with a generated ``_build_info`` module that records
the SHA-256 of the source it was compiled from. An editable install keeps the compiled module
next to the source, so after an edit the two disagree: then the source is loaded, with a
warning, rather than stale machine code. ``WALINK_PURE_PYTHON=1`` forces the source.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType

from walink.protocol._builds import file_sha256, pure_python_forced

CODEC_MODULE = "walink.protocol.binary._codec"
BUILD_INFO_MODULE = "walink.protocol.binary._build_info"
PURE_MODULE = "walink.protocol.binary._codec_pure"
CODEC_SOURCE = Path(__file__).with_name("_codec.py")


def source_sha256() -> str | None:
    """The hash setup.py records for the codec source, or None when the source is absent."""
    return file_sha256(CODEC_SOURCE)


def load_source(module_name: str = PURE_MODULE) -> ModuleType:
    """Execute ``_codec.py`` as plain Python under ``module_name`` (reused if already loaded)."""
    loaded = sys.modules.get(module_name)
    if loaded is not None and not _is_extension(getattr(loaded, "__file__", None)):
        return loaded
    loader = importlib.machinery.SourceFileLoader(module_name, str(CODEC_SOURCE))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _is_extension(path: str | None) -> bool:
    return path is not None and path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _stale_reason() -> str | None:
    try:
        build_info = importlib.import_module(BUILD_INFO_MODULE)
    except ImportError:
        return "the compiled codec has no build hash"
    if not _is_extension(getattr(build_info, "__file__", None)):
        return "the compiled codec's build hash is not compiled"
    current = source_sha256()
    if current is not None and current != getattr(build_info, "SOURCE_SHA256", None):
        return "the compiled codec is stale: _codec.py changed since it was built (reinstall)"
    return None


def load_codec() -> tuple[ModuleType, bool]:
    """The codec module to use, and whether it is the compiled one."""
    if pure_python_forced():
        return load_source(CODEC_MODULE), False
    spec = importlib.util.find_spec(CODEC_MODULE)
    if spec is None or not _is_extension(spec.origin):
        return importlib.import_module(CODEC_MODULE), False
    problem = _stale_reason()
    if problem is None:
        try:
            return importlib.import_module(CODEC_MODULE), True
        # ImportError: built for another interpreter, or a broken build; ValueError: the
        # installed librt (the mypyc runtime library) is not the one the build was made against
        except (ImportError, ValueError) as exc:
            problem = f"the compiled codec does not load ({exc})"
    warnings.warn(f"walink: {problem}; using the pure-Python codec", RuntimeWarning, stacklevel=2)
    return load_source(CODEC_MODULE), False
