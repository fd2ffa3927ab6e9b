"""JIDs (WhatsApp addresses) as a value type, in Baileys' string form.

String form: ``user[_agent][:device]@server``, with agent and device left out when 0; the
server JID itself is ``@s.whatsapp.net`` (empty user). Two servers have their own forms, as
the FB_JID and INTEROP_JID tags carry them: ``user:device@msgr`` (device always shown) and
``integrator-user:device@interop``.

``Jid.parse`` accepts only canonical strings, those that ``str()`` gives back unchanged:
numbers are ASCII decimal without sign or leading zero (docs/protocol/peer.md#fuzzing-quirks:
Baileys reads them the JavaScript way, ``+" 5"`` is 5; walink rejects such strings with
``ValueError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

S_WHATSAPP_NET: Final = "s.whatsapp.net"
C_US: Final = "c.us"
GROUP_SERVER: Final = "g.us"
BROADCAST_SERVER: Final = "broadcast"
LID_SERVER: Final = "lid"
NEWSLETTER_SERVER: Final = "newsletter"
CALL_SERVER: Final = "call"
BOT_SERVER: Final = "bot"
HOSTED_SERVER: Final = "hosted"
HOSTED_LID_SERVER: Final = "hosted.lid"
MESSENGER_SERVER: Final = "msgr"
INTEROP_SERVER: Final = "interop"

KNOWN_SERVERS: Final = frozenset(
    {
        S_WHATSAPP_NET,
        C_US,
        GROUP_SERVER,
        BROADCAST_SERVER,
        LID_SERVER,
        NEWSLETTER_SERVER,
        CALL_SERVER,
        BOT_SERVER,
        HOSTED_SERVER,
        HOSTED_LID_SERVER,
        MESSENGER_SERVER,
        INTEROP_SERVER,
    }
)

# AD_JID domain types (B: WAJIDDomains)
_DOMAIN_OF_SERVER: Final = {
    S_WHATSAPP_NET: 0,
    LID_SERVER: 1,
    HOSTED_SERVER: 128,
    HOSTED_LID_SERVER: 129,
}

_FORBIDDEN_IN_USER: Final = ("@", ":", "_")


def _canonical_int(text: str, what: str, maximum: int) -> int:
    if not (text.isascii() and text.isdigit()) or (len(text) > 1 and text[0] == "0"):
        raise ValueError(f"JID {what} must be a decimal number without leading zeros: {text!r}")
    value = int(text)
    if value > maximum:
        raise ValueError(f"JID {what} {value} is larger than {maximum}")
    return value


_NUMERIC_SERVERS: Final = frozenset(
    {S_WHATSAPP_NET, C_US, LID_SERVER, HOSTED_SERVER, HOSTED_LID_SERVER}
)


def _check_user(user: str, server: str) -> None:
    # a user typed by a person ("+1 555", "01") must fail here, not at the server
    if server in _NUMERIC_SERVERS:
        if user and (not (user.isascii() and user.isdigit()) or (len(user) > 1 and user[0] == "0")):
            raise ValueError(
                f"a JID user on {server} is a number in digits only, with its country code "
                f"and no leading zero: {user!r}"
            )
    elif not user.isprintable() or any(char.isspace() for char in user):
        raise ValueError(f"a JID user may not contain spaces or control characters: {user!r}")


@dataclass(frozen=True, slots=True)
class Jid:
    """A parsed JID. ``device`` and ``agent`` are 0 when absent."""

    user: str
    server: str
    device: int = 0
    agent: int = 0
    integrator: int = 0  # interop JIDs only

    def __post_init__(self) -> None:
        if not self.server or "@" in self.server:
            raise ValueError(f"invalid JID server {self.server!r}")
        if any(char in self.user for char in _FORBIDDEN_IN_USER):
            raise ValueError(f"JID user may not contain '@', ':' or '_': {self.user!r}")
        wide = self.server in (MESSENGER_SERVER, INTEROP_SERVER)
        if not 0 <= self.device <= (65535 if wide else 255):
            raise ValueError(f"JID device out of range: {self.device}")
        if not 0 <= self.agent <= 255:
            raise ValueError(f"JID agent out of range: {self.agent}")
        if not 0 <= self.integrator <= 65535:
            raise ValueError(f"JID integrator out of range: {self.integrator}")
        if self.integrator and self.server != INTEROP_SERVER:
            raise ValueError("only interop JIDs have an integrator")
        if self.agent and (
            wide or (self.server in _DOMAIN_OF_SERVER and self.server != S_WHATSAPP_NET)
        ):
            raise ValueError(f"a JID on {self.server} has no agent")

    @classmethod
    def parse(cls, text: str) -> Jid:
        """Parse a canonical JID string; ``ValueError`` for anything else (None included).

        On the phone-number and LID servers (``s.whatsapp.net``, ``c.us``, ``lid``, ``hosted``,
        ``hosted.lid``) the user is a decimal number without a leading zero, or empty for the
        server itself: ``+1 555@s.whatsapp.net`` or ``01@s.whatsapp.net`` name no account.
        Elsewhere it may not hold spaces or control characters.
        """
        if not isinstance(text, str):
            raise ValueError(f"not a JID string: {text!r}")
        user_part, at, server = text.partition("@")
        if not at:
            raise ValueError(f"not a JID (no '@'): {text!r}")
        user_agent, colon, device_text = user_part.partition(":")
        device = _canonical_int(device_text, "device", 65535) if colon else 0
        integrator = 0
        agent = 0
        if server == INTEROP_SERVER:
            integrator_text, dash, user_agent = user_agent.partition("-")
            if not dash or not colon:
                raise ValueError(f"interop JID must be integrator-user:device@interop: {text!r}")
            integrator = _canonical_int(integrator_text, "integrator", 65535)
        elif server == MESSENGER_SERVER and not colon:
            raise ValueError(f"msgr JID must be user:device@msgr: {text!r}")
        user, underscore, agent_text = user_agent.partition("_")
        if underscore:
            agent = _canonical_int(agent_text, "agent", 255)
        _check_user(user, server)
        jid = cls(user, server, device, agent, integrator)
        if str(jid) != text:  # e.g. ":0" or "_0", which the string form leaves out
            raise ValueError(f"JID is not in canonical form: {text!r} (canonical: {jid})")
        return jid

    def __str__(self) -> str:
        if self.server == MESSENGER_SERVER:
            return f"{self.user}:{self.device}@{self.server}"
        if self.server == INTEROP_SERVER:
            return f"{self.integrator}-{self.user}:{self.device}@{self.server}"
        agent = f"_{self.agent}" if self.agent else ""
        device = f":{self.device}" if self.device else ""
        return f"{self.user}{agent}{device}@{self.server}"

    @property
    def domain_type(self) -> int:
        """The AD_JID domain byte: lid 1, hosted 128, hosted.lid 129, else the agent (0)."""
        return _DOMAIN_OF_SERVER.get(self.server) or self.agent

    @property
    def is_group(self) -> bool:
        """A group (``…@g.us``)."""
        return self.server == GROUP_SERVER

    @property
    def is_lid(self) -> bool:
        """A linked identity (``…@lid`` or ``…@hosted.lid``)."""
        return self.server in (LID_SERVER, HOSTED_LID_SERVER)

    @property
    def is_server(self) -> bool:
        """The server JID ``@s.whatsapp.net`` that IQs are addressed to."""
        return not self.user and self.server == S_WHATSAPP_NET

    def to_non_ad(self) -> Jid:
        """The same user without agent and device (B: ``jidNormalizedUser`` minus c.us)."""
        if self.server in (MESSENGER_SERVER, INTEROP_SERVER):
            return self
        return Jid(self.user, self.server)


SERVER_JID: Final = Jid("", S_WHATSAPP_NET)
STATUS_BROADCAST: Final = Jid("status", BROADCAST_SERVER)
