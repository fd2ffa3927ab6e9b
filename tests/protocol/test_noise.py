"""Noise XX as WhatsApp speaks it: our initiator against our responder, vectors, every failure."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol import _noise_crypto, noise
from walink.protocol.certs import (
    LeafKeyMismatchError,
    make_cert_chain,
    make_test_root,
    verify_cert_chain,
)
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.keys import KeyPair
from walink.protocol.noise import (
    MAX_COUNTER,
    NOISE_MODE,
    WA_PROLOGUE,
    HandshakeKeyError,
    HandshakeMessageError,
    HandshakeStateError,
    NoiseDecryptError,
    NoiseInitiator,
    NoiseResponder,
    ReceiveCounterExhaustedError,
    SendCounterExhaustedError,
    TransportCipher,
    TransportStateError,
)
from walink.protocol.proto import wa_pb2

# "pure" runs the reference beside the C twin; without the twin, "loaded" is the reference.
PRIMITIVE_VARIANTS = ["loaded", "pure"] if _noise_crypto.ACCELERATED else ["loaded"]


@pytest.fixture(scope="module", autouse=True, params=PRIMITIVE_VARIANTS)
def primitives(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs on the loaded symmetric primitives and, beside a C twin, on the
    pure-Python reference (test_noise_crypto.py holds the two byte-exact directly)."""
    chosen = _noise_crypto.PURE if request.param == "pure" else None
    with pytest.MonkeyPatch.context() as patch:
        if chosen is not None:
            patch.setattr(noise, "_hkdf", chosen.hkdf)
            patch.setattr(noise, "_seal", chosen.seal)
            patch.setattr(noise, "_unseal", chosen.unseal)
            patch.setattr(noise, "_mix", chosen.mix)
        yield request.param


def _fixed_key(label: str) -> KeyPair:
    return KeyPair.from_private(hashlib.sha256(f"walink noise test: {label}".encode()).digest())


CLIENT_STATIC = _fixed_key("client static")
CLIENT_EPHEMERAL = _fixed_key("client ephemeral")
SERVER_STATIC = _fixed_key("server static")
SERVER_EPHEMERAL = _fixed_key("server ephemeral")
CERT_CHAIN = b"stand-in for an encoded CertChain"
CLIENT_PAYLOAD = b"stand-in for an encoded ClientPayload"

# The transcript of one handshake with the fixed keys above. Pinned so that any change to the
# byte-level behaviour (hash order, counters, HKDF, IV layout, protobuf layout) shows up here;
# test_noise_peer.py checks the same code against Baileys.
VECTOR_CLIENT_HELLO = "12220a201e6d2f002805e2404251e5ff169916364acb8224f62936f4c83a90b3b2011d3c"
VECTOR_SERVER_HELLO = (
    "1a87010a207d142ea43759bdc84ce3892a5797ddbe28c92e2a7ade33f11cc54055ff042143123019"
    "03b2b6b047b6bba425c4bec376479db617a808cbef5e947114d4f49eba8f3370cf9eea564620e521"
    "eedca3a7b5f3c01a31fb40b977e28423f053b107f5438963be80dede65b17ad95aa81b44a8f71f31"
    "9e5ef0c02b6c39afe97aec2f1f63f8286bf9"
)
VECTOR_CLIENT_FINISH = (
    "22690a30568e52043dea35ed9bda225402e5dd365b7ae8c57e3b572d5ec627179fb46533c6164fef"
    "7cce48381aa6627764519e251235de55a9cc29bccf706205febd29948caac524dd50452c3efded47"
    "c8825b5c7540d5fca79657480f02dc31b2c339e54198db1711d82e"
)
VECTOR_HANDSHAKE_HASH = "bbfd19eb30a76948e573c7f59d3cc2eba03e6a6658574e619fb837bbfd2528a4"
VECTOR_CLIENT_TO_SERVER_KEY = "880cc9d48b20acfd87ce8d5d3f94148809320483b5fe6bfe8261f73e75dd83df"
VECTOR_SERVER_TO_CLIENT_KEY = "02ab831fe74ddc35cce524f941a9101d577a109dc11eeab32a36da1cf9fcdbb5"


def _pair(
    *, verify_server: Callable[[bytes, bytes], object] | None = None
) -> tuple[NoiseInitiator, NoiseResponder]:
    initiator = NoiseInitiator(
        static=CLIENT_STATIC, ephemeral=CLIENT_EPHEMERAL, verify_server=verify_server
    )
    responder = NoiseResponder(static=SERVER_STATIC, ephemeral=SERVER_EPHEMERAL)
    return initiator, responder


