"""Fixtures of the receive pipeline tests: every async test runs on asyncio and on trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of the test (the anyio pytest plugin reads this fixture)."""
    return str(request.param)
