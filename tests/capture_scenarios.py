"""Record the captures shipped in ``tests/data`` from emulator scenarios, deterministically.

``python -m tests.capture_scenarios`` (re)writes every ``tests/data/<name>.jsonl``; the tests
record each scenario again into a temporary folder and require the same bytes, so a shipped
capture can never drift from the code that made it.

Each scenario runs a ``CapturingSession`` against the emulator's ``Hub`` in memory
(``MemoryPair``) on a fake clock, with fixed seeds. The policy's jitter is 0 in these captures:
replay draws its jitter from the capture's seed, not from the live run's generator, so with jitter
the replayed delays would differ from the recorded ones by design.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from walink._receive import SignalProcessor
from walink.auth.model import Creds
from walink.capture import CaptureWriter, CapturingSession
from walink.fsm.policy import PolicyConfig
from walink.protocol.binary import Node
from walink.protocol.signal.record import with_session
from walink.session import PairingCode, SessionConfig
from walink.testing.faults import Fault, StreamError
from walink.testing.history import HistoryFaults
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

__all__ = [
    "DATA_DIR",
    "SCENARIOS",
    "Recorded",
    "Scenario",
    "messages_history_pair",
    "record",
    "record_all",
]

DATA_DIR = Path(__file__).parent / "data"
T0 = 1_700_000_000.0
"""The fake clock's start: unix time, because the certificate check reads it as such."""
_CONFIG = SessionConfig(policy=PolicyConfig(jitter=0.0))
PAIRING_PHONE = "4915123456789"
"""The phone the pairing-code scenario links to (the hub's phone of that number)."""


@dataclass(slots=True)
class Recorded:
    """What a scenario leaves for the tests: the file and every credential the device had."""

    path: Path
    creds: list[Creds] = field(default_factory=list)
    """The initial creds and the final stored ones (their secrets must not be in the file)."""
    pre_key_privates: list[bytes] = field(default_factory=list)
    pairing_codes: list[str] = field(default_factory=list)
    """The pairing codes the session showed (they must not be in the file either)."""


def _hub() -> Hub:
    hub = Hub(rng=random.Random(101).randbytes, now=T0, log=lambda line: None)
    hub.history = None  # these are of the connection lifecycle only (messages-history apart)
    return hub


class Scenario(Protocol):
    """Records one scenario into ``path`` (``redact=False``: an unredacted capture)."""

    def __call__(self, path: Path, *, redact: bool = True) -> Recorded: ...


def _capturing_pair(
    hub: Hub,
    path: Path,
    *,
    seed: int,
    creds: Creds | None,
    name: str,
    now: float,
    redact: bool,
) -> MemoryPair:
    rng = random.Random(seed)
    if creds is None:
        creds = Creds.new(rng.randbytes)
    writer = CaptureWriter(path, redact=redact, seed=seed * 1000 + 7, source=f"scenario {name}")
    config = replace(_CONFIG, trust_root=hub.client_trust_root)
    session = CapturingSession(creds=creds, rng=rng, config=config, capture=writer)
    return MemoryPair(session, hub, now=now)


def _paired(hub: Hub) -> tuple[Creds, float]:
    """A device paired by QR beforehand (not captured); its creds and the clock after."""
    pair = MemoryPair.create(hub, seed=202, now=T0, config=_CONFIG)
    pair.start()
    pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.session.close(now=pair.now)
    pair.pump()
    creds = pair.store.load()
    assert creds is not None
    return creds, pair.now + 10.0


def _finish(pair: MemoryPair, recorded: Recorded) -> Recorded:
    session = pair.session
    assert isinstance(session, CapturingSession)
    session.capture.close(at=pair.now)
    final = pair.store.load()
    if final is not None:
        recorded.creds.append(final)
    recorded.pre_key_privates.extend(_pre_key_privates(pair))
    return recorded


def _pre_key_privates(pair: MemoryPair) -> list[bytes]:
    found = pair.store.get_keys("pre-key", [str(n) for n in range(1, 1000)])
    return [value.private for value in found.values() if value is not None]  # type: ignore[union-attr]


