"""Scheduling under test: in-process, with its own database and NATS, staff's key by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.scheduling.app import create_app
from shared.settings import SchedulingSettings, SmtpSettings
from telebridge.embedded import free_port
from telebridge.mailsink import mail_sink
from tests.integration.scheduling.support import Scheduling
from tests.support import OPERATOR, harness, settings_for


@pytest.fixture
async def scheduling(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Scheduling]:
    """Sending its mail to the SMTP server of `telebridge dev`, on a port of its own."""
    port = free_port()
    smtp = SmtpSettings(port=port, retry_after=0.2)
    app = create_app(settings_for(SchedulingSettings, database_url, nats_url, smtp=smtp))
    with mail_sink(tmp_path / "mail", port):
        async with harness(app, database_url, nats_url) as running:
            running.client.headers.update(OPERATOR)
            yield Scheduling(running.client, running.js, running.database, tmp_path / "mail")
