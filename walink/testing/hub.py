"""The hub: what the server connections of one emulator share (docs/protocol/server.md#parts).

The hub holds the test trust root and the server's certificate chain, the device registry, the
simulated phone, the refs handed out (so the phone finds the connection that was given a ref),
the pending pairing-code pairings, the offline stanzas, and the faults scripted for the next
connections. ``Hub.connect(now=)`` makes one ``ServerSession`` per client connection.
Like the sessions it reads no clock: ``now`` comes in with every call, and the hub remembers the
latest one it saw for callers that have no time of their own (``hub.phone.scan_qr(qr)``).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass

from walink.protocol.binary import Node
from walink.protocol.certs import TestRoot, TrustRoot, make_cert_chain, make_test_root
from walink.protocol.keys import KeyPair
from walink.testing.contacts import Contacts
from walink.testing.faults import Fault, Step, StreamError
from walink.testing.history import (
    BlobStore,
    HistoryFaults,
    HistoryFixture,
    default_fixture,
    history_stanza,
    plan_history,
)
from walink.testing.phone import (
    ExpiredRefError,
    PendingCodePairing,
    SimulatedPhone,
    UnknownRefError,
)
from walink.testing.registry import Device, Registry
from walink.testing.server import ServerSession

__all__ = ["CERT_LIFETIME", "FIRST_REF_LIFETIME", "NEXT_REF_LIFETIME", "RECEIVED_LIMIT", "Hub"]

Rng = Callable[[int], bytes]

FIRST_REF_LIFETIME = 60.0
"""Seconds the first ref of a pair-device is taken as valid (the client shows it 60 s)."""
NEXT_REF_LIFETIME = 20.0
"""Seconds each further ref adds (the client shows each 20 s)."""
CERT_LIFETIME = 10 * 365 * 86400.0
RECEIVED_LIMIT = 1000
"""Nodes each server connection keeps of what its client sent (the newest), by default."""
"""The certificate chain is valid this long before and after the hub's start time."""
_REF_MEMORY = 3600.0


@dataclass(slots=True)
class _RefGrant:
    session: ServerSession
    expires_at: float


