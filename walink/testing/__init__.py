"""Test doubles for the WhatsApp server side: the server role, its registry, phone and faults.

The core is sans-IO (no sockets, no clock, no global randomness): ``Hub`` ties the device
registry, the simulated phone and the per-connection ``ServerSession`` objects together, and
``MemoryPair`` wires a client session to it in memory. ``Emulator`` is the socket layer on top
(anyio + wsproto + h11): a real server on loopback for users' own tests, on asyncio and trio.
``HistoryFixture`` (``walink.testing.history``) is the history its phone sends after a login.
"""

from __future__ import annotations

from walink.testing.contacts import Contact, Contacts, Group, NoBundleError, UnknownDeviceError
from walink.testing.emulator import (
    PAIRING_CODE_WAIT,
    Emulator,
    EmulatorContact,
    EmulatorGroup,
    EmulatorPhone,
    StateError,
)
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
from walink.testing.history import (
    BlobStore,
    FixtureChat,
    FixtureMessage,
    HistoryFaults,
    HistoryFixture,
    PlannedNotification,
    PushName,
    default_fixture,
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
    "PAIRING_CODE_WAIT",
    "AmbiguousPairingError",
    "BlobStore",
    "CloseRequest",
    "Contact",
    "Contacts",
    "Device",
    "Drop",
    "Emulator",
    "EmulatorContact",
    "EmulatorGroup",
    "EmulatorPhone",
    "ExpiredRefError",
    "Failure",
    "Fault",
    "FixtureChat",
    "FixtureMessage",
    "Garbage",
    "Group",
    "HistoryFaults",
    "HistoryFixture",
    "Hub",
    "InvalidInputError",
    "MemoryPair",
    "NoBundleError",
    "NoPendingPairingError",
    "Phone",
    "PhoneError",
    "PlannedNotification",
    "PushName",
    "Registry",
    "RegistryError",
    "ServerSession",
    "Silence",
    "SimulatedPhone",
    "SlowReads",
    "StateError",
    "Step",
    "StreamError",
    "TruncatedFrame",
    "UnknownDeviceError",
    "UnknownRefError",
    "WrongNoiseKeyError",
    "default_fixture",
]
