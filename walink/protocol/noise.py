"""Noise_XX_25519_AESGCM_SHA256 as WhatsApp Web speaks it: initiator, responder, transport cipher.

Theory of operation (docs/protocol/handshake.md). The pattern is the standard XX one::

    -> e                     ClientHello{ephemeral}
    <- e, ee, s, es          ServerHello{ephemeral, static, payload = CertChain}
    -> s, se                 ClientFinish{static, payload = ClientPayload}

with three WhatsApp details: the protocol name is exactly 32 bytes and so is used as ``h`` and
``ck`` without hashing; the prologue is the 4-byte ``WA 06 03`` header (never the ``ED`` routing
prefix); and during the handshake one nonce counter serves both directions, reset by every MixKey.
The split gives ``HKDF(ck, "")[0:32]`` for client → server and ``[32:64]`` for server → client.
The nonce is 8 zero bytes then a big-endian 32-bit counter, so a key is good for 2^32 messages.

Both roles are small sans-IO state objects that deal in ``HandshakeMessage`` protobuf bytes; the
intro header and the 3-byte framing belong to ``frames.py``. Every failure is typed: the peer's
mistakes raise ``RemoteProtocolError`` subclasses, the caller's raise ``LocalProtocolError``
subclasses, and after any failure the object refuses every later call (sticky error state).
"""

from __future__ import annotations

import enum
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError

from walink.protocol._noise_crypto import hkdf as _hkdf
from walink.protocol._noise_crypto import mix as _mix
from walink.protocol._noise_crypto import seal as _seal
from walink.protocol._noise_crypto import unseal as _unseal
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.proto import wa_pb2

__all__ = [
    "KEY_SIZE",
    "MAX_COUNTER",
    "NOISE_MODE",
    "TAG_SIZE",
    "WA_PROLOGUE",
    "ClientFinishResult",
    "HandshakeKeyError",
    "HandshakeMessageError",
    "HandshakeStateError",
    "KeyPairLike",
    "NoiseDecryptError",
    "NoiseInitiator",
    "NoiseResponder",
    "RandomBytes",
    "ReceiveCounterExhaustedError",
    "SendCounterExhaustedError",
    "ServerHelloResult",
    "ServerVerifier",
    "StaticKey",
    "TransportCipher",
    "TransportStateError",
]

NOISE_MODE = b"Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"
"""The protocol name; being exactly 32 bytes it is the initial ``h`` and ``ck`` as-is."""

WA_PROLOGUE = b"WA\x06\x03"
"""The Noise prologue: the WA intro header, even when an ``ED`` routing prefix is sent before it."""

KEY_SIZE = 32
TAG_SIZE = 16
MAX_COUNTER = 2**32 - 1
"""The last nonce counter value a key may use: the IV only has 32 bits for it."""

_COUNTER_END = MAX_COUNTER + 1
"""A counter's value once every nonce is used: allowed, and every later use then fails."""
_ENCRYPTED_KEY_SIZE = KEY_SIZE + TAG_SIZE
_IV_PREFIX = bytes(8)
_EMPTY = b""


# --- errors -------------------------------------------------------------------------------------


class NoiseDecryptError(RemoteProtocolError):
    """An AES-GCM tag did not verify: wrong key, wrong counter, or tampered bytes."""


class HandshakeMessageError(RemoteProtocolError):
    """A handshake message does not parse, misses a field, or has a field of the wrong size."""


class HandshakeKeyError(RemoteProtocolError):
    """The peer's public key gives no usable Diffie-Hellman secret (a low-order point)."""


class ReceiveCounterExhaustedError(RemoteProtocolError):
    """The peer sent more messages than one key may decrypt (2^32)."""


class SendCounterExhaustedError(LocalProtocolError):
    """The caller asked to encrypt more messages than one key may encrypt (2^32)."""


class HandshakeStateError(LocalProtocolError):
    """A handshake step was called out of order, or after the handshake had failed."""


class TransportStateError(LocalProtocolError):
    """The transport cipher was used after a failure had broken it."""


# --- keys ---------------------------------------------------------------------------------------


