"""Proxies: the settings (walink.io.proxy) and the tunnel under the WebSocket, on asyncio and trio.

The proxies are real ones on loopback (tests/io/proxies.py): pproxy for SOCKS5 and HTTP CONNECT,
microsocks for SOCKS5 with the RFC's refusal codes, plus an in-process listener that never
answers. The server behind them is walink.testing.wsserver (ws:// and wss:// with a test CA) or
the emulator, for a whole client lifecycle.
"""

from __future__ import annotations

import logging
import string
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.abc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.io.netutil import assert_fds_back_to, make_self_signed, open_fds
from tests.io.proxies import (
    PASSWORD,
    USER,
    Microsocks,
    Pproxy,
    free_port,
    hanging_proxy,
    run_microsocks,
    run_pproxy,
)
from tests.scenarios.harness import config_for, running, scan_when_shown
from walink.auth import MemoryStore
from walink.capture import read_capture, replay_capture
from walink.fsm.reasons import CloseReason
from walink.io import (
    CertificateVerifyError,
    Client,
    ClientConfig,
    ConnectTimeoutError,
    Proxy,
    ProxyAuthError,
    ProxyError,
    ProxyProtocolError,
    ProxyRefusedError,
    ProxyUnreachableError,
    ProxyURLError,
    connect_websocket,
    open_stream,
)
from walink.testing.emulator import Emulator
from walink.testing.wsserver import ServerWebSocket, serve

# -- the settings ----------------------------------------------------------------------------


def test_parse_socks5_and_http_with_and_without_credentials() -> None:
    plain = Proxy.parse("socks5://127.0.0.1:1080")
    assert (plain.scheme, plain.host, plain.port, plain.username) == (
        "socks5",
        "127.0.0.1",
        1080,
        None,
    )
    assert not plain.has_credentials and plain.url == "socks5://127.0.0.1:1080"
    # socks5h is curl's name for a SOCKS5 proxy that resolves the host: walink always does that
    assert Proxy.parse("SOCKS5H://127.0.0.1:1080") == plain
    http = Proxy.parse("http://alice:p%40ss%3Aword@proxy.example:3128/")
    assert (http.scheme, http.host, http.port) == ("http", "proxy.example", 3128)
    assert (http.username, http.password) == ("alice", "p@ss:word")
    assert http.url == "http://alice:p%40ss%3Aword@proxy.example:3128"
    v6 = Proxy.parse("socks5://[::1]:9050")
    assert v6.host == "::1" and v6.redacted == "socks5://[::1]:9050"
    # a user name alone: the password is empty (curl's reading)
    assert Proxy.parse("http://alice@127.0.0.1:8080").password == ""


def test_credentials_never_shown() -> None:
    proxy = Proxy.parse(f"socks5://{USER}:{PASSWORD}@127.0.0.1:1080")
    for text in (str(proxy), repr(proxy), proxy.redacted, f"{proxy}", f"{proxy!r}"):
        assert PASSWORD not in text and USER not in text
        assert "***@127.0.0.1:1080" in text
    assert PASSWORD in proxy.url  # the one place that has them, on purpose


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://127.0.0.1:8443", "scheme"),
        ("socks4://127.0.0.1:1080", "scheme"),
        ("ws://127.0.0.1:1080", "scheme"),
        ("127.0.0.1:1080", "scheme"),
        ("socks5://127.0.0.1", "needs a port"),
        ("socks5://:1080", "needs a host"),
        ("http://127.0.0.1:99999", "bad host or port"),
        ("http://127.0.0.1:port", "bad host or port"),
        ("http://127.0.0.1:8080/path", "no path"),
        ("http://127.0.0.1:8080?x=1", "no path"),
        (f"socks5://{USER}:p%C3%A4ss-{PASSWORD}@127.0.0.1:1080", "ASCII"),
        (f"socks5://{USER}:{'x' * 256}{PASSWORD}@127.0.0.1:1080", "1 to 255"),
        (f"socks5://{USER}@127.0.0.1:1080", "1 to 255"),  # SOCKS5 needs a password
        (f"http://a%3Ab:{PASSWORD}@127.0.0.1:8080", "cannot contain ':'"),
        (f"http://{USER}:%0D%0A{PASSWORD}@127.0.0.1:8080", "control characters"),
        (f"http://{USER}:%E2%82%AC{PASSWORD}@127.0.0.1:8080", "Latin-1"),
    ],
)
def test_unusable_urls_are_refused_without_showing_the_password(url: str, words: str) -> None:
    with pytest.raises(ProxyURLError, match=words) as caught:
        Proxy.parse(url)
    assert PASSWORD not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_the_dataclass_checks_what_parse_checks() -> None:
    with pytest.raises(ProxyURLError):
        Proxy(scheme="socks5", host="h", port=0)
    with pytest.raises(ProxyURLError):
        Proxy(scheme="socks5", host="h", port=1, username="u")  # no password
    with pytest.raises(ProxyURLError):
        Proxy(scheme="socks4", host="h", port=1)  # type: ignore[arg-type]