def _handshake() -> tuple[NoiseInitiator, NoiseResponder, list[bytes]]:
    initiator, responder = _pair()
    client_hello = initiator.client_hello()
    responder.receive_client_hello(client_hello)
    server_hello = responder.server_hello(CERT_CHAIN)
    initiator.receive_server_hello(server_hello)
    client_finish = initiator.client_finish(CLIENT_PAYLOAD)
    responder.receive_client_finish(client_finish)
    return initiator, responder, [client_hello, server_hello, client_finish]


def _iv(counter: int) -> bytes:
    return bytes(8) + counter.to_bytes(4, "big")


def _up_to_server_hello() -> tuple[NoiseInitiator, NoiseResponder, bytes]:
    initiator, responder = _pair()
    responder.receive_client_hello(initiator.client_hello())
    return initiator, responder, responder.server_hello(CERT_CHAIN)


def _up_to_client_finish() -> tuple[NoiseInitiator, NoiseResponder, bytes]:
    initiator, responder, server_hello = _up_to_server_hello()
    initiator.receive_server_hello(server_hello)
    return initiator, responder, initiator.client_finish(CLIENT_PAYLOAD)


def _server_hello_with(**fields: bytes) -> bytes:
    """A ServerHello whose fields are the genuine ones except those given."""
    _, _, genuine = _up_to_server_hello()
    message = wa_pb2.HandshakeMessage()
    message.ParseFromString(genuine)
    for name, value in fields.items():
        setattr(message.server_hello, name, value)
    return message.SerializeToString()


def _client_finish_with(**fields: bytes) -> bytes:
    _, _, genuine = _up_to_client_finish()
    message = wa_pb2.HandshakeMessage()
    message.ParseFromString(genuine)
    for name, value in fields.items():
        setattr(message.client_finish, name, value)
    return message.SerializeToString()


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


# --- the happy path ----------------------------------------------------------------------------


def test_constants_match_the_facts_sheet() -> None:
    assert NOISE_MODE.hex() == "4e6f6973655f58585f32353531395f41455347434d5f53484132353600000000"
    assert bytes.fromhex("57410603") == WA_PROLOGUE


def test_transcript_vector() -> None:
    initiator, responder, messages = _handshake()
    assert [m.hex() for m in messages] == [
        VECTOR_CLIENT_HELLO,
        VECTOR_SERVER_HELLO,
        VECTOR_CLIENT_FINISH,
    ]
    assert initiator.handshake_hash.hex() == VECTOR_HANDSHAKE_HASH
    assert responder.handshake_hash.hex() == VECTOR_HANDSHAKE_HASH
    # The transport keys are not exposed; a GCM tag under the pinned key and IV(0) pins the key.
    probe = b"probe"
    to_server = AESGCM(bytes.fromhex(VECTOR_CLIENT_TO_SERVER_KEY))
    to_client = AESGCM(bytes.fromhex(VECTOR_SERVER_TO_CLIENT_KEY))
    assert initiator.transport.encrypt(probe) == to_server.encrypt(_iv(0), probe, None)
    assert responder.transport.encrypt(probe) == to_client.encrypt(_iv(0), probe, None)


def test_client_hello_wire_layout() -> None:
    # docs/protocol/handshake.md#noise-steps: field 2 (clientHello), length 34, then field 1
    # (ephemeral), length 32.
    initiator, _ = _pair()
    assert initiator.client_hello() == bytes.fromhex("12220a20") + CLIENT_EPHEMERAL.public


def test_both_sides_learn_each_others_keys_and_payloads() -> None:
    initiator, responder = _pair()
    responder.receive_client_hello(initiator.client_hello())
    server = initiator.receive_server_hello(responder.server_hello(CERT_CHAIN))
    assert server.server_static == SERVER_STATIC.public
    assert server.cert_chain == CERT_CHAIN
    client = responder.receive_client_finish(initiator.client_finish(CLIENT_PAYLOAD))
    assert client.client_static == CLIENT_STATIC.public
    assert client.payload == CLIENT_PAYLOAD


def test_random_keys_from_an_injected_rng_are_deterministic() -> None:
    def transcript() -> list[bytes]:
        stream = iter(hashlib.sha256(bytes([i])).digest() for i in range(10))
        initiator = NoiseInitiator(static=CLIENT_STATIC, rng=lambda n: next(stream)[:n])
        responder = NoiseResponder(static=SERVER_STATIC, rng=lambda n: next(stream)[:n])
        hello = initiator.client_hello()
        responder.receive_client_hello(hello)
        server_hello = responder.server_hello(CERT_CHAIN)
        initiator.receive_server_hello(server_hello)
        finish = initiator.client_finish(CLIENT_PAYLOAD)
        responder.receive_client_finish(finish)
        return [hello, server_hello, finish]

    first = transcript()
    assert transcript() == first
    assert first[0] != _handshake()[2][0]


