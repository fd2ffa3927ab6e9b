"""walink.testing.memory: a client session and the hub wired in memory, with a fake clock."""

from __future__ import annotations

import random

import pytest

from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.protocol.binary import Node
from walink.protocol.pairing import parse_qr_string
from walink.session import ProcessedMessage, SessionConfig
from walink.testing.faults import Drop, Step, TruncatedFrame
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

T0 = 1_780_000_000.0


def hub(seed: int = 1) -> Hub:
    return Hub(rng=random.Random(seed).randbytes, now=T0, log=lambda line: None)


def test_qr_login_end_to_end() -> None:
    the_hub = hub()
    pair = MemoryPair.create(the_hub, seed=2, now=T0)
    assert pair.qr is None and pair.server is None
    pair.start()
    assert pair.qr is not None and pair.server is pair.servers[0]
    assert parse_qr_string(pair.qr).noise_public == pair.session.creds.noise_key.public
    jid = pair.scan_qr()
    assert pair.session.connection == "open" and len(pair.servers) == 2
    assert pair.servers[0].ended and pair.server is pair.servers[1]
    assert pair.store.load() == pair.session.creds and pair.session.creds.me is not None
    assert pair.session.creds.me.id == jid
    assert pair.sent_bytes > 0
    # the session trusts the hub's root: create() wired it
    assert pair.session.config.trust_root == the_hub.client_trust_root


def test_advance_runs_deadlines_at_their_time() -> None:
    pair = MemoryPair.create(hub(), seed=2, now=T0)
    pair.start()
    refs = pair.servers[0].refs
    pair.advance(100)  # 60 s, then 80 s, then 100 s: three rotations inside one call
    assert pair.now == T0 + 100
    assert parse_qr_string(pair.qr or "").ref == refs[3]


def test_run_until_stops_at_the_limit() -> None:
    pair = MemoryPair.create(hub(), seed=2, now=T0)
    pair.start()
    assert not pair.run_until(lambda: False, limit=10)
    assert pair.now == T0 + 10
    assert pair.run_until(lambda: pair.session.finished, limit=1000)
    assert pair.closes[-1].disconnect.reason is CloseReason.QR_EXHAUSTED


def test_drop_before_the_socket_opens_and_no_auto_reconnect() -> None:
    the_hub = hub()
    the_hub.inject(Drop(at=Step.CONNECTED))
    pair = MemoryPair.create(the_hub, seed=2, now=T0, auto_reconnect=False)
    pair.start()
    [closed] = pair.closes
    assert closed.disconnect.reason is CloseReason.NETWORK_ERROR
    assert pair.server is None
    pair.advance(3600)
    assert len(pair.servers) == 1 and not pair.session.attempt_alive
    pair.start()  # by hand, the next attempt works
    assert pair.session.state == "awaiting_qr"


def test_abort_is_delivered_as_a_reset() -> None:
    the_hub = hub()
    the_hub.inject(TruncatedFrame(at=Step.CLIENT_FINISH))
    pair = MemoryPair.create(the_hub, seed=2, now=T0)
    pair.start()
    closed = pair.closes[0]
    assert closed.disconnect.reason is CloseReason.NETWORK_ERROR
    assert "aborted" in closed.disconnect.message
    pair.run_until(lambda: pair.session.state == "awaiting_qr", limit=5)
    assert len(pair.servers) == 2


def test_manual_saves_and_scan_errors() -> None:
    pair = MemoryPair.create(hub(), seed=2, now=T0, auto_confirm=False)
    with pytest.raises(RuntimeError):
        pair.scan_qr()
    pair.start()
    pair.scan_qr()
    assert len(pair.pending_saves) == 1 and pair.session.saves_pending
    pair.confirm_saves()  # the creds: the reply goes out, the 515 and the login follow
    [upload] = pair.pending_saves
    assert upload.keys is not None and pair.session.state == "authenticating"
    pair.confirm_saves()
    assert not pair.pending_saves and pair.session.connection == "open"


def test_custom_config_is_kept_apart_from_the_trust_root() -> None:
    pair = MemoryPair.create(hub(), seed=2, now=T0, config=SessionConfig(qr_first_timeout=5.0))
    pair.start()
    first = pair.qr
    pair.advance(5)
    assert pair.qr != first


class ListeningProcessor:
    """A processor that records the credentials it is told were saved."""

    def __init__(self) -> None:
        self.saved: list[Creds] = []

    def creds_saved(self, creds: Creds) -> None:
        self.saved.append(creds)

    def process(self, node: Node) -> ProcessedMessage:
        raise AssertionError("no message is sent in this test")


def test_every_confirmed_creds_save_is_reported_to_a_listening_processor() -> None:
    pair = MemoryPair.create(hub(), seed=2, now=T0)
    processor = ListeningProcessor()
    pair.processor = processor
    pair.start()
    pair.scan_qr()
    assert processor.saved, "pairing saves the credentials"
    assert processor.saved[-1] == pair.store.load() == pair.session.creds
