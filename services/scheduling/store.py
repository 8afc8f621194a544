"""Scheduling's SQL, every statement of it, and the typed rows it returns: meetings, their
sites and sessions, calendar entries, feeds, the queue of outgoing mail, and the read
models of the registry's data (organizations, people, registrations).

Rows leave here as Structs (`shared.db.as_struct`), never as `asyncpg.Record`. No rules:
who may see what is `access`'s, what a change means is the use cases'.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, TypeVar
from uuid import UUID

import msgspec

from services.scheduling.lifecycle import Lifecycle
from services.scheduling.schemas import FeedKind
from shared.changes import Changes, Position, fetch_changes, in_change_order
from shared.db import Connection, as_struct, fetch_one, fetch_struct, fetch_structs
from shared.events import (
    AgendaEntry,
    Conference,
    MeetingKind,
    MeetingRole,
    MeetingSession,
    MeetingStatus,
    Rsvp,
    WorkingHours,
)

T = TypeVar("T")


async def _written(connection: Connection, row_type: type[T], query: str, *args: object) -> T:
    return as_struct(await fetch_one(connection, query, *args), row_type)


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


def _visible_meetings(first: int) -> str:
    """Meetings a `MeetingFilter` holds, its arguments numbered from `$first`."""
    every, own, status, organization = (f"${first + offset}" for offset in range(4))
    return f"""
SELECT m.* FROM meetings m
WHERE ({every}::bool OR m.public OR ({own}::uuid IS NOT NULL AND EXISTS (
        SELECT FROM meeting_sites s WHERE s.meeting_id = m.id AND s.organization_id = {own})))
  AND ({status}::text IS NULL OR m.status = {status})
  AND ({organization}::uuid IS NULL OR EXISTS (SELECT FROM meeting_sites s
        WHERE s.meeting_id = m.id AND s.organization_id = {organization}))
"""


_MEETINGS: Final = (
    _visible_meetings(3)
    + """  AND ($1::uuid IS NULL OR m.id > $1)
ORDER BY m.id
LIMIT $2
"""
)
_CHANGED_MEETINGS: Final = in_change_order(_visible_meetings(5), "m")
_SITES: Final = """
SELECT s.meeting_id, s.organization_id, s.room, s.track, o.name, o.region, o.timezone
FROM meeting_sites s JOIN organizations o ON o.id = s.organization_id
WHERE s.meeting_id = ANY($1::uuid[])
ORDER BY s.meeting_id, s.position
"""
_SITE_ROWS: Final = """
SELECT meeting_id, organization_id, room, track FROM meeting_sites
WHERE meeting_id = ANY($1::uuid[])
ORDER BY meeting_id, position
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
SELECT s.organization_id,
       array_agg(ms.starts_at ORDER BY ms.starts_at, ms.ends_at) AS starts,
       array_agg(ms.ends_at ORDER BY ms.starts_at, ms.ends_at) AS ends
FROM meeting_sessions ms
JOIN meetings m ON m.id = ms.meeting_id
JOIN meeting_sites s ON s.meeting_id = m.id
WHERE s.organization_id = ANY($1::uuid[])
  AND m.status IN ('scheduled', 'live') AND ms.status = 'scheduled'
  AND ms.starts_at < $3 AND ms.ends_at > $2
  AND m.id <> $4
GROUP BY s.organization_id
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
_LOCK_PERSON_SHARED: Final = (
    "SELECT pg_advisory_xact_lock_shared(hashtextextended('person ' || $1, 0))"
)
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


_PERSON: Final = "SELECT id, organization_id, name, language FROM people WHERE id = $1"

# Calendar entries

