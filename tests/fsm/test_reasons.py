"""walink.fsm.reasons: every input that ends a connection maps to one precise Disconnect."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.fsm.reasons import (
    CloseReason,
    Disconnect,
    DisconnectReason,
    UpgradeRejected,
    WebSocketClosed,
    classify,
)
from walink.protocol.binary import Node
from walink.protocol.certs import (
    CertificateDefect,
    CertificateError,
    CertificateExpiredError,
    LeafKeyMismatchError,
    WrongRootError,
)
from walink.protocol.errors import LocalProtocolError, RemoteProtocolError

NOW = 1234.5


def stream_error(code: str | None = None, *children: Node) -> Node:
    attrs = {} if code is None else {"code": code}
    return Node("stream:error", attrs, list(children) if children else None)


def failure(**attrs: str) -> Node:
    return Node("failure", attrs)


def test_disconnect_reason_codes_match_baileys() -> None:
    assert {m.name: int(m) for m in DisconnectReason} == {
        "connectionClosed": 428,
        "connectionLost": 408,
        "connectionReplaced": 440,
        "loggedOut": 401,
        "badSession": 500,
        "restartRequired": 515,
        "multideviceMismatch": 411,
        "forbidden": 403,
        "unavailableService": 503,
    }


def test_timed_out_is_an_alias_of_connection_lost() -> None:
    # mypy believes aliases are distinct members: look at them as plain objects
    alias: object = DisconnectReason.timedOut
    assert alias is DisconnectReason.connectionLost
    assert DisconnectReason.timedOut.name in {"connectionLost"}
    assert DisconnectReason(408) is DisconnectReason.connectionLost
    assert DisconnectReason["timedOut"] is DisconnectReason.connectionLost
    assert [m for m in DisconnectReason if m == 408] == [DisconnectReason.connectionLost]


def test_close_reasons_are_distinct_members_with_status_and_terminal_flag() -> None:
    # several reasons share (status, terminal): they must still be different members
    assert len({CloseReason.CONNECT_TIMEOUT, CloseReason.KEEPALIVE_TIMEOUT}) == 2
    assert CloseReason.CONNECT_TIMEOUT.status == CloseReason.KEEPALIVE_TIMEOUT.status == 408
    assert len(set(CloseReason)) == len(CloseReason.__members__)
    for name in ("SLOW_CONSUMER", "PAIRING_TIMEOUT", "QR_EXHAUSTED", "LOCAL_CLOSE"):
        assert name in CloseReason.__members__
    assert CloseReason.CLIENT_OUTDATED.status == 405
    assert CloseReason.TEMP_BANNED.status == 402
    assert CloseReason.RATE_LIMITED.status == 429
    terminal = {reason for reason in CloseReason if reason.terminal}
    assert terminal == {
        CloseReason.LOGGED_OUT,
        CloseReason.FORBIDDEN,
        CloseReason.BANNED,
        CloseReason.CLIENT_OUTDATED,
        CloseReason.BAD_USER_AGENT,
        CloseReason.MULTIDEVICE_MISMATCH,
        CloseReason.QR_EXHAUSTED,
        CloseReason.PAIRING_TIMEOUT,
        CloseReason.LOCAL_CLOSE,
        CloseReason.LOCAL_LOGOUT,
        CloseReason.STORE_ERROR,
        CloseReason.PROXY_ERROR,
        CloseReason.LEASE_LOST,
    }


@pytest.mark.parametrize(
    ("node", "reason", "status"),
    [
        (stream_error("515"), CloseReason.RESTART_REQUIRED, 515),
        (stream_error("503"), CloseReason.SERVICE_UNAVAILABLE, 503),
        (stream_error("401"), CloseReason.LOGGED_OUT, 401),
        # the code attribute wins over the conflict child (Baileys' order)
        (
            stream_error("401", Node("conflict", {"type": "device_removed"})),
            CloseReason.LOGGED_OUT,
            401,
        ),
        (stream_error(None, Node("conflict", {"type": "replaced"})), CloseReason.REPLACED, 440),
        (
            stream_error(None, Node("conflict", {"type": "device_removed"})),
            CloseReason.LOGGED_OUT,
            401,
        ),
        (stream_error(None, Node("conflict")), CloseReason.REPLACED, 440),
        (stream_error("418"), CloseReason.STREAM_ERROR, 418),
        (stream_error(None, Node("bad-things")), CloseReason.STREAM_ERROR, 500),
        (stream_error(None), CloseReason.STREAM_ERROR, 500),
        (stream_error("not-a-number"), CloseReason.STREAM_ERROR, 500),
        (stream_error("-515"), CloseReason.STREAM_ERROR, 500),
        (stream_error("405"), CloseReason.CLIENT_OUTDATED, 405),
        # only the first child counts, as in Baileys
        (
            stream_error(None, Node("other"), Node("conflict", {"type": "replaced"})),
            CloseReason.STREAM_ERROR,
            500,
        ),
    ],
)
def test_stream_errors(node: Node, reason: CloseReason, status: int) -> None:
    disconnect = classify(node, at=NOW)
    assert (disconnect.reason, disconnect.status) == (reason, status)
    assert disconnect.node is node
    assert disconnect.at == NOW
    assert disconnect.terminal is reason.terminal


def test_stream_error_messages_name_the_cause() -> None:
    assert classify(stream_error("515"), at=NOW).message == "restart required"
    replaced = classify(stream_error(None, Node("conflict", {"type": "replaced"})), at=NOW)
    assert "replaced" in replaced.message
    assert "bad-things" in classify(stream_error(None, Node("bad-things")), at=NOW).message


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("401", CloseReason.LOGGED_OUT),
        ("402", CloseReason.TEMP_BANNED),
        ("403", CloseReason.FORBIDDEN),
        ("405", CloseReason.CLIENT_OUTDATED),
        ("406", CloseReason.BANNED),
        ("409", CloseReason.BAD_USER_AGENT),
        ("500", CloseReason.BAD_SESSION),
        ("503", CloseReason.SERVICE_UNAVAILABLE),
        ("400", CloseReason.LOGIN_FAILED),
        ("418", CloseReason.LOGIN_FAILED),
    ],
)
def test_failure_reasons(code: str, reason: CloseReason) -> None:
    node = failure(reason=code)
    disconnect = classify(node, at=NOW)
    assert disconnect.reason is reason
    assert disconnect.status == int(code)
    assert disconnect.node is node


def test_failure_without_reason_is_bad_session_500() -> None:
    disconnect = classify(failure(), at=NOW)
    assert (disconnect.reason, disconnect.status) == (CloseReason.BAD_SESSION, 500)
    assert disconnect.disconnect_reason is DisconnectReason.badSession


def test_failure_402_expire_is_a_duration_in_seconds() -> None:
    disconnect = classify(failure(reason="402", code="101", expire="3600"), at=NOW)
    assert disconnect.reason is CloseReason.TEMP_BANNED
    assert disconnect.expire == 3600.0
    assert disconnect.disconnect_reason is None  # Baileys has no name for 402
    assert classify(failure(reason="402"), at=NOW).expire is None
    assert classify(failure(reason="402", expire="soon"), at=NOW).expire is None
    assert classify(failure(reason="402", expire="-5"), at=NOW).expire is None
    assert classify(failure(reason="402", expire="1_0"), at=NOW).expire is None


def test_failure_message_attribute_is_kept() -> None:
    node = failure(reason="405", message="update your client")
    assert classify(node, at=NOW).message == "update your client"


def test_xmlstreamend_is_connection_closed() -> None:
    disconnect = classify(Node("xmlstreamend"), at=NOW)
    assert (disconnect.reason, disconnect.status) == (CloseReason.SERVER_CLOSED, 428)
    assert disconnect.disconnect_reason is DisconnectReason.connectionClosed


def test_downgrade_webclient_is_multidevice_mismatch_wherever_it_is_in_ib() -> None:
    node = Node("ib", None, [Node("offline", {"count": "0"}), Node("downgrade_webclient")])
    disconnect = classify(node, at=NOW)
    assert (disconnect.reason, disconnect.status) == (CloseReason.MULTIDEVICE_MISMATCH, 411)
    assert disconnect.terminal


@pytest.mark.parametrize(
    "node",
    [Node("success"), Node("iq", {"type": "result"}), Node("ib", None, [Node("offline")])],
)
def test_nodes_that_do_not_end_a_connection_are_caller_misuse(node: Node) -> None:
    with pytest.raises(LocalProtocolError):
        classify(node, at=NOW)


def test_websocket_close_and_eof() -> None:
    frame = classify(WebSocketClosed(code=1000, reason="bye"), at=NOW)
    eof = classify(WebSocketClosed(), at=NOW)
    for disconnect in (frame, eof):
        assert (disconnect.reason, disconnect.status) == (CloseReason.SERVER_CLOSED, 428)
    assert "1000" in frame.message and "bye" in frame.message


def test_upgrade_rejected_keeps_the_http_status() -> None:
    limited = classify(UpgradeRejected(status=429), at=NOW)
    assert (limited.reason, limited.status) == (CloseReason.RATE_LIMITED, 429)
    forbidden = classify(UpgradeRejected(status=403), at=NOW)
    assert (forbidden.reason, forbidden.status) == (CloseReason.NETWORK_ERROR, 403)
    odd = classify(UpgradeRejected(status=302), at=NOW)
    assert odd.status == 500


@pytest.mark.parametrize(
    ("error", "reason", "status"),
    [
        (ConnectionResetError(errno.ECONNRESET, "reset"), CloseReason.NETWORK_ERROR, 408),
        (OSError(errno.EHOSTUNREACH, "unreachable"), CloseReason.NETWORK_ERROR, 408),
        (TimeoutError("slow"), CloseReason.CONNECT_TIMEOUT, 408),
        (RemoteProtocolError("garbage"), CloseReason.PROTOCOL_ERROR, 500),
        (RuntimeError("who knows"), CloseReason.NETWORK_ERROR, 500),
    ],
)
def test_exceptions(error: BaseException, reason: CloseReason, status: int) -> None:
    disconnect = classify(error, at=NOW)
    assert (disconnect.reason, disconnect.status) == (reason, status)
    assert disconnect.node is None


LOCAL_REASONS = [
    CloseReason.NETWORK_ERROR,
    CloseReason.CONNECT_TIMEOUT,
    CloseReason.KEEPALIVE_TIMEOUT,
    CloseReason.SERVER_CLOSED,
    CloseReason.PROTOCOL_ERROR,
    CloseReason.SLOW_CONSUMER,
    CloseReason.QR_EXHAUSTED,
    CloseReason.PAIRING_TIMEOUT,
    CloseReason.LOCAL_CLOSE,
    CloseReason.LOCAL_LOGOUT,
    CloseReason.STORE_ERROR,
    CloseReason.PROXY_ERROR,
    CloseReason.INTERNAL_ERROR,
    CloseReason.LEASE_LOST,
]


@pytest.mark.parametrize("reason", LOCAL_REASONS)
def test_local_causes(reason: CloseReason) -> None:
    disconnect = classify(reason, at=NOW)
    assert disconnect.reason is reason
    assert disconnect.status == reason.status
    assert disconnect.terminal is reason.terminal
    assert disconnect.message
    assert classify(reason, at=NOW, message="custom").message == "custom"


def test_local_logout_and_keepalive_statuses_match_baileys() -> None:
    assert classify(CloseReason.LOCAL_LOGOUT, at=NOW).disconnect_reason is (
        DisconnectReason.loggedOut
    )
    assert classify(CloseReason.KEEPALIVE_TIMEOUT, at=NOW).disconnect_reason is (
        DisconnectReason.connectionLost
    )


def test_a_failed_credential_save_is_a_terminal_internal_error() -> None:
    # Baileys has no code for it: 500 (its generic internal error), not LOCAL_CLOSE's 428
    disconnect = classify(CloseReason.STORE_ERROR, at=NOW, message="saving credentials failed: x")
    assert (disconnect.status, disconnect.terminal) == (500, True)
    assert disconnect.disconnect_reason is DisconnectReason.badSession
    assert disconnect.reason is not CloseReason.LOCAL_CLOSE


@pytest.mark.parametrize(
    "reason", [reason for reason in CloseReason if reason not in LOCAL_REASONS]
)
def test_reasons_only_a_server_node_carries_are_refused_as_bare_reasons(
    reason: CloseReason,
) -> None:
    with pytest.raises(LocalProtocolError):
        classify(reason, at=NOW)


attr_text = st.one_of(st.text(max_size=8), st.integers(-1000, 1000).map(str))


@given(
    tag=st.sampled_from(["stream:error", "failure"]),
    attrs=st.dictionaries(st.sampled_from(["code", "reason", "expire", "message"]), attr_text),
    child_tags=st.lists(st.sampled_from(["conflict", "x", "bad"]), max_size=2),
    child_type=attr_text,
    at=st.floats(min_value=0, max_value=1e9),
)
def test_any_stream_error_or_failure_gives_one_consistent_disconnect(
    tag: str, attrs: dict[str, str], child_tags: list[str], child_type: str, at: float
) -> None:
    children = [Node(child, {"type": child_type}) for child in child_tags]
    node = Node(tag, attrs, children or None)
    disconnect = classify(node, at=at)
    assert isinstance(disconnect, Disconnect)
    assert disconnect.terminal is disconnect.reason.terminal
    assert disconnect.at == at
    assert disconnect.node is node
    assert disconnect.status >= 0
    assert disconnect.expire is None or (
        disconnect.reason is CloseReason.TEMP_BANNED and disconnect.expire >= 0
    )


@pytest.mark.parametrize(
    ("error", "defect"),
    [
        (WrongRootError("not signed by the trust root"), CertificateDefect.WRONG_ROOT),
        (CertificateExpiredError("expired at 5", certificate="leaf"), CertificateDefect.EXPIRED),
        (LeafKeyMismatchError("leaf key != static"), CertificateDefect.LEAF_KEY_MISMATCH),
    ],
)
def test_a_rejected_certificate_has_its_own_reason_carrying_the_defect(
    error: CertificateError, defect: CertificateDefect
) -> None:
    disconnect = classify(error, at=NOW)
    assert disconnect.reason is CloseReason.CERTIFICATE_REJECTED
    assert disconnect.certificate_defect is defect
    assert disconnect.status == 500 and not disconnect.terminal
    assert defect.value in disconnect.message and str(error) in disconnect.message
    # a plain protocol error stays what it was, without a defect
    other = classify(RemoteProtocolError("bad frame"), at=NOW)
    assert other.reason is CloseReason.PROTOCOL_ERROR and other.certificate_defect is None


def test_a_lost_lease_is_terminal_and_reads_as_replaced() -> None:
    disconnect = classify(CloseReason.LEASE_LOST, at=NOW)
    assert (disconnect.status, disconnect.terminal) == (440, True)
    assert disconnect.disconnect_reason is DisconnectReason.connectionReplaced
