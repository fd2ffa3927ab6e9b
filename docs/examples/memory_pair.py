"""The in-memory pair: a sans-IO client session wired to the server role, with a fake clock.

No socket and no real time: ``advance`` and ``run_until`` jump from deadline to deadline, so an
hour of keepalives or the whole QR rotation runs in milliseconds, and the same seeds give the
same run every time.
"""

from __future__ import annotations

import random

from walink import CloseReason
from walink.testing import Hub, MemoryPair

T0 = 1_780_000_000.0  # the fake clock's start (unix seconds)


def main() -> tuple[str, CloseReason]:
    hub = Hub(rng=random.Random(1).randbytes, now=T0)

    # a device that links by QR, then stays up for an hour of (fake) time
    pair = MemoryPair.create(hub, seed=2, now=T0)
    pair.start()
    pair.scan_qr()  # the hub's simulated phone scans the QR on screen
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    pair.advance(3600)  # 120 keepalive pings and answers, instantly
    assert pair.session.connection == "open"

    # a device nobody links: every QR ref expires (60 s, then 20 s each) and the session stops
    unlinked = MemoryPair.create(hub, seed=3, now=T0)
    unlinked.start()
    assert unlinked.run_until(lambda: unlinked.session.finished, limit=600)
    reason = unlinked.closes[-1].disconnect.reason  # QR_EXHAUSTED
    return pair.session.connection, reason


if __name__ == "__main__":
    print(main())
