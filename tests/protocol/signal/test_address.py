"""walink.protocol.signal.address: Signal addresses of JIDs and the lid-mapping entries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.protocol.errors import RemoteProtocolError
from walink.protocol.signal.address import (
    lid_mapping_entries,
    parse_device_jid,
    reverse_mapping_id,
    sender_key_name,
    signal_address,
)

users = st.text(alphabet="0123456789", min_size=1, max_size=16)
devices = st.integers(min_value=0, max_value=99)
servers = st.sampled_from(["s.whatsapp.net", "lid", "hosted", "hosted.lid"])
DOMAINS = {"s.whatsapp.net": "", "lid": "_1", "hosted": "_128", "hosted.lid": "_129"}


def device_jid(user: str, device: int, server: str) -> str:
    return f"{user}{f':{device}' if device else ''}@{server}"


@pytest.mark.parametrize(
    ("jid", "address"),
    [
        ("15551234567@s.whatsapp.net", "15551234567.0"),
        ("15551234567:2@s.whatsapp.net", "15551234567.2"),
        ("99887766:5@lid", "99887766_1.5"),
        ("99887766@lid", "99887766_1.0"),
        ("15551234567:99@hosted", "15551234567_128.99"),
        ("99887766@hosted.lid", "99887766_129.0"),
        ("15551234567_3:4@c.us", "15551234567_3.4"),
    ],
)
def test_addresses_as_baileys_names_them(jid: str, address: str) -> None:
    assert signal_address(jid) == address


@given(user=users, device=devices, server=servers)
def test_every_user_jid_has_its_domain_and_device_and_round_trips(
    user: str, device: int, server: str
) -> None:
    jid = device_jid(user, device, server)
    parsed = parse_device_jid(jid)
    assert parsed.address == f"{user}{DOMAINS[server]}.{device}"
    assert parsed.jid == jid and parse_device_jid(parsed.jid) == parsed
    assert parsed.is_lid == server.endswith("lid") != parsed.is_pn
    assert sender_key_name("1@g.us", jid) == f"1@g.us::{user}{DOMAINS[server]}::{device}"
    other = parsed.counterpart("42")
    assert other.device == device and other.is_lid == parsed.is_pn
    assert other.counterpart(user) == parsed  # the way back is the same device


@given(lid=users, pn=users, lid_device=devices, pn_device=devices)
def test_mapping_entries_are_user_level_both_ways(
    lid: str, pn: str, lid_device: int, pn_device: int
) -> None:
    entries = lid_mapping_entries(
        device_jid(lid, lid_device, "lid"), device_jid(pn, pn_device, "s.whatsapp.net")
    )
    assert entries == {pn: lid, reverse_mapping_id(lid): pn} == {pn: lid, f"{lid}_reverse": pn}


@pytest.mark.parametrize(
    ("lid", "pn"),
    [
        ("1@s.whatsapp.net", "2@lid"),  # the wrong way round
        ("1@lid", "2@lid"),
        ("1@lid", "2@g.us"),
        ("@lid", "2@s.whatsapp.net"),
        ("1@lid", "garbage"),
    ],
)
def test_a_pair_that_is_not_a_lid_and_a_phone_number_is_ignored(lid: str, pn: str) -> None:
    assert lid_mapping_entries(lid, pn) == {}


@pytest.mark.parametrize("jid", ["", "1555", "@s.whatsapp.net", "_1@lid", ":2@lid"])
def test_a_jid_without_a_user_is_a_remote_error(jid: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_device_jid(jid)


def test_a_server_without_a_counterpart_has_none() -> None:
    with pytest.raises(ValueError, match="no counterpart"):
        parse_device_jid("1@g.us").counterpart("2")
