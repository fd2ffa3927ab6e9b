"""What an attempt's end decides beyond the policy: whether the credentials are logged out.

When the server logged the device out (``LOGGED_OUT_REASONS``) and the lifecycle ends, the creds
are marked ``logged_out`` and saved (``CredsUpdate`` and ``SaveRequest`` just before ``Closed``):
such credentials are kept, marked, and never dialed with again. The application's own ``logout``
(``LOCAL_LOGOUT``) is not marked: it is a plain stop, and a logout that timed out may not have
removed the device at all.
"""

from __future__ import annotations

from dataclasses import replace

from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason, Disconnect

__all__ = ["LOGGED_OUT_REASONS", "logged_out_creds"]

LOGGED_OUT_REASONS: frozenset[CloseReason] = frozenset(
    {CloseReason.LOGGED_OUT, CloseReason.FORBIDDEN, CloseReason.BANNED}
)
"""The server's word that this device is gone (401, device removed, 403, 406): the credentials
can never log in again, so a final close for one of them marks them ``logged_out``."""


def logged_out_creds(creds: Creds, disconnect: Disconnect, *, final: bool) -> Creds | None:
    """The creds to save after ``disconnect``, marked logged out; None when nothing changes.

    Only a final close marks them: a custom policy that reconnects after a 401 gets to try with
    the creds as they are.
    """
    if disconnect.reason in LOGGED_OUT_REASONS and final and not creds.logged_out:
        return replace(creds, logged_out=True)
    return None