def qr_login(path: Path, *, redact: bool = True) -> Recorded:
    """A new device: pair-device, the QR scanned, pair-success, the 515 restart, login, open."""
    hub = _hub()
    pair = _capturing_pair(hub, path, seed=11, creds=None, name="qr-login", now=T0, redact=redact)
    recorded = Recorded(path, creds=[pair.session.creds])
    pair.start()
    pair.advance(5.0)  # the person takes a few seconds to scan
    pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.advance(1.0)
    return _finish(pair, recorded)


def pairing_code_login(path: Path, *, redact: bool = True) -> Recorded:
    """A new device links by pairing code: pair-device, the request (phone given with spaces),
    the code shown, typed on the phone, primary_hello, companion_finish, pair-success, the 515
    restart, login, open."""
    hub = _hub()
    pair = _capturing_pair(
        hub, path, seed=16, creds=None, name="pairing-code-login", now=T0, redact=redact
    )
    recorded = Recorded(path, creds=[pair.session.creds])
    pair.start()
    pair.advance(2.0)  # the person picks "link with phone number instead"
    pair.session.request_pairing_code("+49 151 2345 6789", now=pair.now)
    pair.pump()
    codes = [event.code for event in pair.events if isinstance(event, PairingCode)]
    assert len(codes) == 1
    recorded.pairing_codes.extend(codes)
    pair.advance(8.0)  # and types the code on the phone
    hub.phone.enter_pairing_code(codes[0], PAIRING_PHONE, now=pair.now)
    pair.pump()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.advance(1.0)
    return _finish(pair, recorded)


def _saved_device(
    path: Path, *, seed: int, name: str, redact: bool, faults: tuple[Fault, ...] = ()
) -> tuple[MemoryPair, Recorded]:
    """A device paired beforehand, its capture started, ``faults`` scripted for its connect."""
    hub = _hub()
    creds, now = _paired(hub)
    if faults:
        hub.inject(*faults)
    pair = _capturing_pair(hub, path, seed=seed, creds=creds, name=name, now=now, redact=redact)
    recorded = Recorded(path, creds=[creds])
    pair.start()
    return pair, recorded


def saved_creds_login(path: Path, *, redact: bool = True) -> Recorded:
    """A paired device logs in with its saved creds, stays open past pings both ways."""
    pair, recorded = _saved_device(path, seed=12, name="saved-creds-login", redact=redact)
    assert pair.run_until(lambda: pair.session.connection == "open", limit=30)
    pair.advance(70.0)
    return _finish(pair, recorded)


def keepalive_timeout(path: Path, *, redact: bool = True) -> Recorded:
    """The server goes silent: ping, no answer, KEEPALIVE_TIMEOUT, backoff, reconnect, open."""
    pair, recorded = _saved_device(path, seed=13, name="keepalive-timeout", redact=redact)
    assert pair.run_until(lambda: pair.session.connection == "open", limit=30)
    assert pair.server is not None
    pair.server.go_silent()
    assert pair.run_until(lambda: bool(pair.closes), limit=120)
    assert pair.run_until(lambda: pair.session.connection == "open", limit=30)
    return _finish(pair, recorded)


def logout(path: Path, *, redact: bool = True) -> Recorded:
    """The application logs out: remove-companion-device, the server's answer, final."""
    pair, recorded = _saved_device(path, seed=14, name="logout", redact=redact)
    assert pair.run_until(lambda: pair.session.connection == "open", limit=30)
    pair.advance(2.0)
    pair.session.logout(now=pair.now)
    pair.pump()
    assert pair.run_until(lambda: pair.session.finished, limit=10)
    return _finish(pair, recorded)


def replaced_440(path: Path, *, redact: bool = True) -> Recorded:
    """Another client took the session: ``<stream:error><conflict type=replaced/>`` (440)."""
    pair, recorded = _saved_device(
        path, seed=15, name="replaced-440", redact=redact, faults=(StreamError(code=440),)
    )
    assert pair.run_until(lambda: pair.session.finished, limit=30)
    return _finish(pair, recorded)


