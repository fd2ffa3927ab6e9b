"""Unit tests of the client's parts (walink.io.client, config, browsers, events, errors, health).

The client against a server lives in ``tests/scenarios``; here: configuration, the error
mapping, the event queue, and what a client refuses before it runs.
"""

from __future__ import annotations

import errno
import os
import platform
import random
import ssl
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import cast

import anyio
import anyio.abc
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.auth.failing_fs import FailingFileSystem
from walink.auth import AuthStore, Creds, MemoryStore, MultiFileStore, SQLiteStore
from walink.auth.errors import CorruptStoreError, StoreLockedError, StoreWriteError
from walink.fsm.policy import ReconnectHistory, ReconnectPolicy
from walink.fsm.reasons import CloseReason, classify
from walink.io import (
    Browsers,
    Client,
    ClientClosedError,
    ClientConfig,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    HandshakeRejectedError,
    MessageTooBigError,
    NotConnectedError,
    QueryClosedError,
    QueryServerError,
    QueryTimeoutError,
    TLSError,
    WebSocketClosed,
    WebSocketProtocolError,
    open_store,
)
from walink.io._support import print_qr, query_error, transport_cause
from walink.io.config import DEFAULT_URL
from walink.io.events import ClientEvent, EventQueue, event_name
from walink.io.health import Health
from walink.protocol.binary import Node
from walink.protocol.certs import WHATSAPP_ROOT
from walink.session import (
    Closed,
    ConnectionUpdate,
    CredsUpdate,
    NodeReceived,
    QueryError,
    QueryFailure,
)

# -- Browsers ------------------------------------------------------------------------------------


def test_browsers_match_baileys() -> None:
    # the values of Baileys 7.0.0-rc14's Browsers (Utils/browser-utils)
    assert Browsers.ubuntu("My App") == ("Ubuntu", "My App", "22.04.4")
    assert Browsers.macos("Chrome") == ("Mac OS", "Chrome", "14.4.1")
    assert Browsers.macOS("Chrome") == Browsers.macos("Chrome")
    assert Browsers.windows("Edge") == ("Windows", "Edge", "10.0.22631")
    assert Browsers.baileys("Desktop") == ("Baileys", "Desktop", "6.5.0")


def test_browsers_appropriate_names_this_system() -> None:
    system, browser, release = Browsers.appropriate("App")
    assert browser == "App" and release == platform.release()
    expected = {"Darwin": "Mac OS", "Windows": "Windows"}.get(platform.system(), system)
    assert system == expected
    if platform.system() == "Linux":
        assert system == "Ubuntu"


# -- ClientConfig --------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = ClientConfig()
    assert config.url == DEFAULT_URL == "wss://web.whatsapp.com/ws/chat"
    assert config.trust_root is WHATSAPP_ROOT
    assert config.mark_online_on_connect is False
    assert config.browser == Browsers.macos("Chrome")
    assert config.log.name == "walink.client"
    session = config.session_config()
    assert (session.qr_first_timeout, session.qr_next_timeout) == (60.0, 20.0)
    assert session.auto_ack and not session.mark_online_on_connect


def test_config_reaches_the_session_and_payload() -> None:
    config = ClientConfig(
        browser=Browsers.ubuntu("Bot"),
        sync_full_history=False,
        qr_timeout=5.0,
        connect_timeout=3.0,
        keepalive_interval=7.0,
        keepalive_timeout=2.0,
        mark_online_on_connect=True,
        query_timeout=None,
    )
    session = config.session_config()
    assert session.payload.browser == ("Ubuntu", "Bot", "22.04.4")
    assert session.payload.sync_full_history is False
    assert (session.qr_first_timeout, session.qr_next_timeout) == (5.0, 5.0)
    assert (session.connect_timeout, session.keepalive_interval) == (3.0, 7.0)
    assert session.keepalive_timeout == 2.0 and session.query_timeout is None
    assert session.mark_online_on_connect


def test_config_never_shows_the_ssl_context() -> None:
    assert "SSLContext" not in repr(ClientConfig(ssl_context=ssl.create_default_context()))


@pytest.mark.parametrize(
    "bad",
    [
        {"qr_timeout": 0.0},
        {"close_timeout": 0.0},
        {"max_pending_events": 0},
        {"url": "https://web.whatsapp.com/ws/chat"},
        {"connect_timeout": -1.0},
        {"keepalive_interval": 0.0},
        # each of these was an h11 traceback at the first dial, not an error at construction
        {"url": "ws://"},
        {"url": "ws://:443/ws/chat"},
        {"url": "ws://127.0.0.1:1/ws chat"},
        {"url": "ws://127.0.0.1:1/ws\r\nX: y"},
        {"url": "ws://127.0.0.1:99999/"},
        {"url": "wss://wéb.whatsapp.com/ws/chat"},
        {"headers": (("X-Token", "a\r\nX-Injected: 1"),)},
        {"headers": (("X Token", "a"),)},
        {"headers": (("", "a"),)},
        {"headers": (("X-Token", "\x00"),)},
        {"headers": (("X-Token", " a"),)},
        {"headers": (("X-Token",),)},
        {"origin": "https://web.whatsapp.com\r\nX: y"},
    ],
)
def test_config_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ClientConfig(**bad)  # type: ignore[arg-type]


