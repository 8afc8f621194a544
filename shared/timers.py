"""Work that falls due at instants stored in PostgreSQL, done on time by any replica.

`run_when_due` does what is due, asks how long until the next thing falls due, and sleeps
that long, or until a NOTIFY on `channel` says the instants changed, or `max_sleep`
passes. The work itself claims its rows `FOR UPDATE SKIP LOCKED`, so replicas share it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shared.notify import Notifier

MIN_SLEEP = 0.05
"""Keeps a row locked by another replica from turning the loop into a spin."""


async def run_when_due(
    fire: Callable[[], Awaitable[None]],
    seconds_until_due: Callable[[], Awaitable[float | None]],
    notifier: Notifier,
    channel: str,
    max_sleep: float,
) -> None:
    """`seconds_until_due` measures with the same clock `fire` decides by, so two clocks
    that disagree cannot make the loop wake early and spin."""
    while True:
        await fire()
        seconds = await seconds_until_due()
        sleep = max_sleep if seconds is None else min(max(seconds, MIN_SLEEP), max_sleep)
        await notifier.wait(channel, sleep)
