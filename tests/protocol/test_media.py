"""walink.protocol.media: the media crypto's four checks, media_conn, download URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.media import (
    HISTORY_KEYS_INFO,
    DecryptFailedError,
    EncryptedHashMismatchError,
    MacMismatchError,
    MediaConn,
    PlaintextHashMismatchError,
    decrypt_media,
    download_url,
    encrypt_media,
    expand_media_key,
    is_loopback_url,
    media_conn_query,
    parse_media_conn,
)

MEDIA_KEY = bytes(range(32))
PLAINTEXT = b"history chunk " * 40


def _decrypt(data: bytes, file_enc_sha256: bytes, file_sha256: bytes) -> bytes:
    return decrypt_media(
        data, media_key=MEDIA_KEY, file_enc_sha256=file_enc_sha256, file_sha256=file_sha256
    )


def test_expanded_keys_split_112_bytes() -> None:
    keys = expand_media_key(MEDIA_KEY, HISTORY_KEYS_INFO)
    assert (len(keys.iv), len(keys.cipher_key), len(keys.mac_key), len(keys.ref_key)) == (
        16,
        32,
        32,
        32,
    )
    # a different info string gives different keys (history keys are not image keys)
    assert expand_media_key(MEDIA_KEY, b"WhatsApp Image Keys") != keys
    with pytest.raises(RemoteProtocolError):
        expand_media_key(b"short", HISTORY_KEYS_INFO)
    with pytest.raises(LocalProtocolError):
        encrypt_media(b"x", b"short", HISTORY_KEYS_INFO)


@given(st.binary(max_size=2000), st.binary(min_size=32, max_size=32))
def test_round_trip(plaintext: bytes, media_key: bytes) -> None:
    media = encrypt_media(plaintext, media_key, HISTORY_KEYS_INFO)
    assert len(media.data) % 16 == 10 and media.file_length == len(plaintext)
    assert media.file_enc_sha256 == hashlib.sha256(media.data).digest()
    out = decrypt_media(
        media.data,
        media_key=media_key,
        file_enc_sha256=media.file_enc_sha256,
        file_sha256=media.file_sha256,
    )
    assert out == plaintext


def test_each_check_fails_on_its_own_flipped_byte() -> None:
    media = encrypt_media(PLAINTEXT, MEDIA_KEY, HISTORY_KEYS_INFO)
    assert _decrypt(media.data, media.file_enc_sha256, media.file_sha256) == PLAINTEXT

    # 1. one byte of the download flipped: its hash no longer matches
    flipped = bytearray(media.data)
    flipped[5] ^= 1
    with pytest.raises(EncryptedHashMismatchError) as caught:
        _decrypt(bytes(flipped), media.file_enc_sha256, media.file_sha256)
    assert caught.value.check == "file_enc_sha256"

    # 2. the same flipped byte with a matching download hash: the MAC catches it
    with pytest.raises(MacMismatchError):
        _decrypt(bytes(flipped), hashlib.sha256(flipped).digest(), media.file_sha256)
    # ... and a flipped MAC byte alone too
    bad_mac = bytearray(media.data)
    bad_mac[-1] ^= 0x80
    with pytest.raises(MacMismatchError):
        _decrypt(bytes(bad_mac), hashlib.sha256(bad_mac).digest(), media.file_sha256)

    # 3. a byte flipped before encryption in the padding: hash and MAC match, AES-CBC's
    # PKCS7 check fails
    keys = expand_media_key(MEDIA_KEY, HISTORY_KEYS_INFO)
    bad_padding = PLAINTEXT + bytes([16] * 15 + [17])
    encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
    ciphertext = encryptor.update(bad_padding) + encryptor.finalize()
    mac = hmac.new(keys.mac_key, keys.iv + ciphertext, hashlib.sha256).digest()[:10]
    data = ciphertext + mac
    with pytest.raises(DecryptFailedError):
        _decrypt(data, hashlib.sha256(data).digest(), media.file_sha256)

    # 4. one byte of the expected plaintext hash flipped
    wrong = bytearray(media.file_sha256)
    wrong[0] ^= 1
    with pytest.raises(PlaintextHashMismatchError):
        _decrypt(media.data, media.file_enc_sha256, bytes(wrong))


def test_short_and_unaligned_files() -> None:
    for data in (b"", b"123456789", b"x" * 10, b"y" * 27):
        with pytest.raises(RemoteProtocolError):
            _decrypt(data, hashlib.sha256(data).digest(), b"\0" * 32)


@given(st.binary(max_size=200))
def test_arbitrary_files_raise_remote_errors(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        _decrypt(data, hashlib.sha256(data).digest(), b"\0" * 32)


def test_media_conn_query_and_answer() -> None:
    assert media_conn_query() == Node(
        "iq", {"xmlns": "w:m", "type": "set", "to": "s.whatsapp.net"}, [Node("media_conn")]
    )
    reply = Node(
        "iq",
        {"type": "result", "id": "1"},
        [
            Node(
                "media_conn",
                {"auth": "AUTH", "ttl": "300", "auth_ttl": "21600", "max_buckets": "12"},
                [
                    Node("host", {"hostname": "mmg.whatsapp.net"}),
                    Node("host", {"hostname": "media-ams4-1.cdn.whatsapp.net"}),
                    Node("host", {}),
                ],
            )
        ],
    )
    assert parse_media_conn(reply) == MediaConn(
        hosts=("mmg.whatsapp.net", "media-ams4-1.cdn.whatsapp.net"), ttl=300, auth="AUTH"
    )
    for bad in (
        Node("iq", {"type": "result"}),
        Node("iq", {}, [Node("media_conn")]),
        Node("iq", {}, [Node("media_conn", {}, [Node("host", {"hostname": "a/b"})])]),
    ):
        with pytest.raises(RemoteProtocolError):
            parse_media_conn(bad)


def test_download_url_forms() -> None:
    enc = bytes(range(32))
    digest = base64.urlsafe_b64encode(enc).decode()
    path = "/v/t62.7119-24/123_456_n.enc?ccb=11-4&oh=X&oe=Y"
    assert download_url("mmg.whatsapp.net", path, enc, "md-msg-hist") == (
        f"https://mmg.whatsapp.net{path}&hash={digest}&mms-type=md-msg-hist&__wa-mms="
    )
    assert download_url("mmg.whatsapp.net", "/v/a.enc", enc, "md-msg-hist").startswith(
        "https://mmg.whatsapp.net/v/a.enc?hash="
    )
    # an emulator: its loopback host is plain HTTP, and its loopback URL is used as is
    assert download_url("127.0.0.1:8080", "/mms/x", enc, "md-msg-hist").startswith(
        "http://127.0.0.1:8080/mms/x?hash="
    )
    url = "http://127.0.0.1:9/mms/history/1"
    assert download_url("mmg.whatsapp.net", url, enc, "md-msg-hist") == url
    assert is_loopback_url(url) and not is_loopback_url("https://127.0.0.1/x")
    with pytest.raises(RemoteProtocolError):
        download_url("mmg.whatsapp.net", "http://example.com/x", enc, "md-msg-hist")


_nodes = st.recursive(
    st.builds(
        Node,
        st.sampled_from(["media_conn", "host", "iq", "x"]),
        st.dictionaries(st.sampled_from(["hostname", "ttl", "auth"]), st.text(max_size=12)),
    ),
    lambda children: st.builds(
        Node,
        st.sampled_from(["media_conn", "host", "iq"]),
        st.dictionaries(st.sampled_from(["hostname", "ttl"]), st.text(max_size=12)),
        st.lists(children, max_size=4),
    ),
    max_leaves=8,
)


@given(_nodes)
def test_media_conn_parser_parses_or_raises_remote(node: Node) -> None:
    try:
        conn = parse_media_conn(Node("iq", {}, [node]))
    except RemoteProtocolError:
        return
    assert conn.hosts and all("/" not in host for host in conn.hosts)
