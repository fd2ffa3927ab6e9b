"""Sender keys (groups): distribution messages, ``skmsg`` encryption and decryption.

A sender has one chain per group: ``seed`` at ``iteration``; message key seed ``HMAC(seed, 01)``,
next seed ``HMAC(seed, 02)``; ``HKDF(message seed, 0*32, "WhisperGroup", 48)`` -> IV 16 || AES key
32. A ``skmsg`` is ``0x33 || proto{id, iteration, ciphertext} || signature64``, signed by the
sender's signing key over everything before the signature (libsignal's curve25519 convention:
``walink.protocol.keys.xeddsa_verify`` reads the Edwards sign bit from ``sig[63]``). Baileys
sends iterations 0, 2, 4, … (it skips one key per message); the skipped keys are stored like any
out-of-order key.

State: ``SenderKeyRecord`` holds up to 5 ``SenderKeyState`` (oldest first; a new distribution
message appends one; lookups by key id take the first match, as Baileys does), each with up to
2,000 stored skipped keys. Baileys stores a record under ``sender-key`` as a Buffer holding the
UTF-8 text of ``JSON.stringify(states)``, in which every Buffer is Node's own
``{"type":"Buffer","data":[byte, …]}``; ``SenderKeyRecord.from_baileys`` / ``to_baileys`` read
and write exactly those bytes. Copy-on-write, like the rest of this package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from walink.protocol.keys import KeyPair, xeddsa_sign, xeddsa_verify
from walink.protocol.signal import _crypto
from walink.protocol.signal._wire import SenderKeyDistributionMessage, SenderKeyMessage
from walink.protocol.signal.errors import (
    CorruptRecordError,
    DuplicateMessageError,
    InvalidKeyError,
    InvalidSignatureError,
    NoSenderKeyError,
    SessionNotOpenError,
    TooFarInFutureError,
)
from walink.protocol.signal.record import decode_base64

__all__ = [
    "MAX_SENDER_KEY_STATES",
    "MAX_SENDER_MESSAGE_KEYS",
    "SenderKeyRecord",
    "SenderKeyState",
    "create_sender_key",
    "distribution_message",
    "group_decrypt",
    "group_encrypt",
    "process_distribution",
]

Rng = Callable[[int], bytes]

MAX_SENDER_KEY_STATES = 5
MAX_SENDER_MESSAGE_KEYS = 2000
MAX_SKIP = 2000
_KEY_ID_LIMIT = 2147483647


@dataclass(frozen=True, slots=True, repr=False)
class SenderKeyState:
    """One sender chain: Baileys' ``senderKeyStateStructure``."""

    key_id: int
    iteration: int
    seed: bytes
    signing_public: bytes
    signing_private: bytes
    """Empty for another sender's state (we only verify)."""
    message_keys: tuple[tuple[int, bytes], ...]
    """Stored skipped ``(iteration, seed)``, oldest first."""

    def __repr__(self) -> str:
        return f"<SenderKeyState id={self.key_id} iteration={self.iteration}>"


