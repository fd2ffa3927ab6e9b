"""``walink devices``: list, import and remove the devices of a device store.

``walink devices --auth URL`` lists every device with who holds its lease; ``--json`` prints one
line per device::

    {"v": 1, "event": "device", "device": str, "id": str, "jid": str|null, "logged_out": bool,
     "holder": str|null, "epoch": int, "expires_in": float|null}

``device`` is the JID, or ``new:<id>`` for a device not linked yet; ``holder`` is the owner of a
lease that has not lapsed (``host:pid:tag``). ``--import PATH`` copies a one-device store (a
Baileys folder or a walink SQLite file) into a new device first; ``--remove JID`` deletes a
device that nobody runs. Exit codes: 0, 2 for bad arguments or an unusable store or device.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from walink._commands.output import emit_json, emit_text
from walink._commands.timeline import EXIT_OK, EXIT_USAGE


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "devices",
        help="list, import and remove the devices of a device store",
        description="List the devices of a device store (postgresql://… or sqlite:///…) and who "
        "holds each one's lease; import a one-device store into it, or remove a device.",
    )
    parser.add_argument("--auth", required=True, metavar="URL", help="the device store")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--import",
        dest="source",
        type=Path,
        default=None,
        metavar="PATH",
        help="first copy this Baileys folder or walink SQLite file in as a new device",
    )
    action.add_argument("--remove", default=None, metavar="JID", help="first delete this device")
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from walink.auth.device_import import import_store
    from walink.auth.devices import is_store_url, open_device_store
    from walink.auth.errors import AuthStoreError

    if not is_store_url(args.auth):
        return _usage(
            f"--auth must be a device store URL (postgresql://…, sqlite:///…): {args.auth}"
        )
    try:
        store = open_device_store(args.auth)
    except AuthStoreError as exc:
        return _usage(f"the store cannot be used: {exc}")
    try:
        if args.source is not None:
            device_id = import_store(store, args.source)
            print(f"walink devices: imported {args.source} as device {device_id}", file=sys.stderr)
        if args.remove is not None:
            store.remove(args.remove)
        devices = store.devices()
    except AuthStoreError as exc:
        return _usage(str(exc))
    finally:
        store.close()
    for info in devices:
        if args.json:
            emit_json(
                {
                    "event": "device",
                    "device": info.name,
                    "id": info.id,
                    "jid": info.jid,
                    "logged_out": info.logged_out,
                    "holder": info.holder,
                    "epoch": info.epoch,
                    "expires_in": info.expires_in,
                }
            )
        else:
            if info.holder is not None:
                held = f"held by {info.holder} (epoch {info.epoch}, {info.expires_in:.0f} s left)"
            else:
                held = "free"
            state = "  logged out" if info.logged_out else ""
            emit_text(f"{info.name:<40}  {held}{state}")
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"walink devices: {message}", file=sys.stderr)
    return EXIT_USAGE
