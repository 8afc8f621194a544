"""Scheduling: meetings with their sites and sessions, slot search, the meeting clock,
iCalendar invites and the mail that carries them, and subscription feeds."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import structlog
from litestar import Litestar
from nats.aio.client import Client as NATS

from services.scheduling import assembled
from services.scheduling.access import IDS
from services.scheduling.assembled import AssembledFeeds
from services.scheduling.clock import run_clock
from services.scheduling.consumers import agenda_events, registry_events
from services.scheduling.mail import queue
from services.scheduling.mail.sender import run_sender
from services.scheduling.meetings import Context, render_stale_entries
from services.scheduling.routes import (
    CalendarController,
    FeedController,
    MeetingController,
    SlotController,
)
from shared.db import Pool
from shared.readmodels import registry
from shared.service import Runtime, ServiceDefinition, build_app
from shared.settings import SchedulingSettings, load_settings

log = structlog.get_logger(__name__)

NAME = "scheduling"
MEETINGS_CHANNEL = f"{NAME}.meetings"
MAIL_CHANNEL = f"{NAME}.outgoing_mail"


async def meeting_clock(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, SchedulingSettings)
    await run_clock(
        runtime.pool,
        runtime.notifier,
        MEETINGS_CHANNEL,
        settings.clock_max_sleep,
        Context.of(settings),
    )


async def calendar_entries_rendered_anew(runtime: Runtime) -> None:
    """On start: entries an earlier version of the service rendered say what invites say."""
    settings = runtime.settings
    assert isinstance(settings, SchedulingSettings)
    if count := await render_stale_entries(runtime.pool, Context.of(settings)):
        log.info("calendar entries rendered anew", meetings=count)


async def mail_sender(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, SchedulingSettings)
    await run_sender(
        runtime.pool,
        runtime.notifier,
        MAIL_CHANNEL,
        smtp=settings.smtp,
        max_sleep=settings.clock_max_sleep,
        context=Context.of(settings),
    )


DEFINITION = ServiceDefinition(
    name=NAME,
    description="Meetings between sites in different time zones, their clock and invites.",
    route_handlers=[MeetingController, SlotController, FeedController, CalendarController],
    migrations=Path(__file__).parent / "migrations",
    read_models=[registry.MIGRATIONS],
    consumers=[registry_events, agenda_events],
    workers=[("meeting-clock", meeting_clock), ("mail-sender", mail_sender)],
    probes=[("mail-queue", queue.readings)],
    on_start=[calendar_entries_rendered_anew],
    notify_channels=[MEETINGS_CHANNEL, MAIL_CHANNEL, assembled.CHANNEL],
    ids=IDS,
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
    settings = settings or get_settings()
    app = build_app(DEFINITION, settings, pool=pool, nats=nats)
    app.state.assembled_feeds = AssembledFeeds(settings.assembled_feeds_size)
    return app