class Hub:
    """What the server connections share: keys, registry, phone, refs, offline queue, faults."""

    def __init__(
        self,
        *,
        rng: Rng,
        registry: Registry | None = None,
        trust_root: TestRoot | None = None,
        server_key: KeyPair | None = None,
        now: float = 0.0,
        ping_interval: float | None = 30.0,
        log: Callable[[str], None] | None = None,
        received_limit: int = RECEIVED_LIMIT,
    ) -> None:
        """``rng`` is the only randomness (``os.urandom`` live, a seeded one in tests).

        ``trust_root`` and ``server_key`` default to fresh keys from ``rng``; the certificate
        chain is valid for ten years around ``now``. ``ping_interval`` (seconds, None for
        never) is how often a logged-in connection gets a server ping. ``log`` receives the
        emulator's diagnostics (default: stderr). ``received_limit``: how many of the nodes a
        client sent each connection keeps (``ServerSession.received``, the newest).
        """
        self.rng = rng
        self.registry = registry if registry is not None else Registry(rng=rng)
        self.trust_root = trust_root if trust_root is not None else make_test_root(rng=rng)
        self.server_key = server_key if server_key is not None else KeyPair.generate(rng)
        self.cert_chain = make_cert_chain(
            self.trust_root,
            self.server_key.public,
            not_before=int(now - CERT_LIFETIME),
            not_after=int(now + CERT_LIFETIME),
            rng=rng,
        )
        self.now = now
        self.ping_interval = ping_interval
        self.received_limit = received_limit
        """How many received nodes each new connection keeps (tests that read more raise it)."""
        self.replaced = 0
        """How many connections a newer login of the same device replaced (440), as the real
        server does: a fleet that ran a device twice shows up here."""
        self.phone = SimulatedPhone(self)
        self.contacts = Contacts(self.registry, rng)
        """The other users and groups that write to the paired devices."""
        self.edge_routing: bytes | None = None
        """Routing bytes sent to every login as ``<ib><edge_routing>`` (None: not sent)."""
        self.pairing_code_rate_limited = False
        """When True, companion_hello is answered with a 429 ``rate-overlimit`` error."""
        self.blobs = BlobStore()
        """The media blobs the phone uploaded (history chunks), served by the emulator."""
        self.media_hosts: tuple[str, ...] = ("mmg.whatsapp.net",)
        """The hosts a ``media_conn`` query is answered with (the emulator's own address)."""
        self.history: HistoryFixture | None = default_fixture()
        """What the phone sends a device after its new login (None: no history at all)."""
        self.phone_from_lid = True
        """The phone writes to its devices from the account's LID (``LID@lid``, device 0), as the
        real phone is understood to; False: from its phone number (``PN@s.whatsapp.net``), so
        both paths of a client stay tested."""
        self.history_faults = HistoryFaults()
        """Faults of that history's RECENT chunks (missing, corrupt, truncated, never sent)."""
        self.blob_url: Callable[[str], str] = lambda path: path
        """A blob path as the notification names it (the emulator gives its own full URL)."""
        self._log = log
        self._refs: dict[str, _RefGrant] = {}
        self._pending_codes: list[PendingCodePairing] = []
        self._offline: dict[str, list[Node]] = {}
        self._uploads: dict[str, Node] = {}
        self._faults: list[tuple[Fault, ...]] = []
        self._sessions: list[ServerSession] = []
        self._ids = itertools.count(1)

    @property
    def client_trust_root(self) -> TrustRoot:
        """What clients must trust to accept this server's chain (``emulator.trust_root``)."""
        return self.trust_root.trust_root

    # -- connections -------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Script the faults of the next connection (each call scripts one more connection)."""
        for fault in faults:
            if isinstance(fault, StreamError) and fault.at in (Step.CONNECTED, Step.CLIENT_HELLO):
                raise ValueError("a stream error is a node: it needs the handshake done")
        self._faults.append(tuple(faults))

    def connect(self, *, now: float) -> ServerSession:
        """A new client connection; its scripted faults (if any) are taken from the queue."""
        self.now = max(self.now, now)
        faults = self._faults.pop(0) if self._faults else ()
        session = ServerSession(self, number=next(self._ids), faults=faults)
        # Ended sessions are dropped here so a long-running emulator does not keep them all.
        self._sessions = [s for s in self._sessions if not s.ended]
        self._sessions.append(session)
        return session

    def sessions(self) -> list[ServerSession]:
        """The connections not yet ended."""
        return [s for s in self._sessions if not s.ended]

    def _forget(self, session: ServerSession) -> None:
        # Refs stay known (a late scan is "expired", not "unknown") until long after they expire.
        self._pending_codes = [p for p in self._pending_codes if p.session is not session]
        # What the device never acked, then what it never pulled, is queued for its next
        # login, in order: the real server redelivers every message stanza not acked.
        if session.device is not None:
            unsent = session.take_unacked_messages() + session.take_unsent_backlog()
            if unsent:
                jid = session.device.jid
                self._offline[jid] = unsent + self._offline.get(jid, [])

    # -- refs and pairings -------------------------------------------------------------------

    def _grant_refs(self, session: ServerSession, refs: list[str], now: float) -> None:
        # The server is never told which ref is on screen; each ref is taken as valid for the
        # time the client shows it (60 s, then 20 s each), counted from when they were sent.
        self._refs = {ref: g for ref, g in self._refs.items() if g.expires_at + _REF_MEMORY > now}
        lifetime = FIRST_REF_LIFETIME
        for ref in refs:
            self._refs[ref] = _RefGrant(session=session, expires_at=now + lifetime)
            lifetime += NEXT_REF_LIFETIME

    def session_for_ref(self, ref: str, now: float) -> ServerSession:
        """The connection that was given ``ref``; raises ``UnknownRefError``/``ExpiredRefError``."""
        grant = self._refs.get(ref)
        if grant is None:
            raise UnknownRefError(f"unknown ref {ref!r}")
        if grant.session.ended or not grant.session.awaiting_pairing:
            raise ExpiredRefError("the connection given this ref is gone or already paired")
        if now > grant.expires_at:
            raise ExpiredRefError(f"the ref expired {now - grant.expires_at:.0f} s ago")
        return grant.session

    def _add_pending_code(self, pending: PendingCodePairing) -> None:
        self._pending_codes.append(pending)

    def pending_code_pairings(self) -> list[PendingCodePairing]:
        """Accepted companion_hellos whose connection is still there, oldest first."""
        return [p for p in self._pending_codes if not p.session.ended]

    # -- stanzas -----------------------------------------------------------------------------

    def queue_offline(self, jid: str, node: Node) -> None:
        """Hold ``node`` for device ``jid`` (``PHONE:DEV@s.whatsapp.net``) until its next login."""
        self._offline.setdefault(jid, []).append(node)

    def _take_offline(self, jid: str) -> list[Node]:
        return self._offline.pop(jid, [])

    def history_stanzas(self, device: Device, *, now: float) -> list[Node]:
        """The phone's history for a device that has just logged in for the first time and
        uploaded its keys: each notification of ``history`` (inline bootstrap, RECENT blobs put
        in ``blobs``, push names) encrypted by the account's phone (device 0, X3DH on the
        device's bundle) into a peer ``<message>`` from the account's own JID (``phone_jid``).
        Empty when ``history`` is None."""
        if self.history is None:
            return []
        planned = plan_history(
            self.history,
            rng=self.rng,
            blobs=self.blobs,
            blob_url=self.blob_url,
            faults=self.history_faults,
        )
        phone = self.contacts.phone(device.phone)
        stanzas = []
        for item in planned:
            enc_type, ciphertext = self.contacts.encrypt_from(
                phone, device.jid, item.message.SerializeToString(), now=now
            )
            stanzas.append(
                history_stanza(
                    item,
                    phone_jid=self.phone_jid(device.phone, device.lid),
                    t=int(now),
                    enc_type=enc_type,
                    ciphertext=ciphertext,
                )
            )
        return stanzas

    def phone_jid(self, number: str, lid: str) -> str:
        """The JID the account's phone writes from (``phone_from_lid``): its LID or its number,
        device 0 (no device part), given the account's number and LID user."""
        return f"{lid}@lid" if self.phone_from_lid else f"{number}@s.whatsapp.net"

    def log(self, message: str) -> None:
        """One diagnostic line (stderr unless a ``log`` callable was given)."""
        if self._log is not None:
            self._log(message)
        else:
            print(f"walink emulator: {message}", file=sys.stderr)
