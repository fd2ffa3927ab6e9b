"""The documentation site: its examples run, its generated tables are complete, its references
resolve, and no file in the repository cites a document or heading that does not exist.

The strict build itself (a broken link or any warning fails it) is ``make docs``, a step of
``make test``; these tests check what a build cannot: that the examples the pages include work,
against the emulator on loopback, on asyncio and on trio.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from walink import CloseReason

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"


def load(path: Path) -> ModuleType:
    """Import a file that is not in a package (an example, the MkDocs hook)."""
    spec = importlib.util.spec_from_file_location(f"_docs_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, backend: str, *args: Any) -> Any:
    main: Callable[..., Any] = load(EXAMPLES / f"{name}.py").main
    return anyio.run(main, *args, backend=backend)


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the examples ----------------------------------------------------------------------------


def test_link_by_qr(tmp_path: Path, backend: str) -> None:
    me = run_example("link_by_qr", backend, str(tmp_path / "auth.db"))
    assert me.endswith("@s.whatsapp.net")
    assert (tmp_path / "auth.db").is_file()


def test_link_by_code(tmp_path: Path, backend: str) -> None:
    me = run_example("link_by_code", backend, str(tmp_path / "auth.db"))
    assert me.startswith("15551234567:")


def test_keep_running_reconnects_after_a_drop(tmp_path: Path, backend: str) -> None:
    seen = run_example("keep_running", backend, str(tmp_path / "auth.db"))
    closed = next(i for i, line in enumerate(seen) if line.startswith("close "))
    assert seen[closed] in ("close SERVER_CLOSED", "close NETWORK_ERROR")  # the dropped login
    assert seen[closed + 1].startswith("reconnect in ")
    assert "open" in seen[closed + 2 :]  # and open again


def test_faults_example_ends_replaced(tmp_path: Path, backend: str) -> None:
    assert run_example("test_bot_faults", backend, str(tmp_path / "auth.db")) is (
        CloseReason.REPLACED
    )


def test_capture_replay_matches(tmp_path: Path, backend: str) -> None:
    capture = tmp_path / "run.jsonl"
    assert run_example("capture_replay", backend, str(tmp_path / "auth.db"), str(capture))
    assert capture.stat().st_mode & 0o777 == 0o600


def test_emulator_process_example(tmp_path: Path) -> None:
    me = run_example("emulator_process", "asyncio", str(tmp_path / "auth.db"))
    assert me.endswith("@s.whatsapp.net")


def test_memory_pair_example() -> None:
    connection, reason = load(EXAMPLES / "memory_pair.py").main()
    assert connection == "open"
    assert reason is CloseReason.QR_EXHAUSTED


def test_tune_policy_example() -> None:
    config = load(EXAMPLES / "tune_policy.py").config
    assert config.policy.backoff_cap == 120.0
    assert CloseReason.REPLACED not in config.policy.stop_reasons
    assert CloseReason.LOGGED_OUT in config.policy.stop_reasons


def test_every_example_is_on_a_page_and_tested() -> None:
    pages = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    tests = Path(__file__).read_text(encoding="utf-8")
    for example in sorted(EXAMPLES.glob("*.py")):
        assert f'--8<-- "docs/examples/{example.name}"' in pages, f"{example.name}: on no page"
        assert f'"{example.stem}"' in tests or f'"{example.name}"' in tests, (
            f"{example.name}: run by no test"
        )


# -- generated tables and the phone endpoint --------------------------------------------------


def test_close_reason_table_lists_every_reason() -> None:
    table = load(DOCS / "hooks.py").close_reasons_table()
    for reason in CloseReason:
        assert f"| `{reason.name}` | {reason.status} |" in table


def test_close_reason_table_refuses_a_reason_without_advice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = load(DOCS / "hooks.py")
    monkeypatch.delitem(hooks.ADVICE, "REPLACED")
    with pytest.raises(ValueError, match="REPLACED"):
        hooks.close_reasons_table()


def test_api_pages_cover_every_public_name() -> None:
    hooks = load(DOCS / "hooks.py")
    for package in ("walink", "walink.testing", "walink.session"):
        page = hooks.on_page_markdown(f"<!-- walink:api {package} -->\n")
        module = importlib.import_module(package)
        for name in module.__all__:
            if name != "__version__":
                assert re.search(rf"^::: [\w.]+\.{name}$", page, re.M), f"{package}.{name}"


def test_every_phone_action_is_documented() -> None:
    source = (ROOT / "walink" / "testing" / "emulator.py").read_text(encoding="utf-8")
    actions = re.findall(r'f"\{prefix\}/([\w-]+)"', source)
    assert actions, "the emulator's phone routes were not found"
    page = (DOCS / "guides" / "testing.md").read_text(encoding="utf-8")
    for action in actions:
        assert f"### `POST /phone/{action}`" in page, f"/phone/{action} is not documented"


# -- citations ---------------------------------------------------------------------------------

# `docs/protocol/handshake.md#noise-steps`, `README.md`, `fuzz/README.md`: a Markdown file named
# in a comment, docstring or page, with an optional heading
CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)(?![\w])(?:#([\w-]+))?")
CITING_SUFFIXES = {".py", ".md", ".mjs", ".js", ".toml", ".sh", ".cfg", ".yml", ".yaml", ""}


def tracked_files() -> Iterator[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    this_file = Path(__file__).resolve()  # the checker names pages as path parts: not citations
    for name in listed:
        path = ROOT / name
        citing = path.suffix in CITING_SUFFIXES and "node_modules" not in path.parts
        if citing and path.is_file() and path != this_file:
            yield path


def heading_ids(page: Path) -> set[str]:
    """The anchors of a page's headings: explicit ``{#id}``s, else MkDocs' default slugs."""
    ids: set[str] = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*(?:\{#([\w-]+)\})?\s*$", line)
        if match:
            title, explicit = match.groups()
            ids.add(explicit or re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", title).lower()))
    return ids


def resolve(citing: Path, document: str) -> Path | None:
    for base in (citing.parent, ROOT, DOCS):  # DOCS: mkdocs.yml names pages from there
        candidate = (base / document).resolve()
        if candidate.is_file():
            return candidate
    return None


def test_every_cited_document_and_heading_exists() -> None:
    broken: list[str] = []
    for path in tracked_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            document, anchor = match.groups()
            where = f"{path.relative_to(ROOT)}: {match.group(0)}"
            target = resolve(path, document)
            if target is None:
                broken.append(f"{where} (no such document)")
            elif anchor and anchor not in heading_ids(target):
                broken.append(f"{where} (no such heading)")
    assert not broken, "citations of missing documents or headings:\n" + "\n".join(broken)


def test_the_citation_check_catches_a_missing_document_and_heading(tmp_path: Path) -> None:
    page = DOCS / "protocol" / "handshake.md"
    assert resolve(page, "PROTOCOL" + ".md") is None  # a fact sheet the repository never held
    assert resolve(ROOT / "walink" / "x.py", "docs/protocol/handshake.md") == page
    assert "no-such-heading" not in heading_ids(page)
    sample = tmp_path / "sample.md"
    sample.write_text("# Title here\n## Step order {#noise-steps}\n", encoding="utf-8")
    assert heading_ids(sample) == {"title-here", "noise-steps"}


def test_no_page_is_left_out_of_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS)) in nav, f"{page} is not in mkdocs.yml's nav"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
