"""The SQL of summaries: each meeting's versions and its head, and the facts they are
written from (registrations and attendance, kept from the registry's events)."""

from __future__ import annotations

from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from services.agenda.schemas import Outcomes, SummaryContent
from services.agenda.summary import Attendance
from shared.db import Connection
from shared.events import AttendanceRecorded

_HEAD: Final = "SELECT * FROM summaries WHERE meeting_id = $1"
_NEW_HEAD: Final = """
INSERT INTO summaries (meeting_id, id) VALUES ($1, $2)
ON CONFLICT (meeting_id) DO NOTHING
"""
_LOCKED_HEAD: Final = "SELECT * FROM summaries WHERE meeting_id = $1 FOR UPDATE"
_ADD_VERSION: Final = """
WITH head AS (
    UPDATE summaries SET latest_version = latest_version + 1
    WHERE meeting_id = $1
    RETURNING latest_version
)
INSERT INTO summary_versions (meeting_id, version, content, outcomes, created_by)
SELECT $1, latest_version, $2, $3, $4 FROM head
RETURNING *
"""
_PUBLISH: Final = """
UPDATE summaries SET published_version = $2, published_at = now(),
    event_version = event_version + 1
WHERE meeting_id = $1
RETURNING *
"""
_VERSION: Final = "SELECT * FROM summary_versions WHERE meeting_id = $1 AND version = $2"
_VERSIONS: Final = "SELECT * FROM summary_versions WHERE meeting_id = $1 ORDER BY version DESC"
_PARTICIPANT_ORGANIZATIONS: Final = """
SELECT organization_id FROM registrations WHERE meeting_id = $1 AND status = 'registered'
ORDER BY id
"""
_RECORD_ATTENDANCE: Final = """
INSERT INTO attendance (id, meeting_id, session_id, organization_id, person_id, attended,
                        headcount, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET attended = EXCLUDED.attended, headcount = EXCLUDED.headcount,
    version = EXCLUDED.version
WHERE attendance.version < EXCLUDED.version
"""
_ATTENDANCE: Final = """
SELECT session_id, organization_id, person_id, attended, headcount FROM attendance
WHERE meeting_id = $1
"""


async def head(connection: Connection, meeting_id: UUID) -> asyncpg.Record | None:
    """The latest and the published version numbers of a meeting's summary."""
    row: asyncpg.Record | None = await connection.fetchrow(_HEAD, meeting_id)
    return row


async def locked_head(connection: Connection, meeting_id: UUID, summary_id: UUID) -> asyncpg.Record:
    """The head, made if the meeting has none yet, locked until the transaction ends."""
    await connection.execute(_NEW_HEAD, meeting_id, summary_id)
    row: asyncpg.Record | None = await connection.fetchrow(_LOCKED_HEAD, meeting_id)
    assert row is not None
    return row


async def add_version(
    connection: Connection,
    meeting_id: UUID,
    content: SummaryContent,
    outcomes: Outcomes,
    created_by: str,
) -> asyncpg.Record:
    row = await connection.fetchrow(_ADD_VERSION, meeting_id, content, outcomes, created_by)
    assert row is not None
    return row


async def publish(connection: Connection, meeting_id: UUID, version: int) -> asyncpg.Record:
    row = await connection.fetchrow(_PUBLISH, meeting_id, version)
    assert row is not None
    return row


async def version(connection: Connection, meeting_id: UUID, number: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_VERSION, meeting_id, number)
    return row


async def versions(connection: Connection, meeting_id: UUID) -> list[asyncpg.Record]:
    """Every version, newest first."""
    return await connection.fetch(_VERSIONS, meeting_id)


def content_of(version: asyncpg.Record) -> SummaryContent:
    return msgspec.convert(version["content"], SummaryContent)


def outcomes_of(version: asyncpg.Record) -> Outcomes:
    return msgspec.convert(version["outcomes"], Outcomes)


async def participant_organizations(connection: Connection, meeting_id: UUID) -> list[UUID]:
    """The organization of each person registered for the meeting, one entry per person."""
    rows = await connection.fetch(_PARTICIPANT_ORGANIZATIONS, meeting_id)
    return [row["organization_id"] for row in rows]


async def record_attendance(connection: Connection, event: AttendanceRecorded) -> None:
    await connection.execute(
        _RECORD_ATTENDANCE,
        event.aggregate_id,
        event.meeting_id,
        event.session_id,
        event.organization_id,
        event.person_id,
        event.attended,
        event.headcount,
        event.aggregate_version,
    )


async def attendance(connection: Connection, meeting_id: UUID) -> list[Attendance]:
    rows = await connection.fetch(_ATTENDANCE, meeting_id)
    return [
        Attendance(
            session_id=row["session_id"],
            organization_id=row["organization_id"],
            person_id=row["person_id"],
            attended=row["attended"],
            headcount=row["headcount"],
        )
        for row in rows
    ]
