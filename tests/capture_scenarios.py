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

from walink.auth.model import Creds
from walink.capture import CaptureWriter, CapturingSession
from walink.fsm.policy import PolicyConfig
from walink.session import PairingCode, SessionConfig
from walink.testing.faults import Fault, StreamError
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

__all__ = ["DATA_DIR", "SCENARIOS", "Recorded", "Scenario", "record", "record_all"]

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
    hub.history = None  # the shipped captures are of the connection lifecycle only
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


SCENARIOS: dict[str, Scenario] = {
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
