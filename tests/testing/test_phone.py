"""The simulated phone: QR scans, pairing codes, and the errors its endpoint reports."""

from __future__ import annotations

import pytest

from walink.protocol.binary import Node
from walink.protocol.keys import KeyPair
from walink.protocol.pairing import qr_string
from walink.protocol.pairing_code import (
    companion_finish,
    generate_pairing_code,
    wrap_ephemeral_random,
)
from walink.testing.hub import Hub
from walink.testing.phone import (
    AmbiguousPairingError,
    ExpiredRefError,
    InvalidInputError,
    NoPendingPairingError,
    UnknownRefError,
    WrongNoiseKeyError,
)

from .client import T0, Creds, ScriptedClient, seeded

PHONE = "4915123456789"


@pytest.fixture
def logs() -> list[str]:
    return []


@pytest.fixture
def hub(logs: list[str]) -> Hub:
    return Hub(rng=seeded(1), now=T0, log=logs.append)


def unpaired(hub: Hub, seed: int = 2) -> ScriptedClient:
    client = ScriptedClient(hub, Creds.fresh(seeded(seed)), now=T0, rng=seeded(seed + 100))
    client.pump()
    return client


# -- QR ------------------------------------------------------------------------------------------


def test_scan_pairs_with_the_connection_given_the_ref(hub: Hub) -> None:
    first = unpaired(hub, 2)
    second = unpaired(hub, 3)
    jid = hub.phone.scan_qr(second.qr(0), phone=PHONE, now=T0 + 1)
    second.pump()
    first.pump()
    assert jid == f"{PHONE}:1@s.whatsapp.net" == second.creds.me
    assert first.creds.me is None and len(first.nodes) == 1
    assert hub.registry.device(PHONE, 1) is not None


def test_scan_defaults_to_the_hub_time(hub: Hub) -> None:
    client = unpaired(hub)
    client.session.receive_data(b"", now=T0 + 59)
    hub.phone.scan_qr(client.qr(0))  # still within the first ref's 60 s
    client.pump()
    assert client.creds.me is not None


def test_refs_expire_on_the_client_schedule(hub: Hub) -> None:
    client = unpaired(hub)
    with pytest.raises(ExpiredRefError):
        hub.phone.scan_qr(client.qr(0), now=T0 + 61)
    with pytest.raises(ExpiredRefError):
        hub.phone.scan_qr(client.qr(1), now=T0 + 81)
    hub.phone.scan_qr(client.qr(5), now=T0 + 159)
    client.pump()
    assert client.creds.me is not None
    assert ExpiredRefError.status == 410


def test_unknown_ref_and_wrong_key(hub: Hub) -> None:
    client = unpaired(hub)
    creds = client.creds
    unknown = qr_string(
        "2@nope", creds.noise_key.public, creds.identity.public, creds.adv_secret, "1"
    )
    with pytest.raises(UnknownRefError):
        hub.phone.scan_qr(unknown, now=T0)
    wrong_noise = qr_string(client.refs[0], bytes(32), creds.identity.public, creds.adv_secret, "1")
    with pytest.raises(WrongNoiseKeyError):
        hub.phone.scan_qr(wrong_noise, now=T0)
    with pytest.raises(InvalidInputError):
        hub.phone.scan_qr("not a qr", now=T0)
    client.pump()
    assert len(client.nodes) == 1  # the connection got nothing


def test_ref_of_a_closed_connection_is_expired(hub: Hub) -> None:
    client = unpaired(hub)
    client.session.receive_data(None, now=T0 + 1)
    with pytest.raises(ExpiredRefError):
        hub.phone.scan_qr(client.qr(0), now=T0 + 2)


def test_a_scan_with_another_adv_secret_fails_the_client_hmac(hub: Hub) -> None:
    client = unpaired(hub)
    creds = client.creds
    other_secret = qr_string(
        client.refs[0], creds.noise_key.public, creds.identity.public, bytes(32), "1"
    )
    hub.phone.scan_qr(other_secret, now=T0 + 1)
    with pytest.raises(Exception, match="HMAC"):
        client.pump()


# -- pairing code --------------------------------------------------------------------------------


def companion_hello(client: ScriptedClient, code: str, pairing_ephemeral: KeyPair) -> Node:
    wrapped = wrap_ephemeral_random(code, pairing_ephemeral.public, client.rng)
    reg = Node(
        "link_code_companion_reg",
        {
            "jid": f"{PHONE}@s.whatsapp.net",
            "stage": "companion_hello",
            "should_show_push_notification": "true",
        },
        [
            Node("link_code_pairing_wrapped_companion_ephemeral_pub", {}, wrapped),
            Node("companion_server_auth_key_pub", {}, client.creds.noise_key.public),
            Node("companion_platform_id", {}, "1"),
            Node("companion_platform_display", {}, "Chrome (Mac OS)"),
            Node("link_code_pairing_nonce", {}, "0"),
        ],
    )
    return client.query(Node("iq", {"to": "@s.whatsapp.net", "type": "set", "xmlns": "md"}, [reg]))