class KeyPairLike(Protocol):
    """Any X25519 key pair with raw 32-byte ``private`` and ``public`` (``keys.KeyPair`` fits)."""

    @property
    def private(self) -> bytes: ...

    @property
    def public(self) -> bytes: ...


StaticKey = KeyPairLike | X25519PrivateKey
"""A long-term key: a key pair, or a prepared ``X25519PrivateKey`` (saves a scalar multiplication
per handshake, which a server answering many clients wants)."""

RandomBytes = Callable[[int], bytes]
"""An injected random source with the signature of ``os.urandom``."""


def _private_key(key: StaticKey) -> X25519PrivateKey:
    if isinstance(key, X25519PrivateKey):
        return key
    return _load_private(bytes(key.private))


def _load_private(private: bytes) -> X25519PrivateKey:
    try:
        return X25519PrivateKey.from_private_bytes(private)
    except ValueError as exc:
        raise LocalProtocolError(f"an X25519 private key is 32 bytes: {exc}") from exc


@functools.lru_cache(maxsize=16)
def _prepared_static(private: bytes) -> X25519PrivateKey:
    # Loading a private key derives its public key: a full X25519 scalar multiplication, as
    # costly as a DH. A static key is the same for every handshake of a device (and of a
    # server), so it is loaded once; the few a process uses fit this small cache.
    return _load_private(private)


def _static_key(key: StaticKey) -> X25519PrivateKey:
    if isinstance(key, X25519PrivateKey):
        return key
    return _prepared_static(bytes(key.private))


def _ephemeral_key(ephemeral: KeyPairLike | None, rng: RandomBytes | None) -> X25519PrivateKey:
    if (ephemeral is None) == (rng is None):
        raise LocalProtocolError("give exactly one of an ephemeral key pair or an rng")
    if ephemeral is not None:
        return _private_key(ephemeral)
    assert rng is not None
    seed = rng(KEY_SIZE)
    if len(seed) != KEY_SIZE:
        raise LocalProtocolError(f"the rng returned {len(seed)} bytes, not {KEY_SIZE}")
    # X25519 clamps the scalar itself, so any 32 random bytes are a valid private key.
    return X25519PrivateKey.from_private_bytes(seed)


def _public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


@functools.lru_cache(maxsize=16)
def _static_public(key: X25519PrivateKey) -> bytes:
    # A static key's public half goes into every handshake of its owner: derived once per key
    # object (keyed by identity; the prepared static keys above are the same object each time).
    return _public_bytes(key)


def _peer_key(public: bytes) -> X25519PublicKey:
    # Loaded once per handshake: each side agrees with the peer's ephemeral key twice, and
    # loading a key object costs about as much as a hash of the transcript.
    try:
        return X25519PublicKey.from_public_bytes(public)
    except ValueError as exc:  # sizes are checked before this point: defensive
        raise HandshakeKeyError(f"unusable peer public key: {exc}") from exc


def _dh(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    # The only failure left is an all-zero shared secret, which a low-order public key
    # produces and which would make the handshake keys guessable.
    try:
        return private.exchange(public)
    except ValueError as exc:
        raise HandshakeKeyError(f"unusable peer public key: {exc}") from exc


# --- the symmetric state -------------------------------------------------------------------------
#
# Its primitives (HKDF, AES-GCM with MixHash, MixHash) are _noise_crypto's: a C twin of the
# pure-Python reference where one was built, the reference otherwise.

# h after mixing the prologue depends on the prologue alone: the usual one is hashed once.
_WA_PROLOGUE_HASH = hashlib.sha256(NOISE_MODE + WA_PROLOGUE).digest()


class _SymmetricState:
    """h, ck and the handshake key with its single counter shared by both directions."""

    __slots__ = ("_ck", "_counter", "_key", "h")

    def __init__(self, prologue: bytes) -> None:
        self._ck = NOISE_MODE
        self._key: bytes | None = None
        self._counter = 0
        if prologue == WA_PROLOGUE:
            self.h = _WA_PROLOGUE_HASH
        else:
            self.h = NOISE_MODE
            self.mix_hash(prologue)

    def mix_hash(self, data: bytes) -> None:
        self.h = _mix(self.h, data)

    def mix_key(self, ikm: bytes) -> None:
        self._ck, self._key = _hkdf(self._ck, ikm)
        self._counter = 0

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        key = self._key
        if key is None:  # unreachable from the public API: in XX a MixKey comes first
            raise HandshakeStateError("no handshake key yet")
        ciphertext, self.h = _seal(key, self._counter, plaintext, self.h)
        self._counter += 1
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes, what: str) -> bytes:
        key = self._key
        if key is None:  # unreachable from the public API: in XX a MixKey comes first
            raise HandshakeStateError("no handshake key yet")
        opened = _unseal(key, self._counter, ciphertext, self.h)
        if opened is None:
            raise NoiseDecryptError(f"{what}: authentication tag mismatch")
        plaintext, self.h = opened
        self._counter += 1
        return plaintext

    def split(self) -> tuple[bytes, bytes]:
        """The (client → server, server → client) transport keys."""
        return _hkdf(self._ck, _EMPTY)


