"""``walink connect``: link this machine as a WhatsApp device and keep the connection alive.

It runs a ``Client`` on the store at ``--auth`` (default ``./walink-auth.db``: SQLite; a path ending
in ``/`` or naming an existing folder is Baileys' multi-file layout) until the lifecycle ends:
logged out, stopped by a terminal reason, or interrupted. A new device shows its QR drawn on stderr
(``--pairing-code PHONE`` asks for a code instead). Every connection update is printed: readable
lines, or with ``--json`` one full-snapshot JSON line each (``walink._commands.timeline`` holds the
exact shape).

``--proxy URL`` (or ``$WALINK_PROXY``) tunnels the WebSocket through a SOCKS5 or HTTP CONNECT
proxy; a proxy that refuses the settings ends the run with the close reason ``PROXY_ERROR`` (exit
1), and its credentials never appear in any output.

SIGINT and SIGTERM close cleanly: pending credential saves finish and the socket closes within
the client's bound. Exit codes: 0 a normal end (a signal, a logout asked for), 2 bad arguments or
an unusable store, 3 logged out by the server, 4 QR refs exhausted or pairing timed out, 1 else.
An unusable store is found before dialing and told in one line on stderr: corrupt, unreadable,
not writable (read-only file system, missing folder), or in use by another process (whose pid is
named): a second ``walink connect`` on the same store is refused at once.
A store whose credentials the server logged out (marked by that run) exits 3 at once, without
dialing: the device must be linked again with a new store.

``--auth`` may also be a store of many devices (``postgresql://…``, ``sqlite:///…``):
``--new`` links a new device into it, ``--device JID`` runs one that is there, and with neither
the store's only device runs (an empty store links a new one; several devices exit 2 listing
them). The device runs under its lease: one that another process holds exits 2 at once, naming
the holder.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walink._commands.options import (
    add_loop_options,
    add_trust_root_option,
    add_url_option,
    client_config,
    configure_logging,
    seconds,
)
from walink._commands.timeline import (
    EXIT_ERROR,
    EXIT_LOGGED_OUT,
    EXIT_USAGE,
    Timeline,
    exit_code,
)

if TYPE_CHECKING:
    from walink.auth.store import AuthStore
    from walink.io.client import Client
    from walink.io.config import ClientConfig

DEFAULT_AUTH = "walink-auth.db"
PROXY_ENV = "WALINK_PROXY"
"""The environment variable ``--proxy`` defaults to."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "connect",
        help="link this machine as a device and keep the connection alive",
        description=(
            "Connect as a WhatsApp linked device: a new device shows a QR (on stderr) to scan "
            "with WhatsApp > Linked devices, then the connection is kept alive until logged "
            "out, stopped, or interrupted (SIGINT/SIGTERM close cleanly). Exit codes: 0 normal "
            "end, 2 bad arguments or store, 3 logged out by the server, 4 QR refs exhausted or "
            "pairing timed out, 1 anything else."
        ),
    )
    parser.add_argument(
        "--auth",
        # A string, not a Path: a trailing "/" (Baileys' folder layout for a new device) matters.
        default=DEFAULT_AUTH,
        metavar="PATH|URL",
        help=f"credentials: a SQLite file, a folder in Baileys' multi-file layout (a path ending "
        f"in / or an existing folder; default ./{DEFAULT_AUTH}), or a device store URL "
        f"(postgresql://…, sqlite:///…)",
    )
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--new", action="store_true", help="with a device store URL: link a new device into it"
    )
    choice.add_argument(
        "--device", default=None, metavar="JID", help="with a device store URL: the device to run"
    )
    parser.add_argument(
        "--lease-ttl",
        default=30.0,
        type=seconds,
        metavar="SECONDS",
        help="with a device store URL: how long the device's lease lasts unless renewed "
        "(default 30; renewed every third of it)",
    )
    add_url_option(parser)
    parser.add_argument(
        "--proxy",
        default=None,
        type=_proxy,
        metavar="URL",
        help="reach the server through this proxy: socks5://[USER:PASS@]HOST:PORT or "
        f"http://[USER:PASS@]HOST:PORT (HTTP CONNECT); default ${PROXY_ENV}, so that the "
        "credentials need not show in the process list",
    )
    add_trust_root_option(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    parser.add_argument(
        "--pairing-code",
        default=None,
        type=_phone,
        metavar="PHONE",
        help="link with a pairing code for this phone number (country code first) instead of a QR",
    )
    parser.add_argument(
        "--qr-timeout",
        default=None,
        type=seconds,
        metavar="SECONDS",
        help="how long each QR is shown (default 60 s for the first, 20 s after)",
    )
    parser.add_argument(
        "--pairing-timeout",
        default=None,
        type=seconds,
        metavar="SECONDS",
        help="with --pairing-code: how long the phone has to take the code (default 180 s)",
    )
    parser.add_argument(
        "--capture",
        default=None,
        type=Path,
        metavar="PATH",
        help="record the session (nodes decrypted, secrets redacted) to PATH for `walink replay`",
    )
    add_loop_options(parser)
    parser.set_defaults(func=run)


# -- argument types: argparse turns their ArgumentTypeError into a usage error (exit 2) ---------


def _proxy(text: str) -> str:
    from walink.io.proxy import Proxy, ProxyURLError

    try:
        Proxy.parse(text)
    except ProxyURLError as exc:
        # ArgumentTypeError: argparse then shows only this text, never the value (credentials)
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _phone(text: str) -> str:
    # the session's own rule (digits, country code first, E.164 length), checked before dialing
    from walink.protocol.errors import LocalProtocolError
    from walink.protocol.pairing_code import validate_phone_number

    try:
        return validate_phone_number(text)
    except LocalProtocolError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- running -----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    import anyio

    from walink.auth.errors import AuthStoreError
    from walink.io import LoggedOutError

    configure_logging("connect", args.verbose)
    from walink.auth.devices import is_store_url

    if is_store_url(args.auth):
        return _run_store_device(args)
    if args.new or args.device is not None:
        return _usage("--new and --device need a device store URL in --auth")
    auth = Path(args.auth)
    if auth.exists() and not (auth.is_dir() or auth.is_file()):
        return _usage(f"--auth {args.auth} is neither a file nor a folder")
    try:
        config = _config(args)
    except ValueError as exc:
        return _usage(str(exc))
    if args.capture is not None:
        problem = _unwritable(args.capture)
        if problem is not None:
            return _usage(f"--capture {args.capture}: cannot write there: {problem}")
    try:
        return anyio.run(_connect, args, config, backend=args.backend)
    except AuthStoreError as exc:
        return _usage(_store_problem(args.auth, exc))
    except LoggedOutError as exc:
        # refused before dialing: the same exit as the server's own logout
        print(f"walink connect: {args.auth}: {exc}", file=sys.stderr)
        return EXIT_LOGGED_OUT


def _store_problem(auth: str, error: Exception) -> str:
    """One line: what is wrong with the store, and what to do about it."""
    from walink.auth.errors import (
        CorruptStoreError,
        StoreAccessError,
        StoreLockedError,
        UnknownSchemaError,
    )

    detail = " ".join(str(error).split())  # never a multi-line dump
    if isinstance(error, StoreLockedError):
        return f"the store {auth} is in use: {detail}; stop that process or use another --auth"
    if isinstance(error, UnknownSchemaError):
        advice = "it was written by a newer walink or another program: use another --auth"
    elif isinstance(error, CorruptStoreError):
        advice = "restore it from a backup, or link this machine again with a new --auth"
    elif isinstance(error, StoreAccessError):
        advice = (
            "check that its folder exists and that you can read and write there (the saved "
            "credentials are not damaged)"
        )
    else:
        advice = "use another --auth"
    return f"the store {auth} cannot be used: {detail}; {advice}"


def _unwritable(path: Path) -> str | None:
    """Why ``path`` cannot be written (None when it can): found before dialing, not mid-run."""
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _run_store_device(args: argparse.Namespace) -> int:
    """``--auth URL``: pick the device (``--new``, ``--device``, or the only one), then run it."""
    import anyio

    from walink.auth.devices import DeviceHandle, open_device_store
    from walink.auth.errors import AuthStoreError, UnknownDeviceError
    from walink.io import LoggedOutError

    try:
        config = _config(args)
    except ValueError as exc:
        return _usage(str(exc))
    try:
        store = open_device_store(args.auth, lease_ttl=args.lease_ttl)
    except AuthStoreError as exc:
        return _usage(f"the store cannot be used: {exc}")
    try:
        devices = store.devices()
        if args.new or (args.device is None and not devices):
            device_id = store.add()
        elif args.device is not None:
            device_id = store.find(args.device).id
        elif len(devices) == 1:
            device_id = devices[0].id
        else:
            names = "\n".join(f"  {info.name}" for info in devices)
            return _usage(
                f"the store holds {len(devices)} devices: choose one with --device\n{names}"
            )
        handle = DeviceHandle(store, device_id, owns_store=True)
    except UnknownDeviceError as exc:
        store.close()
        return _usage(str(exc))
    except AuthStoreError as exc:
        store.close()
        return _usage(f"the store cannot be used: {exc}")
    except BaseException:
        store.close()
        raise
    where = f"{store.where} (device {device_id})"  # the URL alone names no one device
    try:
        return anyio.run(_connect, args, config, handle, where, backend=args.backend)
    except AuthStoreError as exc:
        return _usage(str(exc))
    except LoggedOutError as exc:
        print(f"walink connect: {where}: {exc}", file=sys.stderr)
        return EXIT_LOGGED_OUT
    finally:
        handle.close()


def _usage(message: str) -> int:
    print(f"walink connect: {message}", file=sys.stderr)
    return EXIT_USAGE


def _config(args: argparse.Namespace) -> ClientConfig:
    options: dict[str, Any] = {}
    if args.pairing_timeout is not None:
        options["pairing_code_timeout"] = args.pairing_timeout
    if args.capture is not None:
        options["capture"] = args.capture
    proxy = args.proxy if args.proxy is not None else os.environ.get(PROXY_ENV) or None
    if proxy is not None:
        options["proxy"] = proxy  # ClientConfig checks it: a ValueError is a usage error
    return client_config(
        args,
        qr_timeout=args.qr_timeout,
        print_qr_in_terminal=args.pairing_code is None,
        **options,
    )


async def _connect(
    args: argparse.Namespace,
    config: ClientConfig,
    store: AuthStore | None = None,
    where: str | None = None,
) -> int:
    """Run the client on ``store`` (else on ``--auth``); ``where``: how the output names it."""
    import anyio

    from walink.io.client import Client

    timeline = Timeline(json_lines=args.json)
    proxy = config.proxy_settings()
    via = f" through the proxy {proxy}" if proxy is not None else ""  # str() masks credentials
    where = where if where is not None else args.auth
    timeline.note(f"{'start':<10}  {config.url}{via} with the credentials in {where}")
    failure: list[int] = []  # an exit code that overrides the last close's (a refused code)
    # The signals are taken over before the client starts, so an early one is a clean stop too.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        auth = store if store is not None else args.auth
        async with Client(auth, config) as client, anyio.create_task_group() as tasks:

            async def close_on_signal() -> None:
                async for received in signals:
                    logging.getLogger("walink.client").info(
                        "%s received: closing", signal.Signals(received).name
                    )
                    await client.aclose()
                    return

            async def ask_pairing_code(phone: str) -> None:
                code = await _pairing_code(client, phone)
                if isinstance(code, int):
                    failure.append(code)
                    await client.aclose()
                else:
                    timeline.pairing_code(code)

            tasks.start_soon(close_on_signal)
            if args.pairing_code is not None:
                if client.creds is not None and client.creds.me is not None:
                    # a linked device logs in with its creds: there is nothing left to pair
                    logging.getLogger("walink.client").warning(
                        "%s is already linked as %s: --pairing-code ignored",
                        args.auth,
                        client.creds.me.id,
                    )
                else:
                    tasks.start_soon(ask_pairing_code, args.pairing_code)
            async for event in client:
                timeline.show(event)
            tasks.cancel_scope.cancel()
        closed = client.last_closed
    if failure:
        return failure[0]
    return exit_code(closed) if closed is not None else EXIT_ERROR


async def _pairing_code(client: Client, phone: str) -> str | int:
    """The pairing code for ``phone`` (issue 8), or the exit code when none can be had."""
    from walink.io.errors import PairingCodeError, PairingInputError

    log = logging.getLogger("walink.client")
    try:
        return await client.request_pairing_code(phone)
    except PairingInputError as error:
        log.error("%s", error)
        return EXIT_USAGE
    except PairingCodeError as error:
        later = " (try again later)" if error.retry else ""
        log.error("no pairing code: %s%s", error, later)
        return EXIT_ERROR
