"""Test doubles for the WhatsApp server side: the server role, its registry, phone and faults.

Everything here is sans-IO (no sockets, no clock, no global randomness): ``Hub`` ties the device
registry, the simulated phone and the per-connection ``ServerSession`` objects together, and a
client connection can be wired to a session in memory. The socket emulator builds on these.
"""

from __future__ import annotations

from walink.testing.faults import (
    Drop,
    Failure,
    Fault,
    Garbage,
    Silence,
    SlowReads,
    Step,
    StreamError,
    TruncatedFrame,
)
from walink.testing.hub import Hub
from walink.testing.memory import MemoryPair
from walink.testing.phone import (
    AmbiguousPairingError,
    ExpiredRefError,
    InvalidInputError,
    NoPendingPairingError,
    PhoneError,
    SimulatedPhone,
    UnknownRefError,
    WrongNoiseKeyError,
)
from walink.testing.registry import Device, Phone, Registry, RegistryError
from walink.testing.server import CloseRequest, ServerSession

__all__ = [
    "AmbiguousPairingError",
    "CloseRequest",
    "Device",
    "Drop",
    "ExpiredRefError",
    "Failure",
    "Fault",
    "Garbage",
    "Hub",
    "InvalidInputError",
    "MemoryPair",
    "NoPendingPairingError",
    "Phone",
    "PhoneError",
    "Registry",
    "RegistryError",
    "ServerSession",
    "Silence",
    "SimulatedPhone",
    "SlowReads",
    "Step",
    "StreamError",
    "TruncatedFrame",
    "UnknownRefError",
    "WrongNoiseKeyError",
]
