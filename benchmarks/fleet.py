"""Many devices in one process: memory per open idle session, time to open and close, failover.

Run: ``python benchmarks/fleet.py [--devices 1000] [--rate 200] [--failover-devices 50]
[--fresh]`` for the full measurement. ``make bench`` calls ``run()``, which does the same with
small defaults (50 devices, 10 for failover, a 2 s TTL) so that it finishes in well under a
minute, and returns four rows of walink's own figures (no peer): open idle sessions per GiB of
RSS growth, sessions opened per second, devices reopened per second after the kill, open idle
clients closed per second (the command also prints the store's writes per second while idle).

1. Memory: ``--devices`` devices, registered directly in an emulator state folder (no pairing),
   are put in one SQLite device store; one ``walink emulator`` process serves them; a ``Fleet``
   in this process opens them all under its connect limiter. The figure is this process's RSS
   growth from before the fleet started to when every device is open, idle and its saves done,
   divided by the number of devices (so it counts the session, the client, the socket, the
   lease and each device's share of the store).
2. Time to open them all at ``--rate`` connections per second, and the store's write
   transactions per second while they sit idle (lease renewals: the default 30 s TTL, renewed
   every 10 s; the command idles a whole renewal interval).
3. Close: the time ``fleet.aclose()`` takes with every device open and idle (each client sends
   its close, saves what is pending, the leases are given back), and how many clients overran
   their close bound (``2 * close_timeout + 5`` s; they say so at WARNING and are cancelled).
4. Failover: two ``walink serve`` processes on one store with ``--failover-devices`` devices; the
   first takes them all, is killed with SIGKILL, and the time until the second reports every
   device open again is measured (lease TTL ``--ttl``, claims every ``--claim-interval``).

Numbers are printed; nothing is asserted (tests assert behaviour, benchmarks report numbers).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, this folder is sys.path[0], where signal.py would shadow the standard
    # library's module: put the repository root there instead, which also finds benchmarks.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import dataclasses
import gc
import json
import logging
import math
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, TypeVar

import anyio

from benchmarks import Row
from walink.auth.device_sql import Backend, SQLiteBackend, Tx
from walink.auth.devices import DEFAULT_RENEW_INTERVAL, DeviceStore, open_device_store
from walink.auth.model import Contact, Creds
from walink.io.config import ClientConfig
from walink.io.events import ConnectionUpdate
from walink.io.fleet import DeviceEvent, Fleet, FleetConfig
from walink.protocol.certs import TrustRoot
from walink.testing.registry import Registry

REPO_ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
UPLOADED = 812
"""The pre-keys a device uploads at its first login (and the server then counts)."""


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def make_devices(state_dir: Path, store: DeviceStore, count: int, *, fresh: bool) -> None:
    """Register ``count`` companions in the emulator's registry and their creds in ``store``.

    ``fresh``: the server holds no pre-keys of theirs, so each uploads 812 at its first login;
    otherwise they already did (the steady state of a fleet that restarts).
    """
    registry = Registry(rng=os.urandom, state_dir=state_dir)
    save = registry.save
    registry.save = lambda: None  # type: ignore[method-assign]  # one write at the end
    phones = [registry.phone(str(15550000000 + n)) for n in range(count // 50 + 1)]
    for n in range(count):
        phone = phones[n // 50]
        number, key_index = registry.allocate_device(phone)
        creds = Creds.new()
        device = registry.add_device(
            phone,
            device=number,
            key_index=key_index,
            noise_key=creds.noise_key.public,
            identity_key=creds.signed_identity_key.public,
        )
        jid = f"{phone.number}:{number}@s.whatsapp.net"
        creds = dataclasses.replace(creds, me=Contact(id=jid), registered=True)
        if not fresh:
            device.pre_key_count = UPLOADED
            creds = dataclasses.replace(
                creds, next_pre_key_id=UPLOADED + 1, first_unuploaded_pre_key_id=UPLOADED + 1
            )
        store.add(creds)
    registry.save = save  # type: ignore[method-assign]
    registry.save()


def start_emulator(state_dir: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    command = [sys.executable, "-m", "walink.cli", "emulator", "--json", "--state", str(state_dir)]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    return process, first


def client_config(emulator: dict[str, Any]) -> ClientConfig:
    root = TrustRoot(public_key=bytes.fromhex(emulator["trust_root"]), name="emulator")
    return ClientConfig(url=emulator["url"], trust_root=root, close_timeout=2.0)


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    """What ``measure_memory`` saw: the time to open them all and the RSS around it."""

    count: int
    rate: float
    took: float
    """Seconds from the fleet's start to the last device open."""
    before_kib: int
    after_kib: int
    close_took: float
    """Seconds ``fleet.aclose()`` took with every device open and idle."""
    late_clients: int
    """Clients that overran their close bound (cancelled after ``2 * close_timeout + 5`` s)."""
    idle: float
    idle_writes: int
    """Write transactions on the store while every device sat open and idle (lease renewals)."""

    @property
    def kib_per_session(self) -> float:
        return (self.after_kib - self.before_kib) / self.count


