"""walink.io.events: the one table of event names, and what follows from it."""

from __future__ import annotations

import typing
from dataclasses import dataclass

import pytest

from walink.io.client import Client
from walink.io.events import (
    EVENT_NAME_BY_TYPE,
    EVENT_NAMES,
    ClientEvent,
    ConnectionUpdate,
    EventName,
    event_name,
)


def test_every_event_type_has_a_name_and_every_name_a_type() -> None:
    assert set(EVENT_NAME_BY_TYPE) == set(typing.get_args(ClientEvent))
    assert set(EVENT_NAME_BY_TYPE.values()) == set(typing.get_args(EventName))
    # one name a type: no two types share a name
    assert len(set(EVENT_NAME_BY_TYPE.values())) == len(EVENT_NAME_BY_TYPE)
    assert set(typing.get_args(EventName)) == EVENT_NAMES


def test_the_name_of_each_event_comes_from_the_table() -> None:
    for cls, name in EVENT_NAME_BY_TYPE.items():
        # an instance without running __init__: the name depends on the type alone
        event: ClientEvent = object.__new__(cls)
        assert event_name(event) == name


def test_a_subclass_takes_its_base_name_and_anything_else_is_refused() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Special(ConnectionUpdate):
        pass

    special = typing.cast(ClientEvent, object.__new__(Special))
    assert event_name(special) == "connection.update"
    with pytest.raises(TypeError, match="not a client event: str"):
        event_name(typing.cast(ClientEvent, "closed"))


def test_each_typed_on_overload_names_its_own_event_type() -> None:
    """A typed ``on(name, handler)`` overload takes a handler of the table's type for ``name``."""
    typed: dict[str, object] = {}
    for overload in typing.get_overloads(Client.on):
        hints = typing.get_type_hints(overload)
        names = typing.get_args(hints["name"])
        if len(names) != 1:
            continue  # the catch-all overload: any EventName, a handler of every event
        (name,) = names
        (argument_types, _result) = typing.get_args(hints["handler"])
        typed[name] = argument_types[0]
    for name, event_type in typed.items():
        assert EVENT_NAME_BY_TYPE[event_type] == name  # type: ignore[index]
    # every name has its own typed overload: none is left to the catch-all alone
    assert set(typed) == EVENT_NAMES
