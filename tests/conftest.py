"""Suite-wide configuration: the loopback guard, Hypothesis profiles and the Baileys peer."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.loopback_guard import loopback_only

REPO_ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = REPO_ROOT / "tests" / "peer"

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=100,
    derandomize=False,
    print_blob=True,
)
settings.register_profile("thorough", deadline=None, max_examples=2000)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


@pytest.fixture(autouse=True, scope="session")
def _loopback_guard() -> Iterator[None]:
    """Every test runs with non-loopback connects refused loudly."""
    with loopback_only():
        yield


def peer_required() -> bool:
    """Under CI (or REQUIRE_BAILEYS_PEER=1) a missing peer fails the test instead of skipping."""
    return os.environ.get("CI") == "true" or os.environ.get("REQUIRE_BAILEYS_PEER") == "1"


@pytest.fixture(scope="session")
def peer_dir() -> Path:
    """The installed Baileys peer folder, or a skip (a failure under CI) when it is missing."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (PEER_DIR / "node_modules" / "@whiskeysockets" / "baileys").is_dir():
        problem = "tests/peer/node_modules is missing: run `make peer`"
    if problem is not None:
        if peer_required():
            pytest.fail(f"Baileys peer unavailable under CI: {problem}")
        pytest.skip(f"Baileys peer unavailable: {problem}")
    return PEER_DIR


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database's URL (skip without a server; a failure under CI)."""
    from tests.postgres import fresh_database

    yield from fresh_database()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A device store's URL: the same test on a SQLite file and on a fresh PostgreSQL
    database."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'devices.db'}"
    else:
        yield request.getfixturevalue("postgres_url")