socks_text = st.text(alphabet=string.printable.strip(), min_size=1, max_size=40)
http_user = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters=":\x7f"),
    min_size=1,
    max_size=40,
)
http_password = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
    max_size=40,
)
hosts = st.sampled_from(["127.0.0.1", "localhost", "::1", "proxy.example"])


@given(
    st.one_of(
        st.tuples(st.just("socks5"), hosts, socks_text, socks_text),
        st.tuples(st.just("http"), hosts, http_user, http_password),
    ),
    st.integers(1, 65535),
)
def test_url_round_trips_and_redaction_hides_both_fields(
    parts: tuple[str, str, str, str], port: int
) -> None:
    scheme, host, username, password = parts
    proxy = Proxy(scheme=scheme, host=host, port=port, username=username, password=password)  # type: ignore[arg-type]
    assert Proxy.parse(proxy.url) == proxy
    bare = Proxy(scheme=proxy.scheme, host=host, port=port)
    assert proxy.redacted == bare.redacted.replace("://", "://***@")
    assert repr(proxy) == f"Proxy({proxy.redacted!r})"


def test_client_config_checks_the_proxy_and_keeps_it_out_of_repr() -> None:
    config = ClientConfig(proxy=f"http://{USER}:{PASSWORD}@127.0.0.1:3128")
    assert PASSWORD not in repr(config) and USER not in repr(config)
    settings = config.proxy_settings()
    assert settings is not None and settings.password == PASSWORD
    assert str(settings) == "http://***@127.0.0.1:3128"
    assert ClientConfig().proxy_settings() is None
    assert ClientConfig(proxy=settings).proxy_settings() is settings
    with pytest.raises(ProxyURLError):
        ClientConfig(proxy="ftp://127.0.0.1:21")


# -- real proxies ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pproxy]:
    with run_pproxy(tmp_path_factory.mktemp("pproxy")) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def microsocks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Microsocks]:
    with run_microsocks(tmp_path_factory.mktemp("microsocks")) as proxy:
        yield proxy


async def echo(conn: ServerWebSocket) -> None:
    while True:
        await conn.send(await conn.receive())


def pproxy_url(proxy: Pproxy, scheme: str, auth: bool) -> str:
    if scheme == "socks5":
        port = proxy.socks5_auth if auth else proxy.socks5
    else:
        port = proxy.http_auth if auth else proxy.http
    return (
        f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{port}" if auth else f"{scheme}://127.0.0.1:{port}"
    )


async def wait_logged(proxy: Pproxy, text: str) -> str:
    """pproxy's log once it has ``text`` (it writes each line as it connects)."""
    with anyio.fail_after(5):
        while text not in proxy.log_text():
            await anyio.sleep(0.02)
    return proxy.log_text()


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["socks5", "http"])
@pytest.mark.parametrize("auth", [False, True], ids=["open", "credentials"])
async def test_websocket_through_pproxy(pproxy: Pproxy, scheme: str, auth: bool) -> None:
    async with serve(echo) as server:
        conn = await connect_websocket(server.url, proxy=pproxy_url(pproxy, scheme, auth))
        await conn.send(b"through the tunnel")
        assert await conn.receive() == b"through the tunnel"
        await conn.aclose()
        # the proxy, not a direct dial, reached the server
        await wait_logged(pproxy, f"-> 127.0.0.1:{server.port}")


@pytest.mark.anyio
@pytest.mark.parametrize("auth", [False, True], ids=["open", "credentials"])
async def test_websocket_through_microsocks(microsocks: Microsocks, auth: bool) -> None:
    url = (
        f"socks5://{USER}:{PASSWORD}@127.0.0.1:{microsocks.auth_port}"
        if auth
        else f"socks5://127.0.0.1:{microsocks.port}"
    )
    async with serve(echo) as server:
        conn = await connect_websocket(server.url, proxy=Proxy.parse(url))
        await conn.send(b"x" * 100_000)
        assert await conn.receive() == b"x" * 100_000
        await conn.aclose()
    log = (microsocks.auth if auth else microsocks.open).log_text()
    assert f"connected to 127.0.0.1:{server.port}" in log


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["socks5", "http"])
async def test_wss_keeps_tls_end_to_end_through_the_proxy(
    pproxy: Pproxy, scheme: str, tmp_path: Path
) -> None:
    cert = make_self_signed(tmp_path)
    proxy = pproxy_url(pproxy, scheme, auth=True)
    async with serve(echo, ssl_context=cert.server_context()) as server:
        # the host name the certificate is checked against is the server's, sent to the proxy
        # as a name (it resolves it), and TLS runs inside the tunnel with the test CA
        url = f"wss://localhost:{server.port}/ws/chat"
        conn = await connect_websocket(url, proxy=proxy, ssl_context=cert.client_context())
        await conn.send(b"secret")
        assert await conn.receive() == b"secret"
        await conn.aclose()
        await wait_logged(pproxy, f"-> localhost:{server.port}")
        # the default trust store does not know the test CA: refused, through the tunnel too
        with pytest.raises(CertificateVerifyError):
            await connect_websocket(url, proxy=proxy)