# --- transport ----------------------------------------------------------------------------------


class TransportCipher:
    """AES-256-GCM after the split: one key and one 32-bit counter per direction, empty AAD.

    A failed decryption breaks the cipher for good: the stream is no longer trustworthy, and
    the counters could no longer be kept in step with the peer's.
    """

    __slots__ = ("_broken", "_decrypt", "_decrypt_counter", "_encrypt", "_encrypt_counter")

    def __init__(
        self,
        *,
        encrypt_key: bytes,
        decrypt_key: bytes,
        encrypt_counter: int = 0,
        decrypt_counter: int = 0,
    ) -> None:
        """Counters other than 0 are for tests and replays; a live session starts at 0."""
        if len(encrypt_key) != KEY_SIZE or len(decrypt_key) != KEY_SIZE:
            raise LocalProtocolError("transport keys are 32 bytes")
        # Spelled out rather than looped: this runs at the end of every handshake.
        if not 0 <= encrypt_counter <= _COUNTER_END:
            raise LocalProtocolError(f"a counter is in 0..2^32, not {encrypt_counter}")
        if not 0 <= decrypt_counter <= _COUNTER_END:
            raise LocalProtocolError(f"a counter is in 0..2^32, not {decrypt_counter}")
        self._encrypt = AESGCM(encrypt_key)
        self._decrypt = AESGCM(decrypt_key)
        self._encrypt_counter = encrypt_counter
        self._decrypt_counter = decrypt_counter
        self._broken = False

    @property
    def encrypt_counter(self) -> int:
        """How many messages this side has encrypted."""
        return self._encrypt_counter

    @property
    def decrypt_counter(self) -> int:
        """How many messages this side has decrypted."""
        return self._decrypt_counter

    def _check_usable(self) -> None:
        if self._broken:
            raise TransportStateError("the transport cipher failed earlier and is unusable")

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt one frame payload: ciphertext followed by the 16-byte tag."""
        self._check_usable()
        counter = self._encrypt_counter
        if counter > MAX_COUNTER:
            self._broken = True
            raise SendCounterExhaustedError("2^32 messages sent with one key: reconnect")
        self._encrypt_counter = counter + 1
        return self._encrypt.encrypt(_IV_PREFIX + counter.to_bytes(4, "big"), plaintext, None)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt one frame payload, or raise ``NoiseDecryptError`` and break the cipher."""
        self._check_usable()
        counter = self._decrypt_counter
        if counter > MAX_COUNTER:
            self._broken = True
            raise ReceiveCounterExhaustedError("the peer sent more than 2^32 messages on one key")
        if len(ciphertext) < TAG_SIZE:
            self._broken = True
            raise NoiseDecryptError(f"a frame of {len(ciphertext)} bytes cannot hold a tag")
        try:
            plaintext = self._decrypt.decrypt(
                _IV_PREFIX + counter.to_bytes(4, "big"), ciphertext, None
            )
        except InvalidTag as exc:
            self._broken = True
            raise NoiseDecryptError(f"frame {counter}: authentication tag mismatch") from exc
        self._decrypt_counter = counter + 1
        return plaintext