_UPSERT_ENTRIES: Final = """
INSERT INTO calendar_entries
    (uid, meeting_id, starts_at, ends_at, tzids, body, updated_at, rendering)
SELECT e.uid, $1, e.starts_at, e.ends_at, string_to_array(e.tzids, ' '), e.body, now(), $7
FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[])
    AS e (uid, starts_at, ends_at, tzids, body)
ON CONFLICT (uid) DO UPDATE SET meeting_id = EXCLUDED.meeting_id,
    starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, tzids = EXCLUDED.tzids,
    body = EXCLUDED.body, updated_at = EXCLUDED.updated_at, rendering = EXCLUDED.rendering
"""
_DELETE_OTHER_ENTRIES: Final = """
DELETE FROM calendar_entries WHERE meeting_id = $1 AND NOT uid = ANY($2::text[])
"""
_STALE_ENTRIES: Final = """
SELECT DISTINCT meeting_id FROM calendar_entries WHERE rendering < $1 ORDER BY meeting_id
LIMIT $2
"""
# Which entries each kind of feed holds: an organization's meetings (as a site), a
# person's (registered, not cancelled or waitlisted), and every public meeting.
_FEED_MEMBERS: Final[dict[FeedKind, str]] = {
    "organization": """
        SELECT e.* FROM calendar_entries e
        WHERE EXISTS (SELECT FROM meeting_sites s
                      WHERE s.meeting_id = e.meeting_id AND s.organization_id = $1)""",
    "person": """
        SELECT e.* FROM calendar_entries e
        WHERE EXISTS (SELECT FROM registrations r
                      WHERE r.meeting_id = e.meeting_id AND r.person_id = $1
                        AND r.status = 'registered')""",
    "public": """
        SELECT e.* FROM calendar_entries e
        WHERE $1::uuid IS NULL
          AND EXISTS (SELECT FROM meetings m WHERE m.id = e.meeting_id AND m.public)""",
}
_FEED_VERSIONS: Final = {
    kind: f"""
        SELECT count(*) AS count, max(updated_at) AS last_modified,
               string_agg(uid || ' ' || updated_at::text, ',' ORDER BY uid) AS versions
        FROM ({members}) AS entries
        """
    for kind, members in _FEED_MEMBERS.items()
}
_FEED_ENTRIES: Final = {
    kind: f"{members} ORDER BY e.starts_at, e.uid" for kind, members in _FEED_MEMBERS.items()
}

# Feeds

_INSERT_FEED: Final = """
INSERT INTO feeds (id, kind, organization_id, person_id, token)
VALUES ($1, $2, $3, $4, $5)
RETURNING *
"""
_FEED: Final = "SELECT * FROM feeds WHERE id = $1"
_FEED_FOR_UPDATE: Final = "SELECT * FROM feeds WHERE id = $1 FOR UPDATE"
_FEED_AT: Final = "SELECT * FROM feeds WHERE token = $1"
_REVOKE_FEED: Final = """
UPDATE feeds SET revoked_at = coalesce(revoked_at, now()), replaced_by = $2
WHERE id = $1
RETURNING *
"""
_FEEDS: Final = """
SELECT f.* FROM feeds f
LEFT JOIN people p ON p.id = f.person_id
WHERE ($1::uuid IS NULL OR f.id > $1)
  AND ($3::uuid IS NULL OR f.organization_id = $3 OR p.organization_id = $3)
  AND ($4::bool OR f.revoked_at IS NULL)
ORDER BY f.id
LIMIT $2
"""

# Outgoing mail