class CountingBackend:
    """A device store engine that counts the write transactions run on it."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.writes = 0

    @property
    def where(self) -> str:
        return self._backend.where

    def run(self, work: Callable[[Tx], T], *, write: bool) -> T:
        if write:
            self.writes += 1
        return self._backend.run(work, write=write)

    def close(self) -> None:
        self._backend.close()


async def measure_memory(
    store: DeviceStore,
    counter: CountingBackend,
    config: ClientConfig,
    count: int,
    rate: float,
    idle: float = 5.0,
) -> MemoryFigures:
    opened: set[str] = set()
    gc.collect()
    before = rss_kib()
    fleet_config = FleetConfig(
        client=config, connect_rate=rate, connect_burst=int(rate), claim_batch=count
    )
    started = time.monotonic()
    async with Fleet(store, fleet_config) as fleet:
        async for event in fleet:
            if (
                isinstance(event, DeviceEvent)
                and isinstance(event.event, ConnectionUpdate)
                and event.event.connection == "open"
            ):
                opened.add(event.device)
                if len(opened) == count:
                    break
        took = time.monotonic() - started
        # idle: the saves after login land, the pre-key uploads are answered; every lease is
        # renewed at least once
        writes = counter.writes
        await anyio.sleep(idle)
        idle_writes = counter.writes - writes
        gc.collect()
        after = rss_kib()
        late = _LateCounter()
        logging.getLogger("walink.client").addHandler(late)
        try:
            closing = time.monotonic()
            await fleet.aclose()
            close_took = time.monotonic() - closing
        finally:
            logging.getLogger("walink.client").removeHandler(late)
    return MemoryFigures(
        count=count,
        rate=rate,
        took=took,
        before_kib=before,
        after_kib=after,
        close_took=close_took,
        late_clients=late.count,
        idle=idle,
        idle_writes=idle_writes,
    )


class _LateCounter(logging.Handler):
    """Counts the clients that say they did not stop within their close bound."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "did not stop in time" in record.getMessage():
            self.count += 1


def print_memory(figures: MemoryFigures) -> None:
    count, took = figures.count, figures.took
    print(f"open sessions: {count} in {took:.1f} s at {figures.rate:g}/s ({count / took:.0f}/s)")
    print(
        f"RSS growth per open idle session: {figures.kib_per_session:.1f} KiB"
        f" (before {figures.before_kib} KiB, after {figures.after_kib} KiB)"
    )
    print(
        f"store writes while idle: {figures.idle_writes / figures.idle:.1f}/s"
        f" ({figures.idle_writes} in {figures.idle:g} s: lease renewals, every"
        f" {DEFAULT_RENEW_INTERVAL:g} s per lease)"
    )
    print(
        f"close: {count} open idle clients closed in {figures.close_took:.1f} s"
        f" ({figures.late_clients} overran their close bound)"
    )


def _read_lines(stream: IO[str], lines: list[dict[str, Any]]) -> None:
    for raw in stream:
        lines.append(json.loads(raw))


