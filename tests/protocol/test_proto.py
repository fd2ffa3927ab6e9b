"""The committed protobuf modules are current, importable, and write the wire bytes we rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from tests.peer_bridge import PeerBridge
from walink.protocol.proto import e2e_pb2, wa_pb2

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO_ROOT / "walink" / "protocol" / "proto"


def test_generated_modules_are_current(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen_proto.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(path.name for path in tmp_path.iterdir())
    assert generated == ["e2e_pb2.py", "e2e_pb2.pyi", "wa_pb2.py", "wa_pb2.pyi"]
    for name in generated:
        committed = (PROTO_DIR / name).read_bytes()
        assert (tmp_path / name).read_bytes() == committed, f"{name} is stale: run `make proto`"


def test_explicit_zero_is_written() -> None:
    """proto2 presence: Baileys rejects a chain whose intermediate issuerSerial 0 is absent."""
    details = wa_pb2.CertChain.NoiseCertificate.Details(issuer_serial=0)
    assert details.SerializeToString() == b"\x10\x00"
    assert wa_pb2.ClientPayload(passive=False).SerializeToString() == b"\x18\x00"
    assert wa_pb2.CertChain.NoiseCertificate.Details().SerializeToString() == b""


def test_client_hello_wire_layout() -> None:
    """docs/protocol/handshake.md#noise-steps: field 2 (clientHello), length 34, then field 1
    (ephemeral), length 32."""
    ephemeral = bytes(range(32))
    message = wa_pb2.HandshakeMessage(
        client_hello=wa_pb2.HandshakeMessage.ClientHello(ephemeral=ephemeral)
    )
    assert message.SerializeToString() == b"\x12\x22\x0a\x20" + ephemeral


def test_field_numbers_of_the_facts_sheet() -> None:
    def numbers(descriptor: Any) -> dict[str, int]:  # upb or pure-Python Descriptor
        return {field.name: field.number for field in descriptor.fields}

    assert numbers(wa_pb2.HandshakeMessage.DESCRIPTOR) == {
        "client_hello": 2,
        "server_hello": 3,
        "client_finish": 4,
    }
    assert numbers(wa_pb2.CertChain.NoiseCertificate.Details.DESCRIPTOR) == {
        "serial": 1,
        "issuer_serial": 2,
        "key": 3,
        "not_before": 4,
        "not_after": 5,
    }
    payload = numbers(wa_pb2.ClientPayload.DESCRIPTOR)
    assert payload["username"] == 1 and payload["device"] == 18 and payload["pull"] == 33
    assert payload["device_pairing_data"] == 19 and payload["lid_db_migrated"] == 41
    assert numbers(wa_pb2.ClientPayload.DNSSource.DESCRIPTOR) == {
        "dns_method": 15,
        "app_cached": 16,
    }
    assert numbers(wa_pb2.ADVSignedDeviceIdentity.DESCRIPTOR) == {
        "details": 1,
        "account_signature_key": 2,
        "account_signature": 3,
        "device_signature": 4,
    }
    assert wa_pb2.ClientPayload.UserAgent.WEB == 14
    assert wa_pb2.ClientPayload.WIFI_UNKNOWN == 1
    assert wa_pb2.ClientPayload.USER_ACTIVATED == 1
    assert wa_pb2.DeviceProps.CHROME == 1
    assert wa_pb2.HOSTED == 1


def test_packed_repeated_scalars() -> None:
    """Baileys' proto3 schema packs repeated scalars; ours does too, so bytes match."""
    assert wa_pb2.ADVKeyIndexList(valid_indexes=[1, 2]).SerializeToString() == b"\x22\x02\x01\x02"


# --- against Baileys' own schema (WAProto.proto in the pinned peer) -------------------------

_SCALAR_NAMES = {
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
}


_UNPACKABLE = {
    FieldDescriptor.TYPE_STRING,
    FieldDescriptor.TYPE_BYTES,
    FieldDescriptor.TYPE_MESSAGE,
}

# Enums of which we declare only the values a linked device produces or must recognise.
_PARTIAL_ENUMS = {"walink.wa.WebMessageInfo.StubType"}


def _baileys_name(full_name: str) -> str:
    return ".proto." + full_name.removeprefix("walink.wa.")