_QUEUE_MAIL: Final = """
INSERT INTO outgoing_mail (id, dedupe_key, person_id, meeting_id, uid, method, kind, sequence,
                           session_id, traceparent)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[],
                     $7::text[], $8::int[], $9::uuid[], $10::text[])
ON CONFLICT (dedupe_key) DO NOTHING
"""
# Each recipient's oldest mail waiting, if it is due and no other sender holds it: a
# recipient's mails leave one at a time, in the order they were queued. The row stays
# locked while the SMTP server is spoken to; a sender that dies lets go of it at once.
_WAITING_AND_FIRST: Final = """
m.sent_at IS NULL AND m.failed_at IS NULL AND m.skipped_at IS NULL
AND NOT EXISTS (
    SELECT FROM outgoing_mail older
    WHERE coalesce(older.person_id, older.id) = coalesce(m.person_id, m.id)
      AND older.position < m.position
      AND older.sent_at IS NULL AND older.failed_at IS NULL AND older.skipped_at IS NULL)
"""
"""A waiting mail `m` that is its recipient's oldest waiting one: the only one of theirs a
sender may take."""
_LEASE_MAIL: Final = f"""
SELECT m.id, m.dedupe_key, m.person_id, m.meeting_id, m.uid, m.method, m.kind, m.sequence,
       m.session_id, m.message, m.sender, m.recipients, m.attempts + 1 AS attempts,
       m.traceparent
FROM outgoing_mail m
WHERE {_WAITING_AND_FIRST} AND m.next_attempt_at <= now()
ORDER BY m.position
LIMIT 1
FOR UPDATE OF m SKIP LOCKED
"""
_MAIL_SUPERSEDED: Final = """
SELECT EXISTS (SELECT FROM outgoing_mail
               WHERE person_id = $1 AND uid = $2 AND position > (
                     SELECT position FROM outgoing_mail WHERE id = $3)
                 AND session_id IS NULL AND failed_at IS NULL)
"""
_OBJECT_MAILED: Final = """
SELECT EXISTS (SELECT FROM outgoing_mail
               WHERE person_id = $1 AND uid = $2 AND sent_at IS NOT NULL)
"""
_MAIL_SENT: Final = """
UPDATE outgoing_mail
SET sent_at = now(), attempts = attempts + 1, last_error = NULL, message = $2, sender = $3,
    recipients = $4
WHERE id = $1
"""
_RETRY_MAIL: Final = """
UPDATE outgoing_mail
SET attempts = attempts + 1, next_attempt_at = now() + $2::interval, last_error = $3
WHERE id = $1
"""
_MAIL_FAILED: Final = """
UPDATE outgoing_mail SET attempts = attempts + 1, failed_at = now(), last_error = $2
WHERE id = $1
"""
_MAIL_SKIPPED: Final = "UPDATE outgoing_mail SET skipped_at = now(), last_error = $2 WHERE id = $1"
# Through the partial index of waiting mail (`outgoing_mail_queue`), as the sender walks it.
_MAIL_WAITING: Final = """
SELECT count(*) AS waiting,
       coalesce(extract(epoch FROM now() - min(queued_at)), 0)::float8 AS oldest_seconds
FROM outgoing_mail
WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL
"""
_NEXT_MAIL_DUE: Final = f"""
SELECT extract(epoch FROM min(m.next_attempt_at) - now())::float8
FROM outgoing_mail m
WHERE {_WAITING_AND_FIRST}
"""


# Typed rows


class MeetingFields(msgspec.Struct, frozen=True, kw_only=True):
    """What a partner or operator sets of a meeting; everything else the service keeps.
    The fields are the columns, named and ordered as the statements above write them."""

    title: str
    kind: MeetingKind
    status: MeetingStatus
    host_organization_id: UUID
    starts_at: datetime
    ends_at: datetime
    timezone: str | None
    conference: Conference | None
    recurrence: str | None
    series_length: timedelta | None
    public: bool

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in MeetingFields.__struct_fields__)


class StoredMeeting(MeetingFields, frozen=True, kw_only=True):
    """A row of `meetings`."""

    id: UUID
    started_at: datetime | None
    ended_at: datetime | None
    sequence: int
    version: int
    forced_by: str | None
    agenda: list[AgendaEntry] | None
    agenda_url: str | None
    summary_url: str | None

    def lifecycle(self) -> Lifecycle:
        return Lifecycle(
            status=self.status,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )


class SiteRow(msgspec.Struct, frozen=True):
    """A site of a meeting as written: the organization and the room it joins from."""

    organization_id: UUID
    room: str | None = None
    track: str | None = None


class StoredSite(SiteRow, frozen=True, kw_only=True):
    meeting_id: UUID


class KnownSite(StoredSite, frozen=True, kw_only=True):
    """A site whose organization scheduling knows, with the organization's name and zone."""

    name: str
    region: str
    timezone: str


class StoredSession(MeetingSession, frozen=True, kw_only=True):
    meeting_id: UUID


