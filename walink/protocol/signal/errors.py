"""Why a Signal operation failed: every cause is a typed ``RemoteProtocolError`` subclass.

The message pipeline reacts by cause: a duplicate (a counter already used) is usually a
redelivery of something already decrypted and committed, so it is acked and dropped; a bad MAC
or a missing session asks the sender for a retry; a corrupt stored record is a store problem.
Every failure leaves the caller's state objects untouched (the API is copy-on-write), so the
caller simply does not commit anything.
"""

from __future__ import annotations

from walink.protocol.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "BadMacError",
    "CorruptRecordError",
    "DuplicateMessageError",
    "InvalidKeyError",
    "InvalidMessageError",
    "InvalidPaddingError",
    "InvalidSignatureError",
    "NoSenderKeyError",
    "NoSessionError",
    "PreKeyError",
    "SessionNotOpenError",
    "SignalError",
    "TooFarInFutureError",
    "UntrustedIdentityError",
]


class SignalError(RemoteProtocolError):
    """Base class of every Signal failure caused by the bytes or the state we were handed."""


class InvalidMessageError(SignalError):
    """The message is malformed: bad version byte, bad protobuf, missing field, closed chain."""


class InvalidKeyError(InvalidMessageError):
    """A public key in a message or record is not a Curve25519 key (wrong size or prefix)."""


class BadMacError(SignalError):
    """The message's MAC does not verify with any session's keys (forged, corrupt or stale)."""


class NoSessionError(SignalError):
    """There is no session to decrypt a ``msg`` with (no record, or a record with no session)."""


class PreKeyError(SignalError):
    """A pkmsg names a one-time or signed pre-key that we do not have (any more)."""


class UntrustedIdentityError(SignalError):
    """The sender's identity key differs from the one the caller trusts for this address."""


class DuplicateMessageError(SignalError):
    """The message's counter (or iteration) was already used: most likely a redelivery."""


class TooFarInFutureError(SignalError):
    """The message would skip more than the allowed number of message keys on one chain."""


class InvalidSignatureError(SignalError):
    """A sender-key message's signature does not verify with the sender's signing key."""


class NoSenderKeyError(SignalError):
    """No sender-key state for the message's key id (no distribution message received)."""


class InvalidPaddingError(SignalError):
    """WhatsApp's plaintext padding is missing or malformed."""


class CorruptRecordError(SignalError):
    """A stored session or sender-key record does not have the expected JSON shape."""


class SessionNotOpenError(LocalProtocolError):
    """``encrypt`` was called for an address without an open session (or our own signing key)."""
