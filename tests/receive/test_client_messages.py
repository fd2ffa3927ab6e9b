"""Client ↔ emulator contacts, end to end: texts decrypted, committed, upserted, then acked.

On asyncio and trio, with the SQLite and the multi-file store: a 1:1 pkmsg then a msg, a group
skmsg, the offline backlog as ``append``, a redelivery answered from the committed buffer, a
corrupt ciphertext (retry receipt and a stub), an identity change.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from tests.scenarios.harness import Recorder, config_for, paired_store, running
from walink._receive import signal_address
from walink.auth import AuthStore, MultiFileStore, SQLiteStore
from walink.io.client import Client
from walink.io.events import IdentityChanged, MessageFailed, MessagesUpsert
from walink.protocol.binary import Node
from walink.protocol.keys import KeyPair
from walink.protocol.signal import SessionRecord, decrypt_message, encrypt, pad
from walink.testing.contacts import text_message
from walink.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

ALICE = "15550002222"
BOB = "15550003333"
GROUP = "120363000000000009@g.us"


@pytest.fixture(params=["sqlite", "multifile"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def paired_on_disk(emulator: Emulator, kind: str, path: Path) -> tuple[AuthStore, str]:
    """A device linked to ``emulator`` (its creds and uploaded pre-keys) in a store on disk."""
    memory = await paired_store(emulator)
    creds = memory.load()
    assert creds is not None and creds.me is not None
    store: AuthStore = SQLiteStore(path / "auth.db") if kind == "sqlite" else MultiFileStore(path)
    store.save(creds)
    ids = memory.list_key_ids("pre-key")
    store.set_keys({"pre-key": dict(memory.get_keys("pre-key", ids).items())})
    return store, creds.me.id


@asynccontextmanager
async def connected(emulator: Emulator, store: AuthStore) -> AsyncIterator[Recorder]:
    async with running(Client(store, config_for(emulator, seed=3))) as recorder:
        await recorder.wait_open()
        yield recorder


def upserts(recorder: Recorder) -> list[MessagesUpsert]:
    return [e for e in recorder.events if isinstance(e, MessagesUpsert)]


async def upsert_for(recorder: Recorder, message_id: str) -> MessagesUpsert:
    event = await recorder.wait_for(
        lambda e: isinstance(e, MessagesUpsert) and e.messages[0].key.id == message_id
    )
    assert isinstance(event, MessagesUpsert)
    return event


async def answered(emulator: Emulator, message_id: str) -> list[Node]:
    """The receipt(s) and the ack the server got for ``message_id``, once the ack is in."""
    with anyio.fail_after(10):
        while True:
            got = [
                n
                for s in emulator.sessions()
                for n in s.received
                if n.tag in ("ack", "receipt") and n.attr("id") == message_id
            ]
            if any(n.tag == "ack" for n in got):
                return got
            await anyio.sleep(0.01)


def reply_from_device(emulator: Emulator, store: AuthStore, device_jid: str) -> None:
    """Our device answers Alice (as a send would): her next message is a ``msg``."""
    contact = emulator.hub.contacts.contact(ALICE)
    address = signal_address(contact.jid)
    creds = store.load()
    assert creds is not None
    stored = store.get_keys("session", [address])[address]
    reply = encrypt(
        SessionRecord.from_json(stored),
        pad(text_message("hi Alice"), os.urandom),
        identity=creds.signed_identity_key,
        registration_id=creds.registration_id,
        now_ms=1,
    )
    store.set_keys({"session": {address: reply.record.to_json()}})
    contact.sessions[device_jid] = decrypt_message(
        contact.sessions[device_jid],
        reply.ciphertext,
        identity=contact.identity,
        randbytes=os.urandom,
        now_ms=1,
    ).record


async def test_texts_live_group_offline_and_redelivered(store_kind: str, tmp_path: Path) -> None:
    async with Emulator() as emulator:
        store, jid = await paired_on_disk(emulator, store_kind, tmp_path)
        alice = emulator.contact(ALICE, "Alice")
        emulator.contact(BOB, "Bob")
        group = emulator.group(GROUP, [ALICE, BOB])
        try:
            async with connected(emulator, store) as recorder:
                hello = emulator.hub.contacts.text_stanza(ALICE, jid, "hello", now=emulator.now())
                await emulator.deliver(jid, hello)
                first = hello.attrs["id"]
                (message,) = (await upsert_for(recorder, first)).messages
                assert (message.text, message.push_name) == ("hello", "Alice")
                assert message.key.remote_jid == f"{ALICE}@s.whatsapp.net"
                assert upserts(recorder)[0].type == "notify"
                kinds = [n.tag for n in await answered(emulator, first)]
                assert kinds == ["receipt", "ack"]  # the receipt, then the ack, after the commit

                reply_from_device(emulator, store, jid)
                second = await alice.send_text(jid, "second")
                assert (await upsert_for(recorder, second)).messages[0].text == "second"

                in_group = await group.send_text(BOB, jid, "hi, group")
                (grouped,) = (await upsert_for(recorder, in_group)).messages
                assert grouped.text == "hi, group"
                assert grouped.key.remote_jid == GROUP
                assert grouped.key.participant == f"{BOB}@s.whatsapp.net"
                again = await group.send_text(BOB, jid, "skmsg alone")
                assert (await upsert_for(recorder, again)).messages[0].text == "skmsg alone"
                await answered(emulator, again)

            # away: two texts wait on the server, and one already committed is delivered again
            waiting = [await alice.send_text(jid, f"offline {n}") for n in range(2)]
            emulator.queue_offline(jid, hello)
            async with connected(emulator, store) as recorder:
                for message_id in waiting:
                    upsert = await upsert_for(recorder, message_id)
                    assert upsert.type == "append"
                redelivered = await upsert_for(recorder, first)
                assert redelivered.messages[0].text == "hello"  # from the buffer: no Bad MAC
                assert not [e for e in recorder.events if isinstance(e, MessageFailed)]
                await answered(emulator, first)
                texts = [u.messages[0].text for u in upserts(recorder)]
                assert texts == ["offline 0", "offline 1", "hello"]
                # the sessions still work after all that
                last = await alice.send_text(jid, "still there")
                assert (await upsert_for(recorder, last)).messages[0].text == "still there"
        finally:
            store.close()


async def test_a_corrupt_ciphertext_gets_a_retry_receipt_and_a_stub(tmp_path: Path) -> None:
    async with Emulator() as emulator:
        store, jid = await paired_on_disk(emulator, "sqlite", tmp_path)
        try:
            async with connected(emulator, store) as recorder:
                stanza = emulator.hub.contacts.text_stanza(ALICE, jid, "hello", now=emulator.now())
                [enc] = stanza.children("enc")
                assert isinstance(enc.content, bytes)
                damaged = bytearray(enc.content)
                damaged[-10] ^= 0x40  # inside the MAC
                await emulator.deliver(
                    jid, Node("message", stanza.attrs, [Node("enc", enc.attrs, bytes(damaged))])
                )
                upsert = await upsert_for(recorder, stanza.attrs["id"])
                (stub,) = upsert.messages
                assert stub.message is None and stub.text is None
                assert stub.decrypt_error is not None and "Mac" in stub.decrypt_error
                failed = await recorder.wait_for(lambda e: isinstance(e, MessageFailed))
                assert isinstance(failed, MessageFailed) and failed.retry_count == 1
                answers = await answered(emulator, stanza.attrs["id"])
                assert (answers[0].tag, answers[0].attr("type")) == ("receipt", "retry")
                assert answers[-1].attr("error") is not None  # a nack, not an ack
                # the state was left alone: the genuine stanza still decrypts
                await emulator.deliver(jid, Node("message", {**stanza.attrs, "id": "X2"}, [enc]))
                assert (await upsert_for(recorder, "X2")).messages[0].text == "hello"
        finally:
            store.close()


async def test_an_identity_change_is_an_event_and_the_new_session_works(tmp_path: Path) -> None:
    async with Emulator() as emulator:
        store, jid = await paired_on_disk(emulator, "multifile", tmp_path)
        alice = emulator.contact(ALICE, "Alice")
        try:
            async with connected(emulator, store) as recorder:
                first = await alice.send_text(jid, "before")
                await upsert_for(recorder, first)
                contact = emulator.hub.contacts.contact(ALICE)
                old = contact.identity
                contact.identity = KeyPair.generate(os.urandom)  # Alice reinstalled WhatsApp
                contact.sessions.clear()
                second = await alice.send_text(jid, "after")
                change = await recorder.wait_for(lambda e: isinstance(e, IdentityChanged))
                assert isinstance(change, IdentityChanged)
                assert change.jid == f"{ALICE}@s.whatsapp.net"
                assert change.address == f"{ALICE}.0"
                assert change.old_identity == b"\x05" + old.public
                assert change.new_identity == b"\x05" + contact.identity.public
                assert (await upsert_for(recorder, second)).messages[0].text == "after"
                third = await alice.send_text(jid, "still after")
                assert (await upsert_for(recorder, third)).messages[0].text == "still after"
            assert len([e for e in recorder.events if isinstance(e, IdentityChanged)]) == 1
        finally:
            store.close()


async def test_contacts_writing_from_their_lids_are_kept_under_their_lids(tmp_path: Path) -> None:
    """A LID-addressed 1:1 text and group text (the number beside the LID): decrypted under
    the LID address, the mapping stored, the chat and participant named by the LID."""
    async with Emulator() as emulator:
        store, jid = await paired_on_disk(emulator, "sqlite", tmp_path)
        carol = emulator.contact("15550004444", "Carol", lid="77770004")
        emulator.contact(BOB, "Bob", lid="77770003")
        group = emulator.group(GROUP, [BOB])
        try:
            async with connected(emulator, store) as recorder:
                first = await carol.send_text(jid, "from my lid")
                (message,) = (await upsert_for(recorder, first)).messages
                assert message.text == "from my lid"
                assert message.key.remote_jid == "77770004@lid" and not message.key.from_me
                in_group = await group.send_text(BOB, jid, "lid group")
                (grouped,) = (await upsert_for(recorder, in_group)).messages
                assert grouped.text == "lid group" and grouped.key.participant == "77770003@lid"
                again = await group.send_text(BOB, jid, "skmsg alone")
                assert (await upsert_for(recorder, again)).messages[0].text == "skmsg alone"
                await answered(emulator, again)
            assert store.list_key_ids("session") == ["77770003_1.0", "77770004_1.0"]
            assert store.list_key_ids("sender-key") == [f"{GROUP}::77770003_1::0"]
            assert store.get_keys("lid-mapping", ["15550004444", "77770003_reverse"]) == {
                "15550004444": "77770004",
                "77770003_reverse": BOB,
            }
        finally:
            store.close()
