"""Link a device by pairing code instead of a QR.

``request_pairing_code`` returns the 8-character code; the user types it on the phone
(Linked devices, Link with phone number). Here the emulator's phone types it.
"""

from __future__ import annotations

import sys

import anyio

from walink import Client, ClientConfig, ConnectionUpdate
from walink.testing import Emulator

PHONE = "15551234567"  # the account's number, with its country code


async def main(auth: str = "walink-auth.db") -> str:
    async with Emulator() as emulator:
        config = ClientConfig(url=emulator.url, trust_root=emulator.trust_root)
        async with Client(auth, config) as client:
            code = await client.request_pairing_code(PHONE)
            print("type this code on the phone:", code)
            await emulator.phone.enter_pairing_code(code, PHONE)
            async for event in client:
                # no QR is shown once a code was requested; the 515 restart follows the pairing
                if isinstance(event, ConnectionUpdate) and event.connection == "open":
                    break
            assert client.creds is not None and client.creds.me is not None
            return client.creds.me.id


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    print("linked as", anyio.run(main, backend=backend))