def test_prepared_private_keys_give_the_same_transcript() -> None:
    def prepared(pair: KeyPair) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(pair.private)

    initiator = NoiseInitiator(static=prepared(CLIENT_STATIC), ephemeral=CLIENT_EPHEMERAL)
    responder = NoiseResponder(static=prepared(SERVER_STATIC), ephemeral=SERVER_EPHEMERAL)
    hello = initiator.client_hello()
    responder.receive_client_hello(hello)
    server_hello = responder.server_hello(CERT_CHAIN)
    initiator.receive_server_hello(server_hello)
    finish = initiator.client_finish(CLIENT_PAYLOAD)
    responder.receive_client_finish(finish)
    assert [hello, server_hello, finish] == _handshake()[2]


def test_a_static_key_pair_is_loaded_once_for_every_handshake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    noise._prepared_static.cache_clear()
    loads: list[bytes] = []
    real = X25519PrivateKey.from_private_bytes

    def counting(data: bytes) -> X25519PrivateKey:
        loads.append(bytes(data))
        return real(data)

    monkeypatch.setattr(X25519PrivateKey, "from_private_bytes", staticmethod(counting))
    for _ in range(3):
        transcript = _handshake()[2]
        assert transcript == _handshake()[2]
    # the two static keys once each; the fixed ephemeral keys on every handshake (six of them)
    assert loads.count(CLIENT_STATIC.private) == 1
    assert loads.count(SERVER_STATIC.private) == 1
    assert loads.count(CLIENT_EPHEMERAL.private) == 6
    with pytest.raises(LocalProtocolError):
        NoiseInitiator(static=_ShortKey(), ephemeral=CLIENT_EPHEMERAL)


def test_each_peer_public_key_is_loaded_once_per_handshake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[bytes] = []
    real = X25519PublicKey.from_public_bytes

    def counting(data: bytes) -> X25519PublicKey:
        loads.append(bytes(data))
        return real(data)

    monkeypatch.setattr(X25519PublicKey, "from_public_bytes", staticmethod(counting))
    transcript = _handshake()[2]
    # Each side agrees with the other's ephemeral key twice and with its static key once:
    # four loads, not six, and the transcript is the pinned one.
    assert sorted(loads) == sorted(
        [
            CLIENT_EPHEMERAL.public,
            SERVER_EPHEMERAL.public,
            SERVER_STATIC.public,
            CLIENT_STATIC.public,
        ]
    )
    assert transcript == [
        bytes.fromhex(VECTOR_CLIENT_HELLO),
        bytes.fromhex(VECTOR_SERVER_HELLO),
        bytes.fromhex(VECTOR_CLIENT_FINISH),
    ]


def test_a_static_public_key_is_derived_once_per_key_and_never_mixed_up() -> None:
    noise._static_public.cache_clear()
    keys = [X25519PrivateKey.generate() for _ in range(20)]  # more than the cache holds
    for _ in range(2):
        for key in keys:
            assert noise._static_public(key) == key.public_key().public_bytes_raw()
    info = noise._static_public.cache_info()
    assert info.currsize == info.maxsize


class _ShortKey:
    private = b"\x01" * 31
    public = b"\x02" * 32


def test_a_different_prologue_changes_the_keys() -> None:
    # The ED routing prefix must never be hashed: both sides must agree on the 4-byte prologue.
    initiator = NoiseInitiator(
        static=CLIENT_STATIC, ephemeral=CLIENT_EPHEMERAL, prologue=b"ED\x00\x01WA\x06\x03"
    )
    responder = NoiseResponder(static=SERVER_STATIC, ephemeral=SERVER_EPHEMERAL)
    responder.receive_client_hello(initiator.client_hello())
    with pytest.raises(NoiseDecryptError):
        initiator.receive_server_hello(responder.server_hello(CERT_CHAIN))


# --- transport ---------------------------------------------------------------------------------


def test_transport_round_trips_both_ways_with_separate_counters() -> None:
    initiator, responder, _ = _handshake()
    client, server = initiator.transport, responder.transport
    for i in range(3):
        assert server.decrypt(client.encrypt(b"up %d" % i)) == b"up %d" % i
    assert client.decrypt(server.encrypt(b"down")) == b"down"
    assert server.decrypt(client.encrypt(b"")) == b""
    assert (client.encrypt_counter, client.decrypt_counter) == (4, 1)
    assert (server.encrypt_counter, server.decrypt_counter) == (1, 4)


def test_transport_iv_is_eight_zero_bytes_then_a_big_endian_counter() -> None:
    key_up, key_down = b"u" * 32, b"d" * 32
    cipher = TransportCipher(encrypt_key=key_up, decrypt_key=key_down, encrypt_counter=0x01020304)
    frame = cipher.encrypt(b"node")
    assert frame == AESGCM(key_up).encrypt(bytes.fromhex("000000000000000001020304"), b"node", None)
    assert len(frame) == len(b"node") + 16


