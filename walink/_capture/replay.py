"""Replaying a capture: its recorded inputs into a fresh sans-IO ``ClientSession``.

The session starts with synthetic keys (seeded from the header) and the header's non-secret
creds and config. Each record is applied at its own time: ``start``, ``connected`` (with a
transport that records the nodes the session sends), ``in`` through ``receive_node``, ``tick``
through ``handle_timeout``, ``lost`` through ``connection_lost`` (or ``abort`` for a reason),
and the application's commands. Saves are confirmed (or failed) where the capture's
``saved``/``save_failed`` commands say; in a capture without them, at once, as a store that
never fails would. The job workers' outcomes (``message_processed``, ``message_failed``,
``history_downloaded``, ``history_download_failed``) and the application's handled reports
(``message_handled``, ``history_handled``) are reported at their time with what the capture kept
(``walink._capture.jobs``): the session sends the same receipts and acks, saves the same history
records and publishes the same events. The one random value such a call draws, the IV of a
``server-error`` receipt (a reupload request), is sent in clear: replay draws the recorded
receipt's instead (``_ScriptedRandom``), so the receipt it encrypts compares with the recorded
one byte for byte when the capture kept the media key. A ``cancel_query`` gives up the replay's
own query of the recorded number (the replay's session gave it another id), so a query the live
caller gave up neither fails nor is answered in the replay. An unredacted capture's registration
id is the replay's too, so its retry receipts are the live ones.

What replay cannot do, it says in ``replay.note`` lines: a pair-success's device identity cannot
be verified (the capture holds no private key, and is usually redacted), so a synthetic identity
signed for the replay's own keys stands in for it; redacted contents are replaced by
placeholders of the same length; a redacted pairing code is replaced by one derived from the
capture's seed, so the phone's primary_hello (wrapped with the live code) is replaced by a
stand-in wrapped with the replay's code; an unredacted capture's QR (made of the live keys) is
shown as recorded; redacted decrypted messages and history chunks are replayed as their
placeholders; a custom history gate (a function) is replaced by the default one. Events are
encoded with the capture's own redaction (from its header), and so are the nodes the replay sent
(``ReplayResult.sent``), for a comparison with the ``out`` lines.

Ids are matched in order: each recorded outbound node is paired with the first unmatched node
the replay sent with the same tag, xmlns, type and first child; their ids are mapped, and the
inbound replies to the recorded id are delivered with the replay's id. Events show the recorded
ids again (a reply nobody waited for, a ``node`` event, too), so the replay's events compare with
the recorded run's.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from walink._capture.events import PAIRING_CODE_MARKER, QR_MARKER, encode_event
from walink._capture.format import (
    Capture,
    CaptureFormatError,
    Record,
    config_from_json,
    creds_from_json,
    decode_cause,
)
from walink._capture.jobs import decode_error, decode_processed, decode_sync
from walink._capture.nodes import NodeFormatError, decode_node, encode_node
from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node
from walink.protocol.errors import LocalProtocolError
from walink.protocol.events import Event
from walink.protocol.keys import KeyPair
from walink.protocol.pairing import build_pair_success
from walink.protocol.pairing_code import generate_pairing_code, wrap_ephemeral_random
from walink.session import (
    ABORT_REASONS,
    ClientSession,
    ConnectionUpdate,
    PairingCode,
    SaveRequest,
)

__all__ = ["ReplayResult", "replay_capture"]

_JOB_COMMANDS = frozenset(
    {
        "message_processed",
        "message_failed",
        "message_handled",
        "history_downloaded",
        "history_download_failed",
        "history_handled",
    }
)
"""The job workers' outcomes and the application's handled reports (``walink._capture.jobs``)."""


@dataclass(slots=True)
class ReplayResult:
    """Everything a replay printed, in order (``lines``), and the two event lists it compared."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    """``{"event": ..., "t": ..., ...}`` objects: replay.start, session events, replay.note,
    replay.end."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """The replay's session events (``t`` included), as the capture's ``event`` lines encode."""
    recorded: list[dict[str, Any]] = field(default_factory=list)
    """The recorded run's events, from the capture's ``event`` lines."""
    sent: list[dict[str, Any]] = field(default_factory=list)
    """Every node the replay sent, in order, encoded as the capture encodes its ``out`` lines
    (its own redaction), with the ids of the nodes matched to recorded ones shown as recorded:
    compare them with the capture's ``out`` lines."""
    creds: Creds | None = None
    """The replay session's credentials at the end: synthetic keys, with the capture's
    non-secret fields and what the replay recorded in them (the history chunks it processed,
    the pending ones): compare them with the live run's saved credentials."""


