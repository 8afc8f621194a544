"""Scheduling: meetings with their sites, the meeting clock, and iCalendar invites."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from litestar import Litestar
from nats.aio.client import Client as NATS

from services.scheduling.clock import run_clock
from services.scheduling.consumers import REGISTRY_EVENTS
from services.scheduling.routes import MeetingController
from shared.db import Pool
from shared.readmodels import registry
from shared.service import Runtime, ServiceDefinition, build_app
from shared.settings import SchedulingSettings, load_settings

NAME = "scheduling"
MEETINGS_CHANNEL = f"{NAME}.meetings"


async def meeting_clock(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, SchedulingSettings)
    await run_clock(runtime.pool, runtime.notifier, MEETINGS_CHANNEL, settings.clock_max_sleep)


DEFINITION = ServiceDefinition(
    name=NAME,
    description="Meetings between sites in different time zones, their clock and invites.",
    route_handlers=[MeetingController],
    migrations=Path(__file__).parent / "migrations",
    read_models=[registry.MIGRATIONS],
    consumers=[REGISTRY_EVENTS],
    workers=[("meeting-clock", meeting_clock)],
    notify_channels=[MEETINGS_CHANNEL],
)


@cache
def get_settings() -> SchedulingSettings:
    """The settings from the environment, read once per process."""
    return load_settings(SchedulingSettings, NAME)


def create_app(
    settings: SchedulingSettings | None = None,
    *,
    pool: Pool | None = None,
    nats: NATS | None = None,
) -> Litestar:
    return build_app(DEFINITION, settings or get_settings(), pool=pool, nats=nats)