def finish(client: ScriptedClient, code: str, pairing_ephemeral: KeyPair) -> None:
    notification = client.nodes[-1]
    assert notification.attrs["type"] == "link_code_companion_reg"
    reg = notification.child("link_code_companion_reg")
    assert reg is not None and reg.attrs == {"stage": "primary_hello"}
    ref = reg.child("link_code_pairing_ref")
    primary_identity = reg.child("primary_identity_pub")
    wrapped = reg.child("link_code_pairing_wrapped_primary_ephemeral_pub")
    assert ref is not None and primary_identity is not None and wrapped is not None
    assert isinstance(primary_identity.content, bytes) and isinstance(wrapped.content, bytes)
    result = companion_finish(
        code,
        pairing_ephemeral=pairing_ephemeral,
        identity=client.creds.identity,
        primary_identity_public=primary_identity.content,
        wrapped_primary_ephemeral=wrapped.content,
        rng=client.rng,
    )
    client.creds.adv_secret = result.adv_secret
    reg_finish = Node(
        "link_code_companion_reg",
        {"jid": f"{PHONE}@s.whatsapp.net", "stage": "companion_finish"},
        [
            Node("link_code_pairing_wrapped_key_bundle", {}, result.wrapped_key_bundle),
            Node("companion_identity_public", {}, client.creds.identity.public),
            ref,
        ],
    )
    answer = client.query(
        Node("iq", {"to": "@s.whatsapp.net", "type": "set", "xmlns": "md"}, [reg_finish])
    )
    assert answer.attrs["type"] == "result" and answer.children() == []


def test_pairing_code_lifecycle(hub: Hub) -> None:
    client = unpaired(hub)
    code = generate_pairing_code(client.rng)
    pairing_ephemeral = KeyPair.generate(client.rng)
    answer = companion_hello(client, code, pairing_ephemeral)
    assert answer.attrs["type"] == "result"
    reg = answer.child("link_code_companion_reg")
    assert reg is not None and reg.child("link_code_pairing_ref") is not None

    hub.phone.enter_pairing_code(f"{code[:4]}-{code[4:]}".lower(), now=T0 + 5)
    client.pump()
    finish(client, code, pairing_ephemeral)
    assert client.creds.me == f"{PHONE}:1@s.whatsapp.net"
    assert client.nodes[-1] == Node("stream:error", {"code": "515"})
    assert hub.registry.device(PHONE, 1) is not None


def test_wrong_code_sends_nothing_after_the_result(hub: Hub, logs: list[str]) -> None:
    client = unpaired(hub)
    code = generate_pairing_code(client.rng)
    pairing_ephemeral = KeyPair.generate(client.rng)
    companion_hello(client, code, pairing_ephemeral)
    wrong = "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA"
    hub.phone.enter_pairing_code(wrong, phone=PHONE, now=T0 + 5)  # not noticed yet
    client.pump()
    before = len(client.nodes)
    finish(client, code, pairing_ephemeral)
    assert len(client.nodes) == before + 1  # the result only
    assert client.session.close_requested is None
    assert list(hub.registry.devices()) == []
    assert any("did not authenticate" in line for line in logs)


def test_rate_limited_companion_hello(hub: Hub) -> None:
    hub.pairing_code_rate_limited = True
    client = unpaired(hub)
    answer = companion_hello(client, "ABCDEFGH", KeyPair.generate(client.rng))
    assert answer.attrs["type"] == "error"
    assert answer.children() == [Node("error", {"code": "429", "text": "rate-overlimit"})]
    with pytest.raises(NoPendingPairingError):
        hub.phone.enter_pairing_code("ABCDEFGH")


def test_code_errors(hub: Hub) -> None:
    with pytest.raises(NoPendingPairingError):
        hub.phone.enter_pairing_code("ABCDEFGH")
    with pytest.raises(InvalidInputError):
        hub.phone.enter_pairing_code("too-short")
    client = unpaired(hub)
    companion_hello(client, "ABCDEFGH", KeyPair.generate(client.rng))
    with pytest.raises(NoPendingPairingError):
        hub.phone.enter_pairing_code("ABCDEFGH", phone="15550009999")
    other = unpaired(hub, 5)
    reg = Node(
        "link_code_companion_reg",
        {"jid": "15550009999@s.whatsapp.net", "stage": "companion_hello"},
        [Node("link_code_pairing_wrapped_companion_ephemeral_pub", {}, bytes(80))],
    )
    other.query(Node("iq", {"to": "@s.whatsapp.net", "type": "set", "xmlns": "md"}, [reg]))
    with pytest.raises(AmbiguousPairingError):
        hub.phone.enter_pairing_code("ABCDEFGH")
    bad = Node("link_code_companion_reg", {"jid": "x@s.whatsapp.net", "stage": "companion_hello"})
    answer = other.query(Node("iq", {"to": "@s.whatsapp.net", "type": "set", "xmlns": "md"}, [bad]))
    assert answer.children() == [Node("error", {"code": "400", "text": "bad-request"})]
