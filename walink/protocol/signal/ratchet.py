"""X3DH (both roles) and the Double Ratchet, in libsignal v3's flavour, copy-on-write.

Every function takes the stored ``SessionRecord`` (or ``None``) and returns a result holding a
new record; the input objects are never modified, so when a function raises the caller's state
is exactly as it was: a forged or corrupt message never consumes a pre-key or advances a chain.

The Double Ratchet as WhatsApp runs it (Signal's public specification, with libsignal's choices):

- X3DH: ``secret = FF*32 || DH(IK_A, SPK_B) || DH(EK_A, IK_B) || DH(EK_A, SPK_B)``, then
  ``|| DH(EK_A, OPK_B)`` when a one-time pre-key is used (the responder computes the same
  values from its side); ``root = HKDF(secret, 0*32, "WhisperText")[:32]``. The responder's
  first ratchet key pair is its signed pre-key; the initiator immediately derives a sending
  chain against that signed pre-key.
- Root step: ``HKDF(DH(ours, theirs), root, "WhisperRatchet", 64)`` -> new root || chain key.
- Chain step: message key seed ``HMAC(ck, 01)``, next chain key ``HMAC(ck, 02)``; message keys
  ``HKDF(seed, 0*32, "WhisperMessageKeys", 80)`` -> AES key || MAC key || IV; AES-256-CBC.
- ``msg`` MAC: ``HMAC(mac_key, senderIdentity33 || receiverIdentity33 || 0x33 || proto)[:8]``.
- Counters: a chain's counter is the last index derived, -1 before the first; the
  ``previousCounter`` we send is the last index used on our previous sending chain (libsignal-node's
  convention). On receipt we fill the peer's previous chain up to the ``previousCounter`` it names,
  which is right for both conventions (Java/Rust send ``max(index - 1, 0)``, the same number).
- Skipped keys: at most ``MAX_SKIP`` (2,000) on one chain per message, and at most
  ``MAX_RECORD_MESSAGE_KEYS`` stored in a whole record (the least recently used sessions' oldest
  keys are dropped first).
- Sessions: at most 40 per address (``record.MAX_SESSIONS``); a ``msg`` is tried on each, most
  recently used first.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from walink.protocol.keys import KeyPair
from walink.protocol.signal import _crypto
from walink.protocol.signal._wire import (
    MAC_SIZE,
    VERSION_BYTE,
    PreKeySignalMessage,
    SignalMessage,
)
from walink.protocol.signal.errors import (
    BadMacError,
    DuplicateMessageError,
    InvalidMessageError,
    NoSessionError,
    PreKeyError,
    SessionNotOpenError,
    SignalError,
    TooFarInFutureError,
    UntrustedIdentityError,
)
from walink.protocol.signal.record import (
    BASE_KEY_OURS,
    BASE_KEY_THEIRS,
    CHAIN_RECEIVING,
    CHAIN_SENDING,
    OPEN,
    Chain,
    PendingPreKey,
    Session,
    SessionRecord,
    b64,
    close_open,
    with_session,
)

__all__ = [
    "MAX_RECORD_MESSAGE_KEYS",
    "MAX_SKIP",
    "DecryptResult",
    "EncryptResult",
    "PreKeyBundle",
    "PreKeyDecryptResult",
    "decrypt_message",
    "decrypt_prekey_message",
    "encrypt",
    "start_session",
]

Rng = Callable[[int], bytes]
KeyLookup = Callable[[int], KeyPair | None]

MAX_SKIP = 2000
"""Message keys one message may make us derive ahead on one chain."""
MAX_RECORD_MESSAGE_KEYS = 4000
"""Skipped message keys kept in one record, all sessions and chains together."""

_FF = b"\xff" * 32
_VERSION = bytes((VERSION_BYTE,))


@dataclass(frozen=True, slots=True)
class PreKeyBundle:
    """What the server hands out for a device: the input of ``start_session``."""

    registration_id: int
    identity_key: bytes
    """The device's identity public key (32 bytes, or 33 with the ``05`` prefix)."""
    signed_pre_key_id: int
    signed_pre_key: bytes
    signed_pre_key_signature: bytes
    pre_key_id: int | None = None
    pre_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class DecryptResult:
    plaintext: bytes
    record: SessionRecord
    """The record to commit (with the ack) for this message."""


@dataclass(frozen=True, slots=True)
class PreKeyDecryptResult:
    plaintext: bytes
    record: SessionRecord
    consumed_pre_key_id: int | None
    """The one-time pre-key this message used: delete it in the same commit as ``record``."""
    remote_identity: bytes
    """The sender's identity key as on the wire (33 bytes): store it (trust on first use)."""