@given(
    path=st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    value=st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
)
@example(path="", value=" ")  # HTTP strips a value's outer whitespace: h11 refuses to send it
@example(path="", value="a\t")
def test_what_the_config_accepts_the_http_layer_accepts(path: str, value: str) -> None:
    # the library's checks and h11's agree: a URL or header let through is never refused later
    import h11

    from walink.io.config import check_headers, check_url

    url = f"ws://127.0.0.1:1/{path}"
    try:
        check_url(url)
        check_headers((("X-Value", value),))
    except ValueError:
        return
    # encoded as the WebSocket client encodes them (UTF-8)
    request = h11.Request(
        method="GET",
        target=("/" + path).encode(),
        headers=[(b"Host", b"127.0.0.1:1"), (b"X-Value", value.encode())],
    )
    assert h11.Connection(h11.CLIENT).send(request)


def test_config_accepts_ordinary_urls_and_headers() -> None:
    config = ClientConfig(
        url="wss://example.test:8443/ws/chat?x=1%202",
        headers=(("Authorization", "Bearer abc.def"), ("X-Empty", "")),
    )
    assert config.url.endswith("%202")


# -- transport errors to disconnect reasons ------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason", "status"),
    [
        (WebSocketClosed(1000, "bye"), CloseReason.SERVER_CLOSED, 428),
        (ConnectionLostError("eof"), CloseReason.SERVER_CLOSED, 428),
        (HandshakeRejectedError(429), CloseReason.RATE_LIMITED, 429),
        (HandshakeRejectedError(403), CloseReason.NETWORK_ERROR, 403),
        (ConnectTimeoutError("slow"), CloseReason.CONNECT_TIMEOUT, 408),
        (ConnectError("refused"), CloseReason.NETWORK_ERROR, 408),
        (TLSError("bad tls"), CloseReason.NETWORK_ERROR, 408),
        (MessageTooBigError(10), CloseReason.PROTOCOL_ERROR, 500),
        (WebSocketProtocolError("text frame"), CloseReason.PROTOCOL_ERROR, 500),
        (ConnectionResetError("reset"), CloseReason.NETWORK_ERROR, 408),
    ],
)
def test_transport_errors_are_classified(
    error: Exception, reason: CloseReason, status: int
) -> None:
    disconnect = classify(transport_cause(error), at=0.0)
    assert (disconnect.reason, disconnect.status) == (reason, status)


def test_a_close_frame_keeps_its_code() -> None:
    disconnect = classify(transport_cause(WebSocketClosed(4001, "why")), at=0.0)
    assert "4001" in disconnect.message and "why" in disconnect.message


# -- the event queue -----------------------------------------------------------------------------


def update(connection: str = "connecting") -> ConnectionUpdate:
    return ConnectionUpdate(
        connection=connection,  # type: ignore[arg-type]
        qr=None,
        is_new_login=False,
        received_pending_notifications=False,
        is_online=False,
        last_disconnect=None,
    )


@given(st.lists(st.sampled_from(["connecting", "open", "close"]), max_size=30), st.integers(1, 8))
def test_queue_keeps_order_and_tracks_its_bound(connections: list[str], limit: int) -> None:
    queue = EventQueue(limit)
    events = [update(c) for c in connections]
    for count, event in enumerate(events, 1):
        queue.put(event)
        assert queue.over_limit is (count > limit)
    assert queue.peak == len(events)
    queue.close()

    async def drain() -> list[ClientEvent]:
        taken: list[ClientEvent] = []
        while (event := await queue.get()) is not None:
            taken.append(event)
        return taken

    assert anyio.run(drain) == events


@pytest.mark.anyio
async def test_queue_wakes_its_consumer_and_reports_drained() -> None:
    queue = EventQueue(4)
    got: list[ClientEvent] = []
    async with anyio.create_task_group() as task_group:

        async def consume() -> None:
            while (event := await queue.get()) is not None:
                got.append(event)
                await anyio.sleep(0)

        task_group.start_soon(consume)
        for _ in range(10):
            queue.put(update())
        with anyio.fail_after(5):
            await queue.wait_drained()
        assert len(queue) <= 2
        queue.close()
    assert len(got) == 10


