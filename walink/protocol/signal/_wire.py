"""The four Signal wire messages, read and written by a small strict protobuf codec.

Signal's messages have only ``uint32`` and ``bytes`` fields, so a 60-line codec replaces a
generated module: it reads any input in one pass without allocating per unknown field, and it
cannot leak a foreign exception (every defect is an ``InvalidMessageError``).

Reading follows protobuf's rules as protobufjs (libsignal-node's parser) applies them: unknown
fields are skipped, a repeated scalar keeps its last value, a varint wider than 32 bits is
truncated to its low 32 bits. A field with the wrong wire type, a group, a truncated field or a
varint longer than 10 bytes is an error. Writing emits the fields in number order, as protobufjs
does for these messages, so our bytes equal libsignal-node's for the same values.

Envelopes: every message starts with a version byte whose high nibble (the message version) is
at least 3 and whose low nibble (the highest version the sender understands) is at most 3;
libsignal-node accepts exactly that, and so do we. We always write ``0x33``.
"""

from __future__ import annotations

from dataclasses import dataclass

from walink.protocol.signal.errors import InvalidMessageError

VERSION_BYTE = 0x33
MAC_SIZE = 8
SIGNATURE_SIZE = 64

_VARINT = 0
_FIXED64 = 1
_LENGTH = 2
_FIXED32 = 5
_MAX_VARINT_BYTES = 10
_UINT32 = 0xFFFFFFFF

Fields = dict[int, "int | bytes"]


def check_version(byte: int, what: str) -> None:
    if byte >> 4 < 3 or byte & 0x0F > 3:
        raise InvalidMessageError(f"unsupported {what} version byte 0x{byte:02x}")


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    shift = 0
    end = min(len(data), position + _MAX_VARINT_BYTES)
    while position < end:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
    raise InvalidMessageError("truncated or overlong varint")


def parse_fields(data: bytes, schema: dict[int, int]) -> Fields:
    """The known fields of one message; ``schema`` maps field number to wire type (0 or 2)."""
    fields: Fields = {}
    position = 0
    size = len(data)
    while position < size:
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise InvalidMessageError("field number 0")
        if wire_type == _VARINT:
            value, position = _varint(data, position)
            if schema.get(number, _VARINT) != _VARINT:
                raise InvalidMessageError(f"field {number} has the wrong wire type")
            if number in schema:
                fields[number] = value & _UINT32
        elif wire_type == _LENGTH:
            length, position = _varint(data, position)
            end = position + length
            if end > size:
                raise InvalidMessageError("truncated length-delimited field")
            if schema.get(number, _LENGTH) != _LENGTH:
                raise InvalidMessageError(f"field {number} has the wrong wire type")
            if number in schema:
                fields[number] = data[position:end]
            position = end
        elif wire_type in (_FIXED64, _FIXED32):
            if number in schema:
                raise InvalidMessageError(f"field {number} has the wrong wire type")
            position += 8 if wire_type == _FIXED64 else 4
            if position > size:
                raise InvalidMessageError("truncated fixed-size field")
        else:
            raise InvalidMessageError(f"unsupported wire type {wire_type}")
    return fields


def _put_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def encode_fields(fields: list[tuple[int, int | bytes]]) -> bytes:
    """Encode ``(number, value)`` pairs in the given order (ints as varints, bytes as length)."""
    out = bytearray()
    for number, value in fields:
        if isinstance(value, bytes):
            _put_varint(out, number << 3 | _LENGTH)
            _put_varint(out, len(value))
            out += value
        else:
            _put_varint(out, number << 3 | _VARINT)
            _put_varint(out, value & _UINT32)
    return bytes(out)


def _bytes_field(fields: Fields, number: int, name: str) -> bytes:
    value = fields.get(number)
    if not isinstance(value, bytes):
        raise InvalidMessageError(f"missing {name}")
    return value


def _int_field(fields: Fields, number: int, default: int | None) -> int | None:
    value = fields.get(number, default)
    assert value is None or isinstance(value, int)
    return value


_SIGNAL_SCHEMA = {1: _LENGTH, 2: _VARINT, 3: _VARINT, 4: _LENGTH}
_PREKEY_SCHEMA = {1: _VARINT, 2: _LENGTH, 3: _LENGTH, 4: _LENGTH, 5: _VARINT, 6: _VARINT}
_SKMSG_SCHEMA = {1: _VARINT, 2: _VARINT, 3: _LENGTH}
_SKDM_SCHEMA = {1: _VARINT, 2: _VARINT, 3: _LENGTH, 4: _LENGTH}


