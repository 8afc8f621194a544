"""Agenda publishing under test: in-process, with its own database and NATS, staff's key
by default."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.agenda.app import create_app
from shared.settings import AgendaSettings
from tests.integration.agenda.support import Agenda
from tests.support import OPERATOR, harness, settings_for


@pytest.fixture
async def agenda(database_url: str, nats_url: str) -> AsyncIterator[Agenda]:
    app = create_app(settings_for(AgendaSettings, database_url, nats_url, summary_quiet=0.2))
    async with harness(app, database_url, nats_url) as running:
        running.client.headers.update(OPERATOR)
        yield Agenda(running.client, running.js, running.database)
