"""The emulator as a separate process, driven over its phone endpoint (plain HTTP and JSON).

``walink emulator --json`` prints one line first: where it listens, what to trust, and the phone
endpoint. A test in any language can read it, connect its client, and ``POST`` the QR the client
shows to ``/phone/scan-qr``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import anyio

from walink import Client, ClientConfig, ConnectionUpdate, TrustRoot

# the `walink` command installed with the package (beside this Python when it is not on PATH)
WALINK = shutil.which("walink") or str(Path(sys.executable).with_name("walink"))


def phone(url: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to the phone endpoint's ``action``; the JSON answer (4xx raise)."""
    request = urllib.request.Request(
        f"{url}/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


async def main(auth: str = "walink-auth.db") -> str:
    process = subprocess.Popen(
        [WALINK, "emulator", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        trust_root = TrustRoot(public_key=bytes.fromhex(first["trust_root"]))
        config = ClientConfig(url=first["url"], trust_root=trust_root)
        async with Client(auth, config) as client:
            async for event in client:
                if isinstance(event, ConnectionUpdate) and event.qr:
                    answer = await anyio.to_thread.run_sync(
                        phone, first["phone"], "scan-qr", {"qr": event.qr}
                    )
                    assert answer["ok"], answer
                if isinstance(event, ConnectionUpdate) and event.connection == "open":
                    break
            assert client.creds is not None and client.creds.me is not None
            return client.creds.me.id
    finally:
        process.terminate()  # SIGTERM: the emulator stops cleanly and exits 0
        process.wait(timeout=10)


if __name__ == "__main__":
    print("linked as", anyio.run(main))
