"""Regenerate walink/protocol/binary/_tokens.py from a wa-tokens.json file.

Usage: python scripts/gen_wa_tokens.py PATH/TO/wa-tokens.json
The JSON has ``single_byte`` (236 strings, index 0 is "") and ``double_byte`` (4 lists of 256).
The test suite checks the generated tables against the Baileys peer's constants.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parent.parent / "walink" / "protocol" / "binary" / "_tokens.py"


def render(tables: dict[str, list[Any]], source_sha256: str) -> str:
    single = tables["single_byte"]
    double = tables["double_byte"]
    assert len(single) == 236 and single[0] == ""
    assert len(double) == 4 and all(len(page) == 256 for page in double)
    lines = [
        '"""WhatsApp binary-node token tables, dictionary version 3. GENERATED: do not edit.',
        "",
        "Regenerate with scripts/gen_wa_tokens.py from wa-tokens.json",
        f"(sha256 {source_sha256}).",
        '"""',
        "",
        "from typing import Final",
        "",
        "DICT_VERSION: Final = 3",
        "",
        "SINGLE_BYTE_TOKENS: Final[tuple[str, ...]] = (",
        *(f"    {json.dumps(token)}," for token in single),
        ")",
        "",
        "DOUBLE_BYTE_TOKENS: Final[tuple[tuple[str, ...], ...]] = (",
    ]
    for page in double:
        assert isinstance(page, list)
        lines.append("    (")
        lines.extend(f"        {json.dumps(token)}," for token in page)
        lines.append("    ),")
    lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    raw = Path(argv[1]).read_bytes()
    TARGET.write_text(render(json.loads(raw), hashlib.sha256(raw).hexdigest()), encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