def test_transport_bad_tag_fails_and_breaks_the_cipher() -> None:
    initiator, responder, _ = _handshake()
    frame = initiator.transport.encrypt(b"hello")
    with pytest.raises(NoiseDecryptError):
        responder.transport.decrypt(_flip_last_byte(frame))
    with pytest.raises(TransportStateError):
        responder.transport.decrypt(frame)
    with pytest.raises(TransportStateError):
        responder.transport.encrypt(b"x")


def test_transport_out_of_order_frame_fails() -> None:
    initiator, responder, _ = _handshake()
    initiator.transport.encrypt(b"first")
    with pytest.raises(NoiseDecryptError):
        responder.transport.decrypt(initiator.transport.encrypt(b"second"))


@pytest.mark.parametrize("size", [0, 1, 15])
def test_transport_frame_shorter_than_a_tag_fails(size: int) -> None:
    _, responder, _ = _handshake()
    with pytest.raises(NoiseDecryptError):
        responder.transport.decrypt(bytes(size))


def test_transport_last_counter_works_then_sending_is_exhausted() -> None:
    key = b"k" * 32
    sender = TransportCipher(encrypt_key=key, decrypt_key=key, encrypt_counter=MAX_COUNTER)
    receiver = TransportCipher(encrypt_key=key, decrypt_key=key, decrypt_counter=MAX_COUNTER)
    assert receiver.decrypt(sender.encrypt(b"last")) == b"last"
    with pytest.raises(SendCounterExhaustedError):
        sender.encrypt(b"one too many")
    assert isinstance(SendCounterExhaustedError(), LocalProtocolError)


def test_transport_receiving_is_exhausted_after_two_to_the_32_frames() -> None:
    key = b"k" * 32
    receiver = TransportCipher(encrypt_key=key, decrypt_key=key, decrypt_counter=MAX_COUNTER + 1)
    with pytest.raises(ReceiveCounterExhaustedError):
        receiver.decrypt(bytes(32))
    assert isinstance(ReceiveCounterExhaustedError(), RemoteProtocolError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"encrypt_key": b"k" * 31, "decrypt_key": b"k" * 32},
        {"encrypt_key": b"k" * 32, "decrypt_key": b"k" * 33},
        {"encrypt_key": b"k" * 32, "decrypt_key": b"k" * 32, "encrypt_counter": -1},
        {"encrypt_key": b"k" * 32, "decrypt_key": b"k" * 32, "decrypt_counter": 2**32 + 1},
    ],
)
def test_transport_rejects_bad_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        TransportCipher(**kwargs)  # type: ignore[arg-type]


# --- handshake failures, one cause each ---------------------------------------------------------


def test_server_hello_bad_static_tag() -> None:
    initiator, _, server_hello = _up_to_server_hello()
    message = wa_pb2.HandshakeMessage()
    message.ParseFromString(server_hello)
    tampered = _server_hello_with(static=_flip_last_byte(message.server_hello.static))
    with pytest.raises(NoiseDecryptError, match=r"ServerHello\.static"):
        initiator.receive_server_hello(tampered)


def test_server_hello_bad_payload_tag() -> None:
    initiator, _, server_hello = _up_to_server_hello()
    message = wa_pb2.HandshakeMessage()
    message.ParseFromString(server_hello)
    tampered = _server_hello_with(payload=_flip_last_byte(message.server_hello.payload))
    with pytest.raises(NoiseDecryptError, match=r"ServerHello\.payload"):
        initiator.receive_server_hello(tampered)


def test_server_hello_tampered_ephemeral_breaks_the_keys() -> None:
    initiator, _, _ = _up_to_server_hello()
    with pytest.raises(NoiseDecryptError):
        initiator.receive_server_hello(_server_hello_with(ephemeral=SERVER_STATIC.public))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ephemeral", b"e" * 31),
        ("ephemeral", b"e" * 33),
        ("ephemeral", b""),
        ("static", b"s" * 47),
        ("static", b"s" * 49),
        ("payload", b"p" * 15),
    ],
)
def test_server_hello_wrong_sizes(field: str, value: bytes) -> None:
    initiator, _, _ = _up_to_server_hello()
    with pytest.raises(HandshakeMessageError, match=rf"ServerHello\.{field}"):
        initiator.receive_server_hello(_server_hello_with(**{field: value}))


@pytest.mark.parametrize("field", ["ephemeral", "static", "payload"])
def test_server_hello_missing_field(field: str) -> None:
    initiator, _, server_hello = _up_to_server_hello()
    message = wa_pb2.HandshakeMessage()
    message.ParseFromString(server_hello)
    message.server_hello.ClearField(field)
    with pytest.raises(HandshakeMessageError, match=rf"ServerHello\.{field}"):
        initiator.receive_server_hello(message.SerializeToString())