# --- handshake messages -------------------------------------------------------------------------
#
# Each HandshakeMessage has one shape on the wire as protobuf writes it: the one sub-message
# (field 2 ClientHello, 3 ServerHello, 4 ClientFinish), its bytes fields in field order, each a
# tag byte, a varint length and the bytes. That shape is written here directly, which gives
# protobuf's exact bytes without building message objects (three messages per handshake, each
# read once). Reading accepts exactly that shape directly; anything else (other field orders,
# unknown or repeated fields, a malformed message) goes to protobuf, as everything used to, so
# the fields read and the errors raised are protobuf's.

_CLIENT_HELLO_HEAD = b"\x12\x22\x0a\x20"
"""Field 2, 34 bytes; inside, field 1 (ephemeral), 32 bytes."""
_CLIENT_HELLO_SIZE = len(_CLIENT_HELLO_HEAD) + KEY_SIZE
_SERVER_HELLO_TAG = b"\x1a"  # field 3: also the tag of ServerHello.payload inside it
_EPHEMERAL_HEAD = b"\x0a\x20"  # ServerHello.ephemeral: field 1, 32 bytes
_SERVER_STATIC_HEAD = b"\x12\x30"  # ServerHello.static: field 2, 48 bytes
_CLIENT_FINISH_TAG = b"\x22"  # field 4
_CLIENT_STATIC_HEAD = b"\x0a\x30"  # ClientFinish.static: field 1, 48 bytes
_CLIENT_PAYLOAD_TAG = b"\x12"  # ClientFinish.payload: field 2
_KEYS_SIZE = 2 + KEY_SIZE + 2 + _ENCRYPTED_KEY_SIZE
"""A ServerHello's ephemeral and static fields, tags and lengths included."""


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:  # every handshake payload: spelled out
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_at(data: bytes, position: int) -> tuple[int, int]:
    """The 1- or 2-byte varint at ``position`` and the position after it; (-1, 0) otherwise.

    Longer lengths (16 KiB and more) and overlong encodings are left to protobuf.
    """
    head = data[position : position + 2]
    if not head:
        return -1, 0
    first = head[0]
    if first < 0x80:
        return first, position + 1
    if len(head) == 2 and 0 < head[1] < 0x80:  # minimal encodings only, as protobuf writes
        return (first & 0x7F) | head[1] << 7, position + 2
    return -1, 0


# The writers take fields of the sizes the handshake gives them (keys of 32 bytes, encrypted keys
# of 48): those sizes are in the constant heads.


def _encode_client_hello(ephemeral: bytes) -> bytes:
    return _CLIENT_HELLO_HEAD + ephemeral


def _encode_server_hello(ephemeral: bytes, static: bytes, payload: bytes) -> bytes:
    payload_length = _varint(len(payload))
    size = _KEYS_SIZE + 1 + len(payload_length) + len(payload)
    return b"".join(
        (
            _SERVER_HELLO_TAG,
            _varint(size),
            _EPHEMERAL_HEAD,
            ephemeral,
            _SERVER_STATIC_HEAD,
            static,
            _SERVER_HELLO_TAG,
            payload_length,
            payload,
        )
    )


def _encode_client_finish(static: bytes, payload: bytes) -> bytes:
    payload_length = _varint(len(payload))
    size = 2 + _ENCRYPTED_KEY_SIZE + 1 + len(payload_length) + len(payload)
    return b"".join(
        (
            _CLIENT_FINISH_TAG,
            _varint(size),
            _CLIENT_STATIC_HEAD,
            static,
            _CLIENT_PAYLOAD_TAG,
            payload_length,
            payload,
        )
    )


# The readers also check the fields' sizes; the shape they read directly has the keys' sizes in
# its heads, which leaves the payload's to check.


