"""Agenda publishing: agendas for meetings, and summaries written when meetings end."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from nats.aio.client import Client as NATS

from services.agenda.consumers import consumers
from services.agenda.routes import AgendaController, SummaryController
from shared.db import Pool
from shared.readmodels import registry
from shared.service import ServiceDefinition, build_app
from shared.settings import AgendaSettings, load_settings

NAME = "agenda"


def definition(settings: AgendaSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name=NAME,
        description="Agendas operators publish, and the summaries written when meetings end.",
        route_handlers=[AgendaController, SummaryController],
        migrations=Path(__file__).parent / "migrations",
        read_models=[registry.MIGRATIONS],
        consumers=consumers(settings.http.base_url),
    )


def get_settings() -> AgendaSettings:
    return load_settings(AgendaSettings, NAME)


def create_app(
    settings: AgendaSettings | None = None, *, pool: Pool | None = None, nats: NATS | None = None
) -> Litestar:
    settings = settings or get_settings()
    return build_app(definition(settings), settings, pool=pool, nats=nats)
