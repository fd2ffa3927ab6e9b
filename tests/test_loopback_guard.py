"""The guard that keeps the suite on loopback must itself fail loudly."""

from __future__ import annotations

import socket

import anyio
import pytest

from tests.loopback_guard import NonLoopbackConnectionError, is_loopback_address
from walink.io import ProxyUnreachableError, connect_websocket


@pytest.mark.parametrize(
    ("address", "family", "expected"),
    [
        (("127.0.0.1", 80), socket.AF_INET, True),
        (("127.5.6.7", 80), socket.AF_INET, True),
        (("::1", 80, 0, 0), socket.AF_INET6, True),
        (("::ffff:127.0.0.1", 80, 0, 0), socket.AF_INET6, True),
        (("localhost", 80), socket.AF_INET, True),
        (("157.240.0.53", 443), socket.AF_INET, False),
        (("10.0.0.1", 443), socket.AF_INET, False),
        (("web.whatsapp.com", 443), socket.AF_INET, False),
        (("2a03:2880::1", 443, 0, 0), socket.AF_INET6, False),
        (None, socket.AF_INET, False),
    ],
)
def test_is_loopback_address(address: object, family: int, expected: bool) -> None:
    assert is_loopback_address(address, family) is expected


def test_connect_to_public_address_fails_loudly() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NonLoopbackConnectionError, match="non-loopback"):
            sock.connect(("157.240.0.53", 443))
        with pytest.raises(NonLoopbackConnectionError):
            sock.connect_ex(("8.8.8.8", 53))
    finally:
        sock.close()


def test_create_connection_to_public_address_fails_loudly() -> None:
    with pytest.raises(NonLoopbackConnectionError):
        socket.create_connection(("1.1.1.1", 443), timeout=1)


def test_udp_sendto_public_address_fails_loudly() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(NonLoopbackConnectionError):
            sock.sendto(b"x", ("8.8.8.8", 53))
    finally:
        sock.close()


def test_loopback_connect_is_allowed() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        client = socket.create_connection(server.getsockname(), timeout=5)
        client.close()
    finally:
        server.close()


@pytest.mark.parametrize("scheme", ["socks5", "http"])
def test_a_tunnel_to_a_public_address_fails_loudly(scheme: str) -> None:
    # the proxy is on loopback: only its destination tells that the test would leave the machine
    proxy = f"{scheme}://127.0.0.1:1"  # nothing listens there, and the guard fires first

    async def dial(url: str) -> None:
        await connect_websocket(url, proxy=proxy)

    for url in ("wss://web.whatsapp.com/ws/chat", "ws://157.240.0.53/ws/chat"):
        with pytest.raises(NonLoopbackConnectionError, match="through a proxy"):
            anyio.run(dial, url)
    # a loopback destination goes on to the proxy (down here)
    with pytest.raises(ProxyUnreachableError):
        anyio.run(dial, "ws://127.0.0.1:2/ws")
