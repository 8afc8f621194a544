"""The agenda service's SQL: agendas, summaries, and its read model of meetings."""

from __future__ import annotations

from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from services.agenda.schemas import AgendaItem, SummaryContent
from shared.db import Connection
from shared.events import MeetingEvent

_MEETING: Final = "SELECT * FROM meetings WHERE id = $1"
_UPSERT_MEETING: Final = """
INSERT INTO meetings (id, title, kind, status, host_organization_id, organization_ids,
                      starts_at, ends_at, started_at, ended_at, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO UPDATE SET
    title = EXCLUDED.title, kind = EXCLUDED.kind, status = EXCLUDED.status,
    host_organization_id = EXCLUDED.host_organization_id,
    organization_ids = EXCLUDED.organization_ids, starts_at = EXCLUDED.starts_at,
    ends_at = EXCLUDED.ends_at, started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at, version = EXCLUDED.version
"""
_AGENDA: Final = "SELECT * FROM agendas WHERE meeting_id = $1"
_PUT_AGENDA: Final = """
INSERT INTO agendas AS a (meeting_id, id, items) VALUES ($1, $2, $3)
ON CONFLICT (meeting_id) DO UPDATE SET items = EXCLUDED.items, version = a.version + 1,
    updated_at = now()
RETURNING *
"""
_SUMMARY: Final = "SELECT * FROM summaries WHERE meeting_id = $1"
_PUT_SUMMARY: Final = """
INSERT INTO summaries AS s (meeting_id, id, content) VALUES ($1, $2, $3)
ON CONFLICT (meeting_id) DO UPDATE SET content = EXCLUDED.content, version = s.version + 1,
    published_at = now()
RETURNING *
"""
_ORGANIZATIONS: Final = "SELECT * FROM organizations WHERE id = ANY($1::uuid[])"
_PARTICIPANT_ORGANIZATIONS: Final = """
SELECT organization_id FROM registrations WHERE meeting_id = $1 AND status = 'registered'
ORDER BY id
"""
_LOCK_MEETING: Final = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))"


async def meeting(connection: Connection, meeting_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_MEETING, meeting_id)
    return row


async def upsert_meeting(connection: Connection, event: MeetingEvent) -> None:
    await connection.execute(
        _UPSERT_MEETING,
        event.aggregate_id,
        event.title,
        event.kind,
        event.status,
        event.host_organization_id,
        event.organization_ids,
        event.starts_at,
        event.ends_at,
        event.started_at,
        event.ended_at,
        event.aggregate_version,
    )


async def agenda(connection: Connection, meeting_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_AGENDA, meeting_id)
    return row


def items_of(agenda: asyncpg.Record | None) -> list[AgendaItem]:
    return msgspec.convert(agenda["items"], list[AgendaItem]) if agenda else []


async def put_agenda(
    connection: Connection, meeting_id: UUID, agenda_id: UUID, items: list[AgendaItem]
) -> asyncpg.Record:
    row = await connection.fetchrow(_PUT_AGENDA, meeting_id, agenda_id, items)
    assert row is not None
    return row


async def lock_meeting(connection: Connection, meeting_id: UUID) -> None:
    """Serialise writers of one meeting's summary until the transaction ends."""
    await connection.execute(_LOCK_MEETING, str(meeting_id))


async def summary(connection: Connection, meeting_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_SUMMARY, meeting_id)
    return row


def content_of(summary: asyncpg.Record) -> SummaryContent:
    return msgspec.convert(summary["content"], SummaryContent)


async def put_summary(
    connection: Connection, meeting_id: UUID, summary_id: UUID, content: SummaryContent
) -> asyncpg.Record:
    row = await connection.fetchrow(_PUT_SUMMARY, meeting_id, summary_id, content)
    assert row is not None
    return row


async def organizations(connection: Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    return await connection.fetch(_ORGANIZATIONS, ids)


async def participant_organizations(connection: Connection, meeting_id: UUID) -> list[UUID]:
    rows = await connection.fetch(_PARTICIPANT_ORGANIZATIONS, meeting_id)
    return [row["organization_id"] for row in rows]