def test_server_hello_missing_entirely() -> None:
    initiator, _, _ = _up_to_server_hello()
    with pytest.raises(HandshakeMessageError, match="expected a ServerHello"):
        initiator.receive_server_hello(bytes.fromhex("12220a20") + bytes(32))


def test_server_hello_low_order_ephemeral() -> None:
    initiator, _, _ = _up_to_server_hello()
    with pytest.raises(HandshakeKeyError):
        initiator.receive_server_hello(_server_hello_with(ephemeral=bytes(32)))


def test_undecodable_protobuf() -> None:
    initiator, _, _ = _up_to_server_hello()
    with pytest.raises(HandshakeMessageError, match="undecodable"):
        initiator.receive_server_hello(b"\x1a\xff")
    fresh = NoiseResponder(static=SERVER_STATIC, ephemeral=SERVER_EPHEMERAL)
    with pytest.raises(HandshakeMessageError, match="undecodable"):
        fresh.receive_client_hello(b"\x12\x05\x0a")


@pytest.mark.parametrize("ephemeral", [b"", b"e" * 31, b"e" * 33])
def test_client_hello_wrong_size(ephemeral: bytes) -> None:
    message = wa_pb2.HandshakeMessage()
    message.client_hello.ephemeral = ephemeral
    responder = NoiseResponder(static=SERVER_STATIC, ephemeral=SERVER_EPHEMERAL)
    with pytest.raises(HandshakeMessageError, match=r"ClientHello\.ephemeral"):
        responder.receive_client_hello(message.SerializeToString())


def test_client_hello_missing_entirely() -> None:
    responder = NoiseResponder(static=SERVER_STATIC, ephemeral=SERVER_EPHEMERAL)
    with pytest.raises(HandshakeMessageError, match="expected a ClientHello"):
        responder.receive_client_hello(b"")


def test_client_hello_low_order_ephemeral() -> None:
    message = wa_pb2.HandshakeMessage()
    message.client_hello.ephemeral = bytes(32)
    responder = NoiseResponder(static=SERVER_STATIC, ephemeral=SERVER_EPHEMERAL)
    responder.receive_client_hello(message.SerializeToString())
    with pytest.raises(HandshakeKeyError):
        responder.server_hello(CERT_CHAIN)
    assert responder.failed


def test_client_finish_bad_static_tag() -> None:
    _, responder, finish = _up_to_client_finish()
    message = wa_pb2.HandshakeMessage()
    message.ParseFromString(finish)
    tampered = _client_finish_with(static=_flip_last_byte(message.client_finish.static))
    with pytest.raises(NoiseDecryptError, match=r"ClientFinish\.static"):
        responder.receive_client_finish(tampered)


def test_client_finish_bad_payload_tag() -> None:
    _, responder, finish = _up_to_client_finish()
    message = wa_pb2.HandshakeMessage()
    message.ParseFromString(finish)
    tampered = _client_finish_with(payload=_flip_last_byte(message.client_finish.payload))
    with pytest.raises(NoiseDecryptError, match=r"ClientFinish\.payload"):
        responder.receive_client_finish(tampered)


@pytest.mark.parametrize(
    ("field", "value"), [("static", b"s" * 47), ("static", b""), ("payload", b"p" * 15)]
)
def test_client_finish_wrong_sizes(field: str, value: bytes) -> None:
    _, responder, _ = _up_to_client_finish()
    with pytest.raises(HandshakeMessageError, match=rf"ClientFinish\.{field}"):
        responder.receive_client_finish(_client_finish_with(**{field: value}))


def test_client_finish_missing_entirely() -> None:
    _, responder, _ = _up_to_client_finish()
    with pytest.raises(HandshakeMessageError, match="expected a ClientFinish"):
        responder.receive_client_finish(_server_hello_with())


def test_server_verifier_rejection_fails_the_handshake() -> None:
    class Rejected(RemoteProtocolError):
        pass

    seen: list[tuple[bytes, bytes]] = []

    def reject(chain: bytes, server_static: bytes) -> None:
        seen.append((chain, server_static))
        raise Rejected("untrusted chain")

    initiator, responder = _pair(verify_server=reject)
    responder.receive_client_hello(initiator.client_hello())
    with pytest.raises(Rejected):
        initiator.receive_server_hello(responder.server_hello(CERT_CHAIN))
    assert seen == [(CERT_CHAIN, SERVER_STATIC.public)]
    with pytest.raises(HandshakeStateError, match="failed earlier"):
        initiator.client_finish(CLIENT_PAYLOAD)


def test_server_verifier_acceptance_lets_the_handshake_finish() -> None:
    initiator, responder = _pair(verify_server=lambda chain, static: None)
    responder.receive_client_hello(initiator.client_hello())
    initiator.receive_server_hello(responder.server_hello(CERT_CHAIN))
    responder.receive_client_finish(initiator.client_finish(CLIENT_PAYLOAD))