class Organization(msgspec.Struct, frozen=True, kw_only=True):
    """The registry's organization, as scheduling keeps it."""

    id: UUID
    name: str
    short_name: str | None
    region: str
    region_code: str | None
    country: str
    timezone: str
    working_hours: WorkingHours | None
    blackout_dates: list[date]


class Busy(msgspec.Struct, frozen=True):
    """The sessions of other meetings an organization takes part in, in order of start;
    one row per organization, so that thousands of sessions cost no object each."""

    organization_id: UUID
    starts: list[datetime]
    ends: list[datetime]


class Attendee(msgspec.Struct, frozen=True, kw_only=True):
    """A person signed up for a meeting, with what their invites need."""

    id: UUID
    name: str
    email: str
    language: str | None
    organization_id: UUID | None
    timezone: str | None
    """Their organization's."""
    rsvp: Rsvp
    role: MeetingRole
    surname: str | None
    given_name: str | None
    patronymic: str | None


class HeldPlace(msgspec.Struct, frozen=True):
    meeting_id: UUID
    version: int


class Person(msgspec.Struct, frozen=True):
    id: UUID
    organization_id: UUID
    name: str
    language: str | None


class StoredEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A calendar object's rendered VEVENTs."""

    body: str
    starts_at: datetime
    ends_at: datetime
    tzids: list[str]


class FeedVersions(msgspec.Struct, frozen=True):
    count: int
    last_modified: datetime | None
    versions: str | None


class StoredFeed(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    kind: FeedKind
    organization_id: UUID | None
    person_id: UUID | None
    token: str
    created_at: datetime
    revoked_at: datetime | None


class MailRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A mail as its cause queues it: who, which object, which method and SEQUENCE."""

    id: UUID
    dedupe_key: str
    person_id: UUID
    meeting_id: UUID
    uid: str
    method: Literal["REQUEST", "CANCEL"]
    kind: Literal["invitation", "update", "cancellation"]
    sequence: int
    session_id: UUID | None = None
    """The occurrence of a series a CANCEL removes; None for the whole object."""
    traceparent: str | None = None
    """W3C trace context of the change that queued it: its sending continues that trace."""


class QueuedMail(msgspec.Struct, frozen=True, kw_only=True):
    """A mail a sender holds: a record to write the message of, or (queued by an earlier
    version) the message itself."""

    id: UUID
    dedupe_key: str
    person_id: UUID | None
    meeting_id: UUID | None
    uid: str | None
    method: Literal["REQUEST", "CANCEL"] | None
    kind: Literal["invitation", "update", "cancellation"] | None
    sequence: int | None
    session_id: UUID | None
    message: bytes | None
    sender: str | None
    recipients: list[str] | None
    attempts: int
    """Including the one about to be made."""
    traceparent: str | None = None

    def record(self) -> MailRecord | None:
        if (
            self.person_id is None
            or self.meeting_id is None
            or self.uid is None
            or self.method is None
            or self.kind is None
            or self.sequence is None
        ):
            return None
        return MailRecord(
            id=self.id,
            dedupe_key=self.dedupe_key,
            person_id=self.person_id,
            meeting_id=self.meeting_id,
            uid=self.uid,
            method=self.method,
            kind=self.kind,
            sequence=self.sequence,
            session_id=self.session_id,
            traceparent=self.traceparent,
        )


# Meetings


async def insert_meeting(
    connection: Connection, meeting_id: UUID, fields: MeetingFields, forced_by: str | None
) -> StoredMeeting:
    return await _written(
        connection, StoredMeeting, _INSERT_MEETING, meeting_id, *fields.values(), forced_by
    )


async def update_meeting(
    connection: Connection,
    meeting_id: UUID,
    fields: MeetingFields,
    *,
    forced_by: str | None,
    changes_invite: bool,
) -> StoredMeeting:
    return await _written(
        connection,
        StoredMeeting,
        _UPDATE_MEETING,
        meeting_id,
        *fields.values(),
        forced_by,
        1 if changes_invite else 0,
    )


async def raise_sequence(connection: Connection, meeting_id: UUID) -> StoredMeeting:
    """Raise the SEQUENCE of the meeting's invites, as part of a change already counted."""
    return await _written(connection, StoredMeeting, _RAISE_SEQUENCE, meeting_id)


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
    connection: Connection, meeting_id: UUID, sessions: list[MeetingSession], *, drop_others: bool
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
) -> StoredMeeting | None:
    query = _MEETING_FOR_UPDATE if for_update else _MEETING
    return await fetch_struct(connection, StoredMeeting, query, meeting_id)


