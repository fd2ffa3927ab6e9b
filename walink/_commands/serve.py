"""``walink serve``: run the linked devices of a device store, as many as this process may lease.

It runs a ``walink.Fleet`` on ``--auth URL`` until SIGINT or SIGTERM, which close every device
cleanly and release its lease at once (the other ``walink serve`` processes on the same store
take the devices at their next look). Devices not linked yet are left to ``walink connect
--auth URL --new``.

``--json`` prints one line per event, flushed: every device's connection updates with the fields
of ``walink connect --json`` plus ``"device": "<jid>"``, and what the fleet holds::

    {"v": 1, "event": "fleet.claimed", "device": str, "epoch": int}
    {"v": 1, "event": "fleet.released", "device": str, "epoch": int}

Exit codes: 0 after a signal, 2 for bad arguments or an unusable store, 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from walink._commands.options import (
    add_loop_options,
    add_trust_root_option,
    add_url_option,
    client_config,
    configure_logging,
    seconds,
)
from walink._commands.output import emit_json, emit_text
from walink._commands.timeline import EXIT_OK, EXIT_USAGE, update_json, update_text

if TYPE_CHECKING:
    from walink.auth.devices import DeviceStore
    from walink.io.fleet import FleetConfig, FleetEvent


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the devices of a device store (many processes may share one store)",
        description="Run every linked device of a device store that this process can lease, "
        "under one connect rate limiter; several processes on one PostgreSQL split the devices "
        "and take over those of a process that died once their leases lapse.",
    )
    parser.add_argument("--auth", required=True, metavar="URL", help="the device store")
    add_url_option(parser, say_default=False)
    add_trust_root_option(parser, say_default=False)
    parser.add_argument(
        "--max-devices", default=None, type=_count, metavar="N", help="run at most N devices"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    parser.add_argument(
        "--lease-ttl",
        default=30.0,
        type=seconds,
        metavar="SECONDS",
        help="how long a lease lasts unless renewed (default 30; renewed every third of it)",
    )
    parser.add_argument(
        "--claim-interval",
        default=10.0,
        type=seconds,
        metavar="SECONDS",
        help="how often to look for free devices (default 10)",
    )
    parser.add_argument(
        "--claim-batch",
        default=100,
        type=_count,
        metavar="N",
        help="devices claimed per look at most (default 100), so processes share",
    )
    parser.add_argument(
        "--connect-rate",
        default=20.0,
        type=seconds,  # the same rule: a positive, finite number
        metavar="PER_SECOND",
        help="connection attempts per second for the whole process (default 20)",
    )
    add_loop_options(parser)
    parser.set_defaults(func=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    import anyio

    from walink.auth.devices import is_store_url, open_device_store
    from walink.auth.errors import AuthStoreError

    configure_logging("serve", args.verbose)
    if not is_store_url(args.auth):
        return _usage(
            f"--auth must be a device store URL (postgresql://…, sqlite:///…): {args.auth}"
        )
    try:
        config = _fleet_config(args)
        store = open_device_store(args.auth, lease_ttl=args.lease_ttl)
    except ValueError as exc:
        return _usage(str(exc))
    except AuthStoreError as exc:
        return _usage(f"the store cannot be used: {exc}")
    try:
        anyio.run(_serve, args, store, config, backend=args.backend)
    finally:
        store.close()
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"walink serve: {message}", file=sys.stderr)
    return EXIT_USAGE


def _fleet_config(args: argparse.Namespace) -> FleetConfig:
    from walink.io.fleet import FleetConfig

    return FleetConfig(
        client=client_config(args, print_qr_in_terminal=False),
        connect_rate=args.connect_rate,
        # the bucket holds one second's worth of attempts: a cold start dials at the full rate
        connect_burst=max(1, int(args.connect_rate)),
        claim_interval=args.claim_interval,
        claim_batch=args.claim_batch,
        max_devices=args.max_devices,
    )


async def _serve(args: argparse.Namespace, store: DeviceStore, config: FleetConfig) -> None:
    import anyio

    from walink.io.fleet import Fleet

    started = time.monotonic()
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with Fleet(store, config) as fleet, anyio.create_task_group() as tasks:

            async def close_on_signal() -> None:
                async for received in signals:
                    logging.getLogger("walink.fleet").info(
                        "%s received: releasing every device", signal.Signals(received).name
                    )
                    await fleet.aclose()
                    return

            tasks.start_soon(close_on_signal)
            if not args.json:
                emit_text(f"{0.0:7.2f}s  serving the devices of {store.where} as {store.owner}")
            async for event in fleet:
                _show(event, json_lines=args.json, elapsed=time.monotonic() - started)
            tasks.cancel_scope.cancel()


def _show(event: FleetEvent, *, json_lines: bool, elapsed: float) -> None:
    from walink._session.events import ConnectionUpdate
    from walink.io.fleet import DeviceClaimed, DeviceEvent, DeviceReleased

    if isinstance(event, DeviceClaimed | DeviceReleased):
        kind = "claimed" if isinstance(event, DeviceClaimed) else "released"
        if json_lines:
            emit_json({"event": f"fleet.{kind}", "device": event.device, "epoch": event.epoch})
        else:
            why = f" ({event.reason})" if isinstance(event, DeviceReleased) and event.reason else ""
            emit_text(f"{elapsed:7.2f}s  {event.device}  {kind} (epoch {event.epoch}){why}")
        return
    if isinstance(event, DeviceEvent) and isinstance(event.event, ConnectionUpdate):
        if json_lines:
            line = update_json(event.event)
            emit_json({"event": line.pop("event"), "device": event.device, **line})
        else:
            emit_text(f"{elapsed:7.2f}s  {event.device}  {update_text(event.event, None)}")
