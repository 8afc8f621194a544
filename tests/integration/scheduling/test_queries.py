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
from tests.integration.api import body
from tests.integration.scheduling.support import NEXT_DAY, Scheduling, path_of
from tests.support import OPERATOR, eventually, harness, settings_for

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

DAY_AFTER = {"starts_at": "2030-10-03T11:00:00+03:00", "ends_at": "2030-10-03T13:00:00+03:00"}


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


async def _statements_of_polls(
    scheduling: Scheduling, statements: list[str], url: str, etag: str | None
) -> tuple[list[bytes], list[str]]:
    """The bodies of ten polls of a feed (with `etag` as If-None-Match, when given) and the
    statements they ran on feeds and their entries."""
    statements.clear()
    headers = {} if etag is None else {"If-None-Match": etag}
    bodies = []
    for _ in range(10):
        response = await scheduling.client.get(path_of(url), headers=headers)
        assert response.status_code == (200 if etag is None else 304), response.text
        bodies.append(response.content)
    await asyncio.sleep(0.2)  # asyncpg calls query loggers soon after, not during
    return bodies, [query for query in statements if "feeds" in query or "calendar_" in query]


async def test_polls_of_an_unchanged_feed_run_no_statement_until_it_changes(
    counted: tuple[Scheduling, list[str]],
) -> None:
    scheduling, statements = counted
    moscow, vladivostok = await scheduling.moscow(), await scheduling.vladivostok()
    await scheduling.telebridge(moscow, vladivostok)
    feed = body(
        await scheduling.client.post(
            "/feeds", json={"kind": "organization", "organization_id": str(moscow)}
        ),
        201,
    )
    first = await scheduling.client.get(path_of(feed["url"]))
    etag = first.headers["etag"]

    bodies, ran = await _statements_of_polls(scheduling, statements, feed["url"], None)
    assert ran == []
    assert set(bodies) == {first.content}
    _, ran = await _statements_of_polls(scheduling, statements, feed["url"], etag)
    assert ran == []

    # A meeting of other sites changes no entry of this feed: the body kept is still
    # served, once the database has said its ETag holds.
    other = await scheduling.organization(
        "Библиотека на другом конце", "Приморский край", "Asia/Vladivostok"
    )
    await scheduling.telebridge(other, vladivostok, **NEXT_DAY)

    async def revalidated() -> list[str] | None:
        _, ran = await _statements_of_polls(scheduling, statements, feed["url"], etag)
        return ran or None

    ran = await eventually(revalidated)
    assert not any("ORDER BY e.starts_at" in query for query in ran), ran

    # A meeting of its own is in the next poll, and the ETag moves.
    await scheduling.telebridge(moscow, other, title="Вторая встреча", **DAY_AFTER)

    async def changed() -> bytes | None:
        response = await scheduling.client.get(
            path_of(feed["url"]), headers={"If-None-Match": etag}
        )
        return response.content if response.status_code == 200 else None

    assert "Вторая встреча".encode() in await eventually(changed)
