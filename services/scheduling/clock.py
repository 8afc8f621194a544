"""The meeting clock: starts and ends meetings at their instants, exactly once.

It sleeps until the next start or end is due (or a meeting changes), then applies what is
due in one transaction per meeting, with the rows locked `FOR UPDATE SKIP LOCKED` so that
replicas never both fire one meeting. What fell due while no replica ran fires on start.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from services.scheduling import store
from services.scheduling.lifecycle import due_steps
from services.scheduling.meetings import apply_steps
from shared.db import Pool
from shared.events import utc_now
from shared.notify import Notifier
from shared.timers import run_when_due

log = structlog.get_logger(__name__)

_BATCH = 50


async def fire_due(pool: Pool) -> int:
    """Start and end every meeting that is due now; returns how many changed."""
    changed = 0
    while True:
        async with pool.acquire() as connection, connection.transaction():
            now = utc_now()
            due = await store.due_meetings(connection, now, _BATCH)
            for meeting in due:
                steps = due_steps(store.lifecycle_of(meeting), now)
                after = await apply_steps(connection, meeting, steps)
                log.info(
                    "meeting clock fired",
                    meeting_id=str(meeting["id"]),
                    events=[step.event_type.__name__ for step in steps],
                    status=after["status"],
                )
        changed += len(due)
        if len(due) < _BATCH:
            return changed


async def run_clock(pool: Pool, notifier: Notifier, channel: str, max_sleep: float) -> None:
    async def fire() -> None:
        await fire_due(pool)

    async def next_due() -> datetime | None:
        async with pool.acquire() as connection:
            return await store.next_due(connection)

    await run_when_due(fire, next_due, notifier, channel, max_sleep)
