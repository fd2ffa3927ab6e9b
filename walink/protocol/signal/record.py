"""Session records: every Double Ratchet session of one address, in Baileys' stored JSON shape.

Baileys keeps one record per address (``"<user>[_<domain>].<device>"``) under the key store's
``session`` type. The value is libsignal-node's ``SessionRecord.serialize()``: plain JSON with
base64 strings, so in a ``useMultiFileAuthState`` folder it is written verbatim (BufferJSON has
nothing to replace). Its shape::

    {"_sessions": {b64(baseKey): {
        "registrationId": int,
        "currentRatchet": {"ephemeralKeyPair": {"pubKey", "privKey"}, "lastRemoteEphemeralKey",
                           "previousCounter": int, "rootKey"},
        "indexInfo": {"baseKey", "baseKeyType": 1 ours | 2 theirs, "closed": -1 open | ms,
                      "used": ms, "created": ms, "remoteIdentityKey"},
        "_chains": {b64(ratchetKey): {"chainKey": {"counter": int, "key"?}, "chainType": 1 | 2,
                                      "messageKeys": {"<counter>": b64}}},
        "pendingPreKey"?: {"signedKeyId", "baseKey", "preKeyId"?}}},
     "version": "v1"}

``SessionRecord.to_json`` writes exactly what libsignal-node would write for the same state (its
key order, integer-like ``messageKeys`` keys in ascending order as JavaScript orders them, a
closed chain's ``key`` left out), so a record read from Baileys and written back is equal JSON.
Public keys keep the length they were stored with: libsignal-node writes 33-byte ``05||key``
keys, except the signed pre-key pair Baileys hands it, which is 32 bytes.

Every object here is immutable; the ratchet builds new ones (copy-on-write). The loaders
accept exactly this shape and raise ``CorruptRecordError`` on anything else.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from walink.protocol.signal.errors import CorruptRecordError

__all__ = [
    "BASE_KEY_OURS",
    "BASE_KEY_THEIRS",
    "CHAIN_RECEIVING",
    "CHAIN_SENDING",
    "MAX_SESSIONS",
    "Chain",
    "PendingPreKey",
    "Session",
    "SessionRecord",
]

CHAIN_SENDING = 1
CHAIN_RECEIVING = 2
BASE_KEY_OURS = 1
BASE_KEY_THEIRS = 2
OPEN = -1
MAX_SESSIONS = 40
"""Sessions kept per address, the open one included; the oldest closed ones go first."""
RECORD_VERSION = "v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_BASE64_NOISE = re.compile(r"[^A-Za-z0-9+/]")


def decode_base64(text: str) -> bytes:
    """Decode base64 as Node's ``Buffer.from(text, "base64")`` does, which libsignal-node uses.

    Node accepts the URL-safe alphabet, skips characters outside the alphabet and stops at the
    first ``=``; a trailing lone 6-bit group is dropped. (The protocol core may not import the
    stores, which have the same rule for BufferJSON.)
    """
    text = _BASE64_NOISE.sub("", text.split("=", 1)[0].replace("-", "+").replace("_", "/"))
    if len(text) % 4 == 1:
        text = text[:-1]
    return base64.b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Chain:
    """One sending or receiving chain. ``counter`` is the last index derived (-1: none yet)."""

    counter: int
    key: bytes | None
    """The next chain key; ``None`` once the chain is closed (the peer moved to a new ratchet)."""
    chain_type: int
    message_keys: Mapping[int, bytes]
    """Seeds of skipped message keys, by counter (treated as read-only)."""


@dataclass(frozen=True, slots=True)
class PendingPreKey:
    """What an initiator repeats in every pkmsg until the peer has answered."""

    signed_key_id: int
    base_key: bytes
    pre_key_id: int | None


@dataclass(frozen=True, slots=True, repr=False)
class Session:
    """One Double Ratchet session (libsignal's ``SessionEntry``)."""

    registration_id: int
    ephemeral_public: bytes
    ephemeral_private: bytes
    last_remote_ephemeral: bytes
    previous_counter: int
    root_key: bytes
    base_key: bytes
    base_key_type: int
    closed: int
    used: int
    created: int
    remote_identity: bytes
    chains: Mapping[str, Chain]
    """Chains by the base64 of their ratchet public key, in insertion order (read-only)."""
    pending_pre_key: PendingPreKey | None = None

    @property
    def is_open(self) -> bool:
        return self.closed == OPEN

    def __repr__(self) -> str:
        # Keys must never reach a log line.
        return f"<Session base_key={b64(self.base_key)} closed={self.closed} used={self.used}>"


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """All sessions of one address, by base64 base key, in insertion order (read-only)."""

    sessions: Mapping[str, Session]

    @classmethod
    def empty(cls) -> SessionRecord:
        return cls(sessions={})

    def open_session(self) -> Session | None:
        """The open session (libsignal keeps at most one)."""
        for session in self.sessions.values():
            if session.is_open:
                return session
        return None

    def by_recency(self) -> list[Session]:
        """Sessions most recently used first (ties keep insertion order, like a stable sort)."""
        return sorted(self.sessions.values(), key=lambda session: -session.used)

    @property
    def remote_identity(self) -> bytes | None:
        """The peer's identity key as the open session knows it."""
        session = self.open_session()
        return None if session is None else session.remote_identity

    @classmethod
    def from_json(cls, value: object) -> SessionRecord:
        """Load Baileys' stored value (the BufferJSON-decoded object)."""
        data = _dict(value, "record")
        version = data.get("version")
        if version != RECORD_VERSION:
            raise CorruptRecordError(f"unsupported session record version {version!r}")
        sessions = {
            key: _load_session(entry)
            for key, entry in _dict(data.get("_sessions"), "_sessions").items()
        }
        return cls(sessions=sessions)

    def to_json(self) -> dict[str, Any]:
        """The value Baileys stores (what ``SessionRecord.serialize()`` returns)."""
        return {
            "_sessions": {key: _dump_session(s) for key, s in self.sessions.items()},
            "version": RECORD_VERSION,
        }


def with_session(record: SessionRecord, session: Session) -> SessionRecord:
    """``record`` with ``session`` set under its base key, then trimmed to ``MAX_SESSIONS``."""
    sessions = dict(record.sessions)
    sessions[b64(session.base_key)] = session
    while len(sessions) > MAX_SESSIONS:
        closed = [(s.closed, key) for key, s in sessions.items() if not s.is_open]
        if not closed:  # unreachable: at most one session is open
            raise CorruptRecordError("more open sessions than the record can hold")
        del sessions[min(closed)[1]]
    return SessionRecord(sessions=sessions)


def close_open(record: SessionRecord, now_ms: int) -> SessionRecord:
    """``record`` with its open session (if any) marked closed at ``now_ms``."""
    sessions = {
        key: replace(s, closed=now_ms) if s.is_open else s for key, s in record.sessions.items()
    }
    return SessionRecord(sessions=sessions)


# --- JSON ---------------------------------------------------------------------------------


def _dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CorruptRecordError(f"{what} is not an object")
    return value


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CorruptRecordError(f"{what} is not an integer")
    return value


def _bytes(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise CorruptRecordError(f"{what} is not a base64 string")
    return decode_base64(value)


def _load_chain(value: object) -> Chain:
    data = _dict(value, "chain")
    chain_key = _dict(data.get("chainKey"), "chainKey")
    key = chain_key.get("key")
    message_keys: dict[int, bytes] = {}
    for index, seed in _dict(data.get("messageKeys"), "messageKeys").items():
        if not index.isdigit() or not index.isascii() or (index != "0" and index[0] == "0"):
            raise CorruptRecordError(f"message key index {index!r} is not a counter")
        message_keys[int(index)] = _bytes(seed, "message key")
    chain_type = _int(data.get("chainType"), "chainType")
    if chain_type not in (CHAIN_SENDING, CHAIN_RECEIVING):
        raise CorruptRecordError(f"unknown chain type {chain_type}")
    return Chain(
        counter=_int(chain_key.get("counter"), "chain counter"),
        key=None if key is None else _bytes(key, "chain key"),
        chain_type=chain_type,
        message_keys=dict(sorted(message_keys.items())),
    )


def _dump_chain(chain: Chain) -> dict[str, Any]:
    chain_key: dict[str, Any] = {"counter": chain.counter}
    if chain.key is not None:
        chain_key["key"] = b64(chain.key)
    return {
        "chainKey": chain_key,
        "chainType": chain.chain_type,
        "messageKeys": {str(n): b64(seed) for n, seed in sorted(chain.message_keys.items())},
    }


def _load_session(value: object) -> Session:
    data = _dict(value, "session")
    ratchet = _dict(data.get("currentRatchet"), "currentRatchet")
    pair = _dict(ratchet.get("ephemeralKeyPair"), "ephemeralKeyPair")
    info = _dict(data.get("indexInfo"), "indexInfo")
    pending = data.get("pendingPreKey")
    pending_pre_key = None
    if pending is not None:
        pending_data = _dict(pending, "pendingPreKey")
        pre_key_id = pending_data.get("preKeyId")
        pending_pre_key = PendingPreKey(
            signed_key_id=_int(pending_data.get("signedKeyId"), "signedKeyId"),
            base_key=_bytes(pending_data.get("baseKey"), "pending base key"),
            pre_key_id=None if pre_key_id is None else _int(pre_key_id, "preKeyId"),
        )
    return Session(
        registration_id=_int(data.get("registrationId"), "registrationId"),
        ephemeral_public=_bytes(pair.get("pubKey"), "ratchet public key"),
        ephemeral_private=_bytes(pair.get("privKey"), "ratchet private key"),
        last_remote_ephemeral=_bytes(ratchet.get("lastRemoteEphemeralKey"), "remote ratchet key"),
        previous_counter=_int(ratchet.get("previousCounter"), "previousCounter"),
        root_key=_bytes(ratchet.get("rootKey"), "root key"),
        base_key=_bytes(info.get("baseKey"), "base key"),
        base_key_type=_int(info.get("baseKeyType"), "baseKeyType"),
        closed=_int(info.get("closed"), "closed"),
        used=_int(info.get("used"), "used"),
        created=_int(info.get("created"), "created"),
        remote_identity=_bytes(info.get("remoteIdentityKey"), "remote identity key"),
        chains={
            _chain_id(key): _load_chain(chain)
            for key, chain in _dict(data.get("_chains"), "_chains").items()
        },
        pending_pre_key=pending_pre_key,
    )


def _chain_id(key: str) -> str:
    if not key:
        raise CorruptRecordError("empty chain id")
    return key


def _dump_session(session: Session) -> dict[str, Any]:
    data: dict[str, Any] = {
        "registrationId": session.registration_id,
        "currentRatchet": {
            "ephemeralKeyPair": {
                "pubKey": b64(session.ephemeral_public),
                "privKey": b64(session.ephemeral_private),
            },
            "lastRemoteEphemeralKey": b64(session.last_remote_ephemeral),
            "previousCounter": session.previous_counter,
            "rootKey": b64(session.root_key),
        },
        "indexInfo": {
            "baseKey": b64(session.base_key),
            "baseKeyType": session.base_key_type,
            "closed": session.closed,
            "used": session.used,
            "created": session.created,
            "remoteIdentityKey": b64(session.remote_identity),
        },
        "_chains": {key: _dump_chain(chain) for key, chain in session.chains.items()},
    }
    pending = session.pending_pre_key
    if pending is not None:
        data["pendingPreKey"] = {
            "signedKeyId": pending.signed_key_id,
            "baseKey": b64(pending.base_key),
        }
        if pending.pre_key_id is not None:
            data["pendingPreKey"]["preKeyId"] = pending.pre_key_id
    return data
