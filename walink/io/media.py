"""Media downloads over httpx (history blobs first), on anyio: asyncio and trio alike.

Theory of operation. The session asks for a history blob with a ``HistoryDownload`` (the sans-IO
request: direct path, hashes, media key); ``download_history(downloader, request, hosts)``
fetches it with a ``Downloader`` and verifies and decrypts it (the four checks of
``walink.protocol.media``), returning the compressed chunk for ``decode_history``.

``HttpDownloader`` is the default ``Downloader``. It tries the ``media_conn`` hosts in order
(``mmg.whatsapp.net`` when none are known) with whatsmeow's URL form and headers (Origin,
Referer, User-Agent; no auth token). Each host gets a few attempts: a network error, a
truncated body or a retryable status (408, 429, 5xx) waits (the server's ``Retry-After`` when
it sends one, else exponential backoff) and tries again. It stops at once, on every host, on
403 (``MediaForbiddenError``), 404 and 410 (``MediaGoneError``: ask the phone to upload again
with a ``server-error`` receipt) and on a download whose SHA-256 is not ``fileEncSha256``
(``EncryptedHashMismatchError``). A direct path that is already a loopback ``http://`` URL (the
emulator's) is downloaded as is. Bodies are capped (``max_size``) while they stream in.

A user may plug in any object with the ``Downloader`` method (a proxy, a cache, a mirror).
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Protocol, runtime_checkable

import anyio
import httpx

from walink.protocol.history import HistoryDownload
from walink.protocol.media import EncryptedHashMismatchError, download_url, is_loopback_url

__all__ = [
    "DEFAULT_MEDIA_HOST",
    "Downloader",
    "HttpDownloader",
    "MediaDownloadError",
    "MediaForbiddenError",
    "MediaGoneError",
    "MediaTooLargeError",
    "MediaUnavailableError",
    "download_history",
]

DEFAULT_MEDIA_HOST: Final = "mmg.whatsapp.net"
"""Where history is fetched when no ``media_conn`` hosts are known (Baileys' fixed host)."""
WEB_ORIGIN: Final = "https://web.whatsapp.com"
DEFAULT_USER_AGENT: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
DEFAULT_MAX_MEDIA_SIZE: Final = 512 * 1024 * 1024
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


class MediaDownloadError(Exception):
    """A media download failed; the subclass says why. ``status`` is the HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.status = status
        self.url = url


class MediaGoneError(MediaDownloadError):
    """404 or 410: the blob is not on the server (any more); the phone can upload it again."""


class MediaForbiddenError(MediaDownloadError):
    """403: the server refused the download."""


class MediaTooLargeError(MediaDownloadError):
    """The body is larger than the downloader's ``max_size``."""


class MediaUnavailableError(MediaDownloadError):
    """Every host and attempt failed (network errors, truncated bodies, server errors)."""


@runtime_checkable
class Downloader(Protocol):
    """Fetches the encrypted file of a media download (``HttpDownloader`` is the default)."""

    async def download(self, request: HistoryDownload, hosts: Sequence[str]) -> bytes:
        """The downloaded bytes (ciphertext and MAC), not yet verified.

        ``hosts`` are the ``media_conn`` hosts in order (may be empty). Raise a
        ``MediaDownloadError`` (``MediaGoneError`` for a blob that is gone) or let a
        ``walink.protocol.media.MediaIntegrityError`` through.
        """
        ...


async def download_history(
    downloader: Downloader, request: HistoryDownload, hosts: Sequence[str] = ()
) -> bytes:
    """Download, verify and decrypt a history blob: the compressed chunk.

    Raises ``MediaDownloadError`` subclasses or ``walink.protocol.media.MediaIntegrityError``
    subclasses (both mean: send the ``server-error`` receipt and report the chunk missing).
    """
    data = await downloader.download(request, hosts)
    # verification is CPU-bound (hashes, HMAC, AES over up to hundreds of MB): off the loop
    return await anyio.to_thread.run_sync(request.verify, data)


Sleep = Callable[[float], Awaitable[None]]


class HttpDownloader:
    """The default ``Downloader``: httpx, hosts in order, retries with backoff."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        timeout: float = 60.0,
        max_size: int = DEFAULT_MAX_MEDIA_SIZE,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        """``client``: an httpx client of your own (proxies, certificates); by default one is
        made per download. ``attempts`` per host; waits double from ``backoff`` up to
        ``max_backoff`` seconds; a ``Retry-After`` is honoured up to ``max_retry_after``.
        ``sleep`` is how waits happen (tests pass a fake)."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._client = client
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._timeout = timeout
        self._max_size = max_size
        self._user_agent = user_agent
        self._sleep = sleep

    def urls(self, request: HistoryDownload, hosts: Sequence[str]) -> list[str]:
        """The URLs tried, in order."""
        if is_loopback_url(request.direct_path):
            return [request.direct_path]
        return [
            download_url(host, request.direct_path, request.file_enc_sha256, request.mms_type)
            for host in (hosts or (DEFAULT_MEDIA_HOST,))
        ]

    async def download(self, request: HistoryDownload, hosts: Sequence[str]) -> bytes:
        """See ``Downloader.download``."""
        urls = self.urls(request, hosts)
        if self._client is not None:
            return await self._download(self._client, request, urls)
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=True) as client:
            return await self._download(client, request, urls)

    async def _download(
        self, client: httpx.AsyncClient, request: HistoryDownload, urls: list[str]
    ) -> bytes:
        last: str = "no host to try"
        last_status: int | None = None
        for url in urls:
            for attempt in range(self._attempts):
                outcome = await self._attempt(client, url)
                if isinstance(outcome, bytes):
                    digest = hashlib.sha256(outcome).digest()
                    if not hmac.compare_digest(digest, request.file_enc_sha256):
                        raise EncryptedHashMismatchError(
                            "the download's SHA-256 is not fileEncSha256"
                        )
                    return outcome
                last, last_status, wait = outcome
                if wait is None:  # not worth another attempt on this host
                    break
                if attempt + 1 < self._attempts:
                    await self._sleep(wait if wait >= 0 else self._delay(attempt))
        raise MediaUnavailableError(f"download failed: {last}", status=last_status, url=urls[-1])

    def _delay(self, attempt: int) -> float:
        return float(min(self._max_backoff, self._backoff * 2**attempt))

    async def _attempt(
        self, client: httpx.AsyncClient, url: str
    ) -> bytes | tuple[str, int | None, float | None]:
        """The body, or (why it failed, status, how long to wait: -1 backoff, None next host)."""
        headers = {
            "Origin": WEB_ORIGIN,
            "Referer": WEB_ORIGIN + "/",
            "User-Agent": self._user_agent,
        }
        try:
            async with client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status in (404, 410):
                    raise MediaGoneError(f"media is gone ({status})", status=status, url=url)
                if status == 403:
                    raise MediaForbiddenError("media download forbidden (403)", status=403, url=url)
                if status in _RETRYABLE_STATUSES:
                    return f"HTTP {status}", status, self._retry_after(response)
                if status != 200:
                    return f"HTTP {status}", status, None
                return await self._read(response, url)
        except httpx.TransportError as error:  # connect, read, truncated body, protocol
            return f"{type(error).__name__}: {error}", None, -1.0
        except httpx.InvalidURL as error:  # a direct path httpx cannot send: no retry helps
            raise MediaUnavailableError(f"invalid media URL: {error}", url=url) from None

    async def _read(self, response: httpx.Response, url: str) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_size:
            raise MediaTooLargeError(f"media of {declared} bytes is over the cap", url=url)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_size:
                raise MediaTooLargeError("media body is over the cap", url=url)
        return bytes(body)

    def _retry_after(self, response: httpx.Response) -> float:
        """Seconds the server asked to wait (capped), or -1 for our own backoff."""
        value = response.headers.get("retry-after")
        if value is None:
            return -1.0
        value = value.strip()
        if value.isdigit():
            return float(min(int(value), self._max_retry_after))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return -1.0
        return max(0.0, min(when.timestamp() - time.time(), self._max_retry_after))
