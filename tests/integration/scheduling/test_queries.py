"""A page of meetings loads their sites and sessions with a fixed number of statements,
however many meetings it holds: never one statement per meeting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.scheduling.app import create_app
from shared import db
from shared.settings import SchedulingSettings
from tests.integration.scheduling.support import Scheduling
from tests.support import OPERATOR, harness, settings_for

_CLONE = """
WITH clones AS (SELECT gen_random_uuid() AS id FROM generate_series(1, $2)),
meetings AS (
    INSERT INTO scheduling.meetings
    SELECT (jsonb_populate_record(m, jsonb_build_object('id', c.id))).*
    FROM scheduling.meetings m, clones c WHERE m.id = $1
    RETURNING id
),
sites AS (
    INSERT INTO scheduling.meeting_sites
    SELECT (jsonb_populate_record(s, jsonb_build_object('meeting_id', c.id))).*
    FROM scheduling.meeting_sites s, meetings c WHERE s.meeting_id = $1
)
INSERT INTO scheduling.meeting_sessions
SELECT (jsonb_populate_record(
    s, jsonb_build_object('id', gen_random_uuid(), 'meeting_id', c.id))).*
FROM scheduling.meeting_sessions s, meetings c WHERE s.meeting_id = $1
"""


@pytest.fixture
async def counted(
    database_url: str, nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Scheduling, list[str]]]:
    """The service, every connection of its pool logging the statements it runs."""
    statements: list[str] = []
    init = db._init_connection

    async def logging_init(connection: asyncpg.Connection) -> None:
        await init(connection)
        connection.add_query_logger(lambda logged: statements.append(logged.query))

    monkeypatch.setattr(db, "_init_connection", logging_init)
    settings = settings_for(SchedulingSettings, database_url, nats_url)
    async with harness(create_app(settings), database_url, nats_url) as running:
        running.client.headers.update(OPERATOR)
        yield Scheduling(running.client, running.js, running.database, tmp_path), statements


async def _statements_of_page(
    scheduling: Scheduling, statements: list[str], limit: int
) -> list[str]:
    """The statements that read meetings' sites and sessions while a page is answered (the
    service's workers run statements of their own meanwhile: those are left out)."""
    statements.clear()
    response = await scheduling.client.get("/meetings", params={"limit": limit})
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == limit
    await asyncio.sleep(0.2)  # asyncpg calls query loggers soon after, not during
    return [
        query for query in statements if "meeting_sites" in query or "meeting_sessions" in query
    ]


async def test_a_page_of_200_meetings_runs_as_many_statements_as_a_page_of_one(
    counted: tuple[Scheduling, list[str]],
) -> None:
    scheduling, statements = counted
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(moscow, vladivostok)
    await scheduling.database.execute(_CLONE, meeting["id"], 199)
    one = await _statements_of_page(scheduling, statements, 1)
    many = await _statements_of_page(scheduling, statements, 200)
    assert len(many) == len(one), many
    assert len(one) <= 4, one
