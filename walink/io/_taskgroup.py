"""The task group an async context manager (``Client``, ``Fleet``) runs its tasks in.

Theory of operation
-------------------
Such an object cannot wrap its caller's block in ``async with create_task_group()``: its
``__aenter__`` must return with its tasks running, and its ``__aexit__`` must end them. So it
enters the group by hand (``enter_task_group``) and leaves it with ``exit_task_group``, which
does the three things every owner needs, in this order:

1. ``aclose()``: the owner's own close, which ends its tasks in an orderly way (a connection
   closed with a close frame, pending saves written, leases given back);
2. the group's scope is cancelled, for whatever did not end in time, and the group is left;
3. what comes out is never an ``ExceptionGroup``, which no ``except SomeError`` around the
   block could catch.

For 3, the block's own exception is never handed to the group: the group would wrap it (on
both backends), and Python raises it again, as itself, once ``__aexit__`` returns. A task of
the owner's that failed leaves as itself too; when several failed at once, the first leaves
and the others are named in its notes. A cancellation from outside leaves as the backend's
cancellation, as it would from any ``async with``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.abc

__all__ = ["enter_task_group", "exit_task_group"]


async def enter_task_group() -> anyio.abc.TaskGroup:
    """A new task group, entered: start tasks in it, then leave it with ``exit_task_group``."""
    task_group = anyio.create_task_group()
    await task_group.__aenter__()
    return task_group


async def exit_task_group(
    task_group: anyio.abc.TaskGroup | None, aclose: Callable[[], Awaitable[None]]
) -> None:
    """Await ``aclose()``, then cancel and leave ``task_group`` (None: ``aclose()`` alone).

    Call it from the owner's ``__aexit__`` and return None from there: the block's exception
    then leaves as itself. The group is left even when ``aclose()`` raises. Raises what a
    task raised, as itself (never an ``ExceptionGroup``), or what ``aclose()`` raised.
    """
    try:
        await aclose()
    finally:
        if task_group is not None:
            task_group.cancel_scope.cancel()
            try:
                await task_group.__aexit__(None, None, None)
            except BaseExceptionGroup as group:
                raise _first_failure(group) from None


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception of ``group`` that is not a cancellation, the others in its notes."""
    leaves = list(_leaves(group))
    cancelled = anyio.get_cancelled_exc_class()
    failures = [error for error in leaves if not isinstance(error, cancelled)] or leaves
    first = failures[0]
    for other in failures[1:]:
        first.add_note(f"raised at the same time in another task: {other!r}")
    return first


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]
