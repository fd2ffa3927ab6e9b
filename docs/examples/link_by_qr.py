"""Link a device by QR, wait until the connection is open, then stop cleanly.

Against the emulator here; drop ``emulator``, ``url`` and ``trust_root`` to talk to WhatsApp
(and scan the QR drawn by ``print_qr_in_terminal=True`` with the phone).
"""

from __future__ import annotations

import sys

import anyio

from walink import Browsers, Client, ClientConfig, ConnectionUpdate
from walink.testing import Emulator


async def main(auth: str = "walink-auth.db") -> str:
    async with Emulator() as emulator:
        config = ClientConfig(
            url=emulator.url,
            trust_root=emulator.trust_root,
            browser=Browsers.ubuntu("My App"),
        )
        async with Client(auth, config) as client:
            async for event in client:
                if isinstance(event, ConnectionUpdate) and event.qr:
                    # a person scans this QR with the phone: the emulator's phone does it here
                    await emulator.phone.scan_qr(event.qr)
                if isinstance(event, ConnectionUpdate) and event.connection == "open":
                    break
            assert client.creds is not None and client.creds.me is not None
            me = client.creds.me.id
        # leaving `async with Client` closed the connection (LOCAL_CLOSE) and saved the creds
    return me


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"  # or "trio"
    print("linked as", anyio.run(main, backend=backend))