class MeetingFilter(msgspec.Struct, frozen=True):
    """Which meetings a list holds: those the caller may see, narrowed by what it asks."""

    all_visible: bool
    """Staff: every meeting. Otherwise public ones and those of `own_organization_id`."""
    own_organization_id: UUID | None
    status: MeetingStatus | None = None
    organization_id: UUID | None = None
    """Only meetings this organization takes part in (hosts included)."""

    def arguments(self) -> tuple[object, ...]:
        return (self.all_visible, self.own_organization_id, self.status, self.organization_id)


async def meetings(
    connection: Connection, after: UUID | None, limit: int, which: MeetingFilter
) -> list[StoredMeeting]:
    """Up to `limit` meetings after `after`, by id."""
    return await fetch_structs(
        connection, StoredMeeting, _MEETINGS, after, limit, *which.arguments()
    )


async def changed_meetings(
    connection: Connection,
    after: Position | None,
    since: datetime | None,
    limit: int,
    which: MeetingFilter,
) -> Changes[StoredMeeting]:
    """Up to `limit` meetings in the order they changed, after `after` (`shared.changes`)."""
    return await fetch_changes(
        connection, StoredMeeting, _CHANGED_MEETINGS, (after, since, limit), *which.arguments()
    )


async def sites(connection: Connection, meeting_ids: list[UUID]) -> list[KnownSite]:
    """Sites of these meetings whose organization scheduling knows, host first."""
    return await fetch_structs(connection, KnownSite, _SITES, meeting_ids)


async def site_rows(connection: Connection, meeting_ids: list[UUID]) -> list[StoredSite]:
    """Every site of these meetings, known or not, host first."""
    return await fetch_structs(connection, StoredSite, _SITE_ROWS, meeting_ids)


async def sessions(connection: Connection, meeting_ids: list[UUID]) -> list[StoredSession]:
    return await fetch_structs(connection, StoredSession, _SESSIONS, meeting_ids)


async def apply_lifecycle(
    connection: Connection, meeting_id: UUID, state: Lifecycle, *, changes_invite: bool
) -> StoredMeeting:
    return await _written(
        connection,
        StoredMeeting,
        _APPLY_STEP,
        meeting_id,
        state.status,
        state.started_at,
        state.ended_at,
        1 if changes_invite else 0,
    )


async def due_meetings(connection: Connection, now: datetime, limit: int) -> list[StoredMeeting]:
    """Meetings whose start or end has passed, locked; other replicas skip them."""
    return await fetch_structs(connection, StoredMeeting, _DUE, now, limit)


async def seconds_until_due(connection: Connection, now: datetime) -> float | None:
    """How long after `now` the next start or end falls due (negative: overdue)."""
    seconds: float | None = await connection.fetchval(_SECONDS_UNTIL_DUE, now)
    return seconds


async def set_summary(
    connection: Connection, meeting_id: UUID, url: str, version: int
) -> StoredMeeting | None:
    """Link the meeting to its summary unless a newer version is kept already; the SEQUENCE
    rises, since calendars show the link."""
    return await fetch_struct(connection, StoredMeeting, _SET_SUMMARY, meeting_id, url, version)


async def set_agenda(
    connection: Connection, meeting_id: UUID, entries: Any, url: str | None, version: int
) -> StoredMeeting | None:
    """Keep the published agenda of a meeting unless a newer one is kept already."""
    return await fetch_struct(
        connection, StoredMeeting, _SET_AGENDA, meeting_id, entries, url, version
    )


# The registry's organizations, people and registrations


