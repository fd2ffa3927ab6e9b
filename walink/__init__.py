"""walink: a WhatsApp Web linked-device connection layer.

The public API is re-exported here lazily (PEP 562), so that importing the sans-IO core
(``walink.protocol``) never imports anyio, the emulator or the command line.
Each public name maps to the private module that defines it; add new names to ``_EXPORTS``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from walink._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Client": "walink.io",
    "ClientConfig": "walink.io",
    "Browsers": "walink.io",
    "Health": "walink.io",
    "open_store": "walink.io",
    "ClientEvent": "walink.io",
    "ClientError": "walink.io",
    "ClientClosedError": "walink.io",
    "NotConnectedError": "walink.io",
    "InvalidNodeError": "walink.io",
    "NoPushNameError": "walink.io",
    "ChatState": "walink.io",
    "PresenceKind": "walink.io",
    "LoggedOutError": "walink.io",
    "QueryFailedError": "walink.io",
    "QueryServerError": "walink.io",
    "QueryTimeoutError": "walink.io",
    "QueryClosedError": "walink.io",
    "PairingCodeError": "walink.io",
    "PairingInputError": "walink.io",
    "PairingCode": "walink.io",
    "Proxy": "walink.io",
    "ProxyError": "walink.io",
    "ProxyURLError": "walink.io",
    "ClientSession": "walink.session",
    "SessionConfig": "walink.session",
    "ConnectionUpdate": "walink.session",
    "CredsUpdate": "walink.session",
    "NodeReceived": "walink.session",
    "ProcessMessage": "walink.session",
    "MessageProcessed": "walink.session",
    "MessageFailed": "walink.session",
    "DownloadHistory": "walink.session",
    "HistoryReceived": "walink.session",
    "HistoryStatusChanged": "walink.session",
    "HistoryFailed": "walink.session",
    "MessageProcessor": "walink.session",
    "ProcessedMessage": "walink.session",
    "Closed": "walink.session",
    "Emulator": "walink.testing",
    "Node": "walink.protocol.binary",
    "encode_node": "walink.protocol.binary",
    "decode_node": "walink.protocol.binary",
    "Jid": "walink.protocol.binary",
    "ProtocolError": "walink.protocol.errors",
    "LocalProtocolError": "walink.protocol.errors",
    "RemoteProtocolError": "walink.protocol.errors",
    "KeyPair": "walink.protocol.keys",
    "SignedKeyPair": "walink.protocol.keys",
    "xeddsa_sign": "walink.protocol.keys",
    "xeddsa_verify": "walink.protocol.keys",
    "TrustRoot": "walink.protocol.certs",
    "WHATSAPP_ROOT": "walink.protocol.certs",
    "CertificateError": "walink.protocol.certs",
    "SignalError": "walink.protocol.signal",
    "SessionRecord": "walink.protocol.signal",
    "SenderKeyRecord": "walink.protocol.signal",
    "CertificateDefect": "walink.protocol.certs",
    "CloseReason": "walink.fsm",
    "Disconnect": "walink.fsm",
    "DisconnectReason": "walink.fsm",
    "ReconnectPolicy": "walink.fsm",
    "PolicyConfig": "walink.fsm",
    "Decision": "walink.fsm",
    "ReconnectHistory": "walink.fsm",
    "ConnectionMachine": "walink.fsm",
    "Creds": "walink.auth",
    "SQLiteStore": "walink.auth",
    "MultiFileStore": "walink.auth",
    "MemoryStore": "walink.auth",
    "AuthStore": "walink.auth",
    "AuthStoreError": "walink.auth",
    "CorruptStoreError": "walink.auth",
    "StoreLockedError": "walink.auth",
    "MessageKey": "walink.protocol.messages",
    "WebMessage": "walink.protocol.messages",
    "HistorySet": "walink.protocol.history",
    "HistoryStatus": "walink.protocol.history",
    "Downloader": "walink.io",
    "HttpDownloader": "walink.io",
    "MediaDownloadError": "walink.io",
    "MediaGoneError": "walink.io",
    "StoreAccessError": "walink.auth",
    "StoreReadError": "walink.auth",
    "StoreWriteError": "walink.auth",
    "DeviceStore": "walink.auth",
    "DeviceHandle": "walink.auth",
    "open_device_store": "walink.auth",
    "DeviceLeasedError": "walink.auth",
    "LeaseLostError": "walink.auth",
    "Fleet": "walink.io",
    "FleetConfig": "walink.io",
    "ConnectLimiter": "walink.io",
    "LeaseGroup": "walink.io",
    "LeaseKeeper": "walink.io",
    "SignalProcessor": "walink._receive",
    "CredsListener": "walink._receive",
    "ReceivedMessage": "walink._receive",
    "IdentityChange": "walink._receive",
    "MessagesUpsert": "walink._receive",
    "IdentityChanged": "walink._receive",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from walink._receive import CredsListener as CredsListener
    from walink._receive import IdentityChange as IdentityChange
    from walink._receive import IdentityChanged as IdentityChanged
    from walink._receive import MessagesUpsert as MessagesUpsert
    from walink._receive import ReceivedMessage as ReceivedMessage
    from walink._receive import SignalProcessor as SignalProcessor
    from walink.auth import AuthStore as AuthStore
    from walink.auth import AuthStoreError as AuthStoreError
    from walink.auth import CorruptStoreError as CorruptStoreError
    from walink.auth import Creds as Creds
    from walink.auth import DeviceHandle as DeviceHandle
    from walink.auth import DeviceLeasedError as DeviceLeasedError
    from walink.auth import DeviceStore as DeviceStore
    from walink.auth import LeaseLostError as LeaseLostError
    from walink.auth import MemoryStore as MemoryStore
    from walink.auth import MultiFileStore as MultiFileStore
    from walink.auth import SQLiteStore as SQLiteStore
    from walink.auth import StoreAccessError as StoreAccessError
    from walink.auth import StoreLockedError as StoreLockedError
    from walink.auth import StoreReadError as StoreReadError
    from walink.auth import StoreWriteError as StoreWriteError
    from walink.auth import open_device_store as open_device_store
    from walink.fsm import CloseReason as CloseReason
    from walink.fsm import ConnectionMachine as ConnectionMachine
    from walink.fsm import Decision as Decision
    from walink.fsm import Disconnect as Disconnect
    from walink.fsm import DisconnectReason as DisconnectReason
    from walink.fsm import PolicyConfig as PolicyConfig
    from walink.fsm import ReconnectHistory as ReconnectHistory
    from walink.fsm import ReconnectPolicy as ReconnectPolicy
    from walink.io import Browsers as Browsers
    from walink.io import ChatState as ChatState
    from walink.io import Client as Client
    from walink.io import ClientClosedError as ClientClosedError
    from walink.io import ClientConfig as ClientConfig
    from walink.io import ClientError as ClientError
    from walink.io import ClientEvent as ClientEvent
    from walink.io import ConnectLimiter as ConnectLimiter
    from walink.io import Downloader as Downloader
    from walink.io import Fleet as Fleet
    from walink.io import FleetConfig as FleetConfig
    from walink.io import Health as Health
    from walink.io import HttpDownloader as HttpDownloader
    from walink.io import InvalidNodeError as InvalidNodeError
    from walink.io import LeaseGroup as LeaseGroup
    from walink.io import LeaseKeeper as LeaseKeeper
    from walink.io import LoggedOutError as LoggedOutError
    from walink.io import MediaDownloadError as MediaDownloadError
    from walink.io import MediaGoneError as MediaGoneError
    from walink.io import NoPushNameError as NoPushNameError
    from walink.io import NotConnectedError as NotConnectedError
    from walink.io import PairingCode as PairingCode
    from walink.io import PairingCodeError as PairingCodeError
    from walink.io import PairingInputError as PairingInputError
    from walink.io import PresenceKind as PresenceKind
    from walink.io import Proxy as Proxy
    from walink.io import ProxyError as ProxyError
    from walink.io import ProxyURLError as ProxyURLError
    from walink.io import QueryClosedError as QueryClosedError
    from walink.io import QueryFailedError as QueryFailedError
    from walink.io import QueryServerError as QueryServerError
    from walink.io import QueryTimeoutError as QueryTimeoutError
    from walink.io import open_store as open_store
    from walink.protocol.binary import Jid as Jid
    from walink.protocol.binary import Node as Node
    from walink.protocol.binary import decode_node as decode_node
    from walink.protocol.binary import encode_node as encode_node
    from walink.protocol.certs import WHATSAPP_ROOT as WHATSAPP_ROOT
    from walink.protocol.certs import CertificateDefect as CertificateDefect
    from walink.protocol.certs import CertificateError as CertificateError
    from walink.protocol.certs import TrustRoot as TrustRoot
    from walink.protocol.errors import LocalProtocolError as LocalProtocolError
    from walink.protocol.errors import ProtocolError as ProtocolError
    from walink.protocol.errors import RemoteProtocolError as RemoteProtocolError
    from walink.protocol.history import HistorySet as HistorySet
    from walink.protocol.history import HistoryStatus as HistoryStatus
    from walink.protocol.keys import KeyPair as KeyPair
    from walink.protocol.keys import SignedKeyPair as SignedKeyPair
    from walink.protocol.keys import xeddsa_sign as xeddsa_sign
    from walink.protocol.keys import xeddsa_verify as xeddsa_verify
    from walink.protocol.messages import MessageKey as MessageKey
    from walink.protocol.messages import WebMessage as WebMessage
    from walink.protocol.signal import SenderKeyRecord as SenderKeyRecord
    from walink.protocol.signal import SessionRecord as SessionRecord
    from walink.protocol.signal import SignalError as SignalError
    from walink.session import ClientSession as ClientSession
    from walink.session import Closed as Closed
    from walink.session import ConnectionUpdate as ConnectionUpdate
    from walink.session import CredsUpdate as CredsUpdate
    from walink.session import DownloadHistory as DownloadHistory
    from walink.session import HistoryFailed as HistoryFailed
    from walink.session import HistoryReceived as HistoryReceived
    from walink.session import HistoryStatusChanged as HistoryStatusChanged
    from walink.session import MessageFailed as MessageFailed
    from walink.session import MessageProcessed as MessageProcessed
    from walink.session import MessageProcessor as MessageProcessor
    from walink.session import NodeReceived as NodeReceived
    from walink.session import ProcessedMessage as ProcessedMessage
    from walink.session import ProcessMessage as ProcessMessage
    from walink.session import SessionConfig as SessionConfig
    from walink.testing import Emulator as Emulator


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'walink' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
