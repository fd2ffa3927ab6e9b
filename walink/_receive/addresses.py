"""Signal addresses as Baileys names them (``walink.protocol.signal.address``, re-exported here
for the receive pipeline's users)."""

from __future__ import annotations

from walink.protocol.signal.address import sender_key_name, signal_address

__all__ = ["sender_key_name", "signal_address"]
