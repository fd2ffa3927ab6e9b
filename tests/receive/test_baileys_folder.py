"""A Baileys auth folder with an established session moves to walink, and back.

libsignal-node (the pinned Baileys' Signal library, through tests/peer/signal-bridge.mjs) plays
both our device as Baileys ran it and a contact, Alice. They talk until Alice's messages are
``msg`` (not ``pkmsg``); Baileys' own ``useMultiFileAuthState`` writes our device's session into
an auth folder. walink opens that folder with ``MultiFileStore`` and decrypts Alice's next
``msg`` with ``SignalProcessor``; then Baileys reads the folder walink wrote and decrypts the
message after that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.peer_bridge import PeerBridge
from tests.protocol.signal.peer import Device
from walink._receive import ReceivedMessage, SignalProcessor, signal_address
from walink.auth import MultiFileStore
from walink.auth.model import Contact, Creds
from walink.protocol.binary import Node
from walink.protocol.signal import pad, unpad
from walink.testing.contacts import text_message

ALICE_JID = "15550002222@s.whatsapp.net"
ALICE = signal_address(ALICE_JID)  # how our device's store names Alice's session
US = "15550001111.3"  # how Alice's libsignal names ours


@pytest.fixture(scope="module")
def bridge(peer_dir: Path) -> Iterator[PeerBridge]:
    with PeerBridge(peer_dir, "signal-bridge.mjs") as running:
        yield running


def alice_sends(bridge: PeerBridge, text: str, n: int) -> Node:
    reply = bridge.call(
        "encrypt", party="alice", address=US, plaintext=pad(text_message(text), os.urandom).hex()
    )
    attrs = {"from": ALICE_JID, "id": f"3EB0FOLDER{n:04d}", "t": "1780000000", "notify": "Alice"}
    enc = Node("enc", {"v": "2", "type": reply["type"]}, bytes.fromhex(reply["body"]))
    return Node("message", attrs, [enc])


def test_walink_continues_a_baileys_folder_and_baileys_continues_walinks(
    bridge: PeerBridge, tmp_path: Path
) -> None:
    me, alice = Device.make("me", 1111), Device.make("alice", 2222)
    me.register(bridge)
    alice.register(bridge)
    # Alice starts a session with our device (as Baileys), we answer: her next one is a msg
    bridge.call("startSession", party="alice", address=US, bundle=me.bridge_bundle(1))
    first = alice_sends(bridge, "first", 1)
    [enc] = first.children("enc")
    assert enc.attr("type") == "pkmsg" and isinstance(enc.content, bytes)
    bridge.call("decrypt", party="me", address=ALICE, type="pkmsg", body=enc.content.hex())
    reply = bridge.call(
        "encrypt", party="me", address=ALICE, plaintext=pad(text_message("hi"), os.urandom).hex()
    )
    assert reply["type"] == "msg"
    bridge.call("decrypt", party="alice", address=US, type="msg", body=reply["body"])

    # Baileys writes the folder; walink opens it (its creds are our device's keys)
    folder = tmp_path / "auth_info_baileys"
    bridge.call("saveToFolder", party="me", address=ALICE, folder=str(folder))
    assert (folder / f"session-{ALICE}.json").is_file()
    creds = replace(
        Creds.new(os.urandom),
        signed_identity_key=me.identity,
        signed_pre_key=me.signed,
        registration_id=me.registration_id,
        me=Contact(id="15550001111:3@s.whatsapp.net"),
    )
    with MultiFileStore(folder) as store:
        store.save(creds)
        processor = SignalProcessor(store)
        second = alice_sends(bridge, "second", 2)
        assert second.children("enc")[0].attr("type") == "msg"  # not a new session
        result = processor.process(second).result
        assert isinstance(result, ReceivedMessage) and result.messages[0].text == "second"
        third = alice_sends(bridge, "third", 3)
        result = processor.process(third).result
        assert isinstance(result, ReceivedMessage) and result.messages[0].text == "third"

    # Baileys reads the folder walink wrote and decrypts Alice's next message
    bridge.call("loadFromFolder", party="me", address=ALICE, folder=str(folder))
    fourth = alice_sends(bridge, "fourth", 4)
    [enc] = fourth.children("enc")
    assert enc.attr("type") == "msg" and isinstance(enc.content, bytes)
    plaintext = bridge.call(
        "decrypt", party="me", address=ALICE, type="msg", body=enc.content.hex()
    )
    assert unpad(bytes.fromhex(plaintext["plaintext"])) == text_message("fourth")
