"""A scripted client over a real WebSocket, and a raw HTTP POST: for the emulator's socket tests.

The client is the client role of ``walink.protocol.connection`` over ``walink.io.connect_websocket``
(not ``walink.session``): it answers pair-device, signs pair-success and answers server pings,
and nothing more, so the tests check the emulator's socket side with a client kept plain.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import anyio
import h11

from tests.testing.client import Creds, client_payload, seeded
from walink.io import ConnectionLostError, WebSocketClosed, WebSocketConnection, connect_websocket
from walink.protocol.binary import Node
from walink.protocol.certs import TrustRoot
from walink.protocol.connection import ClientConnection
from walink.protocol.errors import RemoteProtocolError
from walink.protocol.events import Event, NodeReceived
from walink.protocol.pairing import qr_string, verify_pair_success


class Ended(Exception):
    """The connection ended; ``error`` says how (a WebSocket error or a broken Noise stream)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(repr(error))
        self.error = error


class SocketClient:
    """One scripted client connection over a real WebSocket."""

    def __init__(self, ws: WebSocketConnection, conn: ClientConnection, creds: Creds) -> None:
        self.ws = ws
        self.conn = conn
        self.creds = creds
        self.rng = seeded(99)
        self.refs: list[str] = []
        self.nodes: list[Node] = []
        self._queue: list[Node] = []
        self._ids = 0

    @classmethod
    async def open(cls, url: str, trust_root: TrustRoot, creds: Creds) -> SocketClient:
        conn = ClientConnection(
            noise_key=creds.noise_key,
            client_payload=client_payload(creds),
            trust_root=trust_root,
            now=time.time(),
            routing_info=creds.routing_info,
            rng=os.urandom,
        )
        ws = await connect_websocket(url, connect_timeout=5)
        client = cls(ws, conn, creds)
        await client._flush()
        return client

    async def _flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            await self.ws.send(out)

    async def next_node(self, timeout: float = 5.0) -> Node:
        """The next node the server sends (answering pair-device, pair-success and pings)."""
        with anyio.fail_after(timeout):
            while not self._queue:
                events: list[Event] = []
                ended: Exception | None = None
                try:
                    data = await self.ws.receive()
                    self.conn.receive_data(data)
                    events.extend(self.conn.events())  # extend keeps what came before an error
                except (ConnectionLostError, WebSocketClosed, RemoteProtocolError) as exc:
                    ended = exc
                for event in events:
                    if isinstance(event, NodeReceived):
                        self.nodes.append(event.node)
                        self._queue.append(event.node)
                        self._react(event.node)
                if ended is not None:
                    raise Ended(ended) from ended
                await self._flush()
        return self._queue.pop(0)

    async def node_where(self, predicate: Callable[[Node], bool], timeout: float = 5.0) -> Node:
        with anyio.fail_after(timeout):
            while True:
                node = await self.next_node()
                if predicate(node):
                    return node

    async def ended(self, timeout: float = 5.0) -> Exception:
        """Read until the connection ends; how it ended."""
        with anyio.fail_after(timeout):
            while True:
                try:
                    await self.next_node(timeout)
                except Ended as ended:
                    return ended.error

    async def send(self, node: Node) -> None:
        """Send ``node`` as it is (a receipt, an ack)."""
        self.conn.send_node(node)
        await self._flush()

    async def query(self, node: Node) -> Node:
        self._ids += 1
        node.attrs["id"] = iq_id = f"q{self._ids}"
        self.conn.send_node(node)
        await self._flush()
        return await self.node_where(lambda n: n.tag == "iq" and n.attr("id") == iq_id)

    def qr(self) -> str:
        c = self.creds
        return qr_string(self.refs[0], c.noise_key.public, c.identity.public, c.adv_secret, "1")

    def _react(self, node: Node) -> None:
        pair_device = node.child("pair-device")
        if node.tag == "iq" and pair_device is not None:
            self.refs = [_text(ref) for ref in pair_device.children("ref")]
            self.conn.send_node(_result(node))
        elif node.tag == "iq" and node.child("pair-success") is not None:
            self._sign(node)
        elif node.tag == "iq" and node.attr("xmlns") == "urn:xmpp:ping":
            self.conn.send_node(_result(node))
        elif node.tag == "ib" and node.child("offline_preview") is not None:
            # As Baileys and walink do: pull the backlog, one batch of 100.
            self.conn.send_node(Node("ib", {}, [Node("offline_batch", {"count": "100"})]))

    def _sign(self, node: Node) -> None:
        success = node.child("pair-success")
        assert success is not None
        identity, device = success.child("device-identity"), success.child("device")
        assert identity is not None and device is not None
        result = verify_pair_success(
            content_bytes(identity), self.creds.adv_secret, self.creds.identity, rng=self.rng
        )
        self.creds.me, self.creds.lid = device.attr("jid"), device.attr("lid")
        sign = Node(
            "pair-device-sign",
            {},
            [
                Node(
                    "device-identity",
                    {"key-index": str(result.key_index)},
                    result.reply_device_identity,
                )
            ],
        )
        self.conn.send_node(
            Node(
                "iq",
                {"to": "s.whatsapp.net", "type": "result", "id": node.attr("id") or ""},
                [sign],
            )
        )

    async def aclose(self) -> None:
        await self.ws.aclose()


def _result(node: Node) -> Node:
    return Node("iq", {"to": "s.whatsapp.net", "type": "result", "id": node.attr("id") or ""})


def content_bytes(node: Node) -> bytes:
    return node.content if isinstance(node.content, bytes) else str(node.content).encode()


def _text(node: Node) -> str:
    return content_bytes(node).decode()


async def post(
    port: int, target: str, body: bytes, method: str = "POST"
) -> tuple[int, dict[str, object]]:
    """One raw HTTP/1.1 request with h11; the status and the JSON body."""
    http = h11.Connection(h11.CLIENT)
    headers = [("Host", f"127.0.0.1:{port}"), ("Content-Length", str(len(body)))]
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        data = http.send(h11.Request(method=method, target=target, headers=headers)) or b""
        data += (http.send(h11.Data(data=body)) or b"") + (http.send(h11.EndOfMessage()) or b"")
        await stream.send(data)
        status, payload = 0, bytearray()
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                try:
                    http.receive_data(await stream.receive())
                except anyio.EndOfStream:
                    http.receive_data(b"")
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                payload += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, json.loads(payload)
