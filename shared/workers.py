"""Background work that must keep running: restarted with a growing pause if it fails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import structlog
from nats.errors import Error as NatsError

from shared.backoff import Backoff
from shared.db import database_unavailable
from shared.outages import OUTAGES

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def supervise(
    name: str, work: Callable[[], Awaitable[None]], stopping: asyncio.Event | None = None
) -> None:
    """Run `work` until cancelled, starting it again whenever it returns or fails; once
    `stopping` is set, a `work` that returns (it was asked to stop) is not started again."""
    backoff = Backoff(first=0.5)
    while True:
        started = time.monotonic()
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not _outage(error):
                log.exception("worker failed", worker=name)
        else:
            if not _is_set(stopping):
                log.warning("worker stopped; restarting", worker=name)
        if time.monotonic() - started > 60:
            backoff.reset()
        await backoff.wait(cut_short_by=stopping)  # at once when asked to stop
        if _is_set(stopping):
            log.info("worker stopped", worker=name)
            return


def _is_set(event: asyncio.Event | None) -> bool:
    return event is not None and event.is_set()


def _outage(error: Exception) -> bool:
    """Whether `error` is PostgreSQL or NATS being away: counted, not logged each time."""
    if database_unavailable(error):
        OUTAGES.failed("postgres", error)
        return True
    if isinstance(error, NatsError):
        OUTAGES.failed("nats", error)
        return True
    return False


HARD_STOP: Final = "hard stop"
"""The message of a cancellation that nothing may delay: the stop's deadline has come."""


async def finished_first(work: Awaitable[T], timeout: float) -> T:
    """Take `work` to its end even when the task running it is cancelled (a replica being
    stopped), for at most `timeout` seconds after the first cancellation, however often it
    is asked, until a cancellation says `HARD_STOP`; then pass the cancellation on.

    For a send whose outcome is recorded after the other side took it (a mail, a webhook):
    cut off between the two, it would be sent again by the next sender to look. Only a
    kill, or a stop out of time, still leaves that window open.
    """
    one = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(one)
    except asyncio.CancelledError as first:
        deadline = asyncio.get_running_loop().time() + timeout
        hard = _is_hard(first)
        while not hard and not one.done():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                await asyncio.wait([one], timeout=left)
            except asyncio.CancelledError as again:
                hard = _is_hard(again)
        if not one.done():
            one.cancel()
        raise


def _is_hard(cancellation: asyncio.CancelledError) -> bool:
    return bool(cancellation.args) and cancellation.args[0] == HARD_STOP


async def cancel_all(
    tasks: list[asyncio.Task[None]], recancel_after: float = 0.5, deadline: float | None = None
) -> None:
    """Cancel the tasks and wait until every one has finished. Work a task finishes first
    (`finished_first`) may hold it until `deadline` (the event loop's clock); from then on
    each cancellation is a `HARD_STOP`.

    A cancellation can be lost: nats-py's pull `fetch` sometimes swallows one (seen on
    Python 3.11, whose `asyncio.wait_for` drops a cancellation that arrives as its future
    completes), and the consumer loop then goes on fetching for ever, so shutdown would
    hang. Whatever still runs after `recancel_after` seconds is cancelled again.
    """
    loop = asyncio.get_running_loop()
    pending = {task for task in tasks if not task.done()}
    while pending:
        left = recancel_after if deadline is None else deadline - loop.time()
        hard = left <= 0
        for task in pending:
            task.cancel(HARD_STOP if hard else None)
        wait = recancel_after if hard else min(recancel_after, left)
        _, pending = await asyncio.wait(pending, timeout=wait)
    await asyncio.gather(*tasks, return_exceptions=True)


async def stop_all(
    tasks: list[asyncio.Task[None]], stopping: asyncio.Event, deadline: float
) -> None:
    """Ask the tasks to stop (`stopping`), let them finish until `deadline` (the event loop's
    clock), then cancel whatever still runs (`cancel_all`)."""
    stopping.set()
    if tasks:
        await asyncio.wait(tasks, timeout=max(deadline - asyncio.get_running_loop().time(), 0))
    await cancel_all(tasks)