def _decode_client_hello(data: bytes) -> bytes:
    """ClientHello.ephemeral."""
    if len(data) == _CLIENT_HELLO_SIZE and data.startswith(_CLIENT_HELLO_HEAD):
        return data[len(_CLIENT_HELLO_HEAD) :]
    message = _parse_handshake(data)
    if not message.HasField("client_hello"):
        raise HandshakeMessageError("expected a ClientHello, got none")
    return _require_size(message.client_hello.ephemeral, KEY_SIZE, "ClientHello.ephemeral")


def _decode_server_hello(data: bytes) -> tuple[bytes, bytes, bytes]:
    """ServerHello's (ephemeral, static, payload)."""
    if data.startswith(_SERVER_HELLO_TAG):
        size, start = _length_at(data, 1)
        payload_tag = start + _KEYS_SIZE
        if (
            size == len(data) - start
            and data.startswith(_EPHEMERAL_HEAD, start)
            and data.startswith(_SERVER_STATIC_HEAD, start + 2 + KEY_SIZE)
            and data.startswith(_SERVER_HELLO_TAG, payload_tag)
        ):
            payload_size, payload_start = _length_at(data, payload_tag + 1)
            if payload_size == len(data) - payload_start and payload_size >= TAG_SIZE:
                return (
                    data[start + 2 : start + 2 + KEY_SIZE],
                    data[start + 4 + KEY_SIZE : payload_tag],
                    data[payload_start:],
                )
    message = _parse_handshake(data)
    if not message.HasField("server_hello"):
        raise HandshakeMessageError("expected a ServerHello, got none")
    hello = message.server_hello
    return (
        _require_size(hello.ephemeral, KEY_SIZE, "ServerHello.ephemeral"),
        _require_size(hello.static, _ENCRYPTED_KEY_SIZE, "ServerHello.static"),
        _require_ciphertext(hello.payload, "ServerHello.payload"),
    )


def _decode_client_finish(data: bytes) -> tuple[bytes, bytes]:
    """ClientFinish's (static, payload)."""
    if data.startswith(_CLIENT_FINISH_TAG):
        size, start = _length_at(data, 1)
        payload_tag = start + 2 + _ENCRYPTED_KEY_SIZE
        if (
            size == len(data) - start
            and data.startswith(_CLIENT_STATIC_HEAD, start)
            and data.startswith(_CLIENT_PAYLOAD_TAG, payload_tag)
        ):
            payload_size, payload_start = _length_at(data, payload_tag + 1)
            if payload_size == len(data) - payload_start and payload_size >= TAG_SIZE:
                return data[start + 2 : payload_tag], data[payload_start:]
    message = _parse_handshake(data)
    if not message.HasField("client_finish"):
        raise HandshakeMessageError("expected a ClientFinish, got none")
    finish = message.client_finish
    return (
        _require_size(finish.static, _ENCRYPTED_KEY_SIZE, "ClientFinish.static"),
        _require_ciphertext(finish.payload, "ClientFinish.payload"),
    )


def _parse_handshake(data: bytes) -> wa_pb2.HandshakeMessage:
    message = wa_pb2.HandshakeMessage()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise HandshakeMessageError(f"undecodable HandshakeMessage: {exc}") from exc
    return message


def _require_size(value: bytes, size: int, what: str) -> bytes:
    if len(value) != size:
        raise HandshakeMessageError(f"{what} is {len(value)} bytes, not {size}")
    return value


def _require_ciphertext(value: bytes, what: str) -> bytes:
    if len(value) < TAG_SIZE:
        raise HandshakeMessageError(f"{what} is {len(value)} bytes, too short for a tag")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHelloResult:
    """What the initiator learned from a ServerHello, for the caller's certificate check."""

    server_static: bytes
    """The server's 32-byte static public key; the leaf certificate must carry this key."""
    cert_chain: bytes
    """The decrypted payload: an encoded ``CertChain``, not yet verified by this module."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientFinishResult:
    """What the responder learned from a ClientFinish."""

    client_static: bytes
    """The client's 32-byte static public key (its ``noiseKey``)."""
    payload: bytes
    """The decrypted payload: an encoded ``ClientPayload``, not parsed by this module."""


