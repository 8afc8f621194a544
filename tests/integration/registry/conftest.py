"""The registry under test: in-process, with its own database and NATS, staff's key by default."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.registry.app import create_app
from shared.settings import RegistrySettings
from tests.integration.registry.support import Registry
from tests.support import ADMIN_KEY, OPERATOR, harness, settings_for


@pytest.fixture
async def registry(database_url: str, nats_url: str) -> AsyncIterator[Registry]:
    app = create_app(settings_for(RegistrySettings, database_url, nats_url, admin_key=ADMIN_KEY))
    async with harness(app, database_url, nats_url) as running:
        running.client.headers.update(OPERATOR)
        yield Registry(running.client, running.js, running.database)
