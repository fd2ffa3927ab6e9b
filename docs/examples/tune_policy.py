"""Tune the reconnection policy: a shorter backoff cap, and reconnect after a 440."""

from __future__ import annotations

from walink import ClientConfig, CloseReason, PolicyConfig
from walink.fsm.policy import DEFAULT_STOP_REASONS

config = ClientConfig(
    policy=PolicyConfig(
        backoff_cap=120.0,  # never wait more than about 2 minutes between attempts
        stop_reasons=DEFAULT_STOP_REASONS - {CloseReason.REPLACED},  # fight for the session
    )
)