def test_certificate_check_through_the_verifier_hook() -> None:
    root = make_test_root(rng=lambda n: bytes(range(n)))
    now = 1_800_000_000

    def verify(chain: bytes, server_static: bytes) -> None:
        verify_cert_chain(chain, server_static=server_static, now=now, trust_root=root.trust_root)

    good = make_cert_chain(root, SERVER_STATIC.public, not_before=now - 60, not_after=now + 60)
    initiator, responder = _pair(verify_server=verify)
    responder.receive_client_hello(initiator.client_hello())
    initiator.receive_server_hello(responder.server_hello(good))
    responder.receive_client_finish(initiator.client_finish(CLIENT_PAYLOAD))

    # A valid chain, but for another server key: the leaf does not vouch for this handshake.
    stolen = make_cert_chain(root, CLIENT_STATIC.public, not_before=now - 60, not_after=now + 60)
    initiator, responder = _pair(verify_server=verify)
    responder.receive_client_hello(initiator.client_hello())
    with pytest.raises(LeafKeyMismatchError):
        initiator.receive_server_hello(responder.server_hello(stolen))
    assert initiator.failed


# --- state errors -------------------------------------------------------------------------------


def test_initiator_steps_out_of_order() -> None:
    initiator, responder = _pair()
    with pytest.raises(HandshakeStateError):
        initiator.client_finish(CLIENT_PAYLOAD)
    with pytest.raises(HandshakeStateError):
        initiator.receive_server_hello(b"")
    with pytest.raises(HandshakeStateError):
        _ = initiator.transport
    hello = initiator.client_hello()
    with pytest.raises(HandshakeStateError):
        initiator.client_hello()
    responder.receive_client_hello(hello)
    initiator.receive_server_hello(responder.server_hello(CERT_CHAIN))
    with pytest.raises(HandshakeStateError):
        initiator.receive_server_hello(b"")
    initiator.client_finish(CLIENT_PAYLOAD)
    with pytest.raises(HandshakeStateError):
        initiator.client_finish(CLIENT_PAYLOAD)
    assert not initiator.failed


def test_responder_steps_out_of_order() -> None:
    initiator, responder = _pair()
    with pytest.raises(HandshakeStateError):
        responder.server_hello(CERT_CHAIN)
    with pytest.raises(HandshakeStateError):
        responder.receive_client_finish(b"")
    hello = initiator.client_hello()
    responder.receive_client_hello(hello)
    with pytest.raises(HandshakeStateError):
        responder.receive_client_hello(hello)
    with pytest.raises(HandshakeStateError):
        _ = responder.transport
    responder.server_hello(CERT_CHAIN)
    with pytest.raises(HandshakeStateError):
        responder.server_hello(CERT_CHAIN)


def test_initiator_failure_is_sticky() -> None:
    initiator, _, server_hello = _up_to_server_hello()
    with pytest.raises(HandshakeMessageError):
        initiator.receive_server_hello(b"")
    assert initiator.failed
    with pytest.raises(HandshakeStateError, match="failed earlier"):
        initiator.receive_server_hello(server_hello)
    with pytest.raises(HandshakeStateError, match="failed earlier"):
        initiator.client_finish(CLIENT_PAYLOAD)


def test_responder_failure_is_sticky() -> None:
    _, responder, finish = _up_to_client_finish()
    with pytest.raises(NoiseDecryptError):
        responder.receive_client_finish(_flip_last_byte(finish))
    assert responder.failed
    with pytest.raises(HandshakeStateError, match="failed earlier"):
        responder.receive_client_finish(finish)
    with pytest.raises(HandshakeStateError):
        _ = responder.transport


def test_ephemeral_source_must_be_exactly_one() -> None:
    with pytest.raises(LocalProtocolError):
        NoiseInitiator(static=CLIENT_STATIC)
    with pytest.raises(LocalProtocolError):
        NoiseResponder(static=SERVER_STATIC, ephemeral=SERVER_EPHEMERAL, rng=lambda n: bytes(n))
    with pytest.raises(LocalProtocolError):
        NoiseInitiator(static=CLIENT_STATIC, rng=lambda n: bytes(n - 1))


def test_error_classes_are_split_by_blame() -> None:
    for remote in (HandshakeMessageError, HandshakeKeyError, NoiseDecryptError):
        assert issubclass(remote, RemoteProtocolError)
    for local in (HandshakeStateError, TransportStateError):
        assert issubclass(local, LocalProtocolError)


# --- parser invariant ---------------------------------------------------------------------------

_VALID_SERVER_HELLO = _up_to_server_hello()[2]
_VALID_CLIENT_HELLO = _pair()[0].client_hello()
_VALID_CLIENT_FINISH = _up_to_client_finish()[2]


