"""The connection lifecycle without I/O: the state machine, close reasons and reconnection policy.

``machine`` declares the lifecycle (python-statemachine), ``reasons`` turns whatever ended a
connection into a ``Disconnect``, and ``policy`` decides, as a pure function, whether and when to
reconnect. The session feeds them; nothing here reads a clock, a socket or a global random source.
"""

from __future__ import annotations

from walink.fsm.machine import (
    CONNECTION_OF_STATE,
    Connection,
    ConnectionChange,
    ConnectionMachine,
    close_target,
)
from walink.fsm.policy import Decision, PolicyConfig, ReconnectHistory, ReconnectPolicy
from walink.fsm.reasons import (
    CloseReason,
    Disconnect,
    DisconnectReason,
    UpgradeRejected,
    WebSocketClosed,
    classify,
)

__all__ = [
    "CONNECTION_OF_STATE",
    "CloseReason",
    "Connection",
    "ConnectionChange",
    "ConnectionMachine",
    "Decision",
    "Disconnect",
    "DisconnectReason",
    "PolicyConfig",
    "ReconnectHistory",
    "ReconnectPolicy",
    "UpgradeRejected",
    "WebSocketClosed",
    "classify",
    "close_target",
]
