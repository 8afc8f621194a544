"""Waits between attempts that double up to a cap, each drawn at random from its upper half.

Every loop that retries (fetching from NATS, publishing the outbox, listening to
PostgreSQL, restarting a worker, re-delivering an event or a mail) waits through this, so
that replicas which failed together do not all come back in the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

_RANDOM = secrets.SystemRandom()


def doubling(first: float, attempt: int, longest: float) -> float:
    """The wait after the `attempt`-th failure in a row (1 for the first), jittered."""
    # Past 2**60 any wait is at the cap; a larger power overflows a float.
    ceiling = min(first * 2.0 ** min(max(attempt, 1) - 1, 60), longest)
    return _RANDOM.uniform(ceiling / 2, ceiling)


class Backoff:
    """The waits of one retrying loop: longer after each failure, short again after success."""

    def __init__(self, first: float, longest: float = 5.0) -> None:
        self._first = first
        self._longest = longest
        self._failures = 0

    def delay(self) -> float:
        """The wait before the next attempt, counting one more failure."""
        self._failures += 1
        return doubling(self._first, self._failures, self._longest)

    async def wait(self, cut_short_by: asyncio.Event | None = None) -> None:
        """Sleep the next delay, or until `cut_short_by` is set (the loop is asked to stop)."""
        if cut_short_by is None:
            await asyncio.sleep(self.delay())
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cut_short_by.wait(), self.delay())

    def reset(self) -> None:
        self._failures = 0