class _ReplayTransport:
    """Stands in for the Noise transport: nothing to decrypt, and sent nodes are kept."""

    def __init__(self) -> None:
        self.sent: deque[Node] = deque()

    def receive_data(self, data: bytes | None) -> None:
        raise LocalProtocolError("replay delivers nodes, not bytes")

    def events(self) -> Iterator[Event]:
        return iter(())

    def send_node(self, node: Node) -> None:
        self.sent.append(node)

    def data_to_send(self) -> bytes:
        return b""


def _shape(node: Node) -> tuple[str, str | None, str | None, str | None]:
    children = node.children()
    return (
        node.tag,
        node.attr("xmlns"),
        node.attr("type"),
        children[0].tag if children else None,
    )


def _redacted_rules(data: object, found: set[str]) -> None:
    if isinstance(data, dict):
        marker = data.get("redacted")
        if isinstance(marker, dict):
            found.add(str(marker.get("what")))
        for child in data.get("children", ()) or ():
            _redacted_rules(child, found)


class _Replayer:
    def __init__(self, capture: Capture) -> None:
        header = capture.header
        self.capture = capture
        self.redact = bool(header.redacted)
        rng = _ScriptedRandom(header.seed)
        self.rng = rng
        creds = creds_from_json(header.creds, Creds.new(rng.randbytes))
        if header.registration_id is not None:
            creds = replace(creds, registration_id=header.registration_id)
        # the phone's signing key and nonces for the stand-in identity: their own stream, so
        # they do not shift the session's
        self.phone_rng = random.Random(f"walink-replay-phone:{header.seed}")
        self.session = ClientSession(creds=creds, rng=rng, config=config_from_json(header.config))
        self.transport: _ReplayTransport | None = None
        self.pending: deque[Node] = deque()
        self.id_map: dict[str, str] = {}
        self.recorded_id: dict[str, str] = {}
        self.result = ReplayResult()
        self.noted_rules: set[str] = set()
        self.noted_topics: set[str] = set()
        self.sent: list[Node] = []
        self.noted_qr = False
        self.pairing_requests = 0
        self.index = 0
        """The position in ``capture.records`` of the record being applied."""
        self.download_ids: dict[int, str] = {}
        """The message id of each history download job, by token (the replay's own events)."""
        self.claimed_receipts: set[int] = set()
        """The ``out`` records whose server-error receipt IV a reupload request used already."""
        self.query_ids: list[str | None] = []
        """The id the replay's session gave each ``query`` command, in order (None: refused)."""
        self.derived_codes: set[str] = set()
        """The codes replay made up for redacted ones (their primary_hello needs a stand-in)."""
        self.accepted_code: str | None = None
        """The code of the replay's latest ``PairingCode`` event (what primary_hello must use)."""
        self.recorded_qrs = _recorded_qrs(capture)
        self.counts = {"in": 0, "out_recorded": 0, "out_matched": 0, "out_replayed": 0}
        self.now = 0.0
        # A capture that records confirmations is replayed with them where they happened;
        # one without (written by hand, or cut short) has every save confirmed at once.
        self.auto_confirm = not any(
            record.kind == "command" and record.data.get("name") in ("saved", "save_failed")
            for record in capture.records
        )

    # -- output --------------------------------------------------------------------------------

    def emit(self, data: dict[str, Any]) -> None:
        # "event" first, then "t": the order the command line's JSON lines read in
        # (docs/protocol/architecture.md#command-line)
        self.result.lines.append({"event": data["event"], "t": self.now, **data})

    def note(self, text: str) -> None:
        self.emit({"event": "replay.note", "note": text})

    def drain(self) -> None:
        session = self.session
        self.collect_sent()
        while (event := session.next_event()) is not None:
            # the capture's own redaction: an unredacted one shows contents, and compares them
            data = encode_event(event, redact=self.redact, query_id=self.shown_id)
            if data["event"] in ("query.result", "pairing_code.error") and data["node"]:
                # the reply was delivered with the replay's id: show it as it was recorded
                attrs = data["node"]["attrs"]
                attrs["id"] = self.shown_id(attrs.get("id", ""))
            elif data["event"] == "node" and _is_reply(data["node"]):
                # a reply nobody waited for (its query given up, or timed out) was delivered
                # with the replay's id too
                attrs = data["node"]["attrs"]
                attrs["id"] = self.shown_id(attrs.get("id", ""))
            if isinstance(event, ConnectionUpdate) and event.qr is not None and not self.redact:
                data["qr"] = self.shown_qr(event.qr)
            if isinstance(event, PairingCode):
                self.accepted_code = event.code
            if data["event"] == "history.download":
                self.download_ids[data["token"]] = data["message_id"]
            encoded = {"event": data["event"], "t": self.now, **data}
            self.result.events.append(encoded)
            self.result.lines.append(encoded)
            if isinstance(event, SaveRequest) and self.auto_confirm:
                session.confirm_saved(event.token)
            self.collect_sent()

    def shown_id(self, replay_id: str) -> str:
        return self.recorded_id.get(replay_id, replay_id)

    def shown_qr(self, replay_qr: str) -> str:
        """The recorded QR with the same ref: the replay's own is made of its synthetic keys."""
        if not self.noted_qr:
            self.noted_qr = True
            self.note(
                "QR: its keys and ADV secret are the live device's, which no capture holds: "
                "NOT verified; the recorded QR of the same ref is shown"
            )
        return self.recorded_qrs.get(replay_qr.split(",", 1)[0], QR_MARKER)

    def collect_sent(self) -> None:
        if self.transport is not None:
            while self.transport.sent:
                node = self.transport.sent.popleft()
                self.pending.append(node)
                self.sent.append(node)
                self.counts["out_replayed"] += 1

    # -- the records ---------------------------------------------------------------------------

    def run(self) -> ReplayResult:
        header = self.capture.header
        records = self.capture.records
        self.now = records[0].t if records else 0.0
        self.emit(
            {
                "event": "replay.start",
                "format": 1,
                "walink": header.walink,
                "source": header.source,
                "seed": header.seed,
                "redacted": list(header.redacted),
            }
        )
        saves = "at once" if self.auto_confirm else "where the capture confirms it"
        self.note(f"synthetic keys from the capture's seed; every save is confirmed {saves}")
        if header.config.get("history_gate") == "custom":
            self.note(
                "the recorded run decided which history to sync with its own function, which "
                "no capture holds: replay uses the default (every type but FULL, unless the "
                "full sync was asked for)"
            )
        for index, record in enumerate(records):
            self.index = index
            self.now = record.t
            if record.kind == "event":
                event = record.data.get("event")
                if not isinstance(event, dict):
                    raise CaptureFormatError(f"line {record.line}: 'event' must be an object")
                self.result.recorded.append({"event": event.get("event"), "t": record.t, **event})
                continue
            if record.kind == "end":
                break
            try:
                self.apply(record)
            except LocalProtocolError as error:
                self.note(f"line {record.line}: {record.kind} refused by the session: {error}")
            self.drain()
        self.finish()
        return self.result

    def apply(self, record: Record) -> None:
        session, t, kind = self.session, record.t, record.kind
        if kind == "start":
            if session.attempt_alive or session.finished:
                state = "finished" if session.finished else "an attempt is running"
                self.note(f"line {record.line}: start skipped ({state}): the replay diverged")
                return
            session.start(now=t)
            self.transport = None
        elif kind == "connected":
            self.transport = _ReplayTransport()
            self.pending.clear()
            session.connection_made(now=t, transport=self.transport)
        elif kind == "tick":
            session.handle_timeout(now=t)
        elif kind == "lost":
            self.lost(record)
        elif kind == "in":
            self.receive(record)
        elif kind == "out":
            self.match(record)
        elif kind == "command":
            self.command(record)

    def lost(self, record: Record) -> None:
        data = record.data.get("cause")
        cause = decode_cause(data)
        if not isinstance(cause, CloseReason):
            self.session.connection_lost(cause, now=record.t)
            return
        # a reason the I/O layer decided (SLOW_CONSUMER...): the live run called abort
        if cause not in ABORT_REASONS:
            raise CaptureFormatError(f"line {record.line}: a lost record cannot be {cause.name}")
        message = data.get("message") if isinstance(data, dict) else None
        if message is not None and not isinstance(message, str):
            raise CaptureFormatError(f"line {record.line}: cause.message must be a string")
        if not self.session.attempt_alive:
            self.note(f"line {record.line}: lost skipped (no attempt): the replay diverged")
            return
        self.session.abort(cause, now=record.t, message=message)

    def node_of(self, record: Record, key: str = "node") -> Node:
        try:
            return decode_node(record.data.get(key))
        except NodeFormatError as error:
            raise CaptureFormatError(f"line {record.line}: {error}") from None

    def receive(self, record: Record) -> None:
        node = self.node_of(record)
        self.counts["in"] += 1
        rules: set[str] = set()
        _redacted_rules(record.data.get("node"), rules)
        fresh = sorted(rules - self.noted_rules - {"device-identity"})
        if fresh:
            # said once per rule: the pair-success note covers device identities
            self.noted_rules.update(fresh)
            listed = ", ".join(fresh)
            self.note(f"redacted ({listed}): replayed as placeholders of the same length")
        if node.tag == "iq" and node.attr("type") in ("result", "error"):
            mapped = self.id_map.get(node.attr("id") or "")
            if mapped is not None:
                node = Node(node.tag, {**node.attrs, "id": mapped}, node.content)
        pair_success = node.child("pair-success") if node.tag == "iq" else None
        if pair_success is not None and self.session.state in (
            "awaiting_qr",
            "awaiting_pairing_code",
        ):
            node = self.stand_in_identity(node, pair_success, "device-identity" in rules)
        if _is_primary_hello(node) and self.session.state == "awaiting_pairing_code":
            node = self.stand_in_primary_hello(node, "pairing-code" in rules)
        if not self.session.attempt_alive:
            self.note(f"line {record.line}: <{node.tag}> arrived with no attempt: ignored")
            return
        self.session.receive_node(node, now=record.t)

    def stand_in_identity(self, node: Node, pair_success: Node, redacted: bool) -> Node:
        identity = pair_success.child("device-identity")
        if identity is None:
            return node  # malformed: the session refuses it as it did live
        creds = self.session.creds
        key_index = _int(identity.attr("key-index"), 0)
        blob = build_pair_success(
            KeyPair.generate(self.phone_rng.randbytes),
            creds.signed_identity_key.public,
            creds.adv_secret_key,
            key_index=key_index,
            raw_id=1,
            timestamp=_int(node.attr("t"), int(self.now)),
            rng=self.phone_rng.randbytes,
        )
        why = "redacted" if redacted else "not verifiable without the live private keys"
        self.note(
            f"pair-success: device-identity {why}: HMAC and account signature NOT verified; "
            "a stand-in identity signed for the replay's keys was used"
        )
        children = [
            Node(child.tag, dict(child.attrs), blob) if child is identity else child
            for child in pair_success.children()
        ]
        new_success = Node(pair_success.tag, dict(pair_success.attrs), children)
        content = [new_success if child is pair_success else child for child in node.children()]
        return Node(node.tag, dict(node.attrs), content)

    def stand_in_primary_hello(self, node: Node, redacted: bool) -> Node:
        code = self.accepted_code
        if code is None or (not redacted and code not in self.derived_codes):
            return node  # the recorded hello opens with the recorded code: replayed as it is
        # The phone wrapped its ephemeral key with the live code, which the replay does not
        # have (and its contents are placeholders): a phone of the replay's own wraps a fresh
        # key with the code the replay's session showed.
        phone_identity = KeyPair.generate(self.phone_rng.randbytes)
        ephemeral = KeyPair.generate(self.phone_rng.randbytes)
        wrapped = wrap_ephemeral_random(code, ephemeral.public, self.phone_rng.randbytes)
        why = "redacted" if redacted else "wrapped with the live pairing code"
        self.note(
            f"primary_hello: contents {why}: the phone's identity and wrapped ephemeral key "
            "NOT verified; a stand-in wrapped with the replay's pairing code was used"
        )
        stand_ins = {
            "primary_identity_pub": phone_identity.public,
            "link_code_pairing_wrapped_primary_ephemeral_pub": wrapped,
        }
        reg = node.child("link_code_companion_reg")
        assert reg is not None  # _is_primary_hello checked it
        children = [
            Node(child.tag, dict(child.attrs), stand_ins[child.tag])
            if child.tag in stand_ins
            else child
            for child in reg.children()
        ]
        new_reg = Node(reg.tag, dict(reg.attrs), children)
        content = [new_reg if child is reg else child for child in node.children()]
        return Node(node.tag, dict(node.attrs), content)

    def request_pairing_code(self, record: Record) -> None:
        phone, code = record.data.get("phone"), record.data.get("code")
        if not isinstance(phone, str) or not (code is None or isinstance(code, str)):
            raise CaptureFormatError(
                f"line {record.line}: 'pairing_code' needs a string 'phone' and 'code'"
            )
        if record.data.get("refused") is True:
            # refused by the live session before it changed anything: nothing to replay
            self.note(f"line {record.line}: a pairing-code request the live session refused")
            return
        self.pairing_requests += 1
        if code == PAIRING_CODE_MARKER:
            # deterministic from the seed (never the live code, which the capture does not hold)
            seeded = random.Random(
                f"walink-replay-pairing-code:{self.capture.header.seed}:{self.pairing_requests}"
            )
            code = generate_pairing_code(seeded.randbytes)
            self.derived_codes.add(code)
            self.note(
                f"line {record.line}: the pairing code is redacted: a code derived from the "
                "capture's seed was requested instead"
            )
        self.session.request_pairing_code(phone, now=record.t, custom_code=code)

    def match(self, record: Record) -> None:
        recorded = self.node_of(record)
        self.counts["out_recorded"] += 1
        self.collect_sent()
        shape = _shape(recorded)
        for index, sent in enumerate(self.pending):
            if _shape(sent) == shape:
                del self.pending[index]
                self.counts["out_matched"] += 1
                recorded_id, replay_id = recorded.attr("id"), sent.attr("id")
                if recorded_id and replay_id:
                    self.id_map[recorded_id] = replay_id
                    self.recorded_id[replay_id] = recorded_id
                return
        self.note(f"line {record.line}: the replay did not send <{recorded.tag}> (diverged)")

    def command(self, record: Record) -> None:
        session, t = self.session, record.t
        name = record.data.get("name")
        if name == "logout":
            session.logout(now=t)
        elif name == "close":
            session.close(now=t)
        elif name == "presence":
            session.send_presence_update(str(record.data.get("kind")), now=t)
        elif name == "query":
            timeout = record.data.get("timeout")
            wait = math.inf if timeout == "never" else timeout
            if wait is not None and not isinstance(wait, (int, float)):
                raise CaptureFormatError(f"line {record.line}: bad query timeout")
            node = self.node_of(record)
            # numbered before the call: a refused query keeps its number, as in the writer
            self.query_ids.append(None)
            self.query_ids[-1] = session.query(node, now=t, timeout=wait)
        elif name == "cancel_query":
            self.cancel_query(record)
        elif name == "send":
            session.send_node(self.node_of(record))
        elif name == "ack":
            session.ack(self.node_of(record))
        elif name == "pairing_code":
            self.request_pairing_code(record)
        elif name in _JOB_COMMANDS:
            self.job(name, record)
        elif name == "lease_lost":
            message = record.data.get("message")
            if message is not None and not isinstance(message, str):
                raise CaptureFormatError(f"line {record.line}: 'message' must be a string")
            session.lease_lost(now=t, message=message)
        elif name in ("saved", "save_failed"):
            token = record.data.get("token")
            if not isinstance(token, int) or isinstance(token, bool):
                raise CaptureFormatError(f"line {record.line}: '{name}' needs an integer token")
            if name == "saved":
                session.confirm_saved(token)
            else:
                session.save_failed(token, str(record.data.get("error", "")), now=t)
        else:
            raise CaptureFormatError(f"line {record.line}: unknown command {name!r}")

    def cancel_query(self, record: Record) -> None:
        """The caller stopped waiting for the capture's query number ``query``: the replay's
        session forgets its own query of that number, at the same point of the inputs."""
        number, recorded_id = record.data.get("query"), record.data.get("id")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise CaptureFormatError(f"line {record.line}: 'cancel_query' needs a 'query' >= 1")
        if not isinstance(recorded_id, str):
            raise CaptureFormatError(f"line {record.line}: 'cancel_query' needs a string 'id'")
        if number > len(self.query_ids):
            raise CaptureFormatError(
                f"line {record.line}: cancel_query of query {number}, but only "
                f"{len(self.query_ids)} came before"
            )
        replay_id = self.query_ids[number - 1]
        if replay_id is None:
            self.note(
                f"line {record.line}: cancel_query of query {number} ({recorded_id!r}), which "
                "the replay did not send: skipped (the replay diverged)"
            )
            return
        self.session.cancel_query(replay_id)

    def job(self, name: str, record: Record) -> None:
        """A job worker's outcome, or the application's handled report, at its recorded time."""
        session, t, data, line = self.session, record.t, record.data, record.line
        token = data.get("token")
        if not isinstance(token, int) or isinstance(token, bool):
            raise CaptureFormatError(f"line {line}: '{name}' needs an integer token")
        if name == "message_processed":
            processed = decode_processed(data, line)
            if self.redact and data.get("decrypted") is not None:
                self.note_once(
                    "message",
                    "decrypted messages are redacted: replayed as placeholders of the same "
                    "shape (history notifications and app-state key shares without their keys "
                    "or contents, nothing a user wrote)",
                )
            session.message_processed(token, processed, now=t)
        elif name == "message_failed":
            session.message_failed(token, decode_error(data.get("error"), line), now=t)
        elif name == "message_handled":
            session.message_handled(token, now=t)
        elif name == "history_downloaded":
            sync = decode_sync(data.get("sync"), line)
            if self.redact:
                self.note_once(
                    "history",
                    "history chunks are redacted: replayed as placeholders with the same JIDs, "
                    "message keys and counts, without names or contents",
                )
            session.history_downloaded(token, sync, now=t)
        elif name == "history_download_failed":
            reupload = data.get("reupload")
            if not isinstance(reupload, bool):
                raise CaptureFormatError(f"line {line}: 'reupload' must be true or false")
            error = decode_error(data.get("error"), line)
            iv = self.recorded_receipt_iv(token) if reupload else None
            if iv is not None:
                # the receipt's IV is the only randomness the session draws in this call
                self.rng.script(iv)
            try:
                session.history_download_failed(token, error, reupload=reupload, now=t)
            finally:
                self.rng.script(None)
        else:
            session.history_handled(token, now=t)

    def recorded_receipt_iv(self, token: int) -> bytes | None:
        """The IV of the recorded ``server-error`` receipt that asked for download ``token``'s
        blob again: the next one after this record, not yet used, for the same message.

        The IV is 12 random bytes sent in clear; taking it from the recording lets the replay's
        receipt be compared byte for byte, its ciphertext computed by the replay's session (an
        IV from the wrong receipt could only make the comparison fail, never pass)."""
        message_id = self.download_ids.get(token)
        if message_id is None:
            return None
        records = self.capture.records
        for index in range(self.index + 1, len(records)):
            record = records[index]
            if record.kind != "out" or index in self.claimed_receipts:
                continue
            node = record.data.get("node")
            if not isinstance(node, dict) or node.get("tag") != "receipt":
                continue
            attrs = node.get("attrs")
            if not isinstance(attrs, dict) or attrs.get("type") != "server-error":
                continue
            if attrs.get("id") != message_id:
                continue
            self.claimed_receipts.add(index)
            encrypt = self.node_of(record).child("encrypt")
            iv = encrypt.child("enc_iv") if encrypt is not None else None
            content = iv.content if iv is not None else None
            return content if isinstance(content, bytes) and len(content) == 12 else None
        return None

    def note_once(self, topic: str, text: str) -> None:
        if topic not in self.noted_topics:
            self.noted_topics.add(topic)
            self.note(text)

    def finish(self) -> None:
        self.collect_sent()
        result = self.result
        for node in self.sent:
            encoded = encode_node(node, redact=self.redact)
            replay_id = node.attr("id")
            if replay_id is not None:
                encoded["attrs"]["id"] = self.shown_id(replay_id)
            result.sent.append(encoded)
        match: bool | None = None
        if result.recorded:
            match = result.events == result.recorded
            if not match:
                self.note(_first_difference(result.events, result.recorded))
        result.creds = self.session.creds
        counts = self.counts
        self.emit(
            {
                "event": "replay.end",
                "nodes_in": counts["in"],
                "nodes_out_recorded": counts["out_recorded"],
                "nodes_out_replayed": counts["out_replayed"],
                "nodes_out_unmatched": counts["out_recorded"] - counts["out_matched"],
                "events": len(result.events),
                "events_recorded": len(result.recorded) if result.recorded else None,
                "events_match": match,
                "state": self.session.state,
            }
        )


