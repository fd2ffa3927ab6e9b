"""``walink logout --auth PATH``: remove the device saved at PATH from its account.

It checks the store first (no store, or no linked device in it: exit 2, nothing is created or
dialled), then connects with its credentials, asks the server to remove the device once the
connection opens, and waits for the answer. A logout the server confirmed marks the store's
credentials logged out, so ``walink connect`` on it then exits 3 without dialing.

Exit codes: 0 the device is logged out (just now, or already before: the store was marked), 2
bad arguments or no linked device in the store, 1 anything else (no connection, no confirmation
within the bounds: the device may still be linked). With ``--json`` one line,
``{"v": 1, "event": "logout", "jid": ..., "confirmed": ..., "already": ...}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walink._commands.options import (
    add_loop_options,
    add_trust_root_option,
    add_url_option,
    client_config,
    configure_logging,
)
from walink._commands.output import emit_json, emit_text
from walink._commands.timeline import EXIT_ERROR, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from walink.io.config import ClientConfig

DEFAULT_AUTH = "walink-auth.db"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "logout",
        help="remove the saved device from its account",
        description=(
            "Connect with the credentials at --auth and remove that device from the account "
            "(as the phone's Linked devices > Log out does); the store is then marked logged "
            "out. Exit codes: 0 logged out (now or before), 2 bad arguments or no linked "
            "device in the store, 1 anything else."
        ),
    )
    parser.add_argument(
        "--auth",
        type=Path,
        default=Path(DEFAULT_AUTH),
        metavar="PATH",
        help=f"the credentials: a SQLite file or a Baileys multi-file folder "
        f"(default ./{DEFAULT_AUTH})",
    )
    add_url_option(parser)
    add_trust_root_option(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_loop_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import anyio

    from walink.auth.errors import AuthStoreError

    configure_logging("logout", args.verbose)
    auth: Path = args.auth
    if not auth.exists():
        return _fail(f"no store at {auth}: nothing to log out", EXIT_USAGE)
    try:
        me, already = _saved_device(auth)
    except AuthStoreError as exc:
        return _fail(f"the store {auth} cannot be used: {exc}", EXIT_USAGE)
    if me is None:
        return _fail(f"{auth} holds no linked device: nothing to log out", EXIT_USAGE)
    if already:
        _report(args, me, confirmed=False, already=True)
        return EXIT_OK
    try:
        config = client_config(args)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        result: int = anyio.run(_logout, args, config, me, backend=args.backend)
    except AuthStoreError as exc:
        return _fail(f"the store {auth} cannot be used: {exc}", EXIT_USAGE)
    return result


def _saved_device(auth: Path) -> tuple[str | None, bool]:
    """The saved device's JID (None when none is linked) and whether it is logged out."""
    from walink.io.client import open_store

    with open_store(auth) as store:
        creds = store.load()
    if creds is None or creds.me is None:
        return None, False
    return creds.me.id, creds.logged_out


async def _logout(args: argparse.Namespace, config: ClientConfig, me: str) -> int:
    from walink.fsm.reasons import CloseReason
    from walink.io.client import Client
    from walink.io.errors import ClientClosedError, LoggedOutError, NotConnectedError

    removed = {CloseReason.LOGGED_OUT, CloseReason.FORBIDDEN, CloseReason.BANNED}
    try:
        async with Client(args.auth, config) as client:
            try:
                await client.logout()
            except NotConnectedError as exc:
                return _fail(f"could not log out {me}: {exc}", EXIT_ERROR)
            except ClientClosedError:
                pass  # the lifecycle ended first: its last close says how
            closed = client.last_closed
    except LoggedOutError:  # marked meanwhile by another run
        _report(args, me, confirmed=False, already=True)
        return EXIT_OK
    if closed is None:
        return _fail(f"could not log out {me}: the client never ran", EXIT_ERROR)
    disconnect = closed.disconnect
    if disconnect.reason is CloseReason.LOCAL_LOGOUT and disconnect.node is not None:
        _report(args, me, confirmed=True, already=False)
        return EXIT_OK
    if disconnect.reason in removed:
        # the server had removed it already: the session marked the store on this close
        _report(args, me, confirmed=True, already=True)
        return EXIT_OK
    return _fail(
        f"the logout of {me} was not confirmed ({disconnect.reason.name} {disconnect.status}: "
        f"{disconnect.message}): the device may still be linked",
        EXIT_ERROR,
    )


def _report(args: argparse.Namespace, me: str, *, confirmed: bool, already: bool) -> None:
    if args.json:
        emit_json({"event": "logout", "jid": me, "confirmed": confirmed, "already": already})
    elif already:
        emit_text(f"{me} was already logged out")
    else:
        emit_text(f"logged out {me}")


def _fail(message: str, code: int) -> int:
    print(f"walink logout: {message}", file=sys.stderr, flush=True)
    return code
