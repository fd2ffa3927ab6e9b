"""Linking by pairing code against the emulator: the whole flow, a wrong code, a 429, bad input."""

from __future__ import annotations

import anyio
import pytest

from tests.scenarios.harness import WAIT, config_for, running
from walink.auth import MemoryStore
from walink.fsm.policy import PolicyConfig
from walink.fsm.reasons import CloseReason
from walink.io.client import Client
from walink.io.errors import ClientClosedError, PairingCodeError, PairingInputError
from walink.io.events import ClientEvent, ConnectionUpdate, PairingCode
from walink.protocol.pairing_code import PAIRING_CODE_ALPHABET
from walink.testing.emulator import Emulator
from walink.testing.faults import Drop, Step

pytestmark = pytest.mark.anyio

PHONE = "15550001234"


async def test_a_code_entered_on_the_phone_links_the_device() -> None:
    async with Emulator() as emulator:
        async with running(Client(MemoryStore(), config_for(emulator))) as recorder:
            client = recorder.client
            # asked at once: the request waits for the server's pair-device, then goes out
            with anyio.fail_after(WAIT):
                code = await client.request_pairing_code(f"+1 555-000-{PHONE[-4:]}")
            assert len(code) == 8 and set(code) <= set(PAIRING_CODE_ALPHABET)
            published = await recorder.wait_for(lambda e: isinstance(e, PairingCode))
            assert isinstance(published, PairingCode)
            assert published.code == code and published.phone == PHONE
            assert code not in repr(published)  # printed only on purpose, never logged
            assert client.creds is not None and client.creds.me is None  # not before success
            shown = len(recorder.events)
            with anyio.fail_after(WAIT):
                await emulator.phone.enter_pairing_code(code, PHONE)
            opened = await recorder.wait_open()
            assert opened.is_new_login
            assert client.creds is not None and client.creds.me is not None
            assert client.creds.me.id.startswith(f"{PHONE}:")
            # the code replaced the QR: none shown after the request
            later = [e for e in recorder.events[shown:] if isinstance(e, ConnectionUpdate)]
            assert all(update.qr is None for update in later)
            [restart] = recorder.closes
            assert restart.disconnect.reason is CloseReason.RESTART_REQUIRED
            with pytest.raises(PairingCodeError) as refused:
                await client.request_pairing_code(PHONE)
            assert not refused.value.retry and not isinstance(refused.value, ValueError)
        with pytest.raises(ClientClosedError):
            await client.request_pairing_code(PHONE)


async def test_a_custom_code_is_used_as_given_and_seen_by_handlers() -> None:
    async with Emulator() as emulator:
        seen: list[ClientEvent] = []
        async with Client(MemoryStore(), config_for(emulator)) as client:
            client.on("pairing_code", seen.append)
            with anyio.fail_after(WAIT):
                code = await client.request_pairing_code(PHONE, custom_code="wa1nk23x")
                assert code == "WA1NK23X"
                while not seen:
                    await anyio.sleep(0.01)
            [event] = seen
            assert isinstance(event, PairingCode) and event.code == "WA1NK23X"


async def test_a_wrong_code_ends_with_pairing_timeout() -> None:
    async with Emulator() as emulator:
        # the timeout also covers the server's answer with the code: a loaded machine took
        # more than 0.5 s for it, and the request failed before the wrong code was typed
        config = config_for(emulator, pairing_code_timeout=2.0)
        async with running(Client(MemoryStore(), config)) as recorder:
            with anyio.fail_after(WAIT):
                code = await recorder.client.request_pairing_code(PHONE)
            wrong = "".join(
                PAIRING_CODE_ALPHABET[(PAIRING_CODE_ALPHABET.index(c) + 1) % 32] for c in code
            )
            with anyio.fail_after(WAIT):
                await emulator.phone.enter_pairing_code(wrong, PHONE)
            closed = await recorder.wait_closed()
            await recorder.done.wait()
        assert closed.disconnect.reason is CloseReason.PAIRING_TIMEOUT
        assert closed.final and not closed.decision.reconnect and not closed.requested
        assert recorder.client.creds is not None and recorder.client.creds.me is None
        assert [u.connection for u in recorder.close_updates] == ["close"]


async def test_a_rate_limit_is_a_typed_error_and_a_later_request_works() -> None:
    async with (
        Emulator() as emulator,
        running(Client(MemoryStore(), config_for(emulator))) as recorder,
    ):
        client = recorder.client
        emulator.pairing_code_rate_limited = True
        with anyio.fail_after(WAIT), pytest.raises(PairingCodeError) as limited:
            await client.request_pairing_code(PHONE)
        assert limited.value.code == 429 and limited.value.retry
        assert limited.value.node is not None
        assert client.connection == "connecting" and recorder.closes == []
        emulator.pairing_code_rate_limited = False
        with anyio.fail_after(WAIT):
            code = await client.request_pairing_code(PHONE)
            await emulator.phone.enter_pairing_code(code, PHONE)
        await recorder.wait_open()


async def test_a_request_made_while_backing_off_waits_for_the_next_connection() -> None:
    slow = PolicyConfig(backoff_unit=0.3, backoff_cap=0.3, jitter=0.0)
    async with Emulator() as emulator:
        emulator.inject(Drop(at=Step.CLIENT_HELLO))  # the first connection dies in its handshake
        async with running(Client(MemoryStore(), config_for(emulator, policy=slow))) as recorder:
            client = recorder.client
            closed = await recorder.wait_closed()
            assert closed.decision.reconnect and not client.session.attempt_alive
            with anyio.fail_after(WAIT):
                code = await client.request_pairing_code(PHONE)
                await emulator.phone.enter_pairing_code(code, PHONE)
            await recorder.wait_open()
            assert client.health.connections == 3  # dropped, paired, logged in after the 515


@pytest.mark.parametrize(
    ("phone", "custom_code"),
    [
        ("", None),
        ("0155500012", None),  # a trunk prefix, not a country code
        ("12345", None),  # too short
        ("1555000123456789", None),  # longer than E.164
        ("1555abc1234", None),
        (PHONE, "SHORT"),
        (PHONE, "ABCDEFG0"),  # 0 is not in the alphabet
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(
    phone: str, custom_code: str | None
) -> None:
    async with (
        Emulator() as emulator,
        running(Client(MemoryStore(), config_for(emulator))) as recorder,
    ):
        with pytest.raises(PairingInputError) as refused:
            await recorder.client.request_pairing_code(phone, custom_code=custom_code)
        assert isinstance(refused.value, ValueError) and refused.value.code is None
        # the QR login goes on untouched
        update = await recorder.wait_for(
            lambda e: isinstance(e, ConnectionUpdate) and e.qr is not None
        )
        assert isinstance(update, ConnectionUpdate)
