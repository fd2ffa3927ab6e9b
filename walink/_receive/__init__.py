"""The receive pipeline's processor: Signal decryption committed with the decrypted message.

``SignalProcessor`` is the ``MessageProcessor`` a client uses by default; its results are
``ReceivedMessage`` values (``MessageProcessed.result``), which a client turns into the
``MessagesUpsert`` and ``IdentityChanged`` events users read.
"""

from __future__ import annotations

from walink._receive.addresses import sender_key_name, signal_address
from walink._receive.events import IdentityChanged, MessagesUpsert
from walink._receive.processor import RETENTION_SECONDS, CredsListener, SignalProcessor
from walink._receive.result import IdentityChange, ReceivedMessage

__all__ = [
    "RETENTION_SECONDS",
    "CredsListener",
    "IdentityChange",
    "IdentityChanged",
    "MessagesUpsert",
    "ReceivedMessage",
    "SignalProcessor",
    "sender_key_name",
    "signal_address",
]
