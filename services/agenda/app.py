"""Agenda publishing: agendas for meetings, and summaries written when meetings end."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from litestar import Litestar
from nats.aio.client import Client as NATS

from services.agenda.agendas.routes import AgendaController, AgendaPageController
from services.agenda.consumers import ATTENDANCE, MEETINGS, REGISTRY_EVENTS
from services.agenda.summaries import store
from services.agenda.summaries.routes import SummaryController, SummaryPageController
from services.agenda.summaries.summaries import write_requested_summaries
from shared.db import Pool, acquire
from shared.readmodels import meetings, registry
from shared.service import Runtime, ServiceDefinition, build_app
from shared.settings import AgendaSettings, load_settings
from shared.timers import run_when_due

NAME = "agenda"
SUMMARY_REQUESTS_CHANNEL = f"{NAME}.summary_requests"


async def summary_writer(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, AgendaSettings)
    pool = runtime.pool

    async def write() -> None:
        await write_requested_summaries(pool, settings.summary_quiet)

    async def seconds_until_due() -> float | None:
        async with acquire(pool) as connection:
            return await store.seconds_until_summary_due(connection, settings.summary_quiet)

    await run_when_due(write, seconds_until_due, runtime.notifier, SUMMARY_REQUESTS_CHANNEL, 60.0)


DEFINITION = ServiceDefinition(
    name=NAME,
    description="Agendas operators publish, and the summaries written when meetings end.",
    route_handlers=[
        AgendaController,
        AgendaPageController,
        SummaryController,
        SummaryPageController,
    ],
    migrations=Path(__file__).parent / "migrations",
    read_models=[meetings.MIGRATIONS, registry.MIGRATIONS],
    consumers=[MEETINGS, REGISTRY_EVENTS, ATTENDANCE],
    workers=[("summary-writer", summary_writer)],
    notify_channels=[SUMMARY_REQUESTS_CHANNEL],
)


@cache
def get_settings() -> AgendaSettings:
    """The settings from the environment, read once per process."""
    return load_settings(AgendaSettings, NAME)


def create_app(
    settings: AgendaSettings | None = None, *, pool: Pool | None = None, nats: NATS | None = None
) -> Litestar:
    return build_app(DEFINITION, settings or get_settings(), pool=pool, nats=nats)
