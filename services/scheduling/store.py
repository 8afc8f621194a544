"""Scheduling's SQL: meetings, their sites and sessions, calendar entries and feeds, and
the read models of the registry's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

import asyncpg

from services.scheduling.lifecycle import Lifecycle
from shared.db import Connection, fetch_one

_MEETING_COLUMNS: Final = (
    "title, kind, status, host_organization_id, starts_at, ends_at, timezone, conference, "
    "recurrence, series_length, public"
)
_INSERT_MEETING: Final = f"""
INSERT INTO meetings (id, {_MEETING_COLUMNS}, forced_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING *
"""
_UPDATE_MEETING: Final = """
UPDATE meetings
SET title = $2, kind = $3, status = $4, host_organization_id = $5, starts_at = $6,
    ends_at = $7, timezone = $8, conference = $9, recurrence = $10, series_length = $11,
    public = $12, forced_by = coalesce($13, forced_by), version = version + 1,
    sequence = sequence + $14::int, updated_at = now()
WHERE id = $1
RETURNING *
"""
_INSERT_SITES: Final = """
INSERT INTO meeting_sites (meeting_id, organization_id, position, room, track)
SELECT $1, site.organization_id, site.position, site.room, site.track
FROM unnest($2::uuid[], $3::text[], $4::text[])
    WITH ORDINALITY AS site (organization_id, room, track, position)
"""
_DELETE_SITES: Final = "DELETE FROM meeting_sites WHERE meeting_id = $1"
_MEETING: Final = "SELECT * FROM meetings WHERE id = $1"
_MEETING_FOR_UPDATE: Final = "SELECT * FROM meetings WHERE id = $1 FOR UPDATE"
_MEETINGS: Final = """
SELECT m.* FROM meetings m
WHERE ($1::uuid IS NULL OR m.id > $1)
  AND ($3::uuid IS NULL OR m.public OR EXISTS (
        SELECT FROM meeting_sites s WHERE s.meeting_id = m.id AND s.organization_id = $3))
  AND ($4::bool OR m.public)
ORDER BY m.id
LIMIT $2
"""
_SITES: Final = """
SELECT s.meeting_id, s.organization_id, s.room, s.track, o.name, o.region, o.timezone
FROM meeting_sites s JOIN organizations o ON o.id = s.organization_id
WHERE s.meeting_id = ANY($1::uuid[])
ORDER BY s.meeting_id, s.position
"""
_SITE_ROWS: Final = """
SELECT organization_id, room, track FROM meeting_sites WHERE meeting_id = $1 ORDER BY position
"""
_SESSIONS: Final = """
SELECT * FROM meeting_sessions WHERE meeting_id = ANY($1::uuid[])
ORDER BY meeting_id, starts_at, position
"""
_UPSERT_SESSIONS: Final = """
INSERT INTO meeting_sessions (id, meeting_id, position, title, track, starts_at, ends_at,
                              recurrence_id, status)
SELECT s.id, $1, s.position, s.title, s.track, s.starts_at, s.ends_at, s.recurrence_id,
       s.status
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
            $7::timestamptz[], $8::text[])
    WITH ORDINALITY AS s (id, title, track, starts_at, ends_at, recurrence_id, status, position)
ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position, title = EXCLUDED.title,
    track = EXCLUDED.track, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
    recurrence_id = EXCLUDED.recurrence_id, status = EXCLUDED.status
"""
_CANCEL_OTHER_SESSIONS: Final = """
UPDATE meeting_sessions SET status = 'cancelled'
WHERE meeting_id = $1 AND NOT id = ANY($2::uuid[])
"""
_DELETE_OTHER_SESSIONS: Final = """
DELETE FROM meeting_sessions WHERE meeting_id = $1 AND NOT id = ANY($2::uuid[])
"""
_SESSION_OWNERS: Final = "SELECT id, meeting_id FROM meeting_sessions WHERE id = ANY($1::uuid[])"
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
_VISIBLE_ORGANIZATIONS: Final = """
SELECT id FROM organizations WHERE id = ANY($1::uuid[]) AND (public OR $2 OR id = $3)
"""
_ORGANIZATIONS: Final = "SELECT * FROM organizations WHERE id = ANY($1::uuid[])"
_ORGANIZATION: Final = "SELECT * FROM organizations WHERE id = $1"
_BUSY: Final = """
SELECT s.organization_id, ms.starts_at, ms.ends_at, m.id AS meeting_id, m.title
FROM meeting_sessions ms
JOIN meetings m ON m.id = ms.meeting_id
JOIN meeting_sites s ON s.meeting_id = m.id
WHERE s.organization_id = ANY($1::uuid[])
  AND m.status IN ('scheduled', 'live') AND ms.status = 'scheduled'
  AND ms.starts_at < $3 AND ms.ends_at > $2
  AND m.id <> $4
"""
_ATTENDEES: Final = """
SELECT p.id, p.name, p.email, p.language, p.organization_id, o.timezone, r.rsvp, r.role,
       p.surname, p.given_name, p.patronymic