@dataclass(frozen=True, slots=True)
class SignalMessage:
    """A ``msg``: ``version || proto || mac8``; ``body`` is the proto the MAC covers."""

    ratchet_key: bytes
    counter: int
    previous_counter: int
    ciphertext: bytes
    body: bytes
    mac: bytes

    @classmethod
    def parse(cls, data: bytes) -> SignalMessage:
        if len(data) < 1 + MAC_SIZE:
            raise InvalidMessageError("a SignalMessage is at least 9 bytes")
        check_version(data[0], "SignalMessage")
        body = data[1:-MAC_SIZE]
        fields = parse_fields(body, _SIGNAL_SCHEMA)
        return cls(
            ratchet_key=_bytes_field(fields, 1, "ratchet key"),
            counter=_int_field(fields, 2, 0) or 0,
            previous_counter=_int_field(fields, 3, 0) or 0,
            ciphertext=_bytes_field(fields, 4, "ciphertext"),
            body=body,
            mac=data[-MAC_SIZE:],
        )

    @staticmethod
    def encode_body(ratchet_key: bytes, counter: int, previous_counter: int, ct: bytes) -> bytes:
        return encode_fields([(1, ratchet_key), (2, counter), (3, previous_counter), (4, ct)])


@dataclass(frozen=True, slots=True)
class PreKeySignalMessage:
    """A ``pkmsg``: ``version || proto``; the inner ``message`` is a whole SignalMessage."""

    pre_key_id: int | None
    base_key: bytes
    identity_key: bytes
    message: bytes
    registration_id: int | None
    signed_pre_key_id: int

    @classmethod
    def parse(cls, data: bytes) -> PreKeySignalMessage:
        if not data:
            raise InvalidMessageError("empty PreKeySignalMessage")
        check_version(data[0], "PreKeySignalMessage")
        fields = parse_fields(data[1:], _PREKEY_SCHEMA)
        return cls(
            pre_key_id=_int_field(fields, 1, None),
            base_key=_bytes_field(fields, 2, "base key"),
            identity_key=_bytes_field(fields, 3, "identity key"),
            message=_bytes_field(fields, 4, "inner message"),
            registration_id=_int_field(fields, 5, None),
            signed_pre_key_id=_int_field(fields, 6, 0) or 0,
        )

    def encode(self) -> bytes:
        fields: list[tuple[int, int | bytes]] = []
        if self.pre_key_id:
            fields.append((1, self.pre_key_id))
        fields += [(2, self.base_key), (3, self.identity_key), (4, self.message)]
        fields += [(5, self.registration_id or 0), (6, self.signed_pre_key_id)]
        return bytes((VERSION_BYTE,)) + encode_fields(fields)


@dataclass(frozen=True, slots=True)
class SenderKeyMessage:
    """A ``skmsg``: ``version || proto || signature64``; the signature covers all before it."""

    key_id: int
    iteration: int
    ciphertext: bytes
    signed: bytes
    signature: bytes

    @classmethod
    def parse(cls, data: bytes) -> SenderKeyMessage:
        if len(data) < 1 + SIGNATURE_SIZE:
            raise InvalidMessageError("a SenderKeyMessage is at least 65 bytes")
        # Baileys reads the version byte without checking it; the signature covers it anyway.
        fields = parse_fields(data[1:-SIGNATURE_SIZE], _SKMSG_SCHEMA)
        return cls(
            key_id=_int_field(fields, 1, 0) or 0,
            iteration=_int_field(fields, 2, 0) or 0,
            ciphertext=_bytes_field(fields, 3, "ciphertext"),
            signed=data[:-SIGNATURE_SIZE],
            signature=data[-SIGNATURE_SIZE:],
        )

    @staticmethod
    def encode_unsigned(key_id: int, iteration: int, ciphertext: bytes) -> bytes:
        body = encode_fields([(1, key_id), (2, iteration), (3, ciphertext)])
        return bytes((VERSION_BYTE,)) + body


@dataclass(frozen=True, slots=True)
class SenderKeyDistributionMessage:
    """An SKDM: ``version || proto{id, iteration, chainKey, signingKey}``."""

    key_id: int
    iteration: int
    chain_key: bytes
    signing_key: bytes

    @classmethod
    def parse(cls, data: bytes) -> SenderKeyDistributionMessage:
        if not data:
            raise InvalidMessageError("empty SenderKeyDistributionMessage")
        fields = parse_fields(data[1:], _SKDM_SCHEMA)
        return cls(
            key_id=_int_field(fields, 1, 0) or 0,
            iteration=_int_field(fields, 2, 0) or 0,
            chain_key=_bytes_field(fields, 3, "chain key"),
            signing_key=_bytes_field(fields, 4, "signing key"),
        )

    def encode(self) -> bytes:
        body = encode_fields(
            [(1, self.key_id), (2, self.iteration), (3, self.chain_key), (4, self.signing_key)]
        )
        return bytes((VERSION_BYTE,)) + body
