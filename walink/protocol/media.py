"""WhatsApp media crypto and the ``media_conn`` query, sans-IO.

Theory of operation. Media (history chunks among them) travels as an encrypted file on the
media servers: ``AES-256-CBC(plaintext) ‖ HMAC-SHA256(macKey, iv ‖ ciphertext)[:10]``. The
keys come from the message's 32-byte ``mediaKey`` through HKDF-SHA256 (no salt) with an info
string per media type ("WhatsApp History Keys" for history), 112 bytes split into
iv 16 ‖ cipherKey 32 ‖ macKey 32 ‖ refKey 32. The message also carries ``fileEncSha256`` (the
SHA-256 of the downloaded file) and ``fileSha256`` (that of the plaintext).

``decrypt_media`` runs the four checks in order, each with its own error type: the hash of the
download, the 10-byte MAC, the AES-CBC decryption with its PKCS7 padding, the hash of the
plaintext. ``encrypt_media`` is the reverse, for the emulator's phone and for tests.

Hosts: ``media_conn_query()`` is the ``<iq xmlns="w:m">`` the client sends (the session gives
it an id); ``parse_media_conn`` reads the answer into a ``MediaConn`` (hosts in order, ttl).
``download_url`` builds whatsmeow's URL form for a direct path on a host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "HISTORY_KEYS_INFO",
    "HISTORY_MMS_TYPE",
    "MAC_SIZE",
    "MEDIA_KEY_SIZE",
    "DecryptFailedError",
    "EncryptedHashMismatchError",
    "EncryptedMedia",
    "MacMismatchError",
    "MediaConn",
    "MediaIntegrityError",
    "MediaKeys",
    "PlaintextHashMismatchError",
    "decrypt_media",
    "download_url",
    "encrypt_media",
    "expand_media_key",
    "is_loopback_url",
    "media_conn_query",
    "parse_media_conn",
]

HISTORY_KEYS_INFO: Final = b"WhatsApp History Keys"
"""The HKDF info of history blobs (media type ``md-msg-hist``)."""
HISTORY_MMS_TYPE: Final = "md-msg-hist"
MEDIA_KEY_SIZE: Final = 32
MAC_SIZE: Final = 10
_BLOCK: Final = 16
_EXPANDED_SIZE: Final = 112
_SERVER_JID: Final = "s.whatsapp.net"


class MediaIntegrityError(RemoteProtocolError):
    """A downloaded media file failed one of its four checks; ``check`` names which."""

    check: str = ""


class EncryptedHashMismatchError(MediaIntegrityError):
    """The SHA-256 of the downloaded bytes is not the message's ``fileEncSha256``."""

    check = "file_enc_sha256"


class MacMismatchError(MediaIntegrityError):
    """The 10-byte HMAC at the end of the file does not match (wrong key or altered bytes)."""

    check = "mac"


class DecryptFailedError(MediaIntegrityError):
    """The ciphertext is not whole AES blocks, or its PKCS7 padding is invalid."""

    check = "decrypt"


class PlaintextHashMismatchError(MediaIntegrityError):
    """The SHA-256 of the decrypted bytes is not the message's ``fileSha256``."""

    check = "file_sha256"


@dataclass(frozen=True, slots=True)
class MediaKeys:
    """The keys HKDF derives from a media key."""

    iv: bytes
    cipher_key: bytes
    mac_key: bytes
    ref_key: bytes


@dataclass(frozen=True, slots=True)
class EncryptedMedia:
    """An encrypted media file and the hashes its message carries."""

    data: bytes
    """What the media server stores: ciphertext ‖ 10-byte MAC."""
    file_sha256: bytes
    file_enc_sha256: bytes
    file_length: int
    """The plaintext's length."""


def expand_media_key(media_key: bytes, info: bytes) -> MediaKeys:
    """HKDF-SHA256(media_key, no salt, info) → iv, cipher key, MAC key, ref key.

    ``RemoteProtocolError`` unless the media key is 32 bytes (a message's field)."""
    if len(media_key) != MEDIA_KEY_SIZE:
        raise RemoteProtocolError(f"media key of {len(media_key)} bytes (expected 32)")
    expanded = HKDF(algorithm=hashes.SHA256(), length=_EXPANDED_SIZE, salt=None, info=info).derive(
        media_key
    )
    return MediaKeys(
        iv=expanded[:16], cipher_key=expanded[16:48], mac_key=expanded[48:80], ref_key=expanded[80:]
    )


