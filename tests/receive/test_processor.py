"""SignalProcessor (walink._receive.processor): decrypt, commit in one batch, answer redeliveries.

The senders here are walink's Signal core playing another user (initiator X3DH, sender keys);
libsignal-node and Baileys as senders are in tests/interop and tests/receive/test_baileys_folder.py.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walink._receive import (
    CredsListener,
    IdentityChange,
    ReceivedMessage,
    SignalProcessor,
    signal_address,
)
from walink._receive.addresses import sender_key_name
from walink.auth.key_values import WALINK_MESSAGE
from walink.auth.memory_store import MemoryStore
from walink.auth.model import Contact, Creds
from walink.protocol.binary import Node
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.keys import KeyPair, generate_registration_id, generate_signed_pre_key
from walink.protocol.proto import e2e_pb2
from walink.protocol.signal import (
    PreKeyBundle,
    SenderKeyRecord,
    SessionRecord,
    create_sender_key,
    decrypt_message,
    distribution_message,
    encrypt,
    group_encrypt,
    pad,
    start_session,
)
from walink.testing.contacts import sender_key_distribution_message, text_message

T0 = 1_700_000_000
ME = "15550001111:3@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
DAY = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@dataclass
class Device:
    """Our linked device: its store and its processor."""

    store: MemoryStore
    creds: Creds
    clock: Clock
    processor: SignalProcessor
    pre_keys: dict[int, KeyPair]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {
            t: copy.deepcopy(self.store.get_keys(t, self.store.list_key_ids(t)))
            for t in ("session", "pre-key", "identity-key", "sender-key", WALINK_MESSAGE)
        }


def make_device(seed: int = 1, pre_keys: int = 3) -> Device:
    rng = random.Random(seed).randbytes
    creds = replace(Creds.new(rng), me=Contact(id=ME, lid="99990001:3@lid"))
    store = MemoryStore()
    store.save(creds)
    keys = {i: KeyPair.generate(rng) for i in range(1, pre_keys + 1)}
    store.set_keys({"pre-key": {str(i): k for i, k in keys.items()}})
    clock = Clock()
    processor = SignalProcessor(store, clock=clock, randbytes=random.Random(seed + 1).randbytes)
    return Device(store, creds, clock, processor, keys)


@dataclass
class Sender:
    """Another user's device (phone number ``number``, device 0)."""

    number: str
    seed: int = 7
    record: SessionRecord | None = None
    sender_keys: dict[str, SenderKeyRecord] = field(default_factory=dict)
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed).randbytes
        self.identity = KeyPair.generate(self.rng)
        self.registration_id = generate_registration_id(self.rng)

    @property
    def jid(self) -> str:
        return f"{self.number}@s.whatsapp.net"

    def _encrypt(self, device: Device, plaintext: bytes, pre_key_id: int | None) -> Node:
        if self.record is None:
            bundle = PreKeyBundle(
                registration_id=device.creds.registration_id,
                identity_key=device.creds.signed_identity_key.public,
                signed_pre_key_id=device.creds.signed_pre_key.key_id,
                signed_pre_key=device.creds.signed_pre_key.key_pair.public,
                signed_pre_key_signature=device.creds.signed_pre_key.signature,
                pre_key_id=pre_key_id,
                pre_key=device.pre_keys[pre_key_id].public if pre_key_id else None,
            )
            self.record = start_session(
                None, bundle, identity=self.identity, randbytes=self.rng, now_ms=T0 * 1000
            )
        result = encrypt(
            self.record,
            pad(plaintext, self.rng),
            identity=self.identity,
            registration_id=self.registration_id,
            now_ms=T0 * 1000,
        )
        self.record = result.record
        return Node("enc", {"v": "2", "type": result.kind}, result.ciphertext)

    def _attrs(self, chat: str) -> dict[str, str]:
        self.counter += 1
        return {"from": chat, "id": f"3EB0{self.number}{self.counter:04d}", "t": str(T0)}

    def text(self, device: Device, text: str, pre_key_id: int | None = 1) -> Node:
        enc = self._encrypt(device, text_message(text), pre_key_id)
        return Node("message", {**self._attrs(self.jid), "notify": "Alice"}, [enc])

    def message(
        self, device: Device, text: str, *, frm: str, pre_key_id: int | None = 1, **attrs: str
    ) -> Node:
        """A 1:1 text from this sender, named ``frm`` by the server."""
        enc = self._encrypt(device, text_message(text), pre_key_id)
        return Node("message", {**self._attrs(frm), **attrs}, [enc])

    def group_text(
        self, device: Device, text: str, *, with_key: bool, participant: str = "", **attrs: str
    ) -> Node:
        record = self.sender_keys.get(GROUP)
        if record is None:
            record, _ = create_sender_key(self.rng)
        children = []
        if with_key:
            skdm = sender_key_distribution_message(GROUP, distribution_message(record))
            children.append(self._encrypt(device, skdm, 1))
        body, record = group_encrypt(record, pad(text_message(text), self.rng), randbytes=self.rng)
        self.sender_keys[GROUP] = record
        children.append(Node("enc", {"v": "2", "type": "skmsg"}, body))
        return Node(
            "message",
            {**self._attrs(GROUP), "participant": participant or self.jid, **attrs},
            children,
        )

    def receive_reply(self, device: Device, address: str | None = None) -> None:
        """Our device answers (so the sender's next message is a ``msg``, not a ``pkmsg``)."""
        address = address or signal_address(self.jid)
        stored = device.store.get_keys("session", [address])[address]
        reply = encrypt(
            SessionRecord.from_json(stored),
            pad(text_message("hi back"), self.rng),
            identity=device.creds.signed_identity_key,
            registration_id=device.creds.registration_id,
            now_ms=T0 * 1000,
        )
        device.store.set_keys({"session": {address: reply.record.to_json()}})
        assert reply.kind == "msg"
        assert self.record is not None
        self.record = decrypt_message(
            self.record, reply.ciphertext, identity=self.identity, randbytes=self.rng, now_ms=1
        ).record


