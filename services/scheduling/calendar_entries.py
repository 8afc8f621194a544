"""Render on write, assemble on read: each calendar object's VEVENTs are rendered when its
meeting changes and kept as text; a feed of thousands of events only concatenates them.

What is kept says what the code that rendered it wrote: when the rendering changes (a link,
a line of the description), `RENDERING` is raised and the service renders every older
entry again when it starts (`meetings.render_stale_entries`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from services.scheduling.ical import CalendarMeeting, FeedEntry, calendar_objects
from shared.db import Connection, fetch_one
from shared.events import utc_now

RENDERING: Final = 1
"""How entries are rendered: raise it with any change to what `ical.calendar_objects`
writes. 1: the agenda's page as URL and link, no URL without one, the kind named once."""

_UPSERT: Final = """
INSERT INTO calendar_entries
    (uid, meeting_id, starts_at, ends_at, tzids, body, updated_at, rendering)
SELECT e.uid, $1, e.starts_at, e.ends_at, string_to_array(e.tzids, ' '), e.body, now(), $7
FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[])
    AS e (uid, starts_at, ends_at, tzids, body)
ON CONFLICT (uid) DO UPDATE SET meeting_id = EXCLUDED.meeting_id,
    starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, tzids = EXCLUDED.tzids,
    body = EXCLUDED.body, updated_at = EXCLUDED.updated_at, rendering = EXCLUDED.rendering
"""
_DELETE_OTHERS: Final = """
DELETE FROM calendar_entries WHERE meeting_id = $1 AND NOT uid = ANY($2::text[])
"""
_STALE: Final = """
SELECT DISTINCT meeting_id FROM calendar_entries WHERE rendering < $1 ORDER BY meeting_id
LIMIT $2
"""

FeedKind = Literal["organization", "person", "public"]

# Which entries each kind of feed holds: an organization's meetings (as a site), a
# person's (registered, not cancelled or waitlisted), and every public meeting.
_MEMBERS: Final[dict[FeedKind, str]] = {
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


async def write(connection: Connection, meeting: CalendarMeeting) -> None:
    """Render the meeting's calendar objects and keep them, replacing the previous ones."""
    objects = calendar_objects(meeting, utc_now())
    await connection.execute(
        _UPSERT,
        meeting.meeting_id,
        [found.uid for found in objects],
        [found.starts_at for found in objects],
        [found.ends_at for found in objects],
        [" ".join(sorted(found.tzids)) for found in objects],
        [found.to_ical() for found in objects],
        RENDERING,
    )
    await connection.execute(_DELETE_OTHERS, meeting.meeting_id, [found.uid for found in objects])


async def stale(connection: Connection, limit: int) -> list[UUID]:
    """Meetings with entries an earlier rendering wrote."""
    return [row["meeting_id"] for row in await connection.fetch(_STALE, RENDERING, limit)]


@dataclass(frozen=True)
class FeedState:
    """What identifies a feed's current content without reading it."""

    etag: str
    last_modified: datetime | None
    count: int


async def feed_state(connection: Connection, kind: FeedKind, subject: UUID | None) -> FeedState:
    row = await fetch_one(
        connection,
        f"""
        SELECT count(*) AS count, max(updated_at) AS last_modified,
               string_agg(uid || ' ' || updated_at::text, ',' ORDER BY uid) AS versions
        FROM ({_MEMBERS[kind]}) AS entries
        """,
        subject,
    )
    digest = hashlib.sha256((row["versions"] or "").encode()).hexdigest()[:32]
    return FeedState(f'"{digest}"', row["last_modified"], row["count"])


async def feed_entries(
    connection: Connection, kind: FeedKind, subject: UUID | None
) -> list[FeedEntry]:
    rows = await connection.fetch(
        f"{_MEMBERS[kind]} ORDER BY e.starts_at, e.uid",
        subject,
    )
    return [
        FeedEntry(
            body=row["body"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            tzids=row["tzids"],
        )
        for row in rows
    ]
