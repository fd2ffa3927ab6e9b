"""walink.io.media against a loopback HTTP server, on asyncio and trio: statuses, retries,
Retry-After, truncated bodies, the hash check, and the full download of a history blob."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc
import pytest

from walink.io.media import (
    DEFAULT_MEDIA_HOST,
    Downloader,
    HttpDownloader,
    MediaDownloadError,
    MediaForbiddenError,
    MediaGoneError,
    MediaTooLargeError,
    MediaUnavailableError,
    download_history,
)
from walink.protocol.history import HistoryDownload, decode_history
from walink.protocol.media import (
    HISTORY_KEYS_INFO,
    EncryptedHashMismatchError,
    MacMismatchError,
    encrypt_media,
)
from walink.protocol.proto import e2e_pb2

pytestmark = pytest.mark.anyio

MEDIA_KEY = bytes(range(32))
SYNC = e2e_pb2.HistorySync(
    sync_type=e2e_pb2.HistorySync.RECENT,
    conversations=[e2e_pb2.Conversation(id="15550002222@s.whatsapp.net", name="Alice")],
)
MEDIA = encrypt_media(zlib.compress(SYNC.SerializeToString()), MEDIA_KEY, HISTORY_KEYS_INFO)
PATH = "/v/t62.7119-24/1_2_n.enc?ccb=11-4&oh=a&oe=b"


def _request(direct_path: str = PATH) -> HistoryDownload:
    return HistoryDownload(
        message_id="N1",
        direct_path=direct_path,
        media_key=MEDIA_KEY,
        file_enc_sha256=MEDIA.file_enc_sha256,
        file_sha256=MEDIA.file_sha256,
    )


def _response(
    status: int,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} X",
        f"Content-Length: {len(body) if length is None else length}",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Script:
    """Answers requests in order with canned raw responses; records what was asked."""

    responses: list[bytes]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    data += await stream.receive()
                except anyio.EndOfStream:
                    return
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.requests.append((head[0], headers))
            answer = self.responses.pop(0) if self.responses else _response(500)
            await stream.send(answer)


@asynccontextmanager
async def serving(*responses: bytes) -> AsyncIterator[tuple[Script, str]]:
    script = Script(list(responses))
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, script.handle)
        yield script, f"127.0.0.1:{port}"
        group.cancel_scope.cancel()


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_download_verify_decode_and_headers() -> None:
    async with serving(_response(200, MEDIA.data)) as (script, host):
        downloader = HttpDownloader(user_agent="walink-test")
        assert isinstance(downloader, Downloader)
        chunk = await download_history(downloader, _request(), [host])
    assert decode_history(chunk) == SYNC
    ((line, headers),) = script.requests
    assert line.startswith("GET /v/t62.7119-24/1_2_n.enc?ccb=11-4&oh=a&oe=b&hash=")
    assert line.endswith("&mms-type=md-msg-hist&__wa-mms= HTTP/1.1")
    assert headers["origin"] == "https://web.whatsapp.com"
    assert headers["referer"] == "https://web.whatsapp.com/"
    assert headers["user-agent"] == "walink-test"
    assert "authorization" not in headers


async def test_emulator_url_is_fetched_as_is() -> None:
    async with serving(_response(200, MEDIA.data)) as (script, host):
        url = f"http://{host}/mms/history/N1"
        data = await HttpDownloader().download(_request(url), ["mmg.example.invalid"])
    assert data == MEDIA.data
    assert script.requests[0][0] == "GET /mms/history/N1 HTTP/1.1"


async def test_retries_with_backoff_then_succeeds() -> None:
    sleep = FakeSleep()
    async with serving(_response(503), _response(500), _response(200, MEDIA.data)) as (s, host):
        data = await HttpDownloader(sleep=sleep, backoff=0.25).download(_request(), [host])
    assert data == MEDIA.data
    assert sleep.waits == [0.25, 0.5]
    assert len(s.requests) == 3


async def test_retry_after_is_honoured_and_capped() -> None:
    sleep = FakeSleep()
    responses = (
        _response(429, headers={"Retry-After": "7"}),
        _response(503, headers={"Retry-After": "100000"}),
        _response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        _response(200, MEDIA.data),
    )
    async with serving(*responses) as (_, host):
        downloader = HttpDownloader(sleep=sleep, max_retry_after=30.0)
        assert await downloader.download(_request(), [host]) == MEDIA.data
    assert sleep.waits == [7.0, 30.0, 0.0]  # a date in the past: no wait


@pytest.mark.parametrize(
    ("status", "error"), [(404, MediaGoneError), (410, MediaGoneError), (403, MediaForbiddenError)]
)
async def test_stops_at_once_on_gone_or_forbidden(
    status: int, error: type[MediaDownloadError]
) -> None:
    sleep = FakeSleep()
    async with serving(_response(status), _response(200, MEDIA.data)) as (script, host):
        with pytest.raises(error) as caught:
            # a second host is never tried either
            await HttpDownloader(sleep=sleep).download(_request(), [host, host])
    assert caught.value.status == status
    assert len(script.requests) == 1 and sleep.waits == []


async def test_stops_at_once_on_hash_mismatch() -> None:
    wrong = bytearray(MEDIA.data)
    wrong[0] ^= 1
    async with serving(_response(200, bytes(wrong)), _response(200, MEDIA.data)) as (s, host):
        with pytest.raises(EncryptedHashMismatchError):
            await HttpDownloader(sleep=FakeSleep()).download(_request(), [host, host])
    assert len(s.requests) == 1


async def test_truncated_body_is_retried() -> None:
    sleep = FakeSleep()
    truncated = _response(200, MEDIA.data[:20], length=len(MEDIA.data))
    async with serving(truncated, _response(200, MEDIA.data)) as (script, host):
        assert await HttpDownloader(sleep=sleep).download(_request(), [host]) == MEDIA.data
    assert len(script.requests) == 2 and sleep.waits == [0.5]


async def test_gives_up_after_the_attempts_then_next_host() -> None:
    sleep = FakeSleep()
    async with serving(*[_response(502)] * 3, _response(200, MEDIA.data)) as (script, host):
        downloader = HttpDownloader(sleep=sleep, attempts=3)
        with pytest.raises(MediaUnavailableError) as caught:
            await downloader.download(_request(), [host])
        assert caught.value.status == 502
        assert sleep.waits == [0.5, 1.0]  # no wait after the last attempt
        # a second host is tried after the first one's attempts
    async with serving(*[_response(502)] * 2, _response(200, MEDIA.data)) as (script, host):
        downloader = HttpDownloader(sleep=FakeSleep(), attempts=2)
        assert await downloader.download(_request(), [host, host]) == MEDIA.data
        assert len(script.requests) == 3


async def test_other_status_moves_to_next_host_and_size_cap() -> None:
    async with serving(_response(400), _response(200, MEDIA.data)) as (script, host):
        assert await HttpDownloader().download(_request(), [host, host]) == MEDIA.data
    assert len(script.requests) == 2
    async with serving(_response(200, MEDIA.data)) as (_, host):
        with pytest.raises(MediaTooLargeError):
            await HttpDownloader(max_size=10).download(_request(), [host])


async def test_connection_refused_is_unavailable() -> None:
    async with serving() as (_, host):
        pass  # the port is closed again
    with pytest.raises(MediaUnavailableError):
        await HttpDownloader(sleep=FakeSleep(), attempts=2).download(_request(), [host])


async def test_download_history_verifies() -> None:
    class Fixed:
        async def download(self, request: HistoryDownload, hosts: object) -> bytes:
            data = bytearray(MEDIA.data)
            data[-1] ^= 1
            return bytes(data)

    request = HistoryDownload(
        message_id="N1",
        direct_path=PATH,
        media_key=MEDIA_KEY,
        file_enc_sha256=hashlib.sha256(MEDIA.data[:-1] + bytes([MEDIA.data[-1] ^ 1])).digest(),
        file_sha256=MEDIA.file_sha256,
    )
    with pytest.raises(MacMismatchError):
        await download_history(Fixed(), request)


def test_default_host() -> None:
    urls = HttpDownloader().urls(_request(), [])
    assert urls[0].startswith(f"https://{DEFAULT_MEDIA_HOST}/v/t62.7119-24/")


async def test_an_unsendable_direct_path_is_a_typed_error() -> None:
    with pytest.raises(MediaUnavailableError, match="invalid media URL"):
        await HttpDownloader().download(_request("/v/a\x00b"), ["127.0.0.1:9"])
