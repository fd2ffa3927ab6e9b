"""A guard that makes any non-loopback network connection from the test process fail loudly.

No machine here reaches WhatsApp or the internet, and no test may try: every socket connect,
connect_ex and sendto is checked, and a destination outside 127.0.0.0/8, ::1 or a Unix socket
raises ``NonLoopbackConnectionError`` (which is not an OSError, so no retry loop swallows it).

A tunnel through a proxy is checked at both ends: the socket only sees the proxy, so the
destination that python-socks asks the proxy for is checked too, before the proxy is dialed (a
proxy process that the test started would otherwise carry the test off this machine).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class NonLoopbackConnectionError(RuntimeError):
    """A test tried to reach a non-loopback address."""


def is_loopback_address(address: Any, family: int) -> bool:
    """True when ``address`` (a socket address tuple or path) stays on this machine."""
    if family == getattr(socket, "AF_UNIX", None):
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False  # an unresolved name: refuse rather than guess
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _checked(original: Callable[..., Any], address_index: int) -> Callable[..., Any]:
    def guarded(self: socket.socket, *args: Any) -> Any:
        address = args[address_index] if len(args) > address_index else None
        if not is_loopback_address(address, self.family):
            raise NonLoopbackConnectionError(
                f"test tried to reach non-loopback address {address!r}; "
                "walink tests may only use 127.0.0.1 / ::1"
            )
        return original(self, *args)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    return guarded


@contextmanager
def loopback_only() -> Iterator[None]:
    """Patch ``socket.socket`` so that every outgoing address is checked while active."""
    originals: dict[str, Callable[..., Any]] = {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "sendto": socket.socket.sendto,
    }
    socket.socket.connect = _checked(originals["connect"], 0)  # type: ignore[method-assign]
    socket.socket.connect_ex = _checked(originals["connect_ex"], 0)  # type: ignore[method-assign]
    # sendto(data, address) or sendto(data, flags, address): the address is the last argument
    original_sendto = originals["sendto"]

    def guarded_sendto(self: socket.socket, *args: Any) -> Any:
        address = args[-1] if len(args) >= 2 else None
        if not is_loopback_address(address, self.family):
            raise NonLoopbackConnectionError(
                f"test tried to send to non-loopback address {address!r}"
            )
        return original_sendto(self, *args)

    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign,assignment]
    restore_tunnels = _guard_tunnels()
    try:
        yield
    finally:
        restore_tunnels()
        for name, original in originals.items():
            setattr(socket.socket, name, original)


def _guard_tunnels() -> Callable[[], None]:
    """Check the destination of every python-socks tunnel; return what undoes it."""
    from python_socks.async_.anyio import Proxy

    original = Proxy.connect

    async def guarded(self: Proxy, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback_address((host, port), socket.AF_INET):
            raise NonLoopbackConnectionError(
                f"test tried to reach non-loopback address {(host, port)!r} through a proxy; "
                "walink tests may only use 127.0.0.1 / ::1"
            )
        return await original(self, host, port, *args, **kwargs)

    Proxy.connect = guarded  # type: ignore[method-assign,assignment]

    def restore() -> None:
        Proxy.connect = original  # type: ignore[method-assign]

    return restore