@pytest.mark.anyio
async def test_open_stream_is_a_tunnel_for_other_connections(pproxy: Pproxy) -> None:
    # what a media download would use: any TCP service through the same proxy
    async def upper(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.send((await stream.receive()).upper())

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, upper)
        proxy = Proxy.parse(pproxy_url(pproxy, "socks5", auth=True))
        stream = await open_stream("127.0.0.1", port, proxy=proxy, timeout=5)
        async with stream:
            await stream.send(b"media")
            assert await stream.receive() == b"MEDIA"
        tasks.cancel_scope.cancel()


# -- proxies that refuse ---------------------------------------------------------------------


async def refused(url: str, proxy: str) -> ProxyError:
    baseline = open_fds()
    with pytest.raises(ProxyError) as caught:
        await connect_websocket(url, proxy=proxy, connect_timeout=5)
    await assert_fds_back_to(baseline)
    error = caught.value
    assert PASSWORD not in str(error) and USER not in str(error)
    assert PASSWORD not in error.proxy and error.__cause__ is None
    return error


@pytest.mark.anyio
async def test_http_proxy_refuses_wrong_or_missing_credentials(pproxy: Pproxy) -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    wrong = await refused(url, f"http://{USER}:not-{PASSWORD}@127.0.0.1:{pproxy.http_auth}")
    assert type(wrong) is ProxyAuthError and wrong.code == 407 and not wrong.retryable
    assert "refused the credentials" in str(wrong) and "***@" in str(wrong)
    missing = await refused(url, f"http://127.0.0.1:{pproxy.http_auth}")
    assert type(missing) is ProxyAuthError and missing.code == 407 and not missing.retryable
    assert "requires credentials" in str(missing)


@pytest.mark.anyio
async def test_socks5_proxy_refuses_wrong_or_missing_credentials(microsocks: Microsocks) -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    port = microsocks.auth_port
    wrong = await refused(url, f"socks5://{USER}:not-{PASSWORD}@127.0.0.1:{port}")
    assert type(wrong) is ProxyAuthError and not wrong.retryable
    assert "refused the credentials" in str(wrong)
    missing = await refused(url, f"socks5://127.0.0.1:{port}")
    assert type(missing) is ProxyAuthError and not missing.retryable
    assert "requires credentials" in str(missing)


@pytest.mark.anyio
async def test_a_proxy_that_hangs_up_without_a_word_may_be_tried_again(pproxy: Pproxy) -> None:
    # pproxy answers bad SOCKS5 credentials by closing: nothing says they were refused
    url = f"ws://127.0.0.1:{free_port()}"
    error = await refused(url, f"socks5://{USER}:not-{PASSWORD}@127.0.0.1:{pproxy.socks5_auth}")
    assert type(error) is ProxyRefusedError and error.retryable and error.code is None
    assert "closed the connection" in str(error)


@pytest.mark.anyio
async def test_the_server_behind_the_proxy_is_down(microsocks: Microsocks, pproxy: Pproxy) -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    socks = await refused(url, f"socks5://127.0.0.1:{microsocks.port}")
    # SOCKS5 reply 5: connection refused by the destination, a network error worth retrying
    assert type(socks) is ProxyRefusedError and socks.code == 5 and socks.retryable
    assert "could not reach 127.0.0.1" in str(socks)
    http = await refused(url, pproxy_url(pproxy, "http", auth=False))
    assert type(http) is ProxyRefusedError and http.retryable


