"""What every harness shares: atheris instrumentation and the libFuzzer entry point.

Imported as ``_atheris`` (the harness's own folder is on ``sys.path`` when it runs as a script,
and tests/test_fuzz_targets.py puts it there); atheris itself is imported only when fuzzing, so
the tests run the same targets without it.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path


def instrumented(module_name: str) -> AbstractContextManager[object]:
    """Coverage instrumentation of walink's imports when the harness runs as ``__main__``."""
    if module_name != "__main__":
        return nullcontext()
    import atheris

    return atheris.instrument_imports(include=["walink"])  # type: ignore[no-any-return]


def fuzz(name: str, target: Callable[[bytes], None], seeds: Callable[[], list[bytes]]) -> None:
    """Run libFuzzer on ``target``; with no corpus folder given, start from ``seeds()``."""
    import atheris

    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):
        corpus = Path(tempfile.mkdtemp(prefix=f"walink-fuzz-{name}-"))
        for index, seed in enumerate(seeds()):
            (corpus / f"seed-{index}").write_bytes(seed)
        argv.append(str(corpus))
    atheris.Setup(argv, target)
    atheris.Fuzz()