def _walk(descriptor: Any, messages: list[Any], enums: list[Any]) -> None:
    messages.append(descriptor)
    enums.extend(descriptor.enum_types)
    for nested in descriptor.nested_types:
        _walk(nested, messages, enums)


def test_schema_agrees_with_baileys(peer_dir: Path) -> None:
    """Every message, field and enum value of ours exists in Baileys' schema, identically:
    number, type, repetition, packing, and the JSON (camelCase) name Baileys uses."""
    messages: list[Any] = []
    enums: list[Any] = []
    for module in (wa_pb2, e2e_pb2):
        enums.extend(module.DESCRIPTOR.enum_types_by_name.values())
        for descriptor in module.DESCRIPTOR.message_types_by_name.values():
            _walk(descriptor, messages, enums)
    with PeerBridge(peer_dir, "keys-bridge.mjs") as bridge:
        theirs = bridge.call(
            "schema",
            messages=[_baileys_name(m.full_name)[1:] for m in messages],
            enums=[_baileys_name(e.full_name)[1:] for e in enums],
        )
    checked_fields = 0
    for message in messages:
        their_fields = theirs["messages"][_baileys_name(message.full_name)[1:]]
        assert their_fields is not None, f"Baileys has no {message.full_name}"
        by_number = {field["id"]: field for field in their_fields}
        for field in message.fields:
            their = by_number.get(field.number)
            where = f"{message.full_name}.{field.name} ({field.number})"
            assert their is not None, f"Baileys has no field {where}"
            if field.message_type is not None:
                our_type = _baileys_name(field.message_type.full_name)
            elif field.enum_type is not None:
                our_type = _baileys_name(field.enum_type.full_name)
            else:
                our_type = _SCALAR_NAMES[field.type]
            repeated = field.is_repeated
            assert (field.json_name, our_type, repeated) == (
                their["name"],
                their["type"],
                their["repeated"],
            ), where
            # Only numeric scalars can be packed (protobufjs reports proto3's packed default
            # on strings and messages too, where it means nothing on the wire).
            if repeated and field.type not in _UNPACKABLE:
                assert field.is_packed == their["packed"], where
            checked_fields += 1
    for enum in enums:
        their_values = theirs["enums"][_baileys_name(enum.full_name)[1:]]
        assert their_values is not None, f"Baileys has no enum {enum.full_name}"
        ours = {value.name: value.number for value in enum.values}
        if enum.full_name in _PARTIAL_ENUMS:
            assert ours.items() <= their_values.items(), enum.full_name
        else:
            assert ours == their_values, enum.full_name
    assert checked_fields > 300


def test_e2e_wire_layouts() -> None:
    """The end-to-end messages a history notification travels in, at the numbers both peers use."""
    notification = e2e_pb2.Message.HistorySyncNotification(
        sync_type=e2e_pb2.Message.RECENT, chunk_order=2, progress=40
    )
    message = e2e_pb2.Message(
        protocol_message=e2e_pb2.Message.ProtocolMessage(
            type=e2e_pb2.Message.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
            history_sync_notification=notification,
        )
    )
    # Message.protocolMessage 12 { type 2 = 5, historySyncNotification 6 { 6=3, 7=2, 9=40 } }
    assert message.SerializeToString() == bytes.fromhex("620a1005320630033802" + "4828")
    info = e2e_pb2.WebMessageInfo(
        key=e2e_pb2.MessageKey(remote_jid="a@s.whatsapp.net", from_me=True, id="X"),
        message_timestamp=7,
        push_name="P",
        message_stub_type=e2e_pb2.WebMessageInfo.CIPHERTEXT,
    )
    encoded = info.SerializeToString()
    assert encoded.endswith(b"\x18\x07\x9a\x01\x01P\xc0\x01\x02")
    assert e2e_pb2.ServerErrorReceipt(stanza_id="ID").SerializeToString() == b"\n\x02ID"


def test_history_sync_without_sync_type_is_initial_bootstrap() -> None:
    """Baileys' proto3 encoder omits syncType 0: it must read as INITIAL_BOOTSTRAP."""
    sync = e2e_pb2.HistorySync.FromString(b"\x28\x01")  # chunkOrder 1 only
    assert not sync.HasField("sync_type")
    assert sync.sync_type == e2e_pb2.HistorySync.INITIAL_BOOTSTRAP
    assert sync.chunk_order == 1
