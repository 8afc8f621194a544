"""Supervised background work: restarted when it ends, unless it was asked to stop."""

from __future__ import annotations

import asyncio

from shared.workers import cancel_all, finished_first, stop_all, supervise


class Loop:
    """A worker that counts its runs and returns when told to (or at once)."""

    def __init__(self, *, returns: bool = True, fails: bool = False) -> None:
        self.runs = 0
        self.started = asyncio.Event()
        self.restarted = asyncio.Event()
        self._returns = returns
        self._fails = fails

    async def __call__(self) -> None:
        self.runs += 1
        (self.restarted if self.started.is_set() else self.started).set()
        if self._fails:
            raise RuntimeError("the loop failed")
        if not self._returns:
            await asyncio.Event().wait()


async def test_a_loop_that_returns_unasked_is_started_again() -> None:
    loop = Loop()
    task = asyncio.create_task(supervise("returns", loop, asyncio.Event()))
    try:
        await asyncio.wait_for(loop.restarted.wait(), timeout=5)
    finally:
        task.cancel()


async def test_a_loop_that_returns_once_asked_to_stop_is_not_started_again() -> None:
    stopping = asyncio.Event()
    stopping.set()
    loop = Loop()

    await asyncio.wait_for(supervise("stopped", loop, stopping), timeout=1)

    assert loop.runs == 1


async def test_a_loop_waiting_to_be_started_again_stops_at_once_when_asked() -> None:
    """It failed a moment ago and its supervisor waits before the next run: asked to stop,
    the supervisor returns without that run (the first wait alone is at least 0.25 s)."""
    stopping = asyncio.Event()
    loop = Loop(fails=True)
    task = asyncio.create_task(supervise("failing", loop, stopping))
    await asyncio.wait_for(loop.started.wait(), timeout=1)

    stopping.set()
    await asyncio.wait_for(task, timeout=0.2)

    assert loop.runs == 1


async def test_stop_all_cancels_what_still_runs_at_the_deadline() -> None:
    stopping = asyncio.Event()
    obedient = asyncio.create_task(supervise("obedient", Loop(), stopping))
    stubborn_loop = Loop(returns=False)
    stubborn = asyncio.create_task(supervise("stubborn", stubborn_loop, stopping))
    await asyncio.wait_for(stubborn_loop.started.wait(), timeout=1)
    loop_time = asyncio.get_running_loop().time

    started = loop_time()
    await asyncio.wait_for(stop_all([obedient, stubborn], stopping, started + 0.3), timeout=5)

    assert loop_time() - started >= 0.3
    assert obedient.done()
    assert not obedient.cancelled()
    assert stubborn.cancelled()


async def test_work_in_hand_is_finished_first_until_the_stop_runs_out_of_time() -> None:
    """Cancelled, the worker finishes the send in hand; cancelled again, it goes on; at the
    stop's deadline it is cut off."""
    finished: list[str] = []

    async def send(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        finished.append(name)

    async def worker(name: str, seconds: float) -> None:
        await finished_first(send(name, seconds), timeout=60)

    loop_time = asyncio.get_running_loop().time
    quick = asyncio.create_task(worker("quick", 0.3))
    slow = asyncio.create_task(worker("slow", 30))
    await asyncio.sleep(0.05)
    started = loop_time()
    await asyncio.wait_for(
        cancel_all([quick, slow], recancel_after=0.1, deadline=started + 1.0), timeout=5
    )
    assert finished == ["quick"]
    assert quick.cancelled()
    assert slow.cancelled()
    assert 1.0 <= loop_time() - started < 2.0
