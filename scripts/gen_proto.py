"""Regenerate walink/protocol/proto/*_pb2.py and *_pb2.pyi from the .proto files beside them.

The generated modules are committed; tests/protocol/test_proto.py regenerates them into a
temporary folder and fails when the committed ones differ. Different protoc versions emit
different code, so the generator is pinned: grpcio-tools GRPCIO_TOOLS_VERSION (its bundled protoc).

    python scripts/gen_proto.py            # rewrite the committed modules
    python scripts/gen_proto.py --out DIR  # write them into DIR instead (the freshness test)
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

GRPCIO_TOOLS_VERSION = "1.85.1"
PROTO_DIR = Path(__file__).resolve().parent.parent / "walink" / "protocol" / "proto"


def generate(out_dir: Path) -> list[Path]:
    """Run the pinned protoc over every .proto in PROTO_DIR; return the files written."""
    installed = metadata.version("grpcio-tools")
    if installed != GRPCIO_TOOLS_VERSION:
        raise SystemExit(
            f"grpcio-tools {GRPCIO_TOOLS_VERSION} is required (found {installed}): "
            "other versions generate different code"
        )
    # Imported late: only this script and its test need grpcio-tools.
    from grpc_tools import protoc  # type: ignore[import-untyped]

    sources = sorted(path.name for path in PROTO_DIR.glob("*.proto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    # Relative source names keep the generated descriptors independent of the checkout's path.
    status = protoc.main(
        [
            "protoc",
            f"--proto_path={PROTO_DIR}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            *sources,
        ]
    )
    if status != 0:
        raise SystemExit(f"protoc failed with status {status}")
    stems = [name.removesuffix(".proto") for name in sources]
    for stem in stems:
        _relax_stub(out_dir / f"{stem}_pb2.pyi")
    return [out_dir / f"{stem}_pb2{suffix}" for stem in stems for suffix in (".py", ".pyi")]


# protoc's stubs use a bare ``Mapping`` in constructor signatures, which ``mypy --strict``
# (disallow_any_generics) reports as an error in the stub itself. The stub is generated, so we
# relax that one check for it instead of editing generated code by hand.
_STUB_HEADER = '# mypy: disable-error-code="type-arg"\n'


def _relax_stub(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if not text.startswith(_STUB_HEADER):
        path.write_text(_STUB_HEADER + text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=PROTO_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
