"""The Jid value type: canonical parse/str, servers, and agreement with the codec's encoder."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocol.binary import strategies
from walink.protocol.binary import Jid
from walink.protocol.binary.jid import SERVER_JID, STATUS_BROADCAST

ANY_JID = st.one_of(
    strategies.pair_jids, strategies.ad_jids, strategies.agent_jids, strategies.wide_jids
)


@pytest.mark.parametrize(
    ("text", "jid"),
    [
        ("@s.whatsapp.net", Jid("", "s.whatsapp.net")),
        ("1234567890@s.whatsapp.net", Jid("1234567890", "s.whatsapp.net")),
        ("1234567890:5@s.whatsapp.net", Jid("1234567890", "s.whatsapp.net", device=5)),
        ("1234567890_7:5@s.whatsapp.net", Jid("1234567890", "s.whatsapp.net", 5, agent=7)),
        ("987654321:2@lid", Jid("987654321", "lid", 2)),
        ("123456-7890@g.us", Jid("123456-7890", "g.us")),
        ("status@broadcast", STATUS_BROADCAST),
        ("120363000000000000@newsletter", Jid("120363000000000000", "newsletter")),
        ("abc@call", Jid("abc", "call")),
        ("1:3@hosted", Jid("1", "hosted", 3)),
        ("1:3@hosted.lid", Jid("1", "hosted.lid", 3)),
        ("867051314767696@bot", Jid("867051314767696", "bot")),
        ("0@c.us", Jid("0", "c.us")),
        ("1234:0@msgr", Jid("1234", "msgr", 0)),
        ("5-1234:7@interop", Jid("1234", "interop", 7, integrator=5)),
    ],
)
def test_parse_and_str(text: str, jid: Jid) -> None:
    assert Jid.parse(text) == jid
    assert str(jid) == text


@pytest.mark.parametrize(
    "text",
    [
        "no-at-sign",
        "user@",
        "user:0@s.whatsapp.net",  # the canonical form leaves :0 out
        "user: 5@s.whatsapp.net",
        "user:05@s.whatsapp.net",
        "user:1_0@s.whatsapp.net",
        "user:٣@s.whatsapp.net",  # a non-ASCII digit
        "user:256@s.whatsapp.net",
        "user_0@s.whatsapp.net",
        "user_5:1@lid",  # an agent only exists on s.whatsapp.net
        "a:1:2@s.whatsapp.net",
        "a@b@c",
        "1234@msgr",
        "1234:1@interop",
        "x-1234:1@interop",
        "1:70000@msgr",
        # what a person types is not a JID: a plus, spaces, a leading zero, letters
        "+1 555@s.whatsapp.net",
        "+15551234567@s.whatsapp.net",
        "1 555@s.whatsapp.net",
        "01@s.whatsapp.net",
        "01:2@lid",
        "user@s.whatsapp.net",
        "12a@c.us",
        "abc def@call",
        "tab\there@g.us",
        "01",
        "",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="JID"):
        Jid.parse(text)


@pytest.mark.parametrize("value", [None, 15551234567, b"1@s.whatsapp.net"])
def test_parse_refuses_what_is_not_a_string(value: object) -> None:
    with pytest.raises(ValueError, match="JID"):
        Jid.parse(value)  # type: ignore[arg-type]


def test_properties() -> None:
    assert SERVER_JID.is_server and str(SERVER_JID) == "@s.whatsapp.net"
    assert Jid.parse("1-2@g.us").is_group and not Jid.parse("1@s.whatsapp.net").is_group
    assert Jid.parse("1:2@lid").is_lid and Jid.parse("1:2@hosted.lid").is_lid
    assert [Jid.parse(t).domain_type for t in ("1:2@lid", "1:2@hosted", "1:2@hosted.lid")] == [
        1,
        128,
        129,
    ]
    assert Jid.parse("1_9:2@s.whatsapp.net").domain_type == 9
    assert Jid.parse("1_9:2@s.whatsapp.net").to_non_ad() == Jid("1", "s.whatsapp.net")
    with pytest.raises(ValueError, match="JID"):
        Jid("a", "lid", agent=3)
    with pytest.raises(ValueError, match="JID"):
        Jid("a", "s.whatsapp.net", device=300)


NUMERIC_SERVERS = ("s.whatsapp.net", "c.us", "lid", "hosted", "hosted.lid")


def is_account_number(user: str) -> bool:
    return user == "" or (user.isdigit() and (user == "0" or not user.startswith("0")))


@given(jid=ANY_JID)
def test_str_parse_round_trip(jid: Jid) -> None:
    # a Jid can hold any user (the wire may carry one); parse takes back only account numbers
    # on the phone-number and LID servers, and everything else it writes
    if jid.server in NUMERIC_SERVERS and not is_account_number(jid.user):
        with pytest.raises(ValueError, match="digits only"):
            Jid.parse(str(jid))
    else:
        assert Jid.parse(str(jid)) == jid


@given(jid=ANY_JID)
def test_codec_writes_every_jid_as_a_jid_tag(codec: ModuleType, jid: Jid) -> None:
    """The encoder's JID rule and Jid agree: each canonical Jid gets a JID tag, losslessly."""
    encoded = codec.encode_node(codec.Node("x", {"v": str(jid)}))
    assert encoded[7] in (0xF5, 0xF6, 0xF7, 0xFA)
    assert codec.decode_node(encoded).attrs["v"] == str(jid)
