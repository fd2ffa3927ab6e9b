"""Many devices in one process: memory per open idle session, time to open, failover time.

Run: ``python benchmarks/fleet.py [--devices 1000] [--rate 200] [--failover-devices 50]
[--fresh]``.

1. Memory: ``--devices`` devices, registered directly in an emulator state folder (no pairing),
   are put in one SQLite device store; one ``walink emulator`` process serves them; a ``Fleet``
   in this process opens them all under its connect limiter. The figure is this process's RSS
   growth from before the fleet started to when every device is open, idle and its saves done,
   divided by the number of devices (so it counts the session, the client, the socket, the
   lease and each device's share of the store).
2. Time to open them all at ``--rate`` connections per second.
3. Failover: two ``walink serve`` processes on one store with ``--failover-devices`` devices; the
   first takes them all, is killed with SIGKILL, and the time until the second reports every
   device open again is measured (lease TTL ``--ttl``, claims every ``--claim-interval``).

Numbers are printed; nothing is asserted (tests assert behaviour, benchmarks report numbers).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import anyio

from walink.auth.devices import DeviceStore, open_device_store
from walink.auth.model import Contact, Creds
from walink.io.config import ClientConfig
from walink.io.events import ConnectionUpdate
from walink.io.fleet import DeviceEvent, Fleet, FleetConfig
from walink.protocol.certs import TrustRoot
from walink.testing.registry import Registry

REPO_ROOT = Path(__file__).resolve().parent.parent
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


async def measure_memory(store: DeviceStore, config: ClientConfig, count: int, rate: float) -> None:
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
        # idle: the saves after login land, the pre-key uploads are answered
        await anyio.sleep(5.0)
        gc.collect()
        after = rss_kib()
        print(f"open sessions: {count} in {took:.1f} s at {rate:g}/s ({count / took:.0f}/s)")
        print(
            f"RSS growth per open idle session: {(after - before) / count:.1f} KiB"
            f" (before {before} KiB, after {after} KiB)"
        )
        await fleet.aclose()


def _read_lines(stream: IO[str], lines: list[dict[str, Any]]) -> None:
    for raw in stream:
        lines.append(json.loads(raw))


def _open(lines: list[dict[str, Any]]) -> set[str]:
    state = {}
    for line in list(lines):
        if line.get("event") == "connection.update":
            state[line["device"]] = line["connection"]
    return {device for device, connection in state.items() if connection == "open"}


def measure_failover(url: str, emulator: dict[str, Any], count: int, ttl: float) -> None:
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
    print(f"failover after kill -9: {count} devices open again in {took:.1f} s (TTL {ttl:g} s)")
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=30)


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
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state_dir = root / "emulator"
        state_dir.mkdir()
        url = f"sqlite://{root / 'devices.db'}"
        failover_url = f"sqlite://{root / 'failover.db'}"
        with open_device_store(url) as store, open_device_store(failover_url) as failover:
            make_devices(state_dir, store, args.devices, fresh=args.fresh)
            make_devices(state_dir, failover, args.failover_devices, fresh=False)
        emulator_process, emulator = start_emulator(state_dir)
        try:
            with open_device_store(url) as store:
                anyio.run(measure_memory, store, client_config(emulator), args.devices, args.rate)
            measure_failover(failover_url, emulator, args.failover_devices, args.ttl)
        finally:
            emulator_process.terminate()
            emulator_process.wait(timeout=30)


if __name__ == "__main__":
    main()