def _first_difference(replayed: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> str:
    for index, (mine, theirs) in enumerate(zip(replayed, recorded, strict=False)):
        if mine != theirs:
            return (
                f"events differ from the recording at #{index + 1}: replay "
                f"{mine.get('event')} at {mine.get('t')}, recording {theirs.get('event')} "
                f"at {theirs.get('t')}"
            )
    return f"events differ in number: replay {len(replayed)}, recording {len(recorded)}"


class _ScriptedRandom(random.Random):
    """The replay session's generator: seeded from the capture, but the next draw of as many
    bytes as a scripted value has is that value (the stream still advances by the same
    amount, so every later draw is what it would have been)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._scripted: bytes | None = None

    def script(self, value: bytes | None) -> None:
        self._scripted = value

    def randbytes(self, n: int) -> bytes:
        drawn = super().randbytes(n)
        scripted = self._scripted
        if scripted is not None and len(scripted) == n:
            self._scripted = None
            return scripted
        return drawn


def _is_reply(node: object) -> bool:
    """An encoded ``<iq type=result|error>`` with an id: what ``receive`` maps to the replay's."""
    if not isinstance(node, dict) or node.get("tag") != "iq":
        return False
    attrs = node.get("attrs")
    return isinstance(attrs, dict) and attrs.get("type") in ("result", "error") and "id" in attrs


def _is_primary_hello(node: Node) -> bool:
    reg = node.child("link_code_companion_reg") if node.tag == "notification" else None
    return reg is not None and reg.attr("stage") == "primary_hello"


def _recorded_qrs(capture: Capture) -> dict[str, str]:
    """The recorded run's QR strings (unredacted captures only) by their ref, the first field."""
    found: dict[str, str] = {}
    for record in capture.records:
        event = record.data.get("event") if record.kind == "event" else None
        qr = event.get("qr") if isinstance(event, dict) else None
        if isinstance(qr, str) and qr != QR_MARKER:
            found.setdefault(qr.split(",", 1)[0], qr)
    return found


def _int(text: str | None, default: int) -> int:
    if text is not None and text.isascii() and text.isdigit() and len(text) < 19:
        return int(text)
    return default


def replay_capture(capture: Capture) -> ReplayResult:
    """Replay ``capture`` (from ``read_capture``); raises ``CaptureFormatError`` on a bad record."""
    return _Replayer(capture).run()