def result_of(device: Device, node: Node) -> tuple[ReceivedMessage, bool]:
    processed = device.processor.process(node)
    assert isinstance(processed.result, ReceivedMessage)
    return processed.result, processed.redelivered


def test_pkmsg_then_msg_commits_session_identity_and_consumed_pre_key() -> None:
    device, alice = make_device(), Sender("15550002222")
    first, redelivered = result_of(device, alice.text(device, "hello"))
    assert not redelivered
    (message,) = first.messages
    assert message.text == "hello"
    assert message.key.remote_jid == alice.jid and not message.key.from_me
    assert message.push_name == "Alice" and message.timestamp == T0
    assert first.decrypted[0].conversation == "hello"
    keys = device.snapshot()
    assert "15550002222.0" in keys["session"]
    assert keys["identity-key"]["15550002222.0"] == b"\x05" + alice.identity.public
    assert "1" not in keys["pre-key"]  # consumed, in the same batch
    assert len(keys[WALINK_MESSAGE]) == 1

    alice.receive_reply(device)
    node = alice.text(device, "second")
    assert node.children("enc")[0].attr("type") == "msg"
    second, _ = result_of(device, node)
    assert second.messages[0].text == "second"


def test_a_redelivery_is_answered_from_the_buffer_without_touching_the_state() -> None:
    device, alice = make_device(), Sender("15550002222")
    node = alice.text(device, "hello")
    first, _ = result_of(device, node)
    before = device.snapshot()
    again, redelivered = result_of(device, node)
    assert redelivered
    assert again.messages == first.messages
    assert again.messages[0].text == "hello"
    assert [m.SerializeToString() for m in again.decrypted] == [
        m.SerializeToString() for m in first.decrypted
    ]
    assert device.snapshot() == before


def test_a_corrupt_ciphertext_raises_and_commits_nothing() -> None:
    device, alice = make_device(), Sender("15550002222")
    node = alice.text(device, "hello")
    enc = node.children("enc")[0]
    assert isinstance(enc.content, bytes)
    data = bytearray(enc.content)
    data[-12] ^= 1
    before = device.snapshot()
    with pytest.raises(RemoteProtocolError):
        device.processor.process(Node("message", node.attrs, [Node("enc", enc.attrs, bytes(data))]))
    assert device.snapshot() == before
    assert result_of(device, node)[0].messages[0].text == "hello"  # the genuine one still works


def test_group_sender_key_in_the_same_stanza_then_skmsg_alone() -> None:
    device, bob = make_device(), Sender("15550003333", seed=9)
    first, _ = result_of(device, bob.group_text(device, "hi group", with_key=True))
    (message,) = first.messages
    assert message.text == "hi group"
    assert message.key.remote_jid == GROUP and message.key.participant == bob.jid
    assert len(first.decrypted) == 2 and first.decrypted[0].HasField(
        "sender_key_distribution_message"
    )
    name = sender_key_name(GROUP, bob.jid)
    assert name == f"{GROUP}::15550003333::0"
    assert isinstance(device.store.get_keys("sender-key", [name])[name], bytes)
    second, _ = result_of(device, bob.group_text(device, "again", with_key=False))
    assert second.messages[0].text == "again"