@pytest.mark.anyio
async def test_a_url_naming_the_wrong_protocol(microsocks: Microsocks) -> None:
    # an http:// URL pointing at a SOCKS5 port: the answer is not HTTP, the URL is wrong
    error = await refused(f"ws://127.0.0.1:{free_port()}", f"http://127.0.0.1:{microsocks.port}")
    assert type(error) is ProxyProtocolError and not error.retryable
    assert "does not answer as an HTTP proxy" in str(error)
    assert str(error).isprintable() and str(error).isascii()


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["socks5", "http"])
async def test_a_proxy_that_is_down_is_a_network_error(scheme: str) -> None:
    error = await refused(f"ws://127.0.0.1:{free_port()}", f"{scheme}://127.0.0.1:{free_port()}")
    assert type(error) is ProxyUnreachableError and error.retryable
    assert "cannot connect to the proxy" in str(error)


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["socks5", "http"])
async def test_a_proxy_that_never_answers_is_bounded_by_the_connect_timeout(scheme: str) -> None:
    baseline = open_fds()
    async with hanging_proxy() as port:
        proxy = f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{port}"
        started = time.monotonic()
        with pytest.raises(ConnectTimeoutError) as caught:
            await connect_websocket(
                f"ws://127.0.0.1:{free_port()}", proxy=proxy, connect_timeout=0.3
            )
        assert time.monotonic() - started < 3
    assert f"stalled in the {scheme} proxy handshake with {scheme}://***@127.0.0.1" in str(
        caught.value
    )
    assert PASSWORD not in str(caught.value)
    await assert_fds_back_to(baseline)
    async with hanging_proxy() as port:
        via = Proxy.parse(f"{scheme}://127.0.0.1:{port}")
        with pytest.raises(ConnectTimeoutError, match="proxy handshake"):
            await open_stream("127.0.0.1", 1, proxy=via, timeout=0.2)


# -- a client behind a proxy -----------------------------------------------------------------


@pytest.mark.anyio
async def test_a_client_links_and_opens_through_a_proxy(pproxy: Pproxy) -> None:
    async with Emulator() as emulator:
        config = config_for(emulator, proxy=pproxy_url(pproxy, "socks5", auth=True))
        async with running(Client(MemoryStore(), config)) as recorder:
            await scan_when_shown(emulator, recorder)
            await recorder.wait_open()
            await recorder.client.aclose()
        await wait_logged(pproxy, f"-> 127.0.0.1:{emulator.port}")


@pytest.mark.anyio
async def test_refused_credentials_close_with_proxy_error_and_stop(
    pproxy: Pproxy, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="walink.client")
    capture = tmp_path / "capture.jsonl"
    proxy = f"http://{USER}:not-{PASSWORD}@127.0.0.1:{pproxy.http_auth}"
    async with Emulator() as emulator:
        config = config_for(emulator, proxy=proxy, capture=capture)
        async with running(Client(MemoryStore(), config)) as recorder:
            closed = await recorder.wait_closed()
            await recorder.done.wait()
    disconnect = closed.disconnect
    assert disconnect.reason is CloseReason.PROXY_ERROR and disconnect.terminal
    assert closed.final and not closed.requested and not closed.decision.reconnect
    assert "407" in disconnect.message and "refused the credentials" in disconnect.message
    assert len(recorder.closes) == 1  # never dialed again
    for text in (caplog.text, capture.read_text(), disconnect.message):
        assert PASSWORD not in text and f"{USER}:" not in text
    # the capture replays to the same close, message included
    result = replay_capture(read_capture(capture))
    assert result.events == result.recorded and result.lines[-1]["events_match"] is True
    [replayed] = [event for event in result.events if event["event"] == "closed"]
    assert (replayed["reason"], replayed["message"]) == ("PROXY_ERROR", disconnect.message)
    assert replayed["terminal"] is True and replayed["reconnect"] is False


@pytest.mark.anyio
async def test_a_proxy_that_is_down_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="walink.client")
    async with Emulator() as emulator:
        proxy = f"socks5://{USER}:{PASSWORD}@127.0.0.1:{free_port()}"
        async with running(Client(MemoryStore(), config_for(emulator, proxy=proxy))) as recorder:
            await recorder.wait_closed(2)
            await recorder.client.aclose()
    first = recorder.closes[0]
    assert first.disconnect.reason is CloseReason.NETWORK_ERROR and first.decision.reconnect
    assert "cannot connect to the proxy socks5://***@127.0.0.1" in first.disconnect.message
    assert PASSWORD not in caplog.text


@pytest.mark.anyio
async def test_a_client_behind_a_proxy_that_never_answers_times_out_and_retries() -> None:
    async with Emulator() as emulator, hanging_proxy() as port:
        proxy = f"socks5://{USER}:{PASSWORD}@127.0.0.1:{port}"
        config = config_for(emulator, proxy=proxy, connect_timeout=0.3)
        started = time.monotonic()
        async with running(Client(MemoryStore(), config)) as recorder:
            first = await recorder.wait_closed()
            await recorder.wait_closed(2)
            await recorder.client.aclose()
        assert time.monotonic() - started < 5
    assert first.disconnect.reason is CloseReason.CONNECT_TIMEOUT and first.decision.reconnect
    assert PASSWORD not in first.disconnect.message
