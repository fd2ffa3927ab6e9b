"""walink.io._support: the trace's masking of secret node contents, the transport mapping, and the
``on()`` handler registry."""

from __future__ import annotations

import logging

import anyio
import anyio.lowlevel
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


# -- check_node: the client's gate before the wire ------------------------------------------------

_any_text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\ud800"]), max_size=6)
_any_value = _any_text | st.integers() | st.none() | st.binary(max_size=4)


def _rough_node(tag: str, attrs: dict[str, object], content: object) -> Node | None:
    # The compiled codec's Node checks its argument types at construction (an int content is a
    # TypeError there); the pure one does not. Inputs that cannot even be built are left out.
    try:
        return Node(tag, attrs, content)  # type: ignore[arg-type]
    except TypeError:
        return None


_rough_leaves = st.builds(
    _rough_node,
    st.sampled_from(["", "iq", "x"]) | _any_text,
    st.dictionaries(_any_text, _any_value, max_size=3),
    st.none() | st.binary(max_size=8) | _any_text | st.integers(),
).filter(lambda node: node is not None)
_rough_nodes = st.recursive(
    _rough_leaves,
    lambda children: st.builds(Node, st.just("list"), st.just({}), st.lists(children, max_size=3)),
    max_leaves=8,
)


@given(node=_rough_nodes)
def test_check_node_refuses_exactly_what_the_codec_refuses(node: Node) -> None:
    from walink.io._support import check_node
    from walink.io.errors import InvalidNodeError
    from walink.protocol.binary import encode_node
    from walink.protocol.errors import LocalProtocolError

    try:
        encode_node(node)
    except LocalProtocolError:
        with pytest.raises(InvalidNodeError):
            check_node(node)
    else:
        check_node(node)  # small nodes that encode always fit a frame


def test_check_node_refuses_what_is_not_a_node_and_what_overflows_a_frame() -> None:
    from walink.io._support import check_node
    from walink.io.errors import InvalidNodeError
    from walink.protocol.frames import MAX_PAYLOAD

    with pytest.raises(InvalidNodeError, match="not a Node"):
        check_node("<iq/>")  # type: ignore[arg-type]
    # the largest content that fits: the frame limit, less the AES-GCM tag and the node's head
    fits = Node("iq", {}, b"x" * (MAX_PAYLOAD - 16 - 16))
    check_node(fits)
    with pytest.raises(InvalidNodeError, match="16 MiB"):
        check_node(Node("iq", {}, b"x" * (MAX_PAYLOAD - 16)))
    # a query without an id keeps room for the one it will get
    with pytest.raises(InvalidNodeError):
        check_node(fits, query=True)
    check_node(Node("iq", {"id": "1"}, b"x" * (MAX_PAYLOAD - 16 - 24)), query=True)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_handlers_run_in_order_awaited_and_stop_at_the_first_error() -> None:
    from walink.io._support import Handlers

    handlers = Handlers()
    calls: list[str] = []

    def plain(device: str, event: object) -> None:
        calls.append(f"plain {device} {event}")

    async def coroutine(device: str, event: object) -> None:
        await anyio.lowlevel.checkpoint()
        calls.append(f"async {device} {event}")

    def failing(device: str, event: object) -> None:
        raise LookupError(event)

    assert handlers.register("node", plain)  # the first: dispatching starts
    assert not handlers.register("node", coroutine)
    await handlers.call("node", "d1", 1)
    await handlers.call("closed", "d1", 2)  # no handler: nothing to wait for
    assert calls == ["plain d1 1", "async d1 1"]
    handlers.register("closed", failing)
    handlers.register("closed", plain)
    with pytest.raises(LookupError):
        await handlers.call("closed", "d2", 3)
    assert calls == ["plain d1 1", "async d1 1"]  # the handler after the failing one never ran
    with pytest.raises(ValueError, match="unknown event name"):
        handlers.register("message.upsert", plain)
    with pytest.raises(RuntimeError, match="on\\(\\) handlers"):
        handlers.iterate()
    iterated = Handlers()
    iterated.iterate()
    with pytest.raises(RuntimeError, match="iterated"):
        iterated.register("node", plain)
