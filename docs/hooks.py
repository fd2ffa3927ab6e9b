"""MkDocs hook: tables generated from the code at build time, so the site cannot drift from it.

A page asks for a table with a marker comment on a line of its own:

- ``<!-- walink:close-reasons -->``: every ``CloseReason`` with its status, whether it is
  terminal, what the default and the Baileys-compatible policies decide, the ``walink connect``
  exit code, and what to do about it. The advice is prose kept here, one entry per reason: a
  reason without advice (a new member) fails the build, so the table is always complete.
- ``<!-- walink:exit-codes -->``: the command line's exit codes.
- ``<!-- walink:api MODULE -->``: one mkdocstrings entry for every name in ``MODULE.__all__``,
  pointed at the module that defines it (the packages re-export lazily, which static analysis
  cannot follow), so a new public name appears in the reference without editing a page.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import random
import re
import sys
from typing import Any

from walink._commands.timeline import exit_code
from walink._session.events import Closed
from walink.cli import EXIT_ERROR, EXIT_LOGGED_OUT, EXIT_OK, EXIT_QR_EXHAUSTED, EXIT_USAGE
from walink.fsm.policy import PolicyConfig, ReconnectHistory, ReconnectPolicy
from walink.fsm.reasons import CloseReason, Disconnect

CLOSE_REASONS_MARKER = "<!-- walink:close-reasons -->"
API_MARKER = re.compile(r"^<!-- walink:api ([\w.]+) -->$", re.M)
EXIT_CODES_MARKER = "<!-- walink:exit-codes -->"

ADVICE: dict[str, str] = {
    "NETWORK_ERROR": "Nothing, usually: the client reconnects with backoff. If it persists, check "
    "DNS, the firewall, the proxy and TLS settings (`ClientConfig.ssl_context`).",
    "CONNECT_TIMEOUT": "Nothing, usually. On a slow link raise `ClientConfig.connect_timeout`.",
    "KEEPALIVE_TIMEOUT": "Nothing: the link went silent and the client reconnects. Frequent ones "
    "point at a NAT or proxy that drops idle connections: lower `keepalive_interval`.",
    "SERVER_CLOSED": "Nothing: the server ended the stream; the client reconnects.",
    "STREAM_ERROR": "Nothing, usually. Log `Disconnect.node` (the raw `<stream:error>`) if it "
    "repeats.",
    "BAD_SESSION": "Nothing, usually. If every login fails this way, the stored session may be "
    "unusable: link again with a new store.",
    "SERVICE_UNAVAILABLE": "Nothing: WhatsApp is busy or in maintenance; the client backs off.",
    "PROTOCOL_ERROR": "The server sent bytes walink does not understand. The client reconnects; "
    "if it repeats, record a capture (`--capture`) and report it.",
    "LOGIN_FAILED": "Look at `Disconnect.status` and `Disconnect.node`: a login failure walink has "
    "no finer name for. The client backs off and retries.",
    "RESTART_REQUIRED": "Nothing: the normal restart right after linking. It is never shown as a "
    "close; the update says `connecting`.",
    "REPLACED": "Another client (often a second copy of your own process) opened this device's "
    "session. Run one process per device; then start again. "
    "`PolicyConfig.baileys_compatible()` reconnects instead, which makes the two fight.",
    "TEMP_BANNED": "The account is temporarily banned. The client waits `Disconnect.expire` "
    "seconds (bounded by `temp_ban_max`) before trying again; reduce what the bot sends.",
    "RATE_LIMITED": "Too many attempts. The client waits a penalty that doubles with each 429; "
    "look for a restart loop in your deployment.",
    "SLOW_CONSUMER": "Your code did not take events fast enough (`max_pending_events`). Handle "
    "events faster, or hand them to your own worker; nothing was lost, the server redelivers.",
    "LOGGED_OUT": "The device was unlinked (on the phone, or by the server). The store is marked "
    "logged out: link again with a new store.",
    "FORBIDDEN": "The account is locked or its main device is gone. Link again once the account "
    "works on the phone.",
    "BANNED": "Logged out for an unknown reason, or banned. Check the account on the phone; link "
    "again with a new store.",
    "CLIENT_OUTDATED": "WhatsApp refuses this client version: upgrade walink (or set "
    "`ClientConfig.version` to a current WhatsApp Web build).",
    "BAD_USER_AGENT": "WhatsApp refuses this user agent: check `browser`, `version` and "
    "`country_code` in `ClientConfig`.",
    "MULTIDEVICE_MISMATCH": "The phone cannot link this kind of device: update WhatsApp on the "
    "phone.",
    "QR_EXHAUSTED": "Nobody scanned any QR in time (about 160 s). Start again when someone is "
    "ready to scan, or link by pairing code.",
    "PAIRING_TIMEOUT": "The pairing code was not typed on the phone in time, or was mistyped. "
    "Request a new code (`pairing_code_timeout` sets the time allowed).",
    "LOCAL_CLOSE": "Nothing: your code closed the client (`aclose()`, leaving `async with`, "
    "SIGINT/SIGTERM for the CLI).",
    "LOCAL_LOGOUT": "Nothing: your code logged the device out (`logout()`). Link again to use the "
    "account.",
    "LEASE_LOST": "This process lost the device's lease in a shared device store (it was paused "
    "or cut off past the lease, or another process took over): the device runs elsewhere now. "
    "Nothing to do for that device; find out why this process stalled.",
    "PROXY_ERROR": "The proxy in `ClientConfig.proxy` (or `--proxy`) refused these settings: "
    "wrong or missing credentials, a destination its rules forbid, or not the protocol its URL "
    "names. `Disconnect.message` says which. Fix the settings, then start again.",
    "CERTIFICATE_REJECTED": "The server's certificate chain failed verification; "
    "`Disconnect.certificate_defect` says how (wrong trust root, expired, bad signature...). "
    "Check `ClientConfig.trust_root` (the emulator's own root in tests) and the machine's "
    "clock. The default policy stops: a server that cannot prove who it is is not retried.",
    "INTERNAL_ERROR": "A bug in walink: the attempt ended cleanly instead of crashing and the "
    "client reconnects. Report it with the log, ideally with a capture.",
    "STORE_ERROR": "Saving the credentials failed (disk full, permissions, database down). Fix the "
    "store, then start again: the client stops rather than lose a key.",
}


def _decision_text(policy: ReconnectPolicy, reason: CloseReason) -> str:
    disconnect = Disconnect(
        reason=reason, status=reason.status, message="", terminal=reason.terminal, at=1000.0
    )
    decision = policy.decide(disconnect, ReconnectHistory(), random.Random(0))
    if not decision.reconnect:
        return "stop"
    if decision.restart:
        return "reconnect at once"
    if reason is CloseReason.TEMP_BANNED:
        return "wait out the ban"
    if reason is CloseReason.RATE_LIMITED:
        return "wait a growing penalty"
    return "reconnect after backoff"


def _exit_code(reason: CloseReason) -> str:
    """``walink connect``'s exit code when this close ends the run under the default policy."""
    disconnect = Disconnect(
        reason=reason, status=reason.status, message="", terminal=reason.terminal, at=0.0
    )
    decision = ReconnectPolicy().decide(disconnect, ReconnectHistory(), random.Random(0))
    if decision.reconnect:
        return "(reconnects)"
    requested = reason in (CloseReason.LOCAL_CLOSE, CloseReason.LOCAL_LOGOUT)
    closed = Closed(
        disconnect=disconnect,
        decision=decision,
        reconnect_at=None,
        final=not decision.reconnect,
        requested=requested,
    )
    return str(exit_code(closed))