@dataclass(frozen=True, slots=True)
class SenderKeyRecord:
    """A sender's states for one group (oldest first)."""

    states: tuple[SenderKeyState, ...]

    def state(self, key_id: int) -> SenderKeyState | None:
        for candidate in self.states:
            if candidate.key_id == key_id:
                return candidate
        return None

    @classmethod
    def from_baileys(cls, value: bytes) -> SenderKeyRecord:
        """Load Baileys' stored ``sender-key`` value (the bytes of a JSON array)."""
        try:
            data = json.loads(value.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise CorruptRecordError(f"sender-key record is not JSON: {error}") from None
        if not isinstance(data, list):
            raise CorruptRecordError("sender-key record is not an array")
        return cls(states=tuple(_load_state(item) for item in data))

    def to_baileys(self) -> bytes:
        """The bytes Baileys stores (``JSON.stringify`` of its states, UTF-8)."""
        dumped = [_dump_state(state) for state in self.states]
        return json.dumps(dumped, separators=(",", ":")).encode("utf-8")


def _with_state(
    record: SenderKeyRecord, old: SenderKeyState, new: SenderKeyState
) -> SenderKeyRecord:
    return SenderKeyRecord(states=tuple(new if s is old else s for s in record.states))


def _message_seed(chain_seed: bytes) -> bytes:
    return _crypto.hmac_sha256(chain_seed, b"\x01")


def _message_key(message_seed: bytes) -> tuple[bytes, bytes]:
    """AES key and IV of one message (stored skipped keys are message seeds, as Baileys')."""
    derived = _crypto.hkdf(message_seed, _crypto.ZERO_SALT, b"WhisperGroup", 48)
    return derived[16:48], derived[:16]


def _next(seed: bytes) -> bytes:
    return _crypto.hmac_sha256(seed, b"\x02")


def create_sender_key(randbytes: Rng) -> tuple[SenderKeyRecord, bytes]:
    """Our own new sender key for a group: the record and the SKDM bytes to distribute."""
    key_id = int.from_bytes(randbytes(4), "big") % _KEY_ID_LIMIT
    signing = KeyPair.generate(randbytes)
    state = SenderKeyState(
        key_id=key_id,
        iteration=0,
        seed=randbytes(32),
        signing_public=b"\x05" + signing.public,
        signing_private=signing.private,
        message_keys=(),
    )
    record = SenderKeyRecord(states=(state,))
    return record, distribution_message(record)


def distribution_message(record: SenderKeyRecord) -> bytes:
    """The SKDM for the newest state of ``record`` (its current iteration and seed)."""
    if not record.states:
        raise SessionNotOpenError("the sender-key record is empty")
    state = record.states[-1]
    return SenderKeyDistributionMessage(
        state.key_id, state.iteration, state.seed, state.signing_public
    ).encode()


def process_distribution(record: SenderKeyRecord | None, skdm: bytes) -> SenderKeyRecord:
    """``record`` with the state an SKDM describes appended (the oldest beyond 5 dropped)."""
    message = SenderKeyDistributionMessage.parse(skdm)
    _crypto.raw_public(message.signing_key)
    if len(message.chain_key) != 32:
        raise InvalidKeyError("a sender chain key is 32 bytes")
    state = SenderKeyState(
        key_id=message.key_id,
        iteration=message.iteration,
        seed=message.chain_key,
        signing_public=message.signing_key,
        signing_private=b"",
        message_keys=(),
    )
    states = (*(record.states if record is not None else ()), state)
    return SenderKeyRecord(states=states[-MAX_SENDER_KEY_STATES:])


def group_decrypt(record: SenderKeyRecord | None, data: bytes) -> tuple[bytes, SenderKeyRecord]:
    """Verify and decrypt a ``skmsg``; return the plaintext and the record to commit."""
    message = SenderKeyMessage.parse(data)
    state = None if record is None else record.state(message.key_id)
    if record is None or state is None:
        raise NoSenderKeyError(f"no sender key with id {message.key_id}")
    if not xeddsa_verify(state.signing_public, message.signed, message.signature):
        raise InvalidSignatureError("bad sender-key message signature")
    iteration = message.iteration
    if iteration < state.iteration:
        keys = list(state.message_keys)
        for index, (stored_iteration, stored_seed) in enumerate(keys):
            if stored_iteration == iteration:
                del keys[index]
                seed = stored_seed
                new_state = replace(state, message_keys=tuple(keys))
                break
        else:
            raise DuplicateMessageError(f"sender-key iteration {iteration} was already used")
    else:
        if iteration - state.iteration > MAX_SKIP:
            raise TooFarInFutureError(f"over {MAX_SKIP} messages into the future")
        skipped = list(state.message_keys)
        seed = state.seed
        for index in range(state.iteration, iteration):
            skipped.append((index, _message_seed(seed)))
            seed = _next(seed)
        new_state = replace(
            state,
            iteration=iteration + 1,
            seed=_next(seed),
            message_keys=tuple(skipped[-MAX_SENDER_MESSAGE_KEYS:]),
        )
        seed = _message_seed(seed)
    cipher_key, iv = _message_key(seed)
    plaintext = _crypto.aes_cbc_decrypt(cipher_key, iv, message.ciphertext)
    return plaintext, _with_state(record, state, new_state)


def group_encrypt(
    record: SenderKeyRecord, plaintext: bytes, *, randbytes: Rng
) -> tuple[bytes, SenderKeyRecord]:
    """Encrypt a ``skmsg`` with our newest state (consecutive iterations, no skipping)."""
    if not record.states or not record.states[-1].signing_private:
        raise SessionNotOpenError("no sender key of our own in this record")
    state = record.states[-1]
    cipher_key, iv = _message_key(_message_seed(state.seed))
    unsigned = SenderKeyMessage.encode_unsigned(
        state.key_id, state.iteration, _crypto.aes_cbc_encrypt(cipher_key, iv, plaintext)
    )
    signature = xeddsa_sign(state.signing_private, unsigned, random=randbytes(64))
    new_state = replace(state, iteration=state.iteration + 1, seed=_next(state.seed))
    return unsigned + signature, _with_state(record, state, new_state)


# --- Baileys' JSON --------------------------------------------------------------------------


def _buffer(value: object, what: str) -> bytes:
    if isinstance(value, dict) and value.get("type") == "Buffer":
        data = value.get("data")
        if isinstance(data, list) and all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in data
        ):
            return bytes(data)
        if isinstance(data, str):
            return decode_base64(data)
    raise CorruptRecordError(f"{what} is not a Buffer")


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CorruptRecordError(f"{what} is not an integer")
    return value


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CorruptRecordError(f"{what} is not an object")
    return value


def _load_state(value: object) -> SenderKeyState:
    data = _object(value, "sender-key state")
    chain = _object(data.get("senderChainKey"), "senderChainKey")
    signing = _object(data.get("senderSigningKey"), "senderSigningKey")
    keys = data.get("senderMessageKeys", [])
    if not isinstance(keys, list):
        keys = []  # Baileys replaces a non-array with an empty list
    message_keys = []
    for item in keys:
        entry = _object(item, "sender message key")
        message_keys.append(
            (_int(entry.get("iteration"), "iteration"), _buffer(entry.get("seed"), "seed"))
        )
    return SenderKeyState(
        key_id=_int(data.get("senderKeyId"), "senderKeyId"),
        iteration=_int(chain.get("iteration"), "iteration"),
        seed=_buffer(chain.get("seed"), "chain seed"),
        signing_public=_buffer(signing.get("public"), "signing public key"),
        signing_private=_buffer(signing.get("private"), "signing private key"),
        message_keys=tuple(message_keys),
    )


def _node_buffer(data: bytes) -> dict[str, Any]:
    return {"type": "Buffer", "data": list(data)}


def _dump_state(state: SenderKeyState) -> dict[str, Any]:
    return {
        "senderKeyId": state.key_id,
        "senderChainKey": {"iteration": state.iteration, "seed": _node_buffer(state.seed)},
        "senderSigningKey": {
            "public": _node_buffer(state.signing_public),
            "private": _node_buffer(state.signing_private),
        },
        "senderMessageKeys": [
            {"iteration": iteration, "seed": _node_buffer(seed)}
            for iteration, seed in state.message_keys
        ],
    }