@dataclass(frozen=True, slots=True)
class EncryptResult:
    kind: Literal["msg", "pkmsg"]
    """The ``<enc type=…>`` attribute."""
    ciphertext: bytes
    record: SessionRecord


def _signal_key(public: bytes) -> bytes:
    return public if len(public) == 33 else b"\x05" + public


def _root_step(root: bytes, private: bytes, public: bytes) -> tuple[bytes, bytes]:
    derived = _crypto.hkdf(_crypto.agree(private, public), root, b"WhisperRatchet", 64)
    return derived[:32], derived[32:]


def _message_keys(seed: bytes) -> tuple[bytes, bytes, bytes]:
    derived = _crypto.hkdf(seed, _crypto.ZERO_SALT, b"WhisperMessageKeys", 80)
    return derived[:32], derived[32:64], derived[64:80]


def _fill(chain: Chain, counter: int) -> Chain:
    """``chain`` with every message key up to ``counter`` derived and stored."""
    if chain.counter >= counter:
        return chain
    if counter - chain.counter > MAX_SKIP:
        raise TooFarInFutureError(f"over {MAX_SKIP} messages into the future")
    key = chain.key
    if key is None:
        raise InvalidMessageError("the message is on a closed chain")
    keys = dict(chain.message_keys)
    index = chain.counter
    while index < counter:
        index += 1
        keys[index] = _crypto.hmac_sha256(key, b"\x01")
        key = _crypto.hmac_sha256(key, b"\x02")
    return Chain(counter=index, key=key, chain_type=chain.chain_type, message_keys=keys)


def _step_ratchet(
    session: Session, chains: dict[str, Chain], remote: bytes, previous_counter: int, rng: Rng
) -> Session:
    """A new receiving chain for ``remote`` and a new sending chain for a fresh key pair."""
    last_id = b64(session.last_remote_ephemeral)
    previous = chains.get(last_id)
    if previous is not None:
        filled = _fill(previous, previous_counter)
        chains[last_id] = replace(filled, key=None)
    root, chain_key = _root_step(session.root_key, session.ephemeral_private, remote)
    chains[b64(remote)] = Chain(-1, chain_key, CHAIN_RECEIVING, {})
    own_id = b64(session.ephemeral_public)
    previous_sending = chains.pop(own_id, None)
    previous_counter_out = session.previous_counter
    if previous_sending is not None:
        previous_counter_out = previous_sending.counter
    pair = KeyPair.generate(rng)
    public = _signal_key(pair.public)
    root, chain_key = _root_step(root, pair.private, remote)
    chains[b64(public)] = Chain(-1, chain_key, CHAIN_SENDING, {})
    return replace(
        session,
        ephemeral_public=public,
        ephemeral_private=pair.private,
        last_remote_ephemeral=remote,
        previous_counter=previous_counter_out,
        root_key=root,
    )


def _decrypt_with(
    session: Session, message: SignalMessage, our_identity: bytes, rng: Rng
) -> tuple[bytes, Session]:
    """Decrypt ``message`` with one session; return the plaintext and the new session."""
    remote = _crypto.check_public(message.ratchet_key)
    chains = dict(session.chains)
    chain_id = b64(remote)
    if chain_id not in chains:
        session = _step_ratchet(session, chains, remote, message.previous_counter, rng)
    chain = chains[chain_id]
    if chain.chain_type != CHAIN_RECEIVING:
        raise InvalidMessageError("the message names our own sending chain")
    counter = message.counter
    if counter <= chain.counter and counter not in chain.message_keys:
        raise DuplicateMessageError(f"message counter {counter} was already used")
    chain = _fill(chain, counter)
    keys = dict(chain.message_keys)
    seed = keys.pop(counter)
    chains[chain_id] = replace(chain, message_keys=keys)
    cipher_key, mac_key, iv = _message_keys(seed)
    mac_input = session.remote_identity + our_identity + _VERSION + message.body
    if not hmac.compare_digest(_crypto.hmac_sha256(mac_key, mac_input)[:MAC_SIZE], message.mac):
        raise BadMacError("bad MAC")
    plaintext = _crypto.aes_cbc_decrypt(cipher_key, iv, message.ciphertext)
    return plaintext, replace(session, chains=chains, pending_pre_key=None)


def _cap_message_keys(record: SessionRecord) -> SessionRecord:
    """Drop the oldest skipped keys of the least recently used sessions beyond the cap."""
    total = sum(len(c.message_keys) for s in record.sessions.values() for c in s.chains.values())
    excess = total - MAX_RECORD_MESSAGE_KEYS
    if excess <= 0:
        return record
    sessions = dict(record.sessions)
    for key, session in sorted(sessions.items(), key=lambda item: item[1].used):
        chains = dict(session.chains)
        for chain_id, chain in chains.items():
            if excess <= 0 or not chain.message_keys:
                continue
            drop = min(excess, len(chain.message_keys))
            kept = dict(sorted(chain.message_keys.items())[drop:])
            chains[chain_id] = replace(chain, message_keys=kept)
            excess -= drop
        sessions[key] = replace(session, chains=chains)
        if excess <= 0:
            break
    return SessionRecord(sessions=sessions)


