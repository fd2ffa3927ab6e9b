"""walink.io._taskgroup: an owner's task group is closed in order, and no ExceptionGroup leaves.

Every test runs on asyncio and on trio (``tests/io/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import anyio
import anyio.abc
import pytest

from walink.auth import MemoryStore
from walink.io import Client, ClientConfig
from walink.io._taskgroup import enter_task_group, exit_task_group
from walink.io.fleet import Fleet

pytestmark = pytest.mark.anyio


class Owner:
    """An object that runs its tasks the way ``Client`` and ``Fleet`` do."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.task_group: anyio.abc.TaskGroup | None = None
        self.close_error: Exception | None = None

    async def __aenter__(self) -> Owner:
        self.task_group = await enter_task_group()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await exit_task_group(self.task_group, self.aclose)
        self.log.append("left")

    async def aclose(self) -> None:
        self.log.append("aclose")
        if self.close_error is not None:
            raise self.close_error

    async def forever(self, name: str) -> None:
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.log.append(f"{name} cancelled")
            raise

    async def fail(self, error: Exception) -> None:
        # no checkpoint first: a task that already failed cannot cancel this one before it fails
        raise error


async def test_a_clean_exit_closes_first_then_cancels_the_tasks() -> None:
    async with Owner() as owner:
        assert owner.task_group is not None
        owner.task_group.start_soon(owner.forever, "a")
        owner.task_group.start_soon(owner.forever, "b")
        await anyio.wait_all_tasks_blocked()
    assert owner.log[0] == "aclose"
    assert sorted(owner.log[1:3]) == ["a cancelled", "b cancelled"]
    assert owner.log[3:] == ["left"]


async def test_the_blocks_own_failure_leaves_as_itself() -> None:
    owner = Owner()
    with pytest.raises(ValueError, match="the block's") as caught:
        async with owner:
            assert owner.task_group is not None
            owner.task_group.start_soon(owner.forever, "a")
            await anyio.wait_all_tasks_blocked()
            raise ValueError("the block's")
    assert type(caught.value) is ValueError
    assert owner.log == ["aclose", "a cancelled", "left"]


async def test_a_tasks_failure_leaves_as_itself() -> None:
    owner = Owner()
    with pytest.raises(KeyError) as caught:
        async with owner:
            assert owner.task_group is not None
            owner.task_group.start_soon(owner.forever, "a")
            owner.task_group.start_soon(owner.fail, KeyError("a task's"))
            await anyio.sleep_forever()  # the failure cancels the group, and so this block
    assert type(caught.value) is KeyError
    assert not getattr(caught.value, "__notes__", None)
    # the failure cancelled the group (and the block) at once; aclose ran all the same, and the
    # owner's __aexit__ went no further than the failure
    assert sorted(owner.log) == ["a cancelled", "aclose"]


async def test_several_failures_leave_as_the_first_naming_the_others() -> None:
    owner = Owner()
    with pytest.raises(LookupError) as caught:
        async with owner:
            assert owner.task_group is not None
            owner.task_group.start_soon(owner.fail, KeyError("one"))
            owner.task_group.start_soon(owner.fail, IndexError("two"))
            await anyio.sleep_forever()
    assert type(caught.value) in {KeyError, IndexError}
    other = IndexError("two") if type(caught.value) is KeyError else KeyError("one")
    assert caught.value.__notes__ == [f"raised at the same time in another task: {other!r}"]


async def test_the_group_is_left_even_when_aclose_fails() -> None:
    owner = Owner()
    owner.close_error = OSError("close failed")
    with pytest.raises(OSError, match="close failed"):
        async with owner:
            assert owner.task_group is not None
            owner.task_group.start_soon(owner.forever, "a")
            await anyio.wait_all_tasks_blocked()
    assert owner.log == ["aclose", "a cancelled"]  # the group was left; "left" never ran


async def test_without_a_group_only_aclose_runs() -> None:
    owner = Owner()
    await exit_task_group(None, owner.aclose)
    assert owner.log == ["aclose"]


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    owner = Owner()
    with anyio.CancelScope() as outer:
        async with owner:
            assert owner.task_group is not None
            owner.task_group.start_soon(owner.forever, "a")
            await anyio.wait_all_tasks_blocked()
            outer.cancel()
            await anyio.sleep_forever()
    assert outer.cancelled_caught
    # the outer scope cancels the group's tasks too (before or after aclose, by backend)
    assert {"aclose", "a cancelled"} <= set(owner.log)


# -- the owners ---------------------------------------------------------------------------------


async def test_a_clients_block_failure_leaves_as_itself() -> None:
    # port 9 (discard) is closed on loopback: the client backs off while the block fails
    config = ClientConfig(url="ws://127.0.0.1:9/ws/chat", connect_timeout=1.0)
    client = Client(MemoryStore(), config)
    with pytest.raises(ValueError, match="the block's") as caught:
        async with client:
            raise ValueError("the block's")
    assert type(caught.value) is ValueError
    assert client.finished


async def test_a_fleets_block_failure_leaves_as_itself(tmp_path: Path) -> None:
    fleet = Fleet(f"sqlite://{tmp_path / 'fleet.db'}")
    with pytest.raises(ValueError, match="the block's") as caught:
        async with fleet:
            raise ValueError("the block's")
    assert type(caught.value) is ValueError
    assert fleet.held == {}