@given(st.lists(st.booleans(), max_size=20))
def test_queue_reports_an_event_handled_when_the_next_one_is_asked_for(tracked: list[bool]) -> None:
    """An event's ``on_handled`` runs once, when the consumer asks for the next event (or says
    ``handled()``), never while the consumer still holds it."""
    queue = EventQueue(4)
    reported: list[int] = []
    for index, has_callback in enumerate(tracked):
        queue.put(update(), on_handled=partial(reported.append, index) if has_callback else None)
    queue.close()

    async def consume() -> None:
        for index in range(len(tracked)):
            assert await queue.get() is not None
            # held by the consumer: not handled, whatever came before was
            assert reported == [i for i in range(index) if tracked[i]]
        assert await queue.get() is None
        queue.handled()  # a second report is a no-op
        assert reported == [i for i in range(len(tracked)) if tracked[i]]

    anyio.run(consume)


@given(st.lists(st.booleans(), max_size=20), st.randoms(use_true_random=False))
def test_queue_take_hands_each_callback_over_and_reports_nothing_itself(
    tracked: list[bool], rng: random.Random
) -> None:
    """``take`` (a fleet passing events on) hands out each event with its ``on_handled``, in
    order; asking again reports nothing: only the taker's own call of a callback does, in
    whatever order its consumer finishes."""
    queue = EventQueue(4)
    reported: list[int] = []
    put = [update() for _ in tracked]
    for index, has_callback in enumerate(tracked):
        queue.put(put[index], on_handled=partial(reported.append, index) if has_callback else None)
    queue.close()

    async def consume() -> None:
        taken: list[tuple[int, Callable[[], None] | None]] = []
        for index in range(len(tracked)):
            item = await queue.take()
            assert item is not None
            event, on_handled = item
            assert event is put[index]
            assert (on_handled is not None) == tracked[index]
            taken.append((index, on_handled))
        assert await queue.take() is None
        queue.handled()  # nothing was handed out by get(): a no-op
        assert reported == []
        rng.shuffle(taken)
        for _, callback in taken:
            if callback is not None:
                callback()
        expected = [index for index, callback in taken if callback is not None]
        assert reported == expected

    anyio.run(consume)


def test_queue_handled_reports_the_last_event_handed_out_once() -> None:
    queue = EventQueue(4)
    reported: list[str] = []
    queue.put(update(), on_handled=lambda: reported.append("first"))
    queue.put(update(), on_handled=lambda: reported.append("second"))

    async def consume() -> None:
        await queue.get()
        queue.handled()
        queue.handled()
        assert reported == ["first"]
        await queue.get()  # "first" is not reported twice
        assert reported == ["first"]

    anyio.run(consume)
    assert reported == ["first"]  # the consumer never finished with "second"


def test_event_names() -> None:
    disconnect = classify(CloseReason.LOCAL_CLOSE, at=0.0)
    decision = ReconnectPolicy().decide(disconnect, ReconnectHistory(), random.Random(0))
    closed = Closed(
        disconnect=disconnect, decision=decision, reconnect_at=None, final=True, requested=True
    )
    events: list[ClientEvent] = [
        update(),
        CredsUpdate(creds=Creds.new(random.Random(0).randbytes)),
        NodeReceived(node=Node("message")),
        closed,
    ]
    assert [event_name(e) for e in events] == [
        "connection.update",
        "creds.update",
        "node",
        "closed",
    ]


# -- query errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (QueryFailure.SERVER_ERROR, QueryServerError),
        (QueryFailure.TIMEOUT, QueryTimeoutError),
        (QueryFailure.CLOSED, QueryClosedError),
    ],
)
def test_query_errors_are_typed(failure: QueryFailure, kind: type[Exception]) -> None:
    reply = Node("iq", {"type": "error", "id": "7"}, [Node("error", {"code": "404"})])
    error = query_error(QueryError(id="7", failure=failure, code=404, text="nope", node=reply))
    assert type(error) is kind
    assert error.id == "7" and error.code == 404 and error.failure is failure
    assert error.node is reply and "404 nope" in str(error)


# -- stores, the QR drawing ----------------------------------------------------------------------


def test_open_store_picks_the_layout(tmp_path: Path) -> None:
    folder = tmp_path / "baileys-auth"
    folder.mkdir()
    with open_store(folder) as multi:
        assert isinstance(multi, MultiFileStore)
    with open_store(tmp_path / "auth.db") as sqlite:
        assert isinstance(sqlite, SQLiteStore)


def test_print_qr_draws_on_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    print_qr("2@ref,noise,identity,adv")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") > 10


# -- a client that does not run ------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_client_before_entering() -> None:
    client = Client(MemoryStore(), ClientConfig(url="ws://127.0.0.1:9/ws/chat"))
    assert client.health == Health.of(None, now=0.0, connections=0, pending_events=0)
    assert client.connection == "close" and not client.is_connected and not client.is_online
    assert client.creds is None and client.last_closed is None
    with pytest.raises(ClientClosedError):
        await client.send_node(Node("presence"))
    with pytest.raises(ClientClosedError):
        _ = client.session
    with pytest.raises(ValueError):
        client.on("message.upsert", print)  # type: ignore[call-overload]
    await client.aclose()  # nothing to close: a no-op
    assert await client.wait_closed() is None


