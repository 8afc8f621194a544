"""PostgreSQL LISTEN on one connection per process, turned into wake-ups for workers.

A worker sleeps in `wait(channel, timeout)` and wakes when a transaction that NOTIFYs the
channel commits, or when the timeout passes: a lost notification costs at most one poll.
Any number of requests may also `watch(channel)` at once: each is woken by every
notification (a broadcast), where `wait` serves one worker. What lives as long as the
process (a cache) `follow`s a channel with a callback instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import asyncpg
import structlog

from shared.backoff import Backoff
from shared.db import Connection, connect
from shared.outages import OUTAGES
from shared.settings import DatabaseSettings

log = structlog.get_logger(__name__)

_PROBE_INTERVAL = 30.0


class Notifier:
    def __init__(self, settings: DatabaseSettings, schema: str, channels: list[str]) -> None:
        self._settings = settings
        self._schema = schema
        self._wakeups = {channel: asyncio.Event() for channel in channels}
        self._watchers: dict[str, set[asyncio.Event]] = {channel: set() for channel in channels}
        self._followers: dict[str, list[Callable[[], None]]] = {channel: [] for channel in channels}
        self.listening = False
        """Whether notifications arrive now; while not, any may be missed."""

    async def wait(self, channel: str, timeout: float) -> bool:
        """Sleep until `channel` is notified or `timeout` passes; True when notified."""
        wakeup = self._wakeups[channel]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout)
        notified = wakeup.is_set()
        wakeup.clear()
        return notified

    @contextlib.contextmanager
    def watch(self, channel: str) -> Iterator[asyncio.Event]:
        """An event set at every notification of `channel` while the block runs (clear it
        before each wait)."""
        watcher = asyncio.Event()
        self._watchers[channel].add(watcher)
        try:
            yield watcher
        finally:
            self._watchers[channel].discard(watcher)

    def follow(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback` at every notification of `channel` from now on, and whenever one
        may have been missed (the listening connection was lost and made again)."""
        self._followers[channel].append(callback)

    def wake_all(self) -> None:
        for channel in self._wakeups:
            self._wake(channel)

    def _wake(self, channel: str) -> None:
        self._wakeups[channel].set()
        for watcher in self._watchers[channel]:
            watcher.set()
        for callback in self._followers[channel]:
            callback()

    async def run(self) -> None:
        """Keep a listening connection open, reconnecting after the server goes away."""
        backoff = Backoff(first=0.2)
        while True:
            try:
                connection = await connect(self._settings, self._schema)
            except (OSError, asyncpg.PostgresError) as error:
                delay = backoff.delay()
                OUTAGES.failed("postgres", error)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            OUTAGES.answered("postgres")
            await self._listen(connection)

    async def _listen(self, connection: Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())

        def notified(_connection: object, _pid: int, channel: str, _payload: object) -> None:
            self._wake(channel)

        try:
            for channel in self._wakeups:
                await connection.add_listener(channel, notified)
            # Whatever was notified while we were not listening would be lost otherwise.
            self.listening = True
            self.wake_all()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), _PROBE_INTERVAL)
                if not lost.is_set():
                    # A silently dropped network connection never reports termination.
                    await connection.execute("SELECT 1", timeout=_PROBE_INTERVAL)
            OUTAGES.failed("postgres", "the notification connection was lost")
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            OUTAGES.failed("postgres", error)
        finally:
            self.listening = False
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