def _mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and near-misses of a valid message (truncated, extended, one byte off)."""
    flips = st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255)).map(
        lambda spot: valid[: spot[0]] + bytes([valid[spot[0]] ^ spot[1]]) + valid[spot[0] + 1 :]
    )
    return st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        st.binary(min_size=1, max_size=20).map(lambda tail: valid + tail),
        flips,
    )


def _parses_or_remote_error(step: Callable[[], object]) -> None:
    with contextlib.suppress(RemoteProtocolError):
        step()


@given(_mutations(_VALID_SERVER_HELLO))
def test_server_hello_parses_or_raises_remote_protocol_error(data: bytes) -> None:
    initiator, _ = _pair()
    initiator.client_hello()
    _parses_or_remote_error(lambda: initiator.receive_server_hello(data))


@given(_mutations(_VALID_CLIENT_HELLO))
def test_client_hello_parses_or_raises_remote_protocol_error(data: bytes) -> None:
    _, responder = _pair()

    def receive_and_answer() -> None:
        # A ClientHello's key is only used by the next step, which mixes it.
        responder.receive_client_hello(data)
        responder.server_hello(CERT_CHAIN)

    _parses_or_remote_error(receive_and_answer)


@given(_mutations(_VALID_CLIENT_FINISH))
def test_client_finish_parses_or_raises_remote_protocol_error(data: bytes) -> None:
    _, responder, _ = _up_to_client_finish()
    _parses_or_remote_error(lambda: responder.receive_client_finish(data))


# --- the hand-written primitives and wire forms, against their references -----------------------


def test_the_prologue_hash_is_mixed_as_any_other_prologue() -> None:
    assert hashlib.sha256(NOISE_MODE + WA_PROLOGUE).digest() == noise._WA_PROLOGUE_HASH
    other = b"WA\x06\x04"
    initiator = NoiseInitiator(static=CLIENT_STATIC, ephemeral=CLIENT_EPHEMERAL, prologue=other)
    initiator.client_hello()
    mixed = hashlib.sha256(hashlib.sha256(NOISE_MODE + other).digest() + CLIENT_EPHEMERAL.public)
    assert initiator.handshake_hash == mixed.digest()


def _protobuf_message(kind: str, **fields: bytes) -> bytes:
    message = wa_pb2.HandshakeMessage()
    part = getattr(message, kind)
    part.SetInParent()
    for name, value in fields.items():
        setattr(part, name, value)
    return message.SerializeToString()


@given(ephemeral=st.binary(min_size=32, max_size=32))
def test_client_hello_is_written_as_protobuf_writes_it(ephemeral: bytes) -> None:
    assert noise._encode_client_hello(ephemeral) == _protobuf_message(
        "client_hello", ephemeral=ephemeral
    )


# Payloads up to 20 000 bytes: one-, two- and three-byte varint lengths.
_PAYLOADS = st.one_of(st.binary(max_size=300), st.integers(0, 20_000).map(bytes))


_KEY = st.binary(min_size=32, max_size=32)
_ENCRYPTED_KEY = st.binary(min_size=48, max_size=48)


@given(ephemeral=_KEY, static=_ENCRYPTED_KEY, payload=_PAYLOADS)
def test_server_hello_is_written_as_protobuf_writes_it(
    ephemeral: bytes, static: bytes, payload: bytes
) -> None:
    fields = {"ephemeral": ephemeral, "static": static, "payload": payload}
    written = noise._encode_server_hello(ephemeral, static, payload)
    assert written == _protobuf_message("server_hello", **fields)


@given(static=_ENCRYPTED_KEY, payload=_PAYLOADS)
def test_client_finish_is_written_as_protobuf_writes_it(static: bytes, payload: bytes) -> None:
    written = noise._encode_client_finish(static, payload)
    assert written == _protobuf_message("client_finish", static=static, payload=payload)


@given(st.one_of(st.integers(0, 0x4001), st.integers(0, 2**64 - 1)))
def test_varint_is_protobufs(value: int) -> None:
    # Details.not_before is field 4, a uint64: its tag byte, then the value as a varint.
    written = wa_pb2.CertChain.NoiseCertificate.Details(not_before=value).SerializeToString()
    assert written == b"\x20" + noise._varint(value)


_DECODED_FIELDS = {
    "client_hello": ("ephemeral",),
    "server_hello": ("ephemeral", "static", "payload"),
    "client_finish": ("static", "payload"),
}


_KEY_SIZES = {"ephemeral": 32, "static": 48}


def _protobuf_reading(kind: str, data: bytes) -> tuple[bytes, ...] | str:
    """What protobuf reads from ``data``: the fields of ``kind``, or why they are refused (the
    first wrong size in field order)."""
    message = wa_pb2.HandshakeMessage()
    try:
        message.ParseFromString(data)
    except DecodeError:
        return "undecodable"
    if not message.HasField(kind):
        return "absent"
    part = getattr(message, kind)
    fields = tuple(getattr(part, name) for name in _DECODED_FIELDS[kind])
    for name, value in zip(_DECODED_FIELDS[kind], fields, strict=True):
        if len(value) != _KEY_SIZES.get(name, len(value)) or (
            name == "payload" and len(value) < 16
        ):
            return f"wrong size: {name}"
    return fields


def _our_reading(kind: str, data: bytes) -> tuple[bytes, ...] | str:
    try:
        if kind == "client_hello":
            return (noise._decode_client_hello(data),)
        if kind == "server_hello":
            return noise._decode_server_hello(data)
        return noise._decode_client_finish(data)
    except HandshakeMessageError as exc:
        if "undecodable" in str(exc):
            return "undecodable"
        if "expected a" in str(exc):
            return "absent"
        return f"wrong size: {str(exc).split()[0].split('.')[1]}"


def _handshake_messages() -> st.SearchStrategy[bytes]:
    """Protobuf-made messages with any parts and sizes, unknown fields, merged messages, the
    forms we write, near-misses of them (arbitrary bytes among them)."""
    field = st.one_of(st.none(), st.binary(max_size=60), st.sampled_from([bytes(32), bytes(48)]))

    def part(size: int) -> st.SearchStrategy[list[bytes | None] | None]:
        return st.one_of(st.none(), st.lists(field, min_size=size, max_size=size))

    parts = st.fixed_dictionaries(
        {"client_hello": part(3), "server_hello": part(3), "client_finish": part(2)}
    )

    names = {
        "client_hello": ("ephemeral", "static", "payload"),
        "server_hello": ("ephemeral", "static", "payload"),
        "client_finish": ("static", "payload"),
    }

    def build(chosen: dict[str, list[bytes | None] | None]) -> bytes:
        message = wa_pb2.HandshakeMessage()
        for kind, values in chosen.items():
            if values is None:
                continue
            part = getattr(message, kind)
            part.SetInParent()
            for name, value in zip(names[kind], values, strict=True):
                if value is not None:
                    setattr(part, name, value)
        return message.SerializeToString()

    made = parts.map(build)
    canonical = st.one_of(
        _KEY.map(noise._encode_client_hello),
        st.tuples(_KEY, _ENCRYPTED_KEY, _PAYLOADS).map(
            lambda fields: noise._encode_server_hello(*fields)
        ),
        st.tuples(_ENCRYPTED_KEY, _PAYLOADS).map(
            lambda fields: noise._encode_client_finish(*fields)
        ),
    )
    unknown = st.binary(max_size=12)
    pieces = st.lists(st.one_of(made, canonical, unknown), min_size=1, max_size=3)
    near_misses = canonical.flatmap(_mutations)
    return st.one_of(canonical, made, pieces.map(b"".join), near_misses)


@pytest.mark.parametrize("kind", sorted(_DECODED_FIELDS))
@given(data=_handshake_messages())
def test_messages_are_read_as_protobuf_reads_them(kind: str, data: bytes) -> None:
    assert _our_reading(kind, data) == _protobuf_reading(kind, data)


def test_the_messages_we_write_are_read_without_protobuf(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: bytes) -> wa_pb2.HandshakeMessage:
        raise AssertionError("protobuf was asked to parse a canonical message")

    monkeypatch.setattr(noise, "_parse_handshake", refuse)
    # Each side reads the other's messages: the whole pinned transcript without protobuf.
    initiator, responder, messages = _handshake()
    assert [message.hex() for message in messages] == [
        VECTOR_CLIENT_HELLO,
        VECTOR_SERVER_HELLO,
        VECTOR_CLIENT_FINISH,
    ]
    assert initiator.handshake_hash == responder.handshake_hash
    long_payload = bytes(5000)  # a two-byte length inside a two-byte length
    assert noise._decode_client_finish(noise._encode_client_finish(bytes(48), long_payload)) == (
        bytes(48),
        long_payload,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"encrypt_counter": MAX_COUNTER + 1, "decrypt_counter": MAX_COUNTER + 1},
        {"encrypt_counter": 0, "decrypt_counter": 0},
    ],
)
def test_transport_accepts_counters_at_both_ends(kwargs: dict[str, int]) -> None:
    cipher = TransportCipher(encrypt_key=b"k" * 32, decrypt_key=b"k" * 32, **kwargs)
    assert (cipher.encrypt_counter, cipher.decrypt_counter) == (
        kwargs["encrypt_counter"],
        kwargs["decrypt_counter"],
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"encrypt_counter": MAX_COUNTER + 2},
        {"decrypt_counter": -1},
    ],
)
def test_transport_rejects_either_counter_out_of_range(kwargs: dict[str, int]) -> None:
    with pytest.raises(LocalProtocolError, match=r"a counter is in 0\.\.2\^32"):
        TransportCipher(encrypt_key=b"k" * 32, decrypt_key=b"k" * 32, **kwargs)
