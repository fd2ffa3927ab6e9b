"""Test a bot against the emulator as a library: link, then script a fault and check the outcome.

Here another client "replaces" the session (the server's 440 conflict): walink's default policy
stops rather than fight over the session, and the client's last ``Closed`` says why.
"""

from __future__ import annotations

import sys

import anyio

from walink import Client, ClientConfig, CloseReason, ConnectionUpdate
from walink.testing import Emulator, StreamError


async def main(auth: str = "walink-auth.db") -> CloseReason:
    async with Emulator() as emulator:
        config = ClientConfig(url=emulator.url, trust_root=emulator.trust_root)
        emulator.inject()  # the 1st connection (registration) runs normally
        emulator.inject(StreamError(code=440))  # the 2nd (the login) is replaced once open
        async with Client(auth, config) as client:
            async for event in client:
                if isinstance(event, ConnectionUpdate) and event.qr:
                    await emulator.phone.scan_qr(event.qr)
            # the iteration ends when the lifecycle does: read how
            closed = client.last_closed
    assert closed is not None and closed.final
    return closed.disconnect.reason


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    print("ended with", anyio.run(main, backend=backend).name)
