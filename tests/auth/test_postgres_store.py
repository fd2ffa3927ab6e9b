"""walink.auth.postgres_store: how long a lease statement may wait for a row lock.

A holder's transaction holds its lease row's lock from its fence (or renewal) to its commit. A
holder paused there (SIGSTOP, a stalled machine) would keep that lock for as long as it is
paused, and PostgreSQL by itself makes a contender wait for it forever. These tests pause a
transaction exactly there, deterministically: ``_Paused`` runs one on the holder's own store
that takes the row lock and then blocks until the test lets it go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from walink.auth.device_sql import Tx
from walink.auth.devices import DeviceHandle, DeviceStore, open_device_store
from walink.auth.errors import (
    AuthStoreError,
    DeviceLeasedError,
    LeaseLostError,
    StoreLockedError,
)

BOUND = 10.0
"""Seconds a contender may take before the test calls it a hang (the checks are far below)."""


class _Paused:
    """A transaction of ``handle``'s store that fenced the lease (holding its row lock), then
    stopped until ``go()``; ``error`` is what its commit raised, if anything."""

    def __init__(self, handle: DeviceHandle) -> None:
        self._handle = handle
        self._locked = threading.Event()
        self._go = threading.Event()
        self.error: AuthStoreError | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._locked.wait(BOUND)

    def _run(self) -> None:
        def work(tx: Tx) -> None:
            self._handle.fence(tx)
            self._locked.set()
            self._go.wait()

        try:
            self._handle.store.run(work, write=True)
        except AuthStoreError as error:
            self.error = error

    def go(self) -> None:
        self._go.set()
        self._thread.join(BOUND)
        assert not self._thread.is_alive()


def _acquire_within(handle: DeviceHandle, bound: float) -> int | AuthStoreError:
    """``handle.acquire()``'s epoch or error, failing the test if it takes longer than ``bound``."""
    result: list[int | AuthStoreError] = []

    def run() -> None:
        try:
            result.append(handle.acquire())
        except AuthStoreError as error:
            result.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound)
    assert result, f"acquire() still waits after {bound} s"
    return result[0]


@contextmanager
def _stores(url: str, ttl: float) -> Iterator[tuple[DeviceStore, DeviceStore, str]]:
    with (
        open_device_store(url, lease_ttl=ttl, owner="holder:1:aa") as holder,
        open_device_store(url, lease_ttl=ttl, owner="contender:2:bb") as contender,
    ):
        yield holder, contender, holder.add()


def test_a_holder_inside_a_write_does_not_delay_a_refusal(postgres_url: str) -> None:
    with _stores(postgres_url, ttl=30.0) as (holder, contender, device):
        held = holder.device(device)
        held.acquire()
        paused = _Paused(held)
        try:
            started = time.monotonic()
            refused = _acquire_within(contender.device(device), BOUND)
            took = time.monotonic() - started
        finally:
            paused.go()
        assert isinstance(refused, DeviceLeasedError), refused
        assert refused.holder == "holder:1:aa"
        assert took < 5.0, took  # decided from the committed lease, not after the write
        assert paused.error is None  # the holder's write went through


def test_a_holder_paused_inside_a_transaction_is_taken_over_after_its_ttl(
    postgres_url: str,
) -> None:
    ttl = 1.0
    with _stores(postgres_url, ttl=ttl) as (holder, contender, device):
        held = holder.device(device)
        held.acquire()
        paused = _Paused(held)
        try:
            time.sleep(ttl + 0.1)
            # the lease lapsed, but the paused transaction still holds its row: the server
            # ends that transaction's session once it has sat idle for the holder's TTL
            taken = _acquire_within(contender.device(device), BOUND)
        finally:
            paused.go()
        assert taken == 2, taken
        # the paused write never commits, and the old holder learns it lost the device
        assert isinstance(paused.error, AuthStoreError), paused.error
        with pytest.raises(LeaseLostError):
            held.set_keys({"session": {"a": b"x"}})
        assert holder.devices()[0].holder == "contender:2:bb"


def test_a_lock_held_by_another_program_bounds_the_wait_with_a_typed_error(
    postgres_url: str,
) -> None:
    import psycopg

    ttl = 0.5
    with _stores(postgres_url, ttl=ttl) as (holder, contender, device):
        held = holder.device(device)
        held.acquire()
        held.release()  # free: only the foreign lock stands in the way
        with psycopg.connect(postgres_url) as foreign:
            # a session with none of walink's bounds, locking the row and never committing
            foreign.execute("SELECT * FROM walink_leases WHERE device = %s FOR UPDATE", (device,))
            started = time.monotonic()
            error = _acquire_within(contender.device(device), BOUND)
            took = time.monotonic() - started
            foreign.rollback()
        assert type(error) is StoreLockedError, error
        assert "locked" in str(error)
        assert took < 5.0, took
        # once the other session lets go, the device is taken as usual
        assert contender.device(device).acquire() == 2
