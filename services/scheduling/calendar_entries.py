"""Render on write, assemble on read: each calendar object's VEVENTs are rendered when its
meeting changes and kept as text; a feed of thousands of events only concatenates them.

What is kept says what the code that rendered it wrote: when the rendering changes (a link,
a line of the description), `RENDERING` is raised and the service renders every older
entry again when it starts (`meetings.render_stale_entries`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final
from uuid import UUID

import msgspec

from services.scheduling import store
from services.scheduling.ical import CalendarMeeting, FeedEntry, calendar_objects
from services.scheduling.schemas import FeedKind
from shared.db import Connection
from shared.events import utc_now

RENDERING: Final = 1
"""How entries are rendered: raise it with any change to what `ical.calendar_objects`
writes. 1: the agenda's page as URL and link, no URL without one, the kind named once."""


async def write(connection: Connection, meeting: CalendarMeeting) -> None:
    """Render the meeting's calendar objects and keep them, replacing the previous ones."""
    objects = calendar_objects(meeting, utc_now())
    await store.write_entries(
        connection,
        meeting.meeting_id,
        [
            (
                found.uid,
                found.starts_at,
                found.ends_at,
                " ".join(sorted(found.tzids)),
                found.to_ical(),
            )
            for found in objects
        ],
        RENDERING,
    )


async def stale(connection: Connection, limit: int) -> list[UUID]:
    """Meetings with entries an earlier rendering wrote."""
    return await store.stale_entries(connection, RENDERING, limit)


class FeedState(msgspec.Struct, frozen=True):
    """What identifies a feed's current content without reading it."""

    etag: str
    last_modified: datetime | None
    count: int


async def feed_state(
    connection: Connection, kind: FeedKind, subject: UUID | None, name: str
) -> FeedState:
    """The feed's ETag covers each entry's version, and the name the feed is titled with."""
    found = await store.feed_versions(connection, kind, subject)
    digest = hashlib.sha256(f"{name}\n{found.versions or ''}".encode()).hexdigest()[:32]
    return FeedState(f'"{digest}"', found.last_modified, found.count)


async def feed_entries(
    connection: Connection, kind: FeedKind, subject: UUID | None
) -> list[FeedEntry]:
    return [
        FeedEntry(body=row.body, starts_at=row.starts_at, ends_at=row.ends_at, tzids=row.tzids)
        for row in await store.feed_entries(connection, kind, subject)
    ]