def test_an_identity_change_replaces_the_session_and_is_reported() -> None:
    device = make_device()
    old = Sender("15550002222", seed=7)
    assert not result_of(device, old.text(device, "one"))[0].identity_changes
    new = Sender("15550002222", seed=8)  # the same number on a reinstalled phone
    result, _ = result_of(device, new.text(device, "two", pre_key_id=2))
    assert result.messages[0].text == "two"
    assert result.identity_changes == (
        IdentityChange(
            jid=new.jid,
            address="15550002222.0",
            old_identity=b"\x05" + old.identity.public,
            new_identity=b"\x05" + new.identity.public,
        ),
    )
    stored = device.store.get_keys("session", ["15550002222.0"])["15550002222.0"]
    assert len(SessionRecord.from_json(stored).sessions) == 1  # the old one is gone


def test_history_notification_from_our_own_phone_sets_history_sync() -> None:
    device = make_device()
    phone = Sender("15550001111", seed=11)  # our own account's phone (device 0)
    notification = e2e_pb2.Message(
        protocol_message=e2e_pb2.Message.ProtocolMessage(
            type=e2e_pb2.Message.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
        )
    )
    enc = phone._encrypt(device, notification.SerializeToString(), 1)
    node = Node("message", {**phone._attrs(phone.jid), "category": "peer"}, [enc])
    processed = device.processor.process(node)
    assert processed.history_sync
    assert isinstance(processed.result, ReceivedMessage) and processed.result.history_sync
    again = device.processor.process(node)
    assert again.redelivered and again.history_sync


def test_old_buffer_entries_are_pruned_by_message_time() -> None:
    device, alice = make_device(), Sender("15550002222")
    result_of(device, alice.text(device, "old"))
    assert len(device.store.list_key_ids(WALINK_MESSAGE)) == 1
    device.clock.now += 13 * DAY
    assert device.processor.prune() == 0
    device.clock.now += 2 * DAY
    assert device.processor.prune() == 1
    assert device.store.list_key_ids(WALINK_MESSAGE) == []


def test_pruning_runs_at_the_first_message_and_then_every_n() -> None:
    device, alice = make_device(), Sender("15550002222")
    processor = SignalProcessor(device.store, clock=device.clock, prune_every=3)
    result_of(replace(device, processor=processor), alice.text(device, "m0"))
    device.clock.now += 20 * DAY
    alice.receive_reply(device)
    for i in range(1, 4):  # messages 1 and 2 do not prune; message 3 prunes all, then commits
        processor.process(alice.text(device, f"m{i}"))
        assert len(device.store.list_key_ids(WALINK_MESSAGE)) == (i + 1 if i < 3 else 1)


@pytest.mark.parametrize(
    ("jid", "address"),
    [
        ("15551234567@s.whatsapp.net", "15551234567.0"),
        ("15551234567:2@s.whatsapp.net", "15551234567.2"),
        ("99887766:5@lid", "99887766_1.5"),
        ("15551234567:99@hosted", "15551234567_128.99"),
        ("99887766@hosted.lid", "99887766_129.0"),
    ],
)
def test_signal_addresses_as_baileys_names_them(jid: str, address: str) -> None:
    assert signal_address(jid) == address


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["pkmsg", "msg", "skmsg", "other"]),
    data=st.binary(max_size=200),
)
def test_any_bytes_either_decrypt_or_raise_a_remote_error_changing_nothing(
    kind: str, data: bytes
) -> None:
    device = make_device(pre_keys=1)
    before = device.snapshot()
    node = Node(
        "message",
        {"from": GROUP, "participant": "15550002222@s.whatsapp.net", "id": "X", "t": str(T0)},
        [Node("enc", {"v": "2", "type": kind}, data)],
    )
    with pytest.raises(RemoteProtocolError):
        device.processor.process(node)
    assert device.snapshot() == before


