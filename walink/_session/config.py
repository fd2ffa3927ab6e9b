"""The session's configuration: every timer and option, with Baileys' defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from walink.fsm.policy import PolicyConfig
from walink.protocol.binary import Node
from walink.protocol.certs import WHATSAPP_ROOT, TrustRoot
from walink.protocol.connection import ServerVerifier
from walink.protocol.history import DEFAULT_MAX_HISTORY_SIZE, HISTORY_PAUSED_TIMEOUT
from walink.protocol.payload import PayloadOptions
from walink.protocol.proto import e2e_pb2

HistoryGate = Callable[[e2e_pb2.Message.HistorySyncNotification], bool]
"""Decides whether a history notification is processed (its ``hist_sync`` receipt goes out
either way)."""

__all__ = ["HistoryGate", "SessionConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """Options of a ``ClientSession``. Times are in seconds on the caller's clock."""

    payload: PayloadOptions = field(default_factory=PayloadOptions)
    """Browser, version, country, push name, full-history flag (the ClientPayload)."""
    trust_root: TrustRoot = WHATSAPP_ROOT
    """The root the server's certificate chain must lead to (the emulator's ``trust_root``)."""
    verify_server: ServerVerifier | None = field(default=None, repr=False)
    """Replaces the chain check entirely when set (replay of a capture, special tests)."""
    connect_timeout: float = 20.0
    """From ``start`` until the first node after the handshake (Baileys ``connectTimeoutMs``)."""
    keepalive_interval: float = 30.0
    """A ping goes out after this long without receiving anything (Baileys: 30 s)."""
    keepalive_timeout: float = 10.0
    """Then, this long more without receiving anything ends with ``KEEPALIVE_TIMEOUT``."""
    query_timeout: float | None = 60.0
    """Default deadline of ``query`` (Baileys ``defaultQueryTimeoutMs``); None: wait forever."""
    qr_first_timeout: float = 60.0
    """How long the first QR is shown."""
    qr_next_timeout: float = 20.0
    """How long each further QR is shown."""
    pairing_code_timeout: float = 180.0
    """From a pairing-code request until pairing is done: then the attempt ends with
    ``PAIRING_TIMEOUT`` (the code was not typed, or was wrong). Each new request restarts it."""
    pairing_ready_timeout: float = 20.0
    """How long a pairing-code request made before the server's pair-device waits for it."""
    logout_timeout: float = 5.0
    """How long ``logout`` waits for the server to confirm before it ends the attempt anyway."""
    mark_online_on_connect: bool = False
    """Announce ``available`` at open (Baileys' default is True: walink stays quiet unless asked,
    so a bot does not silence the phone's notifications merely by connecting)."""
    fire_init_queries: bool = True
    """At open, ask for abt props, the block list and the privacy settings (as Baileys does)."""
    offline_batch_size: int = 100
    """Backlog stanzas asked for per ``offline_batch`` request (Baileys asks once for 100)."""
    offline_batch_delay: float = 0.1
    """Once a batch has arrived, wait this long before asking for the next (whatsapp-rust's
    debounce)."""
    process_messages: bool = False
    """Hand every ``<message>`` to the message processor (``ProcessMessage`` jobs; its event,
    receipt and ack only after the commit) instead of reporting it as ``NodeReceived`` with an
    early ack. A client turns it on when it is given a ``MessageProcessor``."""
    auto_ack: bool = True
    """Ack messages, receipts, notifications and calls as they are reported
    (docs/protocol/lifecycle.md#offline)."""
    should_sync_history: HistoryGate | None = field(default=None, repr=False, compare=False)
    """Baileys' ``shouldSyncHistoryMessage``: None is its default, every type but FULL, and FULL
    too when ``payload.sync_full_history`` is set."""
    max_history_size: int = DEFAULT_MAX_HISTORY_SIZE
    """Largest inflated history chunk accepted (bytes); a larger one is reported failed."""
    history_paused_timeout: float = HISTORY_PAUSED_TIMEOUT
    """Without a RECENT chunk for this long, the recent sync is reported paused."""
    history_reupload_wait: float = 2.0
    """After asking the phone to upload a gone or corrupt blob again, wait this long before the
    next download."""
    history_reuploads: int = 2
    """How many times one blob is asked for again before the chunk is given up (reported)."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """The reconnection policy's numbers and rules."""
    trace: Callable[[str, Node], None] | None = field(default=None, repr=False, compare=False)
    """Called with ``("in", node)`` for every node received and ``("out", node)`` for every node
    sent, decrypted, as the session handles them (never with anything else): a protocol log.
    It sees secrets (pairing material, pre-keys): log it only where that is acceptable."""

    def __post_init__(self) -> None:
        for name in (
            "connect_timeout",
            "keepalive_interval",
            "keepalive_timeout",
            "qr_first_timeout",
            "qr_next_timeout",
            "pairing_code_timeout",
            "pairing_ready_timeout",
            "logout_timeout",
            "history_paused_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if not self.max_history_size > 0:
            raise ValueError("max_history_size must be positive")
        if not self.history_reupload_wait >= 0 or self.history_reuploads < 0:
            raise ValueError("history_reupload_wait and history_reuploads must not be negative")
        if not self.offline_batch_size > 0:
            raise ValueError("offline_batch_size must be positive")
        if not self.offline_batch_delay >= 0:
            raise ValueError("offline_batch_delay must not be negative")
        if self.query_timeout is not None and not self.query_timeout > 0:
            raise ValueError("query_timeout must be positive or None")