FROM registrations r
JOIN people p ON p.id = r.person_id
LEFT JOIN organizations o ON o.id = p.organization_id
WHERE r.meeting_id = $1 AND r.status = 'registered'
ORDER BY p.name, p.id
"""
_RAISE_SEQUENCE: Final = "UPDATE meetings SET sequence = sequence + 1 WHERE id = $1 RETURNING *"
_ATTENDEE: Final = """
SELECT p.id, p.name, p.email, p.language, p.organization_id, o.timezone, r.rsvp, r.role,
       p.surname, p.given_name, p.patronymic
FROM registrations r
JOIN people p ON p.id = r.person_id
LEFT JOIN organizations o ON o.id = p.organization_id
WHERE r.meeting_id = $1 AND r.person_id = $2
"""
_LOCK_PERSON: Final = "SELECT pg_advisory_xact_lock(hashtextextended('person ' || $1, 0))"
_PERSON_KNOWN: Final = "SELECT EXISTS (SELECT 1 FROM people WHERE id = $1)"
_REGISTRATIONS_OF: Final = """
SELECT meeting_id, version FROM registrations
WHERE person_id = $1 AND status = 'registered'
ORDER BY meeting_id
"""
_SET_SUMMARY: Final = """
UPDATE meetings
SET summary_url = $2, summary_version = $3, version = version + 1, sequence = sequence + 1,
    updated_at = now()
WHERE id = $1 AND summary_version < $3
RETURNING *
"""
_SET_AGENDA: Final = """
UPDATE meetings
SET agenda = $2, agenda_url = $3, agenda_version = $4, version = version + 1,
    sequence = sequence + (status <> 'draft')::int, updated_at = now()
WHERE id = $1 AND agenda_version < $4
RETURNING *
"""


def lifecycle_of(meeting: asyncpg.Record) -> Lifecycle:
    return Lifecycle(
        status=meeting["status"],
        starts_at=meeting["starts_at"],
        ends_at=meeting["ends_at"],
        started_at=meeting["started_at"],
        ended_at=meeting["ended_at"],
    )


@dataclass(frozen=True)
class MeetingFields:
    """What a partner or operator sets of a meeting; everything else the service keeps."""

    title: str
    kind: str
    status: str
    host_organization_id: UUID
    starts_at: datetime
    ends_at: datetime
    timezone: str
    conference: Any
    recurrence: str | None
    series_length: timedelta | None
    public: bool

    def values(self) -> tuple[Any, ...]:
        return (
            self.title,
            self.kind,
            self.status,
            self.host_organization_id,
            self.starts_at,
            self.ends_at,
            self.timezone,
            self.conference,
            self.recurrence,
            self.series_length,
            self.public,
        )


@dataclass(frozen=True)
class SiteRow:
    organization_id: UUID
    room: str | None = None
    track: str | None = None


@dataclass(frozen=True)
class SessionRow:
    id: UUID
    starts_at: datetime
    ends_at: datetime
    title: str | None = None
    track: str | None = None
    recurrence_id: datetime | None = None
    status: str = "scheduled"


async def insert_meeting(
    connection: Connection, meeting_id: UUID, fields: MeetingFields, forced_by: str | None
) -> asyncpg.Record:
    return await fetch_one(connection, _INSERT_MEETING, meeting_id, *fields.values(), forced_by)


async def update_meeting(
    connection: Connection,
    meeting_id: UUID,
    fields: MeetingFields,
    *,
    forced_by: str | None,
    changes_invite: bool,
) -> asyncpg.Record:
    return await fetch_one(
        connection,
        _UPDATE_MEETING,
        meeting_id,
        *fields.values(),
        forced_by,
        1 if changes_invite else 0,
    )


async def raise_sequence(connection: Connection, meeting_id: UUID) -> asyncpg.Record:
    """Raise the SEQUENCE of the meeting's invites, as part of a change already counted."""
    return await fetch_one(connection, _RAISE_SEQUENCE, meeting_id)


async def replace_sites(connection: Connection, meeting_id: UUID, sites: list[SiteRow]) -> None:
    await connection.execute(_DELETE_SITES, meeting_id)
    await connection.execute(
        _INSERT_SITES,
        meeting_id,
        [site.organization_id for site in sites],
        [site.room for site in sites],
        [site.track for site in sites],
    )


async def save_sessions(
    connection: Connection, meeting_id: UUID, sessions: list[SessionRow], *, drop_others: bool
) -> None:
    """Write these sessions; the meeting's other sessions are cancelled (they keep their
    calendar entries, so that calendars learn of it) or, with `drop_others`, deleted."""
    await connection.execute(
        _UPSERT_SESSIONS,
        meeting_id,
        [session.id for session in sessions],
        [session.title for session in sessions],
        [session.track for session in sessions],
        [session.starts_at for session in sessions],
        [session.ends_at for session in sessions],
        [session.recurrence_id for session in sessions],
        [session.status for session in sessions],
    )
    others = _DELETE_OTHER_SESSIONS if drop_others else _CANCEL_OTHER_SESSIONS
    await connection.execute(others, meeting_id, [session.id for session in sessions])


