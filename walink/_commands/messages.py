"""What ``walink connect`` and ``walink demo`` print for ``messages.upsert``, in both modes.

``--json``: one line per upsert, exactly::

    {"v": 1, "event": "messages.upsert", "type": "notify"|"append", "messages": [{"id": str,
     "remote_jid": str, "from_me": bool, "participant": str|null, "timestamp": int,
     "push_name": str|null, "text": str|null}]}

Readable: one line per message, ``message from 15550002222 (Alice): hello``; in a group
``message in GROUP from …``; a stub says what failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from walink._receive.events import MessagesUpsert
    from walink.protocol.messages import WebMessage

__all__ = ["message_text_line", "upsert_json"]


def upsert_json(upsert: MessagesUpsert) -> dict[str, Any]:
    """The ``messages.upsert`` line of ``upsert``, without ``"v"`` (``emit_json`` adds it)."""
    return {
        "event": "messages.upsert",
        "type": upsert.type,
        "messages": [
            {
                "id": m.key.id,
                "remote_jid": m.key.remote_jid,
                "from_me": m.key.from_me,
                "participant": m.key.participant,
                "timestamp": m.timestamp,
                "push_name": m.push_name,
                "text": m.text,
            }
            for m in upsert.messages
        ],
    }


def _who(jid: str) -> str:
    user, _, server = jid.partition("@")
    return user if server in ("s.whatsapp.net", "c.us") else jid


def message_text_line(message: WebMessage) -> str:
    """One readable line for one message."""
    key = message.key
    sender = key.participant or key.remote_jid
    who = "me" if key.from_me else _who(sender)
    if message.push_name and not key.from_me:
        who += f" ({message.push_name})"
    where = f"in {key.remote_jid} " if key.participant else ""
    error = message.decrypt_error
    if error is not None:
        body = f"could not be decrypted: {error}"
    elif message.text is not None:
        body = message.text
    else:
        body = "[a message without text]"
    return f"message {where}from {who}: {body}"