def close_reasons_table() -> str:
    """The Markdown table of every close reason (raises if one has no advice)."""
    missing = [reason.name for reason in CloseReason if reason.name not in ADVICE]
    if missing:
        raise ValueError(f"docs/hooks.py: no advice for close reasons {missing}")
    unknown = sorted(set(ADVICE) - {reason.name for reason in CloseReason})
    if unknown:
        raise ValueError(f"docs/hooks.py: advice for reasons that do not exist: {unknown}")
    default = ReconnectPolicy()
    baileys = ReconnectPolicy(PolicyConfig.baileys_compatible())
    rows = [
        "| Reason | Status | Terminal | Default policy | Baileys-compatible policy "
        "| Exit code | What to do |",
        "|---|---|---|---|---|---|---|",
    ]
    for reason in CloseReason:
        rows.append(
            f"| `{reason.name}` | {reason.status} | {'yes' if reason.terminal else 'no'} "
            f"| {_decision_text(default, reason)} | {_decision_text(baileys, reason)} "
            f"| {_exit_code(reason)} | {ADVICE[reason.name]} |"
        )
    return "\n".join(rows)


def exit_codes_table() -> str:
    """The Markdown table of the command line's exit codes."""
    meaning = {
        EXIT_OK: "A normal end, including a close or logout you asked for.",
        EXIT_ERROR: "Anything else: a close the policy stopped on that is not a logout or a "
        "login that ran out of time (`REPLACED`, `CLIENT_OUTDATED`, `STORE_ERROR`...).",
        EXIT_USAGE: "Bad arguments or input (an unreadable capture, an unusable state folder).",
        EXIT_LOGGED_OUT: "Logged out by the server without being asked (`LOGGED_OUT`, "
        "`FORBIDDEN`, `BANNED`), or a store already marked logged out.",
        EXIT_QR_EXHAUSTED: "The login ran out of time: `QR_EXHAUSTED` or `PAIRING_TIMEOUT`.",
    }
    rows = ["| Exit code | Meaning |", "|---|---|"]
    rows += [f"| {code} | {text} |" for code, text in sorted(meaning.items())]
    return "\n".join(rows)


def _assigned_names(module_name: str) -> set[str]:
    """Names a module's own top level assigns or defines (not the ones it imports)."""
    try:
        source = inspect.getsource(importlib.import_module(module_name))
    except (OSError, TypeError):  # a compiled (mypyc) module: its names are found by __module__
        return set()
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def defining_module(package: str, name: str) -> str:
    """The module whose source defines ``package.name`` (for mkdocstrings' static loader)."""
    value = getattr(importlib.import_module(package), name)
    module = getattr(value, "__module__", None)
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        # classes and functions, compiled ones included, know where they were defined
        assert isinstance(module, str)
        return module
    for candidate in sorted(m for m in list(sys.modules) if m.startswith("walink")):
        loaded = sys.modules[candidate]
        if getattr(loaded, name, None) is value and name in _assigned_names(candidate):
            return candidate
    raise LookupError(f"cannot tell which module defines {package}.{name}")


def api_entries(package: str) -> str:
    """One ``::: module.name`` block per public name of ``package`` (``__version__`` aside)."""
    module = importlib.import_module(package)
    names = [name for name in module.__all__ if name != "__version__"]
    return "\n\n".join(f"::: {defining_module(package, name)}.{name}" for name in names)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the markers with the generated tables."""
    markdown = API_MARKER.sub(lambda match: api_entries(match.group(1)), markdown)
    if CLOSE_REASONS_MARKER in markdown:
        markdown = markdown.replace(CLOSE_REASONS_MARKER, close_reasons_table())
    if EXIT_CODES_MARKER in markdown:
        markdown = markdown.replace(EXIT_CODES_MARKER, exit_codes_table())
    return markdown
