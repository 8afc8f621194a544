"""Work that falls due at instants stored in PostgreSQL, done on time by any replica.

`run_when_due` does what is due, asks when the next thing falls due, and sleeps until
then, or until a NOTIFY on `channel` says the instants changed, or `max_sleep` passes.
The work itself claims its rows `FOR UPDATE SKIP LOCKED`, so replicas share it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from shared.events import utc_now
from shared.notify import Notifier

MIN_SLEEP = 0.05
"""Keeps a row locked by another replica from turning the loop into a spin."""


async def run_when_due(
    fire: Callable[[], Awaitable[None]],
    next_due: Callable[[], Awaitable[datetime | None]],
    notifier: Notifier,
    channel: str,
    max_sleep: float,
) -> None:
    while True:
        await fire()
        due = await next_due()
        sleep = max_sleep
        if due is not None:
            sleep = min(max((due - utc_now()).total_seconds(), MIN_SLEEP), max_sleep)
        await notifier.wait(channel, sleep)
