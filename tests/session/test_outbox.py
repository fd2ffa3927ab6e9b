"""walink._session.outbox: held output is released in order, only when every save before it is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from walink._session.outbox import Outbox


def test_bytes_pass_through_without_barriers() -> None:
    outbox = Outbox()
    outbox.write(b"ab")
    outbox.write(b"")
    assert outbox.take() == b"ab" and outbox.take() == b""
    assert not outbox.holding


def test_barrier_holds_bytes_and_actions_until_confirmed() -> None:
    outbox = Outbox()
    ran: list[str] = []
    outbox.write(b"1")
    outbox.barrier(7)
    outbox.write(b"2")
    outbox.defer(lambda: ran.append("qr"))
    assert outbox.take() == b"1" and ran == [] and outbox.holding
    assert not outbox.confirm(8)
    assert outbox.confirm(7)
    assert outbox.take() == b"2" and ran == ["qr"]


def test_later_confirmation_waits_for_the_earlier_barrier() -> None:
    outbox = Outbox()
    outbox.barrier(1)
    outbox.write(b"a")
    outbox.barrier(2)
    outbox.write(b"b")
    outbox.confirm(2)
    assert outbox.take() == b""
    outbox.confirm(1)
    assert outbox.take() == b"ab"


def test_released_action_output_keeps_its_place() -> None:
    outbox = Outbox()
    outbox.barrier(1)
    outbox.defer(lambda: outbox.write(b"x"))
    outbox.barrier(2)
    outbox.write(b"y")
    outbox.confirm(1)
    assert outbox.take() == b"x"
    outbox.confirm(2)
    assert outbox.take() == b"y"


def test_discard_drops_everything() -> None:
    outbox = Outbox()
    outbox.write(b"a")
    outbox.barrier(1)
    outbox.write(b"b")
    outbox.discard()
    assert outbox.take() == b"" and not outbox.confirm(1)


@given(
    st.lists(st.one_of(st.binary(min_size=1, max_size=3), st.none()), max_size=20),
    st.randoms(use_true_random=False),
)
def test_any_confirmation_order_releases_everything_in_order(
    items: list[bytes | None], rng: object
) -> None:
    outbox = Outbox()
    tokens: list[int] = []
    expected = b""
    for item in items:
        if item is None:
            tokens.append(len(tokens) + 1)
            outbox.barrier(tokens[-1])
        else:
            outbox.write(item)
            expected += item
    got = outbox.take()
    rng.shuffle(tokens)  # type: ignore[attr-defined]
    for token in tokens:
        got += outbox.take()
        assert outbox.confirm(token)
    got += outbox.take()
    assert got == expected