def _open(lines: list[dict[str, Any]]) -> set[str]:
    state = {}
    for line in list(lines):
        if line.get("event") == "connection.update":
            state[line["device"]] = line["connection"]
    return {device for device, connection in state.items() if connection == "open"}


def measure_failover(url: str, emulator: dict[str, Any], count: int, ttl: float) -> float:
    """Seconds from the first server's kill -9 until the second reports every device open."""
    import threading

    serve = [sys.executable, "-m", "walink.cli", "serve", "--auth", url, "--json"]
    serve += ["--url", emulator["url"], "--trust-root", emulator["trust_root"]]
    serve += ["--lease-ttl", str(ttl), "--claim-interval", "1", "--connect-rate", "100"]
    runs = []
    for _ in range(2):
        process = subprocess.Popen(
            serve, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        lines: list[dict[str, Any]] = []
        assert process.stdout is not None
        threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
        runs.append((process, lines))
        if len(runs) == 1:
            deadline = time.monotonic() + 120
            while len(_open(lines)) < count and time.monotonic() < deadline:
                time.sleep(0.1)
    (first, _), (second, second_lines) = runs
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = time.monotonic()
    deadline = killed + ttl + 60
    while len(_open(second_lines)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    took = time.monotonic() - killed
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=30)
    return took


def measure(
    devices: int, rate: float, failover_devices: int, ttl: float, *, fresh: bool, idle: float
) -> tuple[MemoryFigures, float]:
    """Both measurements on fresh stores and one emulator: the memory figures, failover seconds."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state_dir = root / "emulator"
        state_dir.mkdir()
        url = f"sqlite://{root / 'devices.db'}"
        failover_url = f"sqlite://{root / 'failover.db'}"
        with open_device_store(url) as store, open_device_store(failover_url) as failover:
            make_devices(state_dir, store, devices, fresh=fresh)
            make_devices(state_dir, failover, failover_devices, fresh=False)
        emulator_process, emulator = start_emulator(state_dir)
        try:
            counter = CountingBackend(SQLiteBackend(root / "devices.db"))
            with DeviceStore(counter) as store:
                memory = anyio.run(
                    measure_memory, store, counter, client_config(emulator), devices, rate, idle
                )
            failover_took = measure_failover(failover_url, emulator, failover_devices, ttl)
        finally:
            emulator_process.terminate()
            emulator_process.wait(timeout=30)
    return memory, failover_took


def run(
    devices: int = 50, rate: float = 200.0, failover_devices: int = 10, ttl: float = 2.0
) -> list[Row]:
    """The ``make bench`` entry point: small numbers, four rows of walink's own figures."""
    memory, failover_took = measure(devices, rate, failover_devices, ttl, fresh=False, idle=2.0)
    per_gib = 1024 * 1024 / memory.kib_per_session if memory.kib_per_session > 0 else math.inf
    figures = [
        (f"fleet: open idle sessions per GiB of RSS ({devices} devices)", per_gib, "sessions/GiB"),
        (f"fleet: sessions opened at {rate:g}/s allowed", devices / memory.took, "opens/s"),
        (
            f"fleet: devices open again after kill -9 (TTL {ttl:g} s)",
            failover_devices / failover_took,
            "devices/s",
        ),
        (
            f"fleet: open idle clients closed per second ({devices} devices)",
            devices / memory.close_took,
            "closes/s",
        ),
    ]
    # figures of walink's own: no peer runs a fleet to compare with
    return [Row(name=name, walink=value, peer=None, unit=unit) for name, value, unit in figures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--failover-devices", type=int, default=50)
    parser.add_argument("--ttl", type=float, default=5.0)
    parser.add_argument(
        "--fresh", action="store_true", help="devices upload their 812 pre-keys at first login"
    )
    args = parser.parse_args()
    memory, failover_took = measure(
        args.devices,
        args.rate,
        args.failover_devices,
        args.ttl,
        fresh=args.fresh,
        idle=DEFAULT_RENEW_INTERVAL,
    )
    print_memory(memory)
    print(
        f"failover after kill -9: {args.failover_devices} devices open again in "
        f"{failover_took:.1f} s (TTL {args.ttl:g} s)"
    )


if __name__ == "__main__":
    main()
