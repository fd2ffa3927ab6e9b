"""walink: a WhatsApp Web linked-device connection layer.

The public API is re-exported here lazily (PEP 562), so that importing the sans-IO core
(``walink.protocol``) never imports anyio, the emulator or the command line.
Each public name maps to the private module that defines it; add new names to ``_EXPORTS``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from walink._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Node": "walink.protocol.binary",
    "encode_node": "walink.protocol.binary",
    "decode_node": "walink.protocol.binary",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from walink.protocol.binary import Node as Node
    from walink.protocol.binary import decode_node as decode_node
    from walink.protocol.binary import encode_node as encode_node


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'walink' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
