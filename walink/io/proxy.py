"""Proxy settings: which SOCKS5 or HTTP CONNECT proxy to tunnel through, parsed once, never shown.

Theory of operation. A proxy is given as a URL, ``socks5://[user:password@]host:port`` or
``http://[user:password@]host:port`` (``socks5h://`` is accepted as another name of ``socks5://``,
as curl spells it). ``Proxy.parse`` checks it completely before anything dials: the scheme, a host,
an explicit port, and credentials the proxy protocol can carry (SOCKS5 sends user name and password
as ASCII strings of 1 to 255 bytes; HTTP Basic authentication as Latin-1, with no colon in the user
name). A refused URL raises ``ProxyURLError``, whose message never repeats the credentials.

With a SOCKS5 proxy the server's host name is sent to the proxy, which resolves it: no DNS query
for the server leaves this machine (curl's ``socks5h`` behaviour), and a proxy that is the only
way out (Tor, a corporate gateway) still works.

Credentials are secrets: ``str()`` and ``repr()`` show ``***`` in their place (``redacted``), and
so does every error message the transport builds from a ``Proxy``. Only ``url`` carries them, for
a library that needs the whole URL.

The tunnel itself is opened by ``walink.io.websocket.open_stream`` with python-socks' anyio backend
(it runs under asyncio and trio). A component that downloads over HTTP (media, history blobs) has
two ways to use the same proxy:

- ``walink.io.websocket.open_stream(host, port, proxy=..., ssl_context=..., timeout=...)``: a byte
  stream to ``host:port`` through the proxy, TLS on top when an ``ssl_context`` is given, with the
  same typed errors as the WebSocket;
- ``httpx.AsyncClient(proxy=proxy.url)``: httpx speaks HTTP proxies itself and SOCKS5 with its
  ``socks`` extra (``pip install httpx[socks]``); ``url`` is the form it takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

__all__ = ["Proxy", "ProxyScheme", "ProxyURLError"]

ProxyScheme = Literal["socks5", "http"]
"""The proxy protocols walink tunnels through."""

_SCHEMES: dict[str, ProxyScheme] = {"socks5": "socks5", "socks5h": "socks5", "http": "http"}

_SOCKS5_FIELD_MAX = 255  # RFC 1929: one length byte before the user name and the password


class ProxyURLError(ValueError):
    """A proxy URL walink cannot use; the message never contains the credentials."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Proxy:
    """One proxy: ``Proxy.parse("socks5://user:pass@127.0.0.1:1080")``.

    ``str()`` and ``repr()`` hide the credentials; ``url`` is the complete URL.
    """

    scheme: ProxyScheme
    """``"socks5"`` or ``"http"`` (HTTP CONNECT)."""
    host: str
    """The proxy's host name or IP address (an IPv6 address without brackets)."""
    port: int
    """The proxy's TCP port."""
    username: str | None = field(default=None, repr=False)
    """The user name, or None when the proxy takes no credentials."""
    password: str | None = field(default=None, repr=False)
    """The password (set exactly when ``username`` is)."""

    def __post_init__(self) -> None:
        if self.scheme not in ("socks5", "http"):
            raise ProxyURLError(f"proxy scheme must be socks5 or http, not {self.scheme!r}")
        if not self.host:
            raise ProxyURLError("a proxy needs a host")
        if not 0 < self.port < 65536:
            raise ProxyURLError(f"proxy port out of range: {self.port}")
        if (self.username is None) != (self.password is None):
            raise ProxyURLError("proxy credentials need a user name and a password")
        if self.username is not None and self.password is not None:
            _check_credentials(self.scheme, self.username, self.password)

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """The proxy ``url`` names; ``ProxyURLError`` when walink cannot use it."""
        if not isinstance(url, str):
            raise ProxyURLError(f"a proxy URL is a string, not {type(url).__name__}")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            # urlsplit's own message may quote the URL, credentials included
            raise ProxyURLError("not a usable proxy URL (bad host or port)") from None
        scheme = _SCHEMES.get(parts.scheme.lower())
        if scheme is None:
            shown = parts.scheme or "none"
            raise ProxyURLError(
                f"proxy scheme must be socks5://, socks5h:// or http://, not {shown!r}"
            )
        host = parts.hostname
        if not host:
            raise ProxyURLError("a proxy URL needs a host")
        if port is None:
            # no default: 1080 and 8080 are habits, not standards, and a wrong guess reads as
            # "proxy down"
            raise ProxyURLError(f"a proxy URL needs a port ({scheme}://{_bracket(host)}:PORT)")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ProxyURLError("a proxy URL has no path, query or fragment")
        username: str | None = None
        password: str | None = None
        if parts.username is not None:
            username = unquote(parts.username)
            password = unquote(parts.password) if parts.password is not None else ""
        return cls(scheme=scheme, host=host, port=port, username=username, password=password)

    @property
    def has_credentials(self) -> bool:
        """Whether the proxy is given a user name and password."""
        return self.username is not None

    @property
    def redacted(self) -> str:
        """The URL with ``***`` for the credentials: what logs and messages show."""
        secret = "***@" if self.has_credentials else ""
        return f"{self.scheme}://{secret}{_bracket(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The complete URL, credentials percent-encoded: a secret (httpx's ``proxy=`` takes it)."""
        secret = ""
        if self.username is not None and self.password is not None:
            secret = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@"
        return f"{self.scheme}://{secret}{_bracket(self.host)}:{self.port}"

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"Proxy({self.redacted!r})"


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _check_credentials(scheme: ProxyScheme, username: str, password: str) -> None:
    if scheme == "socks5":
        for name, value in (("user name", username), ("password", password)):
            if not value.isascii():
                raise ProxyURLError(f"a SOCKS5 proxy {name} must be ASCII")
            if not 0 < len(value) <= _SOCKS5_FIELD_MAX:
                raise ProxyURLError(f"a SOCKS5 proxy {name} has 1 to 255 characters")
        return
    if not username:
        raise ProxyURLError("an HTTP proxy user name must not be empty")
    if ":" in username:
        raise ProxyURLError("an HTTP proxy user name cannot contain ':'")
    for name, value in (("user name", username), ("password", password)):
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ProxyURLError(f"an HTTP proxy {name} must be Latin-1 text") from None
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ProxyURLError(f"an HTTP proxy {name} must not contain control characters")
