"""Background work that must keep running: restarted with a growing pause if it fails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def supervise(name: str, work: Callable[[], Awaitable[None]]) -> None:
    delay = 0.5
    while True:
        started = time.monotonic()
        try:
            await work()
            log.warning("worker stopped; restarting", worker=name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker failed; restarting", worker=name, retry_in=delay)
        if time.monotonic() - started > 60:
            delay = 0.5
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
