"""The PostgreSQL server of the tests: ``.ci/run`` starts one and names it in
``WALINK_TEST_POSTGRES`` (a ``postgresql://`` URL to a database we may create databases from).

Each test gets a database of its own, dropped afterwards. Without a server the test skips,
except under ``CI=true``, where it fails: CI always has one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV = "WALINK_TEST_POSTGRES"


def server_url() -> str:
    """The server's URL, or a skip (a failure under CI) when there is none or no driver."""
    url = os.environ.get(ENV)
    problem = None
    if not url:
        problem = f"{ENV} is not set (`.ci/run` starts a server and sets it)"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            problem = "psycopg is not installed (pip install -e '.[test]')"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unavailable under CI: {problem}")
        pytest.skip(f"PostgreSQL unavailable: {problem}")
    assert url is not None
    return url


def fresh_database() -> Iterator[str]:
    """A new, empty database on the test server; its URL. Dropped when the generator ends."""
    import psycopg

    url = server_url()
    name = f"walink_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {ENV} refuses connections: {error}")
        pytest.skip(f"PostgreSQL at {ENV} refuses connections: {error}")
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