async def organization(connection: Connection, organization_id: UUID) -> Organization | None:
    return await fetch_struct(connection, Organization, _ORGANIZATION, organization_id)


async def unseen_organizations(
    connection: Connection, ids: list[UUID], *, organization_id: UUID | None, all_visible: bool
) -> list[UUID]:
    """Those of `ids` that are unknown, or private and not `organization_id` (every known
    one is seen with `all_visible`)."""
    rows = await connection.fetch(_VISIBLE_ORGANIZATIONS, ids, all_visible, organization_id)
    seen = {row["id"] for row in rows}
    return [identifier for identifier in ids if identifier not in seen]


async def organizations(connection: Connection, ids: list[UUID]) -> dict[UUID, Organization]:
    found = await fetch_structs(connection, Organization, _ORGANIZATIONS, ids)
    return {item.id: item for item in found}


async def busy(
    connection: Connection,
    organization_ids: list[UUID],
    starts_at: datetime,
    ends_at: datetime,
    *,
    except_meeting: UUID,
) -> list[Busy]:
    """Sessions of other meetings these organizations take part in, within the interval,
    per organization (those with none are left out)."""
    return await fetch_structs(
        connection, Busy, _BUSY, organization_ids, starts_at, ends_at, except_meeting
    )


async def attendees(connection: Connection, meeting_id: UUID) -> list[Attendee]:
    return await fetch_structs(connection, Attendee, _ATTENDEES, meeting_id)


async def attendee(connection: Connection, meeting_id: UUID, person_id: UUID) -> Attendee | None:
    """A person signed up for the meeting, whatever their registration's status."""
    return await fetch_struct(connection, Attendee, _ATTENDEE, meeting_id, person_id)


async def lock_person(connection: Connection, person_id: UUID, *, shared: bool = False) -> None:
    """Until the transaction ends: a change to the person waits for the events about them
    being applied and they for it, so a registration and its person arriving at two
    replicas at once see each other. `shared`: the person's registrations (for different
    meetings, each under its meeting's lock) are applied side by side."""
    await connection.execute(_LOCK_PERSON_SHARED if shared else _LOCK_PERSON, str(person_id))


async def person_known(connection: Connection, person_id: UUID) -> bool:
    return bool(await connection.fetchval(_PERSON_KNOWN, person_id))


async def person(connection: Connection, person_id: UUID | None) -> Person | None:
    return await fetch_struct(connection, Person, _PERSON, person_id)


async def registrations_of(connection: Connection, person_id: UUID) -> list[HeldPlace]:
    """The person's registrations that hold a place, with their versions."""
    return await fetch_structs(connection, HeldPlace, _REGISTRATIONS_OF, person_id)


# Calendar entries


async def write_entries(
    connection: Connection,
    meeting_id: UUID,
    entries: list[tuple[str, datetime, datetime, str, str]],
    rendering: int,
) -> None:
    """Keep these entries (uid, start, end, TZIDs, body) of the meeting, replacing its
    others, as `rendering` wrote them."""
    uids = [uid for uid, *_ in entries]
    await connection.execute(
        _UPSERT_ENTRIES,
        meeting_id,
        uids,
        [starts_at for _, starts_at, *_ in entries],
        [ends_at for _, _, ends_at, *_ in entries],
        [tzids for *_, tzids, _ in entries],
        [body for *_, body in entries],
        rendering,
    )
    await connection.execute(_DELETE_OTHER_ENTRIES, meeting_id, uids)


async def stale_entries(connection: Connection, rendering: int, limit: int) -> list[UUID]:
    """Meetings with entries a rendering before `rendering` wrote."""
    rows = await connection.fetch(_STALE_ENTRIES, rendering, limit)
    return [row["meeting_id"] for row in rows]


async def feed_versions(
    connection: Connection, kind: FeedKind, subject: UUID | None
) -> FeedVersions:
    return await _written(connection, FeedVersions, _FEED_VERSIONS[kind], subject)


async def feed_entries(
    connection: Connection, kind: FeedKind, subject: UUID | None
) -> list[StoredEntry]:
    return await fetch_structs(connection, StoredEntry, _FEED_ENTRIES[kind], subject)