ServerVerifier = Callable[[bytes, bytes], object]
"""``verify(cert_chain, server_static)``: raise (a ``RemoteProtocolError``) to reject the server."""


class _Step(enum.Enum):
    START = enum.auto()
    HELLO = enum.auto()
    FINISH = enum.auto()
    TRANSPORT = enum.auto()
    FAILED = enum.auto()


class _Handshake:
    """The step bookkeeping both roles share: order checks and the sticky failure."""

    # Class-level starting values, overwritten per instance as the steps go: no __init__ call
    # for every handshake.
    _step = _Step.START
    _transport: TransportCipher | None = None

    def _enter(self, expected: _Step, action: str) -> None:
        if self._step is _Step.FAILED:
            raise HandshakeStateError(f"cannot {action}: the handshake failed earlier")
        if self._step is not expected:
            raise HandshakeStateError(
                f"cannot {action} in step {self._step.name}, only in {expected.name}"
            )

    def _fail(self) -> None:
        self._step = _Step.FAILED
        self._transport = None

    @property
    def transport(self) -> TransportCipher:
        """The transport cipher pair, once the handshake has completed."""
        if self._transport is None:
            raise HandshakeStateError(f"no transport cipher in step {self._step.name}")
        return self._transport

    @property
    def failed(self) -> bool:
        """Whether a step has failed (every later call raises ``HandshakeStateError``)."""
        return self._step is _Step.FAILED


class NoiseInitiator(_Handshake):
    """The client role: ``client_hello()``, ``receive_server_hello(data)``, ``client_finish(p)``."""

    def __init__(
        self,
        *,
        static: StaticKey,
        ephemeral: KeyPairLike | None = None,
        rng: RandomBytes | None = None,
        prologue: bytes = WA_PROLOGUE,
        verify_server: ServerVerifier | None = None,
    ) -> None:
        """``static`` is the long-term noise key; pass either ``ephemeral`` or ``rng``.

        ``verify_server``, when given, checks the certificate chain inside
        ``receive_server_hello`` and fails the handshake if it raises.
        """
        self._static = _static_key(static)
        self._ephemeral = _ephemeral_key(ephemeral, rng)
        self._ephemeral_public = self._ephemeral.public_key().public_bytes_raw()
        self._verify_server = verify_server
        self._state = _SymmetricState(prologue)
        self._server_ephemeral: X25519PublicKey | None = None

    def client_hello(self) -> bytes:
        """The ClientHello ``HandshakeMessage`` bytes (to be framed after the intro header)."""
        self._enter(_Step.START, "send ClientHello")
        self._state.mix_hash(self._ephemeral_public)
        self._step = _Step.HELLO
        return _encode_client_hello(self._ephemeral_public)

    def receive_server_hello(self, data: bytes) -> ServerHelloResult:
        """Consume the ServerHello; return the server static key and the decrypted cert chain."""
        self._enter(_Step.HELLO, "receive ServerHello")
        try:
            result = self._receive_server_hello(data)
            if self._verify_server is not None:
                self._verify_server(result.cert_chain, result.server_static)
        except BaseException:
            self._fail()
            raise
        self._step = _Step.FINISH
        return result

    def _receive_server_hello(self, data: bytes) -> ServerHelloResult:
        ephemeral, encrypted_static, encrypted_chain = _decode_server_hello(bytes(data))
        state = self._state
        server_ephemeral = _peer_key(ephemeral)
        state.mix_hash(ephemeral)
        state.mix_key(_dh(self._ephemeral, server_ephemeral))
        server_static = state.decrypt_and_hash(encrypted_static, "ServerHello.static")
        state.mix_key(_dh(self._ephemeral, _peer_key(server_static)))
        cert_chain = state.decrypt_and_hash(encrypted_chain, "ServerHello.payload")
        self._server_ephemeral = server_ephemeral
        return ServerHelloResult(server_static=server_static, cert_chain=cert_chain)

    def client_finish(self, payload: bytes) -> bytes:
        """The ClientFinish bytes carrying ``payload`` (an encoded ClientPayload); then split."""
        self._enter(_Step.FINISH, "send ClientFinish")
        try:
            state = self._state
            if self._server_ephemeral is None:  # unreachable: _enter checked the step
                raise HandshakeStateError("no ServerHello yet")
            encrypted_static = state.encrypt_and_hash(_static_public(self._static))
            state.mix_key(_dh(self._static, self._server_ephemeral))
            encrypted_payload = state.encrypt_and_hash(bytes(payload))
            to_server, to_client = state.split()
        except BaseException:
            self._fail()
            raise
        self._transport = TransportCipher(encrypt_key=to_server, decrypt_key=to_client)
        self._step = _Step.TRANSPORT
        return _encode_client_finish(encrypted_static, encrypted_payload)

    @property
    def handshake_hash(self) -> bytes:
        """The current ``h`` (after the handshake: the channel binding value)."""
        return self._state.h


