"""walink.io._support: the trace's masking of secret node contents, and the transport mapping."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walink.io._support import SECRET_TAGS, node_tracer, redacted_node
from walink.protocol.binary import Node

_tags = st.sampled_from(
    [*sorted(SECRET_TAGS), "link_code_pairing_ref", "iq", "list", "enc", "id", "ping"]
)
_contents = st.none() | st.binary(max_size=40) | st.text(max_size=12)
nodes = st.recursive(
    st.builds(Node, _tags, st.dictionaries(st.sampled_from("abc"), st.text(max_size=4)), _contents),
    lambda children: st.builds(Node, _tags, st.just({}), st.lists(children, max_size=4)),
    max_leaves=10,
)


def _leaves(node: Node, hidden: bool = False) -> list[tuple[bool, Node]]:
    hidden = hidden or node.tag in SECRET_TAGS or node.tag.startswith("link_code_")
    if isinstance(node.content, list):
        return [leaf for child in node.content for leaf in _leaves(child, hidden)]
    return [(hidden, node)]


@given(nodes)
def test_every_content_under_a_secret_tag_is_masked_and_the_rest_kept(node: Node) -> None:
    masked = redacted_node(node)
    before, after = _leaves(node), _leaves(masked)
    assert len(before) == len(after)
    for (hidden, original), (_, shown) in zip(before, after, strict=True):
        assert (shown.tag, shown.attrs) == (original.tag, original.attrs)
        if hidden and original.content is not None:
            assert isinstance(shown.content, str) and shown.content.startswith("[redacted ")
            assert f" {len(original.content)} " in shown.content
        else:
            assert shown.content == original.content


def test_the_tracer_logs_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("walink.test.trace")
    trace = node_tracer(log)
    secret = bytes(range(64))
    node = Node("iq", {"id": "1"}, [Node("skey", {}, [Node("signature", {}, secret)])])
    caplog.set_level(logging.INFO, logger=log.name)
    trace("out", node)
    assert caplog.text == ""
    caplog.set_level(logging.DEBUG, logger=log.name)
    trace("out", node)
    assert (
        'out <iq id="1"><skey><signature>[redacted 64 bytes]</signature></skey></iq>' in caplog.text
    )
    assert secret[:8].hex() not in caplog.text
