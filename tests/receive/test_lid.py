"""walink._receive.lid: a sender is decrypted under its LID when we know it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink._receive.lid import ResolvedSender, alternate_sender, resolve_sender
from walink.protocol.binary import Node
from walink.protocol.signal.address import parse_device_jid

OWN_PN, OWN_LID = "15550001111:3@s.whatsapp.net", "99990001:3@lid"
users = st.text(alphabet="0123456789", min_size=1, max_size=15).filter(
    lambda u: u not in ("15550001111", "99990001")
)
devices = st.integers(min_value=0, max_value=60)


def jid(user: str, device: int, server: str) -> str:
    return f"{user}{f':{device}' if device else ''}@{server}"


def stanza(sender: str, **attrs: str) -> Node:
    return Node("message", {"from": sender, "id": "X", "t": "1", **attrs})


def resolve(sender: str, mapping: dict[str, str] | None = None, **attrs: str) -> ResolvedSender:
    table = mapping or {}
    return resolve_sender(
        stanza(sender, **attrs), sender, own_pn=OWN_PN, own_lid=OWN_LID, lookup=table.get
    )


@given(pn=users, lid=users, device=devices)
def test_a_phone_number_sender_with_its_lid_beside_it_uses_the_lid(
    pn: str, lid: str, device: int
) -> None:
    resolved = resolve(jid(pn, device, "s.whatsapp.net"), sender_lid=f"{lid}@lid")
    assert resolved.address == f"{lid}_1.{device}"
    assert resolved.previous == f"{pn}.{device}"
    assert resolved.learned == {pn: lid, f"{lid}_reverse": pn}
    assert resolved.other == parse_device_jid(jid(lid, device, "lid"))
    # known already: nothing to learn
    again = resolve(
        jid(pn, device, "s.whatsapp.net"),
        {pn: lid, f"{lid}_reverse": pn},
        sender_lid=f"{lid}@lid",
    )
    assert again.address == resolved.address and again.learned == {}


@given(pn=users, lid=users, device=devices)
def test_a_phone_number_sender_with_a_stored_mapping_uses_the_lid(
    pn: str, lid: str, device: int
) -> None:
    resolved = resolve(jid(pn, device, "s.whatsapp.net"), {pn: lid})
    assert (resolved.address, resolved.previous) == (f"{lid}_1.{device}", f"{pn}.{device}")
    assert resolved.learned == {}


@given(pn=users, device=devices)
def test_a_phone_number_sender_without_a_known_lid_stays_a_phone_number(
    pn: str, device: int
) -> None:
    resolved = resolve(jid(pn, device, "s.whatsapp.net"))
    assert (resolved.address, resolved.previous, resolved.other) == (f"{pn}.{device}", None, None)


@given(lid=users, pn=users, device=devices, how=st.sampled_from(["attr", "stored", "none"]))
def test_a_lid_sender_is_its_lid_and_its_phone_number_is_the_previous_address(
    lid: str, pn: str, device: int, how: str
) -> None:
    sender = jid(lid, device, "lid")
    if how == "attr":
        resolved = resolve(sender, participant_pn=f"{pn}@s.whatsapp.net")
    elif how == "stored":
        resolved = resolve(sender, {f"{lid}_reverse": pn})
    else:
        resolved = resolve(sender)
    assert resolved.address == f"{lid}_1.{device}"
    if how == "none":
        assert resolved.previous is None and resolved.other is None
    else:
        assert resolved.previous == f"{pn}.{device}"
    assert bool(resolved.learned) == (how == "attr")


@pytest.mark.parametrize("sender", ["15550001111@s.whatsapp.net", "99990001@lid"])
def test_our_own_phone_is_our_own_lid_device_0_by_either_name(sender: str) -> None:
    resolved = resolve(sender)
    assert resolved.address == "99990001_1.0"
    assert resolved.previous == "15550001111.0"
    assert resolved.learned == {}


def test_hosted_accounts_map_to_hosted_lids() -> None:
    resolved = resolve("1555:99@hosted", {"1555": "77"})
    assert resolved.address == "77_129.99" and resolved.previous == "1555_128.99"


def test_sender_key_names_by_the_stanza_first_then_the_other_id() -> None:
    resolved = resolve("77:2@lid", participant_pn="1555@s.whatsapp.net")
    assert resolved.sender_key_names("1@g.us") == ("1@g.us::77_1::2", "1@g.us::1555::2")
    assert resolve("1555@s.whatsapp.net").sender_key_names("1@g.us") == ("1@g.us::1555::0",)


@pytest.mark.parametrize(
    ("sender", "attrs"),
    [
        ("1555@s.whatsapp.net", {"sender_lid": "1666@s.whatsapp.net"}),  # same kind
        ("1555@s.whatsapp.net", {"sender_lid": "garbage"}),
        ("77@lid", {"sender_pn": "78@lid"}),
        ("1555@s.whatsapp.net", {"sender_pn": "77@lid"}),  # the attribute of the other mode
    ],
)
def test_a_useless_alternate_is_ignored(sender: str, attrs: dict[str, str]) -> None:
    assert alternate_sender(stanza(sender, **attrs), parse_device_jid(sender)) is None


def test_a_damaged_mapping_value_is_unknown() -> None:
    resolved = resolve("1555@s.whatsapp.net", {"1555": "77@lid"})
    assert resolved.address == "1555.0" and resolved.previous is None


def test_a_sender_that_is_no_user_keeps_its_plain_address() -> None:
    resolved = resolve("1555@bot")
    assert (resolved.address, resolved.previous) == ("1555.0", None)
