"""The Signal protocol as WhatsApp uses it (libsignal v3, no Kyber): sans-IO, copy-on-write.

Theory of operation
-------------------
Nothing here does I/O, reads a clock or draws randomness: the caller passes ``now_ms`` (the
record timestamps) and ``randbytes`` (a ``Callable[[int], bytes]`` such as ``os.urandom``).

State is immutable. Every call takes the stored record and returns a result holding a NEW record;
the input is never modified. On success the caller commits the new record (and deletes
``consumed_pre_key_id``) in one store transaction before acking the message; on any error it
commits nothing, and nothing was consumed or advanced. Every error a peer's bytes or a stored
record can cause is a ``SignalError`` (a ``RemoteProtocolError``); calling ``encrypt`` without a
session is a ``SessionNotOpenError`` (a ``LocalProtocolError``).

1:1 sessions (``<enc type="pkmsg" | "msg">``), one ``SessionRecord`` per address:

- ``decrypt_prekey_message(record | None, data, *, identity, signed_pre_key, one_time_pre_key,
  randbytes, now_ms, trusted_identity=None) -> PreKeyDecryptResult(plaintext, record,
  consumed_pre_key_id, remote_identity)``;
- ``decrypt_message(record, data, *, identity, randbytes, now_ms) -> DecryptResult``;
  ``DuplicateMessageError`` means the counter was already used (most likely a redelivery);
- ``encrypt(record, plaintext, *, identity, registration_id, now_ms) -> EncryptResult(kind,
  ciphertext, record)``: ``kind`` is ``"pkmsg"`` until the peer has answered, then ``"msg"``;
- ``start_session(record | None, PreKeyBundle, *, identity, randbytes, now_ms) -> record``.

Group messages (``<enc type="skmsg">``), one ``SenderKeyRecord`` per (group, sender device):

- ``create_sender_key(randbytes) -> (record, skdm)``, ``distribution_message(record) -> skdm``;
- ``process_distribution(record | None, skdm) -> record``;
- ``group_decrypt(record, data) -> (plaintext, record)``;
- ``group_encrypt(record, plaintext, *, randbytes) -> (ciphertext, record)``.

Plaintext: ``unpad_for_version(plaintext, enc_v)`` strips WhatsApp's padding for ``v="2"`` and
leaves ``v="3"`` alone; ``pad`` adds it for a sender.

Storage: ``SessionRecord.from_json`` / ``to_json`` convert Baileys' ``session`` value
(libsignal-node's serialized record), ``SenderKeyRecord.from_baileys`` / ``to_baileys`` its
``sender-key`` value; both round-trip Baileys' own data to equal JSON.

Limits: 2,000 skipped message keys per chain and message, 4,000 stored per session record,
40 sessions per address (tried most recently used first), 5 sender-key states per sender,
2,000 stored skipped keys per sender-key state.
"""

from __future__ import annotations

from walink.protocol.signal.errors import (
    BadMacError,
    CorruptRecordError,
    DuplicateMessageError,
    InvalidKeyError,
    InvalidMessageError,
    InvalidPaddingError,
    InvalidSignatureError,
    NoSenderKeyError,
    NoSessionError,
    PreKeyError,
    SessionNotOpenError,
    SignalError,
    TooFarInFutureError,
    UntrustedIdentityError,
)
from walink.protocol.signal.group import (
    MAX_SENDER_KEY_STATES,
    SenderKeyRecord,
    SenderKeyState,
    create_sender_key,
    distribution_message,
    group_decrypt,
    group_encrypt,
    process_distribution,
)
from walink.protocol.signal.padding import pad, unpad, unpad_for_version
from walink.protocol.signal.ratchet import (
    MAX_RECORD_MESSAGE_KEYS,
    MAX_SKIP,
    DecryptResult,
    EncryptResult,
    PreKeyBundle,
    PreKeyDecryptResult,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    start_session,
)
from walink.protocol.signal.record import MAX_SESSIONS, Chain, PendingPreKey, Session, SessionRecord

__all__ = [
    "MAX_RECORD_MESSAGE_KEYS",
    "MAX_SENDER_KEY_STATES",
    "MAX_SESSIONS",
    "MAX_SKIP",
    "BadMacError",
    "Chain",
    "CorruptRecordError",
    "DecryptResult",
    "DuplicateMessageError",
    "EncryptResult",
    "InvalidKeyError",
    "InvalidMessageError",
    "InvalidPaddingError",
    "InvalidSignatureError",
    "NoSenderKeyError",
    "NoSessionError",
    "PendingPreKey",
    "PreKeyBundle",
    "PreKeyDecryptResult",
    "PreKeyError",
    "SenderKeyRecord",
    "SenderKeyState",
    "Session",
    "SessionNotOpenError",
    "SessionRecord",
    "SignalError",
    "TooFarInFutureError",
    "UntrustedIdentityError",
    "create_sender_key",
    "decrypt_message",
    "decrypt_prekey_message",
    "distribution_message",
    "encrypt",
    "group_decrypt",
    "group_encrypt",
    "pad",
    "process_distribution",
    "start_session",
    "unpad",
    "unpad_for_version",
]
