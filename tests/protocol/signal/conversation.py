"""Two walink parties talking Signal to each other: the fixture of the pure Signal tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.protocol.determinism import counter_rng
from tests.protocol.signal.peer import Device
from walink.protocol.keys import KeyPair
from walink.protocol.signal import (
    SessionRecord,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    start_session,
)


@dataclass
class Party:
    device: Device
    record: SessionRecord | None = None
    consumed: set[int] = field(default_factory=set)
    now: int = 1_000

    def __post_init__(self) -> None:
        self.rng = counter_rng(f"party:{self.device.name}")

    def tick(self) -> int:
        self.now += 1
        return self.now

    def send(self, text: bytes) -> tuple[str, bytes]:
        result = encrypt(
            self.record,
            text,
            identity=self.device.identity,
            registration_id=self.device.registration_id,
            now_ms=self.tick(),
        )
        self.record = result.record
        return result.kind, result.ciphertext

    def receive(self, kind: str, body: bytes) -> bytes:
        if kind == "pkmsg":
            result = decrypt_prekey_message(
                self.record,
                body,
                identity=self.device.identity,
                signed_pre_key=self.device.signed_lookup,
                one_time_pre_key=self.one_time,
                randbytes=self.rng,
                now_ms=self.tick(),
            )
            if result.consumed_pre_key_id is not None:
                self.consumed.add(result.consumed_pre_key_id)
            self.record = result.record
            return result.plaintext
        plain = decrypt_message(
            self.record, body, identity=self.device.identity, randbytes=self.rng, now_ms=self.tick()
        )
        self.record = plain.record
        return plain.plaintext

    def one_time(self, key_id: int) -> KeyPair | None:
        return None if key_id in self.consumed else self.device.one_time.get(key_id)


def pair(name: str, pre_key_id: int | None = 1) -> tuple[Party, Party]:
    """(alice, bob): alice has started a session with bob's bundle; nothing sent yet."""
    alice = Party(Device.make(f"{name}-alice", 11))
    bob = Party(Device.make(f"{name}-bob", 22))
    alice.record = start_session(
        None,
        bob.device.bundle(pre_key_id),
        identity=alice.device.identity,
        randbytes=alice.rng,
        now_ms=alice.tick(),
    )
    return alice, bob


def established(name: str) -> tuple[Party, Party]:
    """(alice, bob) after one message each way: both sides send ``msg`` from now on."""
    alice, bob = pair(name)
    assert bob.receive(*alice.send(b"hi")) == b"hi"
    assert alice.receive(*bob.send(b"hello")) == b"hello"
    return alice, bob