class CountingStore(MemoryStore):
    """A memory store that counts credential loads."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self) -> Creds | None:
        self.loads += 1
        return super().load()

    def __enter__(self) -> CountingStore:
        return self


def counting_device(seed: int = 1) -> tuple[Device, CountingStore]:
    device = make_device(seed)
    store = CountingStore()
    store.save(device.creds)
    store.set_keys({"pre-key": {str(i): k for i, k in device.pre_keys.items()}})
    processor = SignalProcessor(store, clock=device.clock, randbytes=random.Random(5).randbytes)
    return replace(device, store=store, processor=processor), store


def test_credentials_are_read_once_per_processor_not_per_message() -> None:
    device, store = counting_device()
    alice, bob = Sender("15550002222"), Sender("15550003333", seed=9)
    result_of(device, alice.text(device, "one", pre_key_id=1))
    result_of(device, bob.text(device, "two", pre_key_id=2))
    alice.receive_reply(device)
    for i in range(5):
        assert result_of(device, alice.text(device, f"m{i}"))[0].messages[0].text == f"m{i}"
    assert store.loads == 1


def rotated(device: Device, key_id: int = 2) -> Device:
    """The device after a signed pre-key rotation (saved in the store)."""
    rng = random.Random(key_id).randbytes
    signed = generate_signed_pre_key(device.creds.signed_identity_key, key_id, rng)
    creds = replace(device.creds, signed_pre_key=signed)
    device.store.save(creds)
    return replace(device, creds=creds)


def test_a_saved_rotation_reported_by_creds_saved_is_used_without_a_reload() -> None:
    device, store = counting_device()
    result_of(device, Sender("15550002222").text(device, "before", pre_key_id=1))
    device = rotated(device)
    device.processor.creds_saved(device.creds)
    assert isinstance(device.processor, CredsListener)
    loads = store.loads
    result, _ = result_of(device, Sender("15550003333", seed=9).text(device, "after", 2))
    assert result.messages[0].text == "after"
    assert store.loads == loads


def test_a_rotation_nobody_reported_is_found_in_the_store_never_refused() -> None:
    device, store = counting_device()
    result_of(device, Sender("15550002222").text(device, "before", pre_key_id=1))
    device = rotated(device)  # saved behind the processor's back
    result, _ = result_of(device, Sender("15550003333", seed=9).text(device, "after", 2))
    assert result.messages[0].text == "after"
    assert store.loads == 2


def test_an_unpaired_store_is_read_again_at_the_next_message() -> None:
    device, store = counting_device()
    assert device.creds.me is not None
    store.save(replace(device.creds, me=None))
    node = Sender("15550002222").text(device, "early")
    with pytest.raises(RemoteProtocolError, match="not paired"):
        device.processor.process(node)
    store.save(device.creds)
    assert result_of(device, node)[0].messages[0].text == "early"


ALICE_LID = "88880002"


def keys_of(device: Device, key_type: str) -> dict[str, Any]:
    return device.store.get_keys(key_type, device.store.list_key_ids(key_type))


def test_a_lid_sender_is_decrypted_and_kept_under_its_lid_address() -> None:
    device, alice = make_device(), Sender("15550002222")
    node = alice.message(device, "hello", frm=f"{ALICE_LID}@lid")
    result, _ = result_of(device, node)
    assert result.messages[0].text == "hello"
    assert result.messages[0].key.remote_jid == f"{ALICE_LID}@lid"
    assert set(keys_of(device, "session")) == {f"{ALICE_LID}_1.0"}
    assert set(keys_of(device, "identity-key")) == {f"{ALICE_LID}_1.0"}
    alice.receive_reply(device, f"{ALICE_LID}_1.0")
    second = alice.message(device, "again", frm=f"{ALICE_LID}@lid")
    assert second.children("enc")[0].attr("type") == "msg"
    assert result_of(device, second)[0].messages[0].text == "again"


def test_a_phone_number_session_moves_to_the_lid_once_the_mapping_is_known() -> None:
    device, alice = make_device(), Sender("15550002222")
    result_of(device, alice.text(device, "before the mapping"))
    assert set(keys_of(device, "session")) == {"15550002222.0"}
    alice.receive_reply(device)
    # a later stanza names her LID beside her number: whatsmeow's and Baileys' migration
    node = alice.message(device, "after", frm=alice.jid, sender_lid=f"{ALICE_LID}@lid")
    assert node.children("enc")[0].attr("type") == "msg"
    result, _ = result_of(device, node)
    assert result.messages[0].text == "after"
    assert set(keys_of(device, "session")) == {f"{ALICE_LID}_1.0"}
    assert set(keys_of(device, "identity-key")) == {f"{ALICE_LID}_1.0"}
    assert keys_of(device, "lid-mapping") == {
        "15550002222": ALICE_LID,
        f"{ALICE_LID}_reverse": "15550002222",
    }
    # from now on her number alone finds the LID session through the stored mapping
    third, _ = result_of(device, alice.message(device, "third", frm=alice.jid))
    assert third.messages[0].text == "third"
    assert set(keys_of(device, "session")) == {f"{ALICE_LID}_1.0"}


def test_a_lid_sender_whose_session_is_under_its_phone_number_takes_it_along() -> None:
    device, alice = make_device(), Sender("15550002222")
    result_of(device, alice.text(device, "one"))
    alice.receive_reply(device)
    device.store.set_keys(
        {"lid-mapping": {"15550002222": ALICE_LID, f"{ALICE_LID}_reverse": "15550002222"}}
    )
    result, _ = result_of(device, alice.message(device, "two", frm=f"{ALICE_LID}@lid"))
    assert result.messages[0].text == "two"
    assert set(keys_of(device, "session")) == {f"{ALICE_LID}_1.0"}


def test_a_message_that_fails_moves_nothing_and_learns_nothing() -> None:
    device, alice = make_device(), Sender("15550002222")
    result_of(device, alice.text(device, "one"))
    before = device.snapshot()
    node = alice.message(device, "x", frm=alice.jid, sender_lid=f"{ALICE_LID}@lid")
    enc = node.children("enc")[0]
    assert isinstance(enc.content, bytes)
    broken = Node("enc", enc.attrs, enc.content[:-3] + b"\0\0\0")
    with pytest.raises(RemoteProtocolError):
        device.processor.process(Node("message", node.attrs, [broken]))
    assert device.snapshot() == before
    assert keys_of(device, "lid-mapping") == {}


def test_a_lid_group_participant_keeps_its_sender_key_by_its_lid() -> None:
    device, bob = make_device(), Sender("15550003333", seed=9)
    participant = "77770003@lid"
    first, _ = result_of(
        device,
        bob.group_text(
            device,
            "hi",
            with_key=True,
            participant=participant,
            participant_pn=bob.jid,
            addressing_mode="lid",
        ),
    )
    assert first.messages[0].text == "hi"
    assert first.messages[0].key.participant == participant
    assert set(keys_of(device, "session")) == {"77770003_1.0"}
    assert set(keys_of(device, "sender-key")) == {f"{GROUP}::77770003_1::0"}
    second, _ = result_of(
        device, bob.group_text(device, "again", with_key=False, participant=participant)
    )
    assert second.messages[0].text == "again"


def test_a_sender_key_kept_by_the_phone_number_is_found_when_the_group_moves_to_lids() -> None:
    device, bob = make_device(), Sender("15550003333", seed=9)
    result_of(device, bob.group_text(device, "by number", with_key=True))
    assert set(keys_of(device, "sender-key")) == {f"{GROUP}::15550003333::0"}
    node = bob.group_text(
        device, "by lid", with_key=False, participant="77770003@lid", participant_pn=bob.jid
    )
    result, _ = result_of(device, node)
    assert result.messages[0].text == "by lid"
    assert set(keys_of(device, "sender-key")) == {f"{GROUP}::77770003_1::0"}


@pytest.mark.parametrize("first", ["15550001111@s.whatsapp.net", "99990001@lid"])
def test_our_phone_is_kept_under_our_own_lid_device_0_whatever_it_writes_from(
    first: str,
) -> None:
    """Our phone's pkmsgs of one X3DH stay pkmsgs until we answer: the second finds the session
    the first made, by either name (Baileys rc14 refused the second one when the first came from
    our number and it had mapped our LID in between)."""
    device = make_device()
    phone = Sender("15550001111", seed=11)
    second = "99990001@lid" if first.endswith("whatsapp.net") else "15550001111@s.whatsapp.net"
    one = phone.message(device, "one", frm=first, category="peer")
    two = phone.message(device, "two", frm=second, category="peer")
    assert two.children("enc")[0].attr("type") == "pkmsg"
    r1, _ = result_of(device, one)
    r2, _ = result_of(device, two)
    assert [r1.messages[0].text, r2.messages[0].text] == ["one", "two"]
    assert r1.messages[0].key.from_me and r2.messages[0].key.from_me
    assert set(keys_of(device, "session")) == {"99990001_1.0"}
    assert "1" not in keys_of(device, "pre-key")  # consumed once