# Feeds


async def insert_feed(  # noqa: PLR0917 (the columns, in their order)
    connection: Connection,
    feed_id: UUID,
    kind: FeedKind,
    organization_id: UUID | None,
    person_id: UUID | None,
    token: str,
) -> StoredFeed:
    return await _written(
        connection, StoredFeed, _INSERT_FEED, feed_id, kind, organization_id, person_id, token
    )


async def feed(
    connection: Connection, feed_id: UUID, *, for_update: bool = False
) -> StoredFeed | None:
    query = _FEED_FOR_UPDATE if for_update else _FEED
    return await fetch_struct(connection, StoredFeed, query, feed_id)


async def feed_at(connection: Connection, token: str) -> StoredFeed | None:
    return await fetch_struct(connection, StoredFeed, _FEED_AT, token)


async def revoke_feed(
    connection: Connection, feed_id: UUID, replaced_by: UUID | None
) -> StoredFeed:
    return await _written(connection, StoredFeed, _REVOKE_FEED, feed_id, replaced_by)


async def feeds(
    connection: Connection,
    after: UUID | None,
    limit: int,
    *,
    organization_id: UUID | None,
    revoked: bool,
) -> list[StoredFeed]:
    """Feeds of `organization_id` and its people (every one without), revoked ones too
    with `revoked`."""
    return await fetch_structs(
        connection, StoredFeed, _FEEDS, after, limit, organization_id, revoked
    )


# Outgoing mail


async def queue_mail(connection: Connection, records: list[MailRecord]) -> int:
    """Queue these mails, but those whose key was queued before; how many are new."""
    if not records:
        return 0
    status = await connection.execute(
        _QUEUE_MAIL,
        [record.id for record in records],
        [record.dedupe_key for record in records],
        [record.person_id for record in records],
        [record.meeting_id for record in records],
        [record.uid for record in records],
        [record.method for record in records],
        [record.kind for record in records],
        [record.sequence for record in records],
        [record.session_id for record in records],
        [record.traceparent for record in records],
    )
    return int(status.rsplit(" ", 1)[-1])


async def lease_mail(connection: Connection) -> QueuedMail | None:
    """The next mail to send, locked until the caller's transaction ends."""
    return await fetch_struct(connection, QueuedMail, _LEASE_MAIL)


async def mail_superseded(connection: Connection, mail: MailRecord) -> bool:
    """Whether a newer mail of the whole object waits for the same person."""
    return bool(await connection.fetchval(_MAIL_SUPERSEDED, mail.person_id, mail.uid, mail.id))


async def object_mailed(connection: Connection, person_id: UUID, uid: str) -> bool:
    """Whether the person has been sent a mail of this calendar object."""
    return bool(await connection.fetchval(_OBJECT_MAILED, person_id, uid))


async def mail_sent(
    connection: Connection, mail_id: UUID, message: bytes, sender: str, recipients: list[str]
) -> None:
    await connection.execute(_MAIL_SENT, mail_id, message, sender, recipients)


async def retry_mail(connection: Connection, mail_id: UUID, wait: timedelta, error: str) -> None:
    await connection.execute(_RETRY_MAIL, mail_id, wait, error)


async def mail_failed(connection: Connection, mail_id: UUID, error: str) -> None:
    await connection.execute(_MAIL_FAILED, mail_id, error)


async def mail_skipped(connection: Connection, mail_id: UUID, reason: str) -> None:
    await connection.execute(_MAIL_SKIPPED, mail_id, reason)


class MailWaiting(msgspec.Struct, frozen=True):
    """How much mail waits to be sent, and for how long the oldest has."""

    waiting: int
    oldest_seconds: float


async def mail_waiting(connection: Connection) -> MailWaiting:
    found = await fetch_struct(connection, MailWaiting, _MAIL_WAITING)
    assert found is not None, "an aggregate answers one row"
    return found


async def seconds_until_mail_due(connection: Connection) -> float | None:
    seconds: float | None = await connection.fetchval(_NEXT_MAIL_DUE)
    return seconds
