"""Time bounds that only guard against a hang, in one place.

A bound here is never what a test checks: it turns a hang into a failure instead of a stuck
run. It is generous because the suite runs on loaded machines (CI: 2 cores shared by two
pytest-xdist workers, mypy and the docs build, plus the subprocesses the tests start), where a
fresh ``python -m walink.cli`` process has taken more than 10 s just to import walink and reach
its first line. A test whose point is a time bound keeps its own, with a margin that holds on
such a machine, or measures on a fake clock.
"""

from __future__ import annotations

__all__ = ["EVENT_WAIT", "PROCESS_START", "SCENARIO_LIMIT"]

PROCESS_START = 60.0
"""Seconds a Python subprocess of the suite may take to start and reach its first output (or
its exit, for one that refuses its arguments at once)."""

SCENARIO_LIMIT = 90.0
"""Seconds one interop scenario may take: a Node peer's start (Baileys' import alone takes
seconds on a loaded machine), its login with the 812 pre-keys it uploads, and the scenario."""

EVENT_WAIT = 30.0
"""Seconds an in-process scenario waits for an event it expects (an open, a close) before it
fails: milliseconds on an idle machine, seconds on a starved one."""
