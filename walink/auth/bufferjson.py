"""Baileys' ``BufferJSON``: JSON where byte strings travel as ``{"type":"Buffer","data":b64}``.

This is the encoding of every file in a ``useMultiFileAuthState`` folder, and walink's other
stores reuse it so that a value means the same thing in every store. In Python a Buffer is
``bytes``; everything else is the ordinary ``json`` mapping.

``dumps`` matches ``JSON.stringify(value, BufferJSON.replacer)``: compact separators, non-ASCII
text left as is. ``loads`` matches ``JSON.parse(text, BufferJSON.reviver)``, including its legacy
rule that a non-empty object whose keys all start like integers and whose values are all numbers
is a Buffer (Baileys once stored Buffers that way), and Node's lenient base64 decoding.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any, TypeAlias

JSONValue: TypeAlias = (
    "bool | int | float | str | bytes | list[JSONValue] | dict[str, JSONValue] | None"
)
"""A decoded BufferJSON value: JSON, plus ``bytes`` for Buffers."""

__all__ = ["JSONValue", "decode_base64", "dumps", "loads"]

# parseInt(k, 10) is not NaN when, after leading white space and a sign, a digit follows.
_INTEGER_PREFIX = re.compile(r"^[\s\ufeff]*[+-]?[0-9]")
# A canonical array index is ordered first (ascending) by JavaScript's property order.
_ARRAY_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_ARRAY_INDEX_LIMIT = 2**32 - 1
_BASE64_NOISE = re.compile(r"[^A-Za-z0-9+/]")


def _default(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"BufferJSON cannot encode {type(value).__name__}")


def dumps(value: Any) -> str:
    """Encode ``value`` exactly as Baileys' ``JSON.stringify(value, BufferJSON.replacer)``."""
    # allow_nan=False: JSON.stringify writes NaN as null, which would not round-trip; refuse it.
    return json.dumps(
        value, default=_default, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def decode_base64(text: str) -> bytes:
    """Decode base64 the way Node's ``Buffer.from(text, "base64")`` does: leniently.

    Node accepts the URL-safe alphabet, ignores characters outside the alphabet, and stops at
    the first ``=``; a trailing group of 2 or 3 characters decodes to 1 or 2 bytes.
    """
    text = text.split("=", 1)[0].replace("-", "+").replace("_", "/")
    text = _BASE64_NOISE.sub("", text)
    if len(text) % 4 == 1:  # a lone 6-bit group carries no whole byte; Node drops it
        text = text[:-1]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:  # unreachable after the clean-up, kept as a guard
        raise ValueError(f"bad base64: {error}") from None


def _to_uint8(number: float) -> int:
    # Buffer.from(array) applies ToUint8 to each element: truncate, wrap modulo 256, NaN -> 0.
    if isinstance(number, float) and (math.isnan(number) or math.isinf(number)):
        return 0
    return int(number) % 256


def _js_key_order(keys: list[str]) -> list[str]:
    indices = sorted(
        (k for k in keys if _ARRAY_INDEX.match(k) and int(k) < _ARRAY_INDEX_LIMIT), key=int
    )
    index_set = set(indices)
    return indices + [k for k in keys if k not in index_set]


def _revive(obj: dict[str, Any]) -> Any:
    if obj.get("type") == "Buffer" and isinstance(obj.get("data"), str):
        return decode_base64(obj["data"])
    if obj and all(_INTEGER_PREFIX.match(k) for k in obj):
        values = [obj[k] for k in _js_key_order(list(obj))]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return bytes(_to_uint8(v) for v in values)
    return obj


def loads(text: str | bytes) -> JSONValue:
    """Decode ``text`` exactly as Baileys' ``JSON.parse(text, BufferJSON.reviver)``.

    Raises ``ValueError`` (``json.JSONDecodeError`` or ``UnicodeDecodeError``) on bad input.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    result: JSONValue = json.loads(text, object_hook=_revive, parse_constant=_reject_constant)
    return result


def _reject_constant(name: str) -> None:
    # JSON.parse refuses NaN and Infinity; so do we, rather than load what Baileys cannot.
    raise ValueError(f"{name} is not JSON")