class NoiseResponder(_Handshake):
    """The server role: ``receive_client_hello(data)``, ``server_hello(chain)``, then
    ``receive_client_finish(data)``."""

    def __init__(
        self,
        *,
        static: StaticKey,
        ephemeral: KeyPairLike | None = None,
        rng: RandomBytes | None = None,
        prologue: bytes = WA_PROLOGUE,
    ) -> None:
        """``static`` is the key the leaf certificate names; pass ``ephemeral`` or ``rng``."""
        self._static = _static_key(static)
        self._ephemeral = _ephemeral_key(ephemeral, rng)
        self._state = _SymmetricState(prologue)
        self._client_ephemeral: X25519PublicKey | None = None

    def receive_client_hello(self, data: bytes) -> None:
        """Consume the ClientHello ``HandshakeMessage`` bytes (intro header and framing removed)."""
        self._enter(_Step.START, "receive ClientHello")
        try:
            ephemeral = _decode_client_hello(bytes(data))
            client_ephemeral = _peer_key(ephemeral)
        except BaseException:
            self._fail()
            raise
        self._state.mix_hash(ephemeral)
        self._client_ephemeral = client_ephemeral
        self._step = _Step.HELLO

    def server_hello(self, cert_chain: bytes) -> bytes:
        """The ServerHello bytes, carrying ``cert_chain`` (an encoded CertChain) encrypted."""
        self._enter(_Step.HELLO, "send ServerHello")
        try:
            state = self._state
            if self._client_ephemeral is None:  # unreachable: _enter checked the step
                raise HandshakeStateError("no ClientHello yet")
            ephemeral_public = self._ephemeral.public_key().public_bytes_raw()
            state.mix_hash(ephemeral_public)
            state.mix_key(_dh(self._ephemeral, self._client_ephemeral))
            encrypted_static = state.encrypt_and_hash(_static_public(self._static))
            state.mix_key(_dh(self._static, self._client_ephemeral))
            encrypted_chain = state.encrypt_and_hash(bytes(cert_chain))
        except BaseException:
            self._fail()
            raise
        self._step = _Step.FINISH
        return _encode_server_hello(ephemeral_public, encrypted_static, encrypted_chain)

    def receive_client_finish(self, data: bytes) -> ClientFinishResult:
        """Consume the ClientFinish; return the client static key and ClientPayload; then split."""
        self._enter(_Step.FINISH, "receive ClientFinish")
        try:
            encrypted_static, encrypted_payload = _decode_client_finish(bytes(data))
            state = self._state
            client_static = state.decrypt_and_hash(encrypted_static, "ClientFinish.static")
            state.mix_key(_dh(self._ephemeral, _peer_key(client_static)))
            payload = state.decrypt_and_hash(encrypted_payload, "ClientFinish.payload")
            to_server, to_client = state.split()
        except BaseException:
            self._fail()
            raise
        self._transport = TransportCipher(encrypt_key=to_client, decrypt_key=to_server)
        self._step = _Step.TRANSPORT
        return ClientFinishResult(client_static=client_static, payload=payload)

    @property
    def handshake_hash(self) -> bytes:
        """The current ``h`` (after the handshake: the channel binding value)."""
        return self._state.h
