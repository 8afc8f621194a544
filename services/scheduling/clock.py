"""The meeting clock: starts and ends meetings at their instants, exactly once.

It sleeps until the next start or end is due (or a meeting changes), then applies what is
due in one transaction per meeting, with the rows locked `FOR UPDATE SKIP LOCKED` so that
replicas never both fire one meeting. What fell due while no replica ran fires on start.
"""

from __future__ import annotations

import structlog

from services.scheduling import store
from services.scheduling.lifecycle import due_steps
from services.scheduling.meetings import Context, apply_steps
from shared.db import Pool, acquire
from shared.events import utc_now
from shared.notify import Notifier
from shared.timers import run_when_due

log = structlog.get_logger(__name__)


async def fire_due(pool: Pool, context: Context) -> int:
    """Start and end every meeting that is due now, one transaction each; returns how many
    changed."""
    changed = 0
    while True:
        async with acquire(pool) as connection, connection.transaction():
            now = utc_now()
            due = await store.due_meetings(connection, now, limit=1)
            for meeting in due:
                steps = due_steps(meeting.lifecycle(), now)
                after = await apply_steps(connection, meeting, steps, context)
                log.info(
                    "meeting clock fired",
                    meeting_id=str(meeting.id),
                    events=[step.event_type.__name__ for step in steps],
                    status=after.stored.status,
                )
        if not due:
            return changed
        changed += 1


async def run_clock(
    pool: Pool, notifier: Notifier, channel: str, max_sleep: float, context: Context
) -> None:
    async def fire() -> None:
        await fire_due(pool, context)

    async def seconds_until_due() -> float | None:
        # The clock that decides what is due (this process's) also measures the wait.
        async with acquire(pool) as connection:
            return await store.seconds_until_due(connection, utc_now())

    await run_when_due(fire, seconds_until_due, notifier, channel, max_sleep)
