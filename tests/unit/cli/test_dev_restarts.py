"""`telebridge dev` restarts what died, and gives up on what keeps dying, naming it."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from shared.backoff import Backoff
from telebridge.dev import CRASHES_TOLERATED, DevError, Watched


def test_what_dies_is_restarted_and_what_keeps_dying_stops_everything(tmp_path: Path) -> None:
    starts: list[float] = []
    output = io.StringIO()
    console = Console(file=output, width=200)
    nats = Watched(
        "NATS",
        tmp_path / "nats.log",
        exit_status=lambda: -9,  # dies again as soon as it is started
        start=lambda: starts.append(time.monotonic()),
        backoff=Backoff(first=0.001, longest=0.001),
    )
    with pytest.raises(DevError) as stopped:
        _check_for(nats, console, seconds=10)
    assert len(starts) == CRASHES_TOLERATED
    assert output.getvalue().count("NATS died (exit status -9); restarting it") == len(starts)
    assert output.getvalue().count("NATS restarted") == len(starts)
    assert "NATS died 6 times" in str(stopped.value)
    assert str(tmp_path / "nats.log") in str(stopped.value)


def test_what_runs_is_left_alone(tmp_path: Path) -> None:
    starts: list[float] = []
    registry = Watched(
        "registry",
        tmp_path / "registry.log",
        exit_status=lambda: None,
        start=lambda: starts.append(0),
    )
    for _ in range(10):
        registry.check(Console(file=io.StringIO()))
    assert starts == []


def _check_for(watched: Watched, console: Console, seconds: float) -> None:
    """What `telebridge dev` does while it runs, faster."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        watched.check(console)
        time.sleep(0.002)
