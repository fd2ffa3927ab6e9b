"""The message events users see, derived from the session's processed and failed messages.

``MessagesUpsert`` is Baileys' ``messages.upsert``: ``type`` is ``"notify"`` for a live message
and ``"append"`` for one from the offline backlog or sent by another of our own devices. A
message that could not be decrypted is upserted too, as a CIPHERTEXT stub carrying the error
(``WebMessage.decrypt_error``), as Baileys does, besides the session's ``MessageFailed``.
``IdentityChanged`` reports a sender whose identity key changed (its sessions were replaced).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from walink._receive.result import ReceivedMessage
from walink._session.events import MessageFailed, MessageProcessed
from walink.auth.model import Creds
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.messages import WebMessage, stanza_key

__all__ = ["IdentityChanged", "MessagesUpsert", "derived_events"]

UpsertType = Literal["notify", "append"]


@dataclass(frozen=True, slots=True)
class MessagesUpsert:
    """Baileys' ``messages.upsert``: messages a device received, already committed."""

    messages: tuple[WebMessage, ...]
    type: UpsertType
    """``"notify"``: live; ``"append"``: the offline backlog, or our own other devices' messages."""


@dataclass(frozen=True, slots=True)
class IdentityChanged:
    """A sender's identity key changed: its old sessions were replaced by the new one."""

    jid: str
    """The sender's device JID."""
    address: str
    """Its Signal address (``user[_domain].device``)."""
    old_identity: bytes
    new_identity: bytes


def _type(offline: bool, messages: tuple[WebMessage, ...]) -> UpsertType:
    if offline or any(m.key.from_me for m in messages):
        return "append"
    return "notify"


def derived_events(
    event: MessageProcessed | MessageFailed, creds: Creds
) -> list[MessagesUpsert | IdentityChanged]:
    """The user events of one session message event (none for a result of another processor,
    or a failed stanza too malformed to key)."""
    if isinstance(event, MessageProcessed):
        result = event.result
        if not isinstance(result, ReceivedMessage):
            return []
        out: list[MessagesUpsert | IdentityChanged] = [
            IdentityChanged(
                jid=change.jid,
                address=change.address,
                old_identity=change.old_identity,
                new_identity=change.new_identity,
            )
            for change in result.identity_changes
        ]
        out.append(MessagesUpsert(result.messages, _type(event.offline, result.messages)))
        return out
    me = creds.me
    if me is None:
        return []
    node = event.node
    try:
        key = stanza_key(node, own_jid=me.id, own_lid=me.lid)
    except RemoteProtocolError:
        return []
    t = node.attr("t") or "0"
    error = f"{type(event.error).__name__}: {event.error}"
    if event.gave_up:
        error += " (gave up after retries)"
    stub = WebMessage.decrypt_failure(
        key, int(t) if t.isdigit() else 0, error, push_name=node.attr("notify") or None
    )
    return [MessagesUpsert((stub,), _type(node.attr("offline") is not None, (stub,)))]