def encrypt_media(plaintext: bytes, media_key: bytes, info: bytes) -> EncryptedMedia:
    """Encrypt ``plaintext`` as the media servers store it (``LocalProtocolError``: bad key)."""
    if len(media_key) != MEDIA_KEY_SIZE:
        raise LocalProtocolError("a media key is 32 bytes")
    keys = expand_media_key(media_key, info)
    pad = _BLOCK - len(plaintext) % _BLOCK
    encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
    ciphertext = encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
    mac = hmac.new(keys.mac_key, keys.iv + ciphertext, hashlib.sha256).digest()[:MAC_SIZE]
    data = ciphertext + mac
    return EncryptedMedia(
        data=data,
        file_sha256=hashlib.sha256(plaintext).digest(),
        file_enc_sha256=hashlib.sha256(data).digest(),
        file_length=len(plaintext),
    )


def decrypt_media(
    data: bytes,
    *,
    media_key: bytes,
    file_enc_sha256: bytes,
    file_sha256: bytes,
    info: bytes = HISTORY_KEYS_INFO,
) -> bytes:
    """Verify and decrypt a downloaded media file: the four checks, each its own error type."""
    if not hmac.compare_digest(hashlib.sha256(data).digest(), file_enc_sha256):
        raise EncryptedHashMismatchError("the download's SHA-256 is not fileEncSha256")
    keys = expand_media_key(media_key, info)
    if len(data) < MAC_SIZE:
        raise MacMismatchError("the file is shorter than its MAC")
    view = memoryview(data)
    ciphertext, mac = view[:-MAC_SIZE], view[-MAC_SIZE:]
    signer = hmac.new(keys.mac_key, keys.iv, hashlib.sha256)
    signer.update(ciphertext)
    if not hmac.compare_digest(signer.digest()[:MAC_SIZE], mac):
        raise MacMismatchError("the media MAC does not match")
    if len(ciphertext) == 0 or len(ciphertext) % _BLOCK:
        raise DecryptFailedError("the ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise DecryptFailedError("invalid PKCS7 padding")
    plaintext = padded[:-pad]
    if not hmac.compare_digest(hashlib.sha256(plaintext).digest(), file_sha256):
        raise PlaintextHashMismatchError("the plaintext's SHA-256 is not fileSha256")
    return plaintext


# ---- hosts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaConn:
    """The ``media_conn`` answer: download hosts in the server's order, and for how long."""

    hosts: tuple[str, ...]
    ttl: int | None = None
    auth: str | None = None
    """Used only for uploads and deletes; downloads send no token."""


def media_conn_query() -> Node:
    """``<iq xmlns="w:m" type="set" to="s.whatsapp.net"><media_conn/></iq>`` (no id yet)."""
    return Node("iq", {"xmlns": "w:m", "type": "set", "to": _SERVER_JID}, [Node("media_conn")])


def parse_media_conn(reply: Node) -> MediaConn:
    """The hosts of a ``media_conn`` answer; ``RemoteProtocolError`` when it names none."""
    conn = reply.child("media_conn")
    if conn is None:
        raise RemoteProtocolError("media_conn answer without <media_conn>")
    hosts = tuple(hostname for host in conn.children("host") if (hostname := host.attr("hostname")))
    if not hosts:
        raise RemoteProtocolError("media_conn answer without a host")
    for hostname in hosts:
        if "/" in hostname or "@" in hostname or any(c.isspace() for c in hostname):
            raise RemoteProtocolError(f"media_conn host is not a host name: {hostname!r}")
    ttl_text = conn.attr("ttl")
    ttl = int(ttl_text) if ttl_text is not None and ttl_text.isdigit() else None
    return MediaConn(hosts=hosts, ttl=ttl, auth=conn.attr("auth"))


def is_loopback_url(url: str) -> bool:
    """True for an ``http://`` URL on a loopback host (how the emulator serves its blobs)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _is_loopback_host(host: str) -> bool:
    return is_loopback_url(f"http://{host}/")


def download_url(host: str, direct_path: str, file_enc_sha256: bytes, mms_type: str) -> str:
    """whatsmeow's download URL: ``https://{host}{directPath}&hash=…&mms-type=…&__wa-mms=``.

    A direct path that is already a loopback ``http://`` URL (the emulator's) is used as is,
    and a loopback host (an emulator's ``media_conn``) is reached over plain HTTP.
    """
    if is_loopback_url(direct_path):
        return direct_path
    if not direct_path.startswith("/"):
        raise RemoteProtocolError(f"a direct path starts with '/': {direct_path[:40]!r}")
    scheme = "http" if _is_loopback_host(host) else "https"
    separator = "&" if "?" in direct_path else "?"
    digest = base64.urlsafe_b64encode(file_enc_sha256).decode("ascii")
    return f"{scheme}://{host}{direct_path}{separator}hash={digest}&mms-type={mms_type}&__wa-mms="
