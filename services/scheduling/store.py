"""Scheduling's SQL: meetings and their sites, and read models of the registry's data."""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

from services.scheduling.lifecycle import Lifecycle
from shared.db import Connection

_INSERT_MEETING: Final = """
INSERT INTO meetings (id, title, kind, host_organization_id, starts_at, ends_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *
"""
_INSERT_SITES: Final = """
INSERT INTO meeting_sites (meeting_id, organization_id, position)
SELECT $1, organization_id, position
FROM unnest($2::uuid[]) WITH ORDINALITY AS site (organization_id, position)
"""
_MEETING: Final = "SELECT * FROM meetings WHERE id = $1"
_MEETING_FOR_UPDATE: Final = "SELECT * FROM meetings WHERE id = $1 FOR UPDATE"
_MEETINGS: Final = """
SELECT * FROM meetings WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2
"""
_SITES: Final = """
SELECT s.meeting_id, s.organization_id, o.name, o.region, o.timezone
FROM meeting_sites s JOIN organizations o ON o.id = s.organization_id
WHERE s.meeting_id = ANY($1::uuid[])
ORDER BY s.meeting_id, s.position
"""
_SITE_IDS: Final = """
SELECT organization_id FROM meeting_sites WHERE meeting_id = $1 ORDER BY position
"""
_APPLY_STEP: Final = """
UPDATE meetings
SET status = $2, started_at = $3, ended_at = $4, version = version + 1,
    sequence = sequence + $5::int, updated_at = now()
WHERE id = $1
RETURNING *
"""
_DUE: Final = """
SELECT * FROM meetings
WHERE (status = 'scheduled' AND starts_at <= $1) OR (status = 'live' AND ends_at <= $1)
ORDER BY starts_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
_SECONDS_UNTIL_DUE: Final = """
SELECT extract(epoch FROM min(due) - $1)::float8 FROM (
    SELECT min(starts_at) AS due FROM meetings WHERE status = 'scheduled'
    UNION ALL
    SELECT min(ends_at) FROM meetings WHERE status = 'live'
) AS instants
"""
_KNOWN_ORGANIZATIONS: Final = "SELECT id FROM organizations WHERE id = ANY($1::uuid[])"
_ATTENDEES: Final = """
SELECT p.id, p.name, p.email, o.name AS organization, r.rsvp, r.role
FROM registrations r
JOIN people p ON p.id = r.person_id
LEFT JOIN organizations o ON o.id = p.organization_id
WHERE r.meeting_id = $1 AND r.status = 'registered'
ORDER BY p.name, p.id
"""


def lifecycle_of(meeting: asyncpg.Record) -> Lifecycle:
    return Lifecycle(
        status=meeting["status"],
        starts_at=meeting["starts_at"],
        ends_at=meeting["ends_at"],
        started_at=meeting["started_at"],
        ended_at=meeting["ended_at"],
    )


async def insert_meeting(
    connection: Connection,
    meeting_id: UUID,
    *,
    title: str,
    kind: str,
    host_organization_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    site_ids: list[UUID],
) -> asyncpg.Record:
    meeting = await connection.fetchrow(
        _INSERT_MEETING, meeting_id, title, kind, host_organization_id, starts_at, ends_at
    )
    await connection.execute(_INSERT_SITES, meeting_id, site_ids)
    assert meeting is not None
    return meeting


async def meeting(
    connection: Connection, meeting_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    query = _MEETING_FOR_UPDATE if for_update else _MEETING
    row: asyncpg.Record | None = await connection.fetchrow(query, meeting_id)
    return row


async def meetings(connection: Connection, after: UUID | None, limit: int) -> list[asyncpg.Record]:
    return await connection.fetch(_MEETINGS, after, limit)


async def sites(connection: Connection, meeting_ids: list[UUID]) -> list[asyncpg.Record]:
    """Sites of these meetings whose organization scheduling knows, host first."""
    return await connection.fetch(_SITES, meeting_ids)


async def site_ids(connection: Connection, meeting_id: UUID) -> list[UUID]:
    return [row["organization_id"] for row in await connection.fetch(_SITE_IDS, meeting_id)]


async def apply_lifecycle(
    connection: Connection, meeting_id: UUID, state: Lifecycle, *, changes_invite: bool
) -> asyncpg.Record:
    row = await connection.fetchrow(
        _APPLY_STEP,
        meeting_id,
        state.status,
        state.started_at,
        state.ended_at,
        1 if changes_invite else 0,
    )
    assert row is not None
    return row


async def due_meetings(connection: Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Meetings whose start or end has passed, locked; other replicas skip them."""
    return await connection.fetch(_DUE, now, limit)


async def seconds_until_due(connection: Connection, now: datetime) -> float | None:
    """How long after `now` the next start or end falls due (negative: overdue)."""
    seconds: float | None = await connection.fetchval(_SECONDS_UNTIL_DUE, now)
    return seconds


async def unknown_organizations(connection: Connection, ids: list[UUID]) -> list[UUID]:
    known = {row["id"] for row in await connection.fetch(_KNOWN_ORGANIZATIONS, ids)}
    return [organization_id for organization_id in ids if organization_id not in known]


async def attendees(connection: Connection, meeting_id: UUID) -> list[asyncpg.Record]:
    return await connection.fetch(_ATTENDEES, meeting_id)