async def session_owners(connection: Connection, session_ids: list[UUID]) -> dict[UUID, UUID]:
    """The meeting each of these sessions belongs to, for those that exist."""
    rows = await connection.fetch(_SESSION_OWNERS, session_ids)
    return {row["id"]: row["meeting_id"] for row in rows}


async def meeting(
    connection: Connection, meeting_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    query = _MEETING_FOR_UPDATE if for_update else _MEETING
    row: asyncpg.Record | None = await connection.fetchrow(query, meeting_id)
    return row


async def meetings(
    connection: Connection,
    after: UUID | None,
    limit: int,
    *,
    organization_id: UUID | None,
    all_visible: bool,
) -> list[asyncpg.Record]:
    """Public meetings, and those of `organization_id` (or every one with `all_visible`)."""
    return await connection.fetch(_MEETINGS, after, limit, organization_id, all_visible)


async def sites(connection: Connection, meeting_ids: list[UUID]) -> list[asyncpg.Record]:
    """Sites of these meetings whose organization scheduling knows, host first."""
    return await connection.fetch(_SITES, meeting_ids)


async def site_rows(connection: Connection, meeting_id: UUID) -> list[SiteRow]:
    return [
        SiteRow(row["organization_id"], row["room"], row["track"])
        for row in await connection.fetch(_SITE_ROWS, meeting_id)
    ]


async def sessions(connection: Connection, meeting_ids: list[UUID]) -> list[asyncpg.Record]:
    return await connection.fetch(_SESSIONS, meeting_ids)


async def apply_lifecycle(
    connection: Connection, meeting_id: UUID, state: Lifecycle, *, changes_invite: bool
) -> asyncpg.Record:
    return await fetch_one(
        connection,
        _APPLY_STEP,
        meeting_id,
        state.status,
        state.started_at,
        state.ended_at,
        1 if changes_invite else 0,
    )


async def due_meetings(connection: Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Meetings whose start or end has passed, locked; other replicas skip them."""
    return await connection.fetch(_DUE, now, limit)


async def seconds_until_due(connection: Connection, now: datetime) -> float | None:
    """How long after `now` the next start or end falls due (negative: overdue)."""
    seconds: float | None = await connection.fetchval(_SECONDS_UNTIL_DUE, now)
    return seconds


async def organization(connection: Connection, organization_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_ORGANIZATION, organization_id)
    return row


async def unseen_organizations(
    connection: Connection, ids: list[UUID], *, organization_id: UUID | None, all_visible: bool
) -> list[UUID]:
    """Those of `ids` that are unknown, or private and not `organization_id` (every known
    one is seen with `all_visible`)."""
    rows = await connection.fetch(_VISIBLE_ORGANIZATIONS, ids, all_visible, organization_id)
    seen = {row["id"] for row in rows}
    return [identifier for identifier in ids if identifier not in seen]


async def organizations(connection: Connection, ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    return {row["id"]: row for row in await connection.fetch(_ORGANIZATIONS, ids)}


async def busy(
    connection: Connection,
    organization_ids: list[UUID],
    starts_at: datetime,
    ends_at: datetime,
    *,
    except_meeting: UUID,
) -> list[asyncpg.Record]:
    """Sessions of other meetings these organizations take part in, within the interval."""
    return await connection.fetch(_BUSY, organization_ids, starts_at, ends_at, except_meeting)


async def attendees(connection: Connection, meeting_id: UUID) -> list[asyncpg.Record]:
    return await connection.fetch(_ATTENDEES, meeting_id)


async def lock_person(connection: Connection, person_id: UUID) -> None:
    """Until the transaction ends: events about one person are applied one at a time, so a
    registration and its person arriving at two replicas at once see each other."""
    await connection.execute(_LOCK_PERSON, str(person_id))


async def person_known(connection: Connection, person_id: UUID) -> bool:
    return bool(await connection.fetchval(_PERSON_KNOWN, person_id))


async def registrations_of(connection: Connection, person_id: UUID) -> list[asyncpg.Record]:
    """The person's registrations that hold a place, with their versions."""
    return await connection.fetch(_REGISTRATIONS_OF, person_id)


async def attendee(
    connection: Connection, meeting_id: UUID, person_id: UUID
) -> asyncpg.Record | None:
    """A person signed up for the meeting, whatever their registration's status."""
    row: asyncpg.Record | None = await connection.fetchrow(_ATTENDEE, meeting_id, person_id)
    return row


async def set_summary(
    connection: Connection, meeting_id: UUID, url: str, version: int
) -> asyncpg.Record | None:
    """Link the meeting to its summary unless a newer version is kept already; the SEQUENCE
    rises, since calendars show the link."""
    row: asyncpg.Record | None = await connection.fetchrow(_SET_SUMMARY, meeting_id, url, version)
    return row


async def set_agenda(
    connection: Connection, meeting_id: UUID, entries: Any, url: str | None, version: int
) -> asyncpg.Record | None:
    """Keep the published agenda of a meeting unless a newer one is kept already."""
    row: asyncpg.Record | None = await connection.fetchrow(
        _SET_AGENDA, meeting_id, entries, url, version
    )
    return row