def _our_identity(identity: KeyPair) -> bytes:
    return _signal_key(identity.public)


def decrypt_message(
    record: SessionRecord | None,
    data: bytes,
    *,
    identity: KeyPair,
    randbytes: Rng,
    now_ms: int,
) -> DecryptResult:
    """Decrypt a ``msg`` (SignalMessage) with the address's sessions, most recently used first.

    ``randbytes`` supplies a new ratchet key pair when the message turns the ratchet. Raises
    ``NoSessionError`` without a session, otherwise the most telling session's error (the one
    that knows the message's ratchet key, else the most recently used one).
    """
    message = SignalMessage.parse(data)
    if record is None or not record.sessions:
        raise NoSessionError("no session for this address")
    our_identity = _our_identity(identity)
    chain_id = b64(message.ratchet_key)
    errors: list[tuple[bool, SignalError]] = []
    for session in record.by_recency():
        try:
            plaintext, updated = _decrypt_with(session, message, our_identity, randbytes)
        except SignalError as error:
            errors.append((chain_id in session.chains, error))
            continue
        updated = replace(updated, used=now_ms)
        return DecryptResult(plaintext, _cap_message_keys(with_session(record, updated)))
    knowing = [error for knows, error in errors if knows]
    raise knowing[0] if knowing else errors[0][1]


def decrypt_prekey_message(
    record: SessionRecord | None,
    data: bytes,
    *,
    identity: KeyPair,
    signed_pre_key: KeyLookup,
    one_time_pre_key: KeyLookup,
    randbytes: Rng,
    now_ms: int,
    trusted_identity: bytes | None = None,
) -> PreKeyDecryptResult:
    """Decrypt a ``pkmsg``: run responder X3DH unless a session with its base key exists.

    ``signed_pre_key`` / ``one_time_pre_key`` look our pre-keys up by id (``None``: unknown).
    ``trusted_identity``: the identity key the caller already trusts for this address (32 or
    33 bytes); a different one raises ``UntrustedIdentityError``. Leave it ``None`` to trust
    on first use and store ``remote_identity`` from the result.
    """
    message = PreKeySignalMessage.parse(data)
    remote_identity = _crypto.check_public(message.identity_key)
    base_key = _crypto.check_public(message.base_key)
    if trusted_identity is not None and _crypto.raw_public(trusted_identity) != _crypto.raw_public(
        remote_identity
    ):
        raise UntrustedIdentityError("the sender's identity key changed")
    if record is None:
        if message.registration_id is None:
            raise InvalidMessageError("a first pkmsg must carry a registration id")
        record = SessionRecord.empty()
    inner = SignalMessage.parse(message.message)
    consumed: int | None = None
    existing = record.sessions.get(b64(base_key))
    if existing is not None:
        if existing.base_key_type == BASE_KEY_OURS:
            raise InvalidMessageError("the pkmsg names a base key of our own")
        session = existing  # the sender has not seen our answer yet: same session
        working = record
    else:
        one_time: KeyPair | None = None
        if message.pre_key_id:  # libsignal treats id 0 as "no one-time pre-key"
            one_time = one_time_pre_key(message.pre_key_id)
            if one_time is None:
                raise PreKeyError(f"unknown one-time pre-key {message.pre_key_id}")
            consumed = message.pre_key_id
        signed = signed_pre_key(message.signed_pre_key_id)
        if signed is None:
            raise PreKeyError(f"unknown signed pre-key {message.signed_pre_key_id}")
        secret = (
            _FF
            + _crypto.agree(signed.private, remote_identity)
            + _crypto.agree(identity.private, base_key)
            + _crypto.agree(signed.private, base_key)
        )
        if one_time is not None:
            secret += _crypto.agree(one_time.private, base_key)
        root = _crypto.hkdf(secret, _crypto.ZERO_SALT, b"WhisperText", 32)
        session = Session(
            registration_id=message.registration_id or 0,
            ephemeral_public=signed.public,
            ephemeral_private=signed.private,
            last_remote_ephemeral=base_key,
            previous_counter=0,
            root_key=root,
            base_key=base_key,
            base_key_type=BASE_KEY_THEIRS,
            closed=OPEN,
            used=now_ms,
            created=now_ms,
            remote_identity=remote_identity,
            chains={},
        )
        working = close_open(record, now_ms)
    plaintext, updated = _decrypt_with(session, inner, _our_identity(identity), randbytes)
    updated = replace(updated, used=now_ms)
    new_record = _cap_message_keys(with_session(working, updated))
    return PreKeyDecryptResult(plaintext, new_record, consumed, remote_identity)


