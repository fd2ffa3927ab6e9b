"""Hypothesis strategies for nodes the Baileys peer encodes losslessly, and JSON for its bridge."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from walink.protocol.binary import Jid, Node
from walink.protocol.binary._tokens import DOUBLE_BYTE_TOKENS, SINGLE_BYTE_TOKENS

# Baileys' token map is a plain object: these names hit Object.prototype
# (docs/protocol/peer.md#fuzzing-quirks)
JS_PROTOTYPE_NAMES = frozenset(
    {
        "constructor", "__proto__", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
        "toString", "toLocaleString", "valueOf", "__defineGetter__", "__defineSetter__",
        "__lookupGetter__", "__lookupSetter__",
    }
)  # fmt: skip

ALL_TOKENS = [t for t in SINGLE_BYTE_TOKENS[1:]] + [t for page in DOUBLE_BYTE_TOKENS for t in page]

# an index, not sampled_from: a 1259-item list makes Hypothesis build huge strategy reprs
tokens = st.integers(0, len(ALL_TOKENS) - 1).map(ALL_TOKENS.__getitem__)
nibbles = st.text(alphabet="0123456789-.", min_size=1, max_size=130)
hexes = st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=130)
raw_texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="@"), max_size=300
).filter(lambda s: s not in JS_PROTOTYPE_NAMES)
user_names = st.one_of(
    st.just(""),
    st.text(alphabet="0123456789", min_size=1, max_size=20),
    st.text(alphabet=string.ascii_lowercase + "0123456789.-", min_size=1, max_size=12),
    st.sampled_from(["status", "server", "0", "user"]),
).filter(lambda s: s not in JS_PROTOTYPE_NAMES)

pair_jids = st.builds(
    Jid,
    user_names,
    st.sampled_from(["s.whatsapp.net", "g.us", "c.us", "broadcast", "lid", "newsletter", "call",
                     "bot", "hosted", "hosted.lid"]),
)  # fmt: skip
ad_jids = st.builds(
    Jid, user_names, st.sampled_from(["s.whatsapp.net", "lid", "hosted", "hosted.lid"]),
    st.integers(1, 255),
)  # fmt: skip
# agent JIDs: Baileys encodes them like walink but decodes them without the agent
agent_jids = st.builds(
    Jid, user_names, st.just("s.whatsapp.net"), st.integers(1, 255),
    st.integers(2, 255).filter(lambda a: a not in (128, 129)),
)  # fmt: skip
wide_jids = st.one_of(
    st.builds(Jid, user_names, st.just("msgr"), st.integers(0, 65535)),
    st.builds(
        Jid, user_names.filter(lambda u: "-" not in u), st.just("interop"),
        st.integers(0, 65535), st.just(0), st.integers(0, 65535),
    ),
)  # fmt: skip
peer_jids = st.one_of(pair_jids, ad_jids)


def strings(jids: st.SearchStrategy[Jid] = peer_jids) -> st.SearchStrategy[str]:
    """Strings that encode losslessly; ``jids`` picks which JID kinds appear."""
    return st.one_of(tokens, nibbles, hexes, jids.map(str), raw_texts)


def attr_keys() -> st.SearchStrategy[str]:
    # V8 orders integer-like keys first, so those would not keep their order in Baileys
    return st.one_of(tokens, raw_texts).filter(lambda s: not s.isdigit())


def nodes(
    jids: st.SearchStrategy[Jid] = peer_jids, max_leaves: int = 12
) -> st.SearchStrategy[Node]:
    """Nodes whose content decodes back to itself (string content is never raw text)."""
    attrs = st.dictionaries(attr_keys(), strings(jids), max_size=5)
    tags = st.one_of(tokens, raw_texts.filter(bool))
    string_content = st.one_of(tokens, nibbles, hexes, jids.map(str))
    byte_content = st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=700))
    leaf_content = st.one_of(st.none(), byte_content, string_content)
    leaves = st.builds(Node, tags, attrs, leaf_content)
    return st.recursive(
        leaves,
        lambda children: st.builds(Node, tags, attrs, st.lists(children, max_size=4)),
        max_leaves=max_leaves,
    )


def node_to_json(node: Node) -> dict[str, Any]:
    content = node.content
    encoded: Any
    if isinstance(content, list):
        encoded = [node_to_json(child) for child in content]
    elif isinstance(content, bytes):
        encoded = {"$b": content.hex()}
    else:
        encoded = content
    return {"tag": node.tag, "attrs": dict(node.attrs), "content": encoded}


def node_from_json(data: dict[str, Any], node_type: type[Node] = Node) -> Node:
    content = data["content"]
    decoded: Any
    if isinstance(content, list):
        decoded = [node_from_json(child, node_type) for child in content]
    elif isinstance(content, dict):
        decoded = bytes.fromhex(content["$b"])
    else:
        decoded = content
    return node_type(data["tag"], dict(data["attrs"]), decoded)