ALICE = "15550003333"
"""The contact who writes to the device in the messages-and-history scenario."""


def messages_history_pair(path: Path, *, redact: bool = True) -> MemoryPair:
    """A new device paired by QR, with messages processed by walink's Signal processor: it logs
    in and is sent its phone's history (an inline bootstrap, two RECENT blobs, the first gone
    once and uploaded again, push names), then a contact's pkmsg and msg, and a stanza it
    cannot decrypt (a stub and a retry receipt); the application closes. Returns the pair, its
    capture closed."""
    hub = Hub(rng=random.Random(5).randbytes, now=T0, log=lambda line: None)
    hub.history_faults = HistoryFaults(missing=frozenset({0}))
    rng = random.Random(5)
    writer = CaptureWriter(path, redact=redact, seed=5007, source="scenario messages-history")
    config = replace(_CONFIG, trust_root=hub.client_trust_root, process_messages=True)
    creds = Creds.new(rng.randbytes)
    session = CapturingSession(creds=creds, rng=rng, config=config, capture=writer)
    pair = MemoryPair(session, hub, now=T0)
    pair.processor = SignalProcessor(
        pair.store, clock=lambda: pair.now, randbytes=random.Random(6).randbytes
    )
    pair.start()
    jid = pair.scan_qr()
    assert pair.run_until(lambda: session.connection == "open", limit=60)
    pair.run_until(lambda: False, limit=1)  # the keys upload, and the history in reply
    assert pair.server is not None
    contacts = hub.contacts
    first = contacts.text_stanza(ALICE, jid, "hello", now=pair.now)
    assert first.children()[0].attrs["type"] == "pkmsg"
    pair.server.send_node(first)
    pair.pump()
    # the device answered (as far as Alice knows): her next message is a plain msg
    alice = contacts.contact(ALICE)
    sessions = alice.sessions[jid]
    opened = sessions.open_session()
    assert opened is not None
    alice.sessions[jid] = with_session(sessions, replace(opened, pending_pre_key=None))
    second = contacts.text_stanza(ALICE, jid, "again", now=pair.now)
    assert second.children()[0].attrs["type"] == "msg"
    pair.server.send_node(second)
    attrs = {"id": "3EB0BAD", "from": alice.jid, "t": str(int(pair.now)), "type": "text"}
    pair.server.send_node(Node("message", attrs, [Node("enc", {"v": "2", "type": "msg"}, b"3x")]))
    pair.pump()
    pair.run_until(lambda: False, limit=5)  # the gone blob is downloaded again
    session.close(now=pair.now)
    pair.pump()
    writer.close(at=pair.now)
    return pair


def messages_history(path: Path, *, redact: bool = True) -> Recorded:
    """``messages_history_pair`` as a shipped scenario."""
    pair = messages_history_pair(path, redact=redact)
    # the initial creds are drawn first from the scenario's generator, as the pair drew them
    recorded = Recorded(path, creds=[Creds.new(random.Random(5).randbytes)])
    final = pair.store.load()
    if final is not None:
        recorded.creds.append(final)
    recorded.pre_key_privates.extend(_pre_key_privates(pair))
    return recorded


SCENARIOS: dict[str, Scenario] = {
    "messages-history": messages_history,
    "qr-login": qr_login,
    "pairing-code-login": pairing_code_login,
    "saved-creds-login": saved_creds_login,
    "keepalive-timeout": keepalive_timeout,
    "logout": logout,
    "replaced-440": replaced_440,
}
"""Name (the file's stem in ``tests/data``) -> the function that records it."""


def record(name: str, folder: Path, *, redact: bool = True) -> Recorded:
    """Record scenario ``name`` into ``folder/<name>.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    return SCENARIOS[name](folder / f"{name}.jsonl", redact=redact)


def record_all(folder: Path = DATA_DIR) -> list[Recorded]:
    return [record(name, folder) for name in SCENARIOS]


if __name__ == "__main__":
    for done in record_all():
        print(f"wrote {done.path}", file=sys.stderr)
