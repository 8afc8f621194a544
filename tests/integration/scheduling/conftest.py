"""Scheduling under test: in-process, with its own database and NATS, staff's key by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.scheduling.support import Scheduling, scheduling_service


@pytest.fixture
async def scheduling(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Scheduling]:
    async with scheduling_service(database_url, nats_url, tmp_path) as running:
        yield running
