"""Shared set-ups for the session tests: a hub, a paired device, counting helpers."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from walink.auth.model import Creds
from walink.fsm.reasons import CloseReason
from walink.session import Closed, ConnectionUpdate, SessionConfig, SessionEvent
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair

T0 = 1_780_000_000.0


def make_hub(seed: int = 1, **options: object) -> Hub:
    logs: list[str] = []
    return Hub(rng=random.Random(seed).randbytes, now=T0, log=logs.append, **options)  # type: ignore[arg-type]


def fresh_pair(hub: Hub, seed: int = 2, *, auto_confirm: bool = True) -> MemoryPair:
    return MemoryPair.create(hub, seed=seed, now=hub.now, auto_confirm=auto_confirm)


def paired_creds(hub: Hub, seed: int = 2) -> Creds:
    """Pair a new device by QR and log it in once; returns the creds as the store saved them."""
    pair = fresh_pair(hub, seed=seed)
    pair.start()
    pair.scan_qr()
    assert pair.run_until(lambda: pair.session.connection == "open", limit=60)
    creds = pair.store.load()
    assert creds is not None and creds.me is not None
    pair.session.close(now=pair.now)
    pair.pump()
    hub.now = pair.now
    return creds


def login_pair(
    hub: Hub, creds: Creds, seed: int = 3, config: SessionConfig | None = None
) -> MemoryPair:
    pair = MemoryPair.create(hub, seed=seed, now=hub.now, creds=creds, config=config)
    pair.store.save(creds)
    return pair


def open_pair(hub: Hub, creds: Creds, seed: int = 3) -> MemoryPair:
    pair = login_pair(hub, creds, seed=seed)
    pair.start()
    assert pair.session.connection == "open", pair.events
    return pair


def updates(events: Sequence[SessionEvent]) -> list[ConnectionUpdate]:
    return [e for e in events if isinstance(e, ConnectionUpdate)]


def closes(events: Sequence[SessionEvent]) -> list[Closed]:
    return [e for e in events if isinstance(e, Closed)]


def close_updates(events: Sequence[SessionEvent]) -> list[ConnectionUpdate]:
    return [u for u in updates(events) if u.connection == "close"]


def check_one_close_update_per_close(events: Sequence[SessionEvent]) -> None:
    """Each Closed is preceded by exactly one close update since the previous one (515: none)."""
    pending: list[ConnectionUpdate] = []
    for event in events:
        if isinstance(event, ConnectionUpdate) and event.connection == "close":
            pending.append(event)
        elif isinstance(event, Closed):
            expected = 0 if event.decision.restart else 1
            assert len(pending) == expected, (event, pending)
            if pending:
                assert pending[0].last_disconnect == event.disconnect
            pending = []
    assert not pending


def with_config(**changes: object) -> SessionConfig:
    return replace(SessionConfig(), **changes)  # type: ignore[arg-type]


__all__ = ["T0", "CloseReason"]