@pytest.mark.anyio
async def test_one_consumer_only() -> None:
    client = Client()
    client.on("node", print)
    with pytest.raises(RuntimeError):
        client.events()
    other = Client()
    other.events()
    with pytest.raises(RuntimeError):
        other.on("node", print)


@pytest.mark.anyio
async def test_refused_connections_back_off_until_closed() -> None:
    # port 9 (discard) is closed on loopback: every dial is refused at once
    config = ClientConfig(url="ws://127.0.0.1:9/ws/chat", connect_timeout=1.0)
    async with Client(MemoryStore(), config) as client:
        with pytest.raises(NotConnectedError):
            await client.query(Node("iq"))
        with anyio.fail_after(5):
            async for event in client:
                if isinstance(event, Closed):
                    break
        assert isinstance(event, Closed)
        assert event.disconnect.reason is CloseReason.NETWORK_ERROR
        assert event.decision.reconnect and event.reconnect_at is not None
        assert client.health.state == "backing_off"
        assert client.health.reconnect_in is not None
        with anyio.fail_after(5):
            await client.aclose()
        closed = client.last_closed
        assert closed is not None and closed.final and closed.requested
    assert client.finished
    with pytest.raises(RuntimeError):
        await client.__aenter__()


class CorruptStore(MemoryStore):
    """A store whose creds cannot be read."""

    def __init__(self) -> None:
        super().__init__()
        self.was_closed = False

    def load(self) -> None:
        raise CorruptStoreError("creds.json: not JSON")

    def close(self) -> None:
        self.was_closed = True


@pytest.mark.anyio
async def test_a_corrupt_store_is_an_error_never_a_fresh_identity(tmp_path: Path) -> None:
    store = CorruptStore()
    with pytest.raises(CorruptStoreError):
        async with Client(cast(AuthStore, store)):
            pass  # pragma: no cover - entering fails
    assert not store.was_closed  # a store the caller passed in stays the caller's to close
    # a store the client opened itself is closed again: the file can be opened at once
    path = tmp_path / "auth.db"
    path.write_bytes(b"this is not an SQLite database, not at all" * 10)
    with pytest.raises(CorruptStoreError):
        async with Client(path):
            pass  # pragma: no cover - entering fails


@pytest.mark.anyio
async def test_a_store_in_use_or_unwritable_is_refused_before_dialing(tmp_path: Path) -> None:
    dialed = anyio.Event()

    async def answer(stream: anyio.abc.SocketStream) -> None:
        dialed.set()
        await stream.aclose()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    config = ClientConfig(url=f"ws://127.0.0.1:{port}/ws/chat", connect_timeout=1.0)
    path = tmp_path / "auth.db"
    async with listener, anyio.create_task_group() as server:
        server.start_soon(listener.serve, answer)
        with SQLiteStore(path) as other_writer:
            other_writer.acquire()  # as another `walink connect` would, before saving anything
            with pytest.raises(StoreLockedError, match=rf"pid {os.getpid()}"):
                async with Client(path, config):
                    pass  # pragma: no cover - entering fails
        failing = FailingFileSystem("open", errno.EROFS, match="probe")
        read_only = MultiFileStore(tmp_path / "auth_info_baileys", fs=failing)
        with pytest.raises(StoreWriteError, match="Read-only file system"):
            async with Client(cast(AuthStore, read_only), config):
                pass  # pragma: no cover - entering fails
        assert not dialed.is_set()
        async with Client(path, config):  # the lock is free again: this one dials
            with anyio.fail_after(5):
                await dialed.wait()
        server.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_cancelled_consumer_stops_receiving_waiting_events() -> None:
    queue = EventQueue(8)
    for _ in range(3):
        queue.put(update())
    with anyio.CancelScope() as scope:
        scope.cancel()
        await queue.get()
        pytest.fail("a cancelled consumer was handed an event")
    assert len(queue) == 3  # nothing was taken


@pytest.mark.anyio
async def test_a_capture_that_cannot_be_created_is_an_oserror_before_dialing(
    tmp_path: Path,
) -> None:
    auth = tmp_path / "auth.db"
    config = ClientConfig(url="ws://127.0.0.1:9/ws/chat", capture=tmp_path / "no" / "cap.jsonl")
    with pytest.raises(FileNotFoundError):
        async with Client(str(auth), config):
            pass
    # nothing was left behind: the same path serves another client at once
    async with Client(str(auth), ClientConfig(url="ws://127.0.0.1:9/ws/chat")) as client:
        assert client.creds is not None
        await client.aclose()
