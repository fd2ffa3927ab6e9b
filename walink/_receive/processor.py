"""``SignalProcessor``: decrypt a ``<message>``, commit the Signal state with the result.

Theory of operation
-------------------
The I/O layer calls ``process(node)`` for each ``<message>``, one at a time, in a worker thread.

1. The stanza's ciphertexts (every ``<enc>``, type and bytes) are hashed; a ``walink-message``
   entry under that digest means this stanza was committed before (the process died between the
   commit and the ack and the server redelivered it): the stored result is returned with
   ``redelivered=True``. No second decrypt, so no "Bad MAC" from a chain already advanced.
2. Otherwise each ``<enc>`` is decrypted in stanza order with the Signal core, against an
   overlay of the records read from the store (a pkmsg carrying a sender key followed by the
   skmsg it unlocks, in one stanza). ``pkmsg``: responder X3DH or an existing session; the
   sender's identity is trusted on first use, and a different identity than the stored one
   replaces the address's sessions (reported in ``ReceivedMessage.identity_changes``, never
   silently). ``msg``: the address's sessions. ``skmsg``: the sender key of
   ``(group, participant)``. Plaintexts are unpadded for ``v="2"``; sender-key distribution
   messages inside them are applied to the overlay.
3. One ``set_keys`` batch then commits everything: the new session records, the consumed
   one-time pre-key (deleted), the identity keys, the sender keys and the ``walink-message``
   entry. Any decrypt or parse error raises a ``RemoteProtocolError`` before the batch, so a
   message that fails changes nothing.

The buffer is pruned of entries whose message is older than ``retention`` (14 days) at the first
message and then every ``prune_every`` messages, so the per-message cost stays a single lookup.

The credentials (identity key, signed pre-key, our own JIDs) are read from the store once, at the
first message, and kept. Whoever saves new credentials tells the processor (``creds_saved``,
which a client calls after every confirmed save, before anything that depends on the save can
leave), and a pkmsg naming a signed pre-key other than the kept one reloads them from the store
before it is refused: the kept copy is never used stale. One-time pre-keys are not credentials:
they are read from the store with every pkmsg.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

from walink._receive.lid import ResolvedSender, resolve_sender
from walink._receive.result import (
    IdentityChange,
    ReceivedMessage,
    decode_entry,
    encode_entry,
    entry_timestamp,
)
from walink._session.messages import ProcessedMessage
from walink.auth.key_values import WALINK_MESSAGE, KeyValue
from walink.auth.model import Creds
from walink.auth.store import AuthStore
from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.keys import KeyPair
from walink.protocol.messages import WebMessage, parse_message, unwrap
from walink.protocol.proto import e2e_pb2
from walink.protocol.signal import (
    CorruptRecordError,
    SenderKeyRecord,
    SessionRecord,
    decrypt_message,
    decrypt_prekey_message,
    group_decrypt,
    process_distribution,
    unpad_for_version,
)
from walink.protocol.signal.address import LID_MAPPING, sender_key_name

__all__ = ["RETENTION_SECONDS", "CredsListener", "SignalProcessor"]

RETENTION_SECONDS: Final = 14 * 24 * 3600
"""How long a committed message answers redeliveries (the server keeps them about that long)."""
_PRUNE_EVERY: Final = 1000
_HISTORY = e2e_pb2.Message.ProtocolMessage.HISTORY_SYNC_NOTIFICATION


@runtime_checkable
class CredsListener(Protocol):
    """A message processor that keeps a copy of the credentials: a client calls
    ``creds_saved`` after every confirmed credentials save."""

    def creds_saved(self, creds: Creds) -> None:
        """``creds`` are now the saved credentials."""


class _Overlay:
    """Records read from the store once, and every change to commit, for one stanza."""

    def __init__(self, store: AuthStore) -> None:
        self._store = store
        self.updates: dict[str, dict[str, KeyValue | None]] = {}

    def get(self, key_type: str, key_id: str) -> KeyValue | None:
        pending = self.updates.get(key_type, {})
        if key_id in pending:
            return pending[key_id]
        return self._store.get_keys(key_type, [key_id]).get(key_id)

    def put(self, key_type: str, key_id: str, value: KeyValue | None) -> None:
        self.updates.setdefault(key_type, {})[key_id] = value


class SignalProcessor:
    """The default ``MessageProcessor``: Signal decryption committed with the message.

    ``SignalProcessor(store)`` reads the device's credentials from ``store`` at the first
    message and keeps them; ``creds_saved`` replaces the kept copy (see the module docstring).
    ``clock`` (seconds) and ``randbytes`` are for tests.
    """

    def __init__(
        self,
        store: AuthStore,
        *,
        clock: Callable[[], float] = time.time,
        randbytes: Callable[[int], bytes] = os.urandom,
        retention: float = RETENTION_SECONDS,
        prune_every: int = _PRUNE_EVERY,
    ) -> None:
        self._store = store
        self._clock = clock
        self._randbytes = randbytes
        self._retention = retention
        self._prune_every = max(1, prune_every)
        self._until_prune = 0
        # Replaced whole (one reference store), so a save reported from another thread is
        # seen whole or not at all by a message being processed.
        self._creds: Creds | None = None

    def creds_saved(self, creds: Creds) -> None:
        """The credentials were saved: keep these from now on (``CredsListener``)."""
        self._creds = creds

    def _paired_creds(self, reload: bool = False) -> Creds:
        creds = self._creds
        if creds is None or reload:
            creds = self._store.load()
            # kept only once paired: until then every message reads the store again
            self._creds = creds if creds is not None and creds.me is not None else None
        if creds is None or creds.me is None:
            raise RemoteProtocolError("a message arrived for a device that is not paired")
        return creds

    def process(self, node: Node) -> ProcessedMessage:
        """Decrypt and commit ``node`` (see the module docstring); ``RemoteProtocolError`` when
        it cannot be decrypted (nothing committed), a store error when the commit fails."""
        if self._until_prune <= 0:
            self.prune()
            self._until_prune = self._prune_every
        self._until_prune -= 1
        encs = node.children("enc")
        if not encs:
            raise RemoteProtocolError("message without an <enc>")
        digest = _digest(encs)
        stored = self._store.get_keys(WALINK_MESSAGE, [digest]).get(digest)
        if stored is not None:
            previous = decode_entry(stored)
            if previous is not None:
                return ProcessedMessage(
                    result=previous, redelivered=True, history_sync=previous.history_sync
                )
        overlay = _Overlay(self._store)
        result = self._decrypt(node, encs, overlay)
        overlay.put(WALINK_MESSAGE, digest, encode_entry(result))
        self._store.set_keys(overlay.updates)
        return ProcessedMessage(result=result, history_sync=result.history_sync)

    def prune(self) -> int:
        """Delete buffered messages older than the retention; returns how many."""
        ids = self._store.list_key_ids(WALINK_MESSAGE)
        if not ids:
            return 0
        cutoff = self._clock() - self._retention
        values = self._store.get_keys(WALINK_MESSAGE, ids)
        old: dict[str, KeyValue | None] = {}
        for key_id, value in values.items():
            t = entry_timestamp(value)
            if t is not None and t < cutoff:
                old[key_id] = None
        if old:
            self._store.set_keys({WALINK_MESSAGE: old})
        return len(old)

    # -- decryption ---------------------------------------------------------------------------

    def _decrypt(self, node: Node, encs: list[Node], overlay: _Overlay) -> ReceivedMessage:
        creds = self._paired_creds()
        assert creds.me is not None  # _paired_creds checked it
        sender = node.attr("participant") or node.attr("from")
        chat = node.attr("from")
        if not sender or not chat:
            raise RemoteProtocolError("message stanza without a from")
        now_ms = int(self._clock() * 1000)
        decrypted: list[e2e_pb2.Message] = []
        changes: list[IdentityChange] = []
        me = creds.me
        resolved: ResolvedSender | None = None

        def sender_addresses() -> ResolvedSender:
            # resolved once per stanza, and only when needed (a mapping lookup may read the store)
            nonlocal resolved
            if resolved is None:
                resolved = resolve_sender(
                    node,
                    sender,
                    own_pn=me.id,
                    own_lid=me.lid,
                    lookup=lambda key_id: overlay.get(LID_MAPPING, key_id),
                )
                for key_id, value in resolved.learned.items():
                    overlay.put(LID_MAPPING, key_id, value)
                _move_to_lid(overlay, resolved)
            return resolved

        for enc in encs:
            kind = enc.attr("type")
            data = enc.content
            if not isinstance(data, bytes):
                raise RemoteProtocolError("an <enc> without bytes")
            if kind == "pkmsg" or kind == "msg":
                address = sender_addresses().address
                record = _session(overlay.get("session", address))
                if kind == "pkmsg":
                    plaintext = self._prekey(
                        sender, address, record, data, creds, overlay, changes, now_ms
                    )
                else:
                    result = decrypt_message(
                        record,
                        data,
                        identity=creds.signed_identity_key,
                        randbytes=self._randbytes,
                        now_ms=now_ms,
                    )
                    overlay.put("session", address, result.record.to_json())
                    plaintext = result.plaintext
            elif kind == "skmsg":
                name, value = _sender_key_entry(overlay, chat, sender, sender_addresses)
                plaintext, sender_key = group_decrypt(_sender_key(value), data)
                overlay.put("sender-key", name, sender_key.to_baileys())
            else:
                raise RemoteProtocolError(f"unknown <enc> type {str(kind)[:20]!r}")
            message = parse_message(unpad_for_version(plaintext, enc.attr("v") or "2"))
            if message.HasField("sender_key_distribution_message"):
                skdm = message.sender_key_distribution_message
                group = skdm.group_id or chat
                name, value = _sender_key_entry(overlay, group, sender, sender_addresses)
                updated = process_distribution(
                    _sender_key(value), skdm.axolotl_sender_key_distribution_message
                )
                overlay.put("sender-key", name, updated.to_baileys())
            decrypted.append(message)
        merged = e2e_pb2.Message()
        for message in decrypted:
            merged.MergeFrom(unwrap(message))
        web = WebMessage.from_stanza(node, merged, own_jid=creds.me.id, own_lid=creds.me.lid)
        history = (
            node.attr("category") == "peer"
            and web.key.from_me
            and any(
                m.HasField("protocol_message") and m.protocol_message.type == _HISTORY
                for m in decrypted
            )
        )
        return ReceivedMessage(
            messages=(web,),
            decrypted=tuple(decrypted),
            history_sync=history,
            identity_changes=tuple(changes),
        )

    def _prekey(
        self,
        sender: str,
        address: str,
        record: SessionRecord | None,
        data: bytes,
        creds: Creds,
        overlay: _Overlay,
        changes: list[IdentityChange],
        now_ms: int,
    ) -> bytes:
        identity = creds.signed_identity_key

        def signed_pre_key(key_id: int) -> KeyPair | None:
            signed = self._paired_creds().signed_pre_key
            if key_id != signed.key_id:
                # a rotation this processor was not told of: the store has the truth
                signed = self._paired_creds(reload=True).signed_pre_key
            return signed.key_pair if key_id == signed.key_id else None

        def one_time(key_id: int) -> KeyPair | None:
            value = overlay.get("pre-key", str(key_id))
            return value if isinstance(value, KeyPair) else None

        def run(current: SessionRecord | None) -> tuple[bytes, SessionRecord, int | None, bytes]:
            r = decrypt_prekey_message(
                current,
                data,
                identity=identity,
                signed_pre_key=signed_pre_key,
                one_time_pre_key=one_time,
                randbytes=self._randbytes,
                now_ms=now_ms,
            )
            return r.plaintext, r.record, r.consumed_pre_key_id, r.remote_identity

        plaintext, new_record, consumed, remote = run(record)
        known = overlay.get("identity-key", address)
        if isinstance(known, bytes) and known != remote:
            # A new identity: the old sessions belong to a device that no longer exists.
            plaintext, new_record, consumed, remote = run(None)
            changes.append(
                IdentityChange(jid=sender, address=address, old_identity=known, new_identity=remote)
            )
        if known != remote:
            overlay.put("identity-key", address, remote)
        overlay.put("session", address, new_record.to_json())
        if consumed is not None:
            overlay.put("pre-key", str(consumed), None)
        return plaintext


def _move_to_lid(overlay: _Overlay, sender: ResolvedSender) -> None:
    """A session or identity key kept under the sender's phone-number address, and not under
    its LID address, moves to the LID address (committed with the message, or not at all)."""
    previous = sender.previous
    if previous is None:
        return
    for key_type in ("session", "identity-key"):
        if overlay.get(key_type, sender.address) is not None:
            continue
        value = overlay.get(key_type, previous)
        if value is not None:
            overlay.put(key_type, sender.address, value)
            overlay.put(key_type, previous, None)


def _sender_key_entry(
    overlay: _Overlay, group: str, sender: str, resolve: Callable[[], ResolvedSender]
) -> tuple[str, KeyValue | None]:
    """The name the sender's key in ``group`` is kept under (the stanza's sender) and its value;
    a key found only under the sender's other user id moves to that name."""
    name = sender_key_name(group, sender)
    value = overlay.get("sender-key", name)
    if value is None:
        for other in resolve().sender_key_names(group)[1:]:
            value = overlay.get("sender-key", other)
            if value is not None:
                overlay.put("sender-key", other, None)
                break
    return name, value


def _digest(encs: list[Node]) -> str:
    hasher = hashlib.sha256()
    for enc in encs:
        content = enc.content if isinstance(enc.content, bytes) else b""
        hasher.update((enc.attr("type") or "").encode() + b"\0")
        hasher.update(len(content).to_bytes(8, "big") + content)
    return hasher.hexdigest()


def _session(value: KeyValue | None) -> SessionRecord | None:
    if value is None:
        return None
    return SessionRecord.from_json(value)


def _sender_key(value: KeyValue | None) -> SenderKeyRecord | None:
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise CorruptRecordError("a stored sender key is not bytes")
    return SenderKeyRecord.from_baileys(value)
