"""The receive pipeline's session side: a ``<message>`` is acked only after the application
handled it.

Theory of operation
-------------------
With ``SessionConfig.process_messages`` on, a ``<message>`` is neither reported as
``NodeReceived`` nor acked on arrival. The session emits a job, ``ProcessMessage(token, node)``;
the I/O layer runs the jobs one at a time, in order, through a ``MessageProcessor``, which reads
the keys, decrypts, and commits the new Signal state together with the decrypted message in one
store batch. Then it reports back, and only then does anything about the message leave:

- ``message_processed(token, processed)``: ``MessageProcessed`` (carrying ``token``) is
  published, and nothing else happens yet: the server must go on owning the message until the
  application is done with it. The I/O layer reports ``message_handled(token)`` once the
  application handled every event made of it; then the receipt goes out (``peer_msg`` for a
  peer message from our own phone, ``sender`` for our own message echoed from another of our
  devices, a delivery receipt for the rest; ``hist_sync`` as well for a history notification),
  then the ack. The delivery receipt waits too (the conservative choice: nothing tells the
  server or the sender that the message arrived before the application has it, so the sender's
  second tick means it does).
- A process that dies anywhere before the ack (the commit, the event queue, the application's
  handler) gets the stanza again from the server at its next login; the processor answers that
  ciphertext from its committed result (``redelivered``) instead of decrypting it twice, and it
  is published again, ``redelivered=True``. Within one session a redelivery (a new connection
  after a drop) is matched to the earlier delivery by its key (chat, participant, id): if that
  was handled, the redelivery is answered at once and not published; if it still waits for the
  application, the redelivery waits with it (one event, one ``message_handled``, both answered).
- ``message_failed(token, error)`` with a ``RemoteProtocolError`` (it cannot be decrypted):
  ``MessageFailed`` (a stub carrying the error) is published and a retry receipt asks the sender
  for the message again, with a fresh pre-key bundle from the second retry on (the pre-key is
  saved before the receipt can leave); then a nack. After ``MAX_RETRIES`` retry receipts for one
  message the session gives up on it: the stub says so and no receipt follows. Never an ack and
  silence. Any other error is the store's: nothing was committed, so nothing is acked, and the
  session stops with ``STORE_ERROR`` as for a failed save (the core does that).

Nothing about a message is published before the open of the connection it arrived on: an
outcome reported while that connection still logs in is held (``walink._session.opening``),
whole — the event, what is registered as waiting for the application, a stub's retry receipt
and nack — and done right after the open update; if that connection ends without opening, it is
dropped undone, and the server's redelivery is processed and published on a later connection.

Receipts and acks belong to the connection the stanza arrived on: a job, or a handled report,
that comes after that connection ended sends nothing (the server delivers the stanza again on
the next connection, and the committed result answers). A ``message_handled`` therefore answers
only the deliveries of the current connection, never a stale one. A failure (``MessageFailed``)
is answered at once: its retry receipt is what brings the message back, as a new delivery.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from walink._session.events import MessageFailed, MessageProcessed, ProcessMessage
from walink._session.nodes import (
    history_receipt,
    pre_key_id,
    receipt,
    retry_keys,
    retry_receipt,
)
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError
from walink.protocol.keys import KeyPair
from walink.protocol.proto import wa_pb2

if TYPE_CHECKING:
    from walink._session.context import PartContext
    from walink._session.opening import Origin
    from walink.auth.model import Creds
    from walink.protocol.binary import Node

__all__ = ["MAX_RETRIES", "MessagePipeline", "MessageProcessor", "ProcessedMessage"]

MAX_RETRIES = 5
"""Retry receipts sent for one message before giving up on it (whatsmeow and Baileys: 5)."""
_REMEMBERED = 4096
"""Message keys remembered for retry counts and for not publishing a redelivery twice."""
_K = TypeVar("_K")
_V = TypeVar("_V")
NACK_UNHANDLED = 500
"""The error of the nack that follows a retry receipt (Baileys' ``UnhandledError``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessedMessage:
    """What a ``MessageProcessor`` returns for one ``<message>``, once it is committed."""

    result: object
    """The decrypted message(s), in the processor's own form; the session passes it on as is
    (``MessageProcessed.result``)."""
    redelivered: bool = False
    """Answered from the result committed at an earlier delivery (no second decrypt)."""
    history_sync: bool = False
    """It carried a history sync notification: a ``hist_sync`` receipt follows its receipt."""


class MessageProcessor(Protocol):
    """Decrypts a ``<message>`` and commits the outcome: the I/O layer's job runner calls it.

    ``process`` is synchronous (a client runs it in a worker thread, one job at a time, in
    order). It reads the Signal state from the store, decrypts every ``<enc>``, then commits the
    new Signal state and the decrypted message in ONE store batch, and returns. A stanza whose
    ciphertext was committed before is answered from that commit (``redelivered=True``).

    Raises ``RemoteProtocolError`` when the message cannot be decrypted (nothing is committed:
    the state is unchanged); any other exception means the store failed.
    """

    def process(self, node: Node) -> ProcessedMessage:
        """Decrypt ``node`` and commit the outcome in one store batch (see the class docstring)."""


@dataclass(frozen=True, slots=True)
class _Delivery:
    """A delivery of a processed message whose receipts and ack wait for the application."""

    node: Node
    attempt: int
    history_sync: bool


@dataclass(slots=True)
class _Unhandled:
    """A published message the application has not handled yet, and its deliveries."""

    key: tuple[str, str, str]
    deliveries: list[_Delivery]


@dataclass(frozen=True, slots=True)
class _Job:
    node: Node
    attempt: int
    """The attempt it arrived on: only that attempt may still send its receipt and ack."""
    origin: Origin | None
    """The same attempt, as the gate that holds its publication until that attempt is open."""


def _message_key(node: Node) -> tuple[str, str, str]:
    return (node.attr("from") or "", node.attr("participant") or "", node.attr("id") or "")


def _user(jid: str | None) -> str | None:
    # "15551234567:3@s.whatsapp.net" -> "15551234567@s.whatsapp.net"
    if not jid:
        return None
    user_part, _, server = jid.partition("@")
    return f"{user_part.partition(':')[0]}@{server}"


def receipt_kind(node: Node, creds: Creds) -> str | None:
    """``peer_msg``, ``sender`` or None (a delivery receipt) for a processed ``node``."""
    if node.attr("category") == "peer":
        return "peer_msg"
    me = creds.me
    own = {_user(me.id), _user(me.lid)} - {None} if me is not None else set()
    if _user(node.attr("from")) in own and node.attr("recipient"):
        return "sender"
    return None


class MessagePipeline:
    """The message jobs in flight, and what this session remembers about recent messages."""

    def __init__(self, ctx: PartContext) -> None:
        self._ctx = ctx
        self._jobs: dict[int, _Job] = {}
        self._next_token = 1
        self._retries: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._handled: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._unhandled: dict[int, _Unhandled] = {}
        self._unhandled_keys: dict[tuple[str, str, str], int] = {}

    @property
    def pending(self) -> frozenset[int]:
        """Tokens of jobs whose outcome was not reported yet."""
        return frozenset(self._jobs)

    @property
    def unhandled(self) -> frozenset[int]:
        """Tokens of published ``MessageProcessed`` events not reported handled yet."""
        return frozenset(self._unhandled)

    def on_message(self, node: Node, now: float) -> bool:
        """A ``<message>``: a job when messages are processed (False: reported as a node)."""
        if not self._ctx.config.process_messages:
            return False
        token = self._next_token
        self._next_token += 1
        self._jobs[token] = _Job(node, self._ctx.attempt_number, self._ctx.origin)
        self._ctx.emit(ProcessMessage(token=token, node=node))
        return True

    def node_of(self, token: int) -> Node:
        """The stanza of job ``token``; ``LocalProtocolError`` when no such job waits."""
        job = self._jobs.get(token)
        if job is None:
            raise LocalProtocolError(f"no message job {token} is waiting")
        return job.node

    def origin_of(self, token: int) -> Origin | None:
        """The attempt job ``token`` arrived on, as an origin (``LocalProtocolError`` when no
        such job waits)."""
        self.node_of(token)
        return self._jobs[token].origin

    def forget(self, token: int) -> None:
        """Drop job ``token`` without an outcome (its commit failed: the server redelivers)."""
        self._jobs.pop(token, None)

    def processed(self, token: int, processed: ProcessedMessage) -> None:
        """Job ``token`` was committed: publish it (its receipts and ack wait for ``handled``),
        or, for a redelivery of a message this session published, join or answer that one."""
        job = self._jobs.pop(token)
        self._ctx.publish(job.origin, lambda: self._publish(token, job, processed))

    def _publish(self, token: int, job: _Job, processed: ProcessedMessage) -> None:
        node = job.node
        key = _message_key(node)
        self._retries.pop(key, None)
        delivery = _Delivery(node, job.attempt, processed.history_sync)
        if processed.redelivered:
            earlier = self._unhandled_keys.get(key)
            if earlier is not None:
                # its event still waits for the application: answered when that is handled
                self._unhandled[earlier].deliveries.append(delivery)
                return
            if key in self._handled:
                self._answer(delivery)  # the application has it: only the server does not know
                return
        self._ctx.emit(
            MessageProcessed(
                token=token,
                node=node,
                result=processed.result,
                offline=node.attr("offline") is not None,
                redelivered=processed.redelivered,
            )
        )
        self._unhandled[token] = _Unhandled(key, [delivery])
        self._unhandled_keys[key] = token

    def handled(self, token: int) -> None:
        """The application handled ``MessageProcessed(token=token)``: receipts and ack for each
        of its deliveries on the current connection."""
        unhandled = self._unhandled.pop(token, None)
        if unhandled is None:
            raise LocalProtocolError(f"no published message {token} waits to be handled")
        if self._unhandled_keys.get(unhandled.key) == token:
            del self._unhandled_keys[unhandled.key]
        _remember(self._handled, unhandled.key, None)
        for delivery in unhandled.deliveries:
            self._answer(delivery)

    def _answer(self, delivery: _Delivery) -> None:
        """The receipt(s), then the ack, if the delivery's connection is the current one."""
        if not self._live(delivery.attempt):
            return  # the server delivers it again on the next connection
        node, ctx = delivery.node, self._ctx
        creds = ctx.creds
        ctx.send(receipt(node, receipt_kind(node, creds)))
        own = _user(creds.me.id) if creds.me is not None else None
        if delivery.history_sync and own is not None:
            ctx.send(history_receipt(node, own))
        ctx.ack(node)

    def failed(self, token: int, error: RemoteProtocolError) -> None:
        """Job ``token`` cannot be decrypted: a stub, then a retry receipt (until we give up)."""
        job = self._jobs.pop(token)
        self._ctx.publish(job.origin, lambda: self._fail(job, error))

    def _fail(self, job: _Job, error: RemoteProtocolError) -> None:
        node, ctx = job.node, self._ctx
        key = _message_key(node)
        count = self._retries.get(key, 0) + 1
        gave_up = count > MAX_RETRIES
        if not gave_up:
            _remember(self._retries, key, count)
        ctx.emit(
            MessageFailed(
                node=node, error=error, retry_count=min(count, MAX_RETRIES), gave_up=gave_up
            )
        )
        if not self._live(job.attempt):
            return
        if not gave_up:
            ctx.send(
                retry_receipt(
                    node,
                    count=count,
                    registration_id=ctx.creds.registration_id,
                    keys=self._fresh_keys() if count > 1 else None,
                )
            )
        ctx.ack(node, error=NACK_UNHANDLED)

    def _live(self, attempt: int) -> bool:
        number = self._ctx.attempt_number
        return number != 0 and number == attempt

    def _fresh_keys(self) -> Node | None:
        """A new pre-key for the sender's new session, saved before the receipt can leave."""
        ctx = self._ctx
        creds = ctx.creds
        account = creds.account
        if account is None:
            return None  # not paired: nothing to vouch for the keys with
        key_id = pre_key_id(creds.next_pre_key_id)
        key = KeyPair.generate(ctx.rng.randbytes)
        following = creds.next_pre_key_id + 1
        ctx.save_creds(
            replace(
                creds,
                next_pre_key_id=following,
                first_unuploaded_pre_key_id=max(creds.first_unuploaded_pre_key_id, following),
            ),
            why="a pre-key for a retry receipt, before the receipt",
            keys={"pre-key": {str(key_id): key}},
        )
        device_identity = wa_pb2.ADVSignedDeviceIdentity(details=account.details)
        if account.account_signature_key is not None:
            device_identity.account_signature_key = account.account_signature_key
        if account.account_signature is not None:
            device_identity.account_signature = account.account_signature
        if account.device_signature is not None:
            device_identity.device_signature = account.device_signature
        return retry_keys(
            identity=creds.signed_identity_key,
            pre_key=(key_id, key),
            signed_pre_key=creds.signed_pre_key,
            device_identity=device_identity.SerializeToString(),
        )


def _remember(table: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > _REMEMBERED:
        table.popitem(last=False)