def encrypt(
    record: SessionRecord | None,
    plaintext: bytes,
    *,
    identity: KeyPair,
    registration_id: int,
    now_ms: int,
) -> EncryptResult:
    """Encrypt with the open session: a ``pkmsg`` until the peer has answered, then ``msg``.

    ``registration_id`` is ours (it goes into a pkmsg). Raises ``SessionNotOpenError`` (a
    ``LocalProtocolError``) when the address has no open session: run ``start_session`` first.
    """
    del now_ms  # libsignal does not mark a session used when sending; kept for symmetry
    session = None if record is None else record.open_session()
    if record is None or session is None:
        raise SessionNotOpenError("no open session for this address")
    own_id = b64(session.ephemeral_public)
    chain = session.chains.get(own_id)
    if chain is None or chain.chain_type != CHAIN_SENDING or chain.key is None:
        raise SessionNotOpenError("the open session has no sending chain")
    counter = chain.counter + 1
    seed = _crypto.hmac_sha256(chain.key, b"\x01")
    next_chain = replace(chain, counter=counter, key=_crypto.hmac_sha256(chain.key, b"\x02"))
    cipher_key, mac_key, iv = _message_keys(seed)
    body = SignalMessage.encode_body(
        session.ephemeral_public,
        counter,
        max(session.previous_counter, 0),
        _crypto.aes_cbc_encrypt(cipher_key, iv, plaintext),
    )
    our_identity = _our_identity(identity)
    mac = _crypto.hmac_sha256(mac_key, our_identity + session.remote_identity + _VERSION + body)
    message = _VERSION + body + mac[:MAC_SIZE]
    chains = dict(session.chains)
    chains[own_id] = next_chain
    new_record = with_session(record, replace(session, chains=chains))
    pending = session.pending_pre_key
    if pending is None:
        return EncryptResult("msg", message, new_record)
    wrapped = PreKeySignalMessage(
        pre_key_id=pending.pre_key_id,
        base_key=pending.base_key,
        identity_key=our_identity,
        message=message,
        registration_id=registration_id,
        signed_pre_key_id=pending.signed_key_id,
    )
    return EncryptResult("pkmsg", wrapped.encode(), new_record)


def start_session(
    record: SessionRecord | None,
    bundle: PreKeyBundle,
    *,
    identity: KeyPair,
    randbytes: Rng,
    now_ms: int,
) -> SessionRecord:
    """Initiator X3DH against ``bundle``: a new open session (the previous one is closed).

    The bundle's signed pre-key signature is not checked here, as libsignal does not either;
    ``walink.protocol.keys.xeddsa_verify`` checks it when the caller wants to.
    """
    their_identity = _signal_key(_crypto.raw_public(bundle.identity_key))
    signed_pre_key = _signal_key(_crypto.raw_public(bundle.signed_pre_key))
    base = KeyPair.generate(randbytes)
    secret = (
        _FF
        + _crypto.agree(identity.private, signed_pre_key)
        + _crypto.agree(base.private, their_identity)
        + _crypto.agree(base.private, signed_pre_key)
    )
    if bundle.pre_key is not None:
        secret += _crypto.agree(base.private, bundle.pre_key)
    root = _crypto.hkdf(secret, _crypto.ZERO_SALT, b"WhisperText", 32)
    ratchet = KeyPair.generate(randbytes)
    ratchet_public = _signal_key(ratchet.public)
    root, chain_key = _root_step(root, ratchet.private, signed_pre_key)
    base_public = _signal_key(base.public)
    session = Session(
        registration_id=bundle.registration_id,
        ephemeral_public=ratchet_public,
        ephemeral_private=ratchet.private,
        last_remote_ephemeral=signed_pre_key,
        previous_counter=0,
        root_key=root,
        base_key=base_public,
        base_key_type=BASE_KEY_OURS,
        closed=OPEN,
        used=now_ms,
        created=now_ms,
        remote_identity=their_identity,
        chains={b64(ratchet_public): Chain(-1, chain_key, CHAIN_SENDING, {})},
        pending_pre_key=PendingPreKey(
            signed_key_id=bundle.signed_pre_key_id,
            base_key=base_public,
            pre_key_id=bundle.pre_key_id if bundle.pre_key is not None else None,
        ),
    )
    return with_session(close_open(record or SessionRecord.empty(), now_ms), session)
