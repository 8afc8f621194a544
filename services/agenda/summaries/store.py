"""The SQL of summaries: their versions (through `services.agenda.versions.store`), the
facts they are written from (registrations and attendance, kept from the registry's
events), and the requests that a meeting's summary be written again."""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import msgspec

from services.agenda.schemas import Outcomes, SummaryContent
from services.agenda.summaries.content import Attendance
from services.agenda.versions.store import Kind
from shared.db import Connection, as_structs
from shared.events import AttendanceRecorded


class StoredVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A version of a summary: what the data says, and the outcomes the host added."""

    meeting_id: UUID
    version: int
    content: SummaryContent
    outcomes: Outcomes
    created_at: datetime
    created_by: str


SUMMARIES: Final = Kind(
    name="summary",
    heads="summaries",
    versions="summary_versions",
    row=StoredVersion,
    columns=("content", "outcomes"),
)

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
_REQUEST_SUMMARY: Final = """
INSERT INTO summary_requests (meeting_id) VALUES ($1)
ON CONFLICT (meeting_id) DO UPDATE SET requested_at = now(), failures = 0
"""
_REQUEST_SUMMARIES_INVOLVING: Final = """
INSERT INTO summary_requests (meeting_id)
SELECT id FROM meetings
WHERE status = 'ended'
  AND ($1 = ANY(organization_ids)
       OR id IN (SELECT meeting_id FROM registrations WHERE organization_id = $1)
       OR id IN (SELECT meeting_id FROM attendance WHERE organization_id = $1))
ON CONFLICT (meeting_id) DO UPDATE SET requested_at = now(), failures = 0
"""
_POSTPONE_SUMMARY_REQUEST: Final = """
UPDATE summary_requests
SET failures = failures + 1, requested_at = now() + make_interval(secs => least(2 ^ failures, 600))
WHERE meeting_id = $1
"""
_DUE_SUMMARY_REQUESTS: Final = """
SELECT meeting_id FROM summary_requests
WHERE requested_at <= now() - make_interval(secs => $1)
ORDER BY requested_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
_DONE_SUMMARY_REQUEST: Final = "DELETE FROM summary_requests WHERE meeting_id = $1"
_SECONDS_UNTIL_SUMMARY_DUE: Final = """
SELECT extract(epoch FROM min(requested_at) + make_interval(secs => $1) - now())::float8
FROM summary_requests
"""


async def participant_organizations(connection: Connection, meeting_id: UUID) -> list[UUID]:
    """The organization of each person registered for the meeting, one entry per person."""
    rows = await connection.fetch(_PARTICIPANT_ORGANIZATIONS, meeting_id)
    return [organization_id for (organization_id,) in rows]


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
    return as_structs(await connection.fetch(_ATTENDANCE, meeting_id), Attendance)


async def request_summary(connection: Connection, meeting_id: UUID) -> None:
    """Ask for the meeting's summary to be checked once changes stop arriving."""
    await connection.execute(_REQUEST_SUMMARY, meeting_id)


async def request_summaries_involving(connection: Connection, organization_id: UUID) -> None:
    """Ask for the summaries of ended meetings the organization took part in."""
    await connection.execute(_REQUEST_SUMMARIES_INVOLVING, organization_id)


async def due_summary_requests(connection: Connection, quiet: float, limit: int) -> list[UUID]:
    """Requests untouched for `quiet` seconds, locked; other replicas skip them."""
    rows = await connection.fetch(_DUE_SUMMARY_REQUESTS, quiet, limit)
    return [row["meeting_id"] for row in rows]


async def postpone_summary_request(connection: Connection, meeting_id: UUID) -> None:
    """A request whose summary failed waits longer after each failure (up to ten minutes)."""
    await connection.execute(_POSTPONE_SUMMARY_REQUEST, meeting_id)


async def done_summary_request(connection: Connection, meeting_id: UUID) -> None:
    await connection.execute(_DONE_SUMMARY_REQUEST, meeting_id)


async def seconds_until_summary_due(connection: Connection, quiet: float) -> float | None:
    """How long until the oldest request has been quiet for `quiet` seconds, measured by
    the database's clock, which also stamps the requests."""
    seconds: float | None = await connection.fetchval(_SECONDS_UNTIL_SUMMARY_DUE, quiet)
    return seconds
