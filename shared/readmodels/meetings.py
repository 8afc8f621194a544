"""Scheduling's meetings as other services keep them: one read model, one way to fill it.

A service that includes `MIGRATIONS` among its migration sources gets the `meetings`
table; `apply` brings it up to date with one meeting event (the inbox has already
discarded duplicates and stale versions).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final
from uuid import UUID

import msgspec

from shared.db import Connection, as_struct
from shared.events import MeetingEvent, MeetingKind, MeetingSession, MeetingSite, MeetingStatus

MIGRATIONS: Final = ("meetings-read-model", Path(__file__).parent / "migrations" / "meetings")

_UPSERT: Final = """
INSERT INTO meetings (id, title, kind, status, host_organization_id, organization_ids,
                      starts_at, ends_at, started_at, ended_at, version, sessions, sites, public)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (id) DO UPDATE SET
    title = EXCLUDED.title, kind = EXCLUDED.kind, status = EXCLUDED.status,
    host_organization_id = EXCLUDED.host_organization_id,
    organization_ids = EXCLUDED.organization_ids, starts_at = EXCLUDED.starts_at,
    ends_at = EXCLUDED.ends_at, started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at, version = EXCLUDED.version, sessions = EXCLUDED.sessions,
    sites = EXCLUDED.sites, public = EXCLUDED.public
WHERE meetings.version < EXCLUDED.version
"""
_MEETING: Final = "SELECT * FROM meetings WHERE id = $1"
_MEETING_FOR_UPDATE: Final = "SELECT * FROM meetings WHERE id = $1 FOR UPDATE"


class Meeting(msgspec.Struct, frozen=True, kw_only=True):
    """A meeting as the read model keeps it."""

    id: UUID
    title: str
    kind: MeetingKind
    status: MeetingStatus
    host_organization_id: UUID
    organization_ids: list[UUID]
    """Its sites, the host among them."""
    starts_at: datetime
    ends_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    version: int
    sessions: list[MeetingSession]
    """None listed: one session, whose id is the meeting's."""
    sites: list[MeetingSite]
    public: bool


async def meeting(
    connection: Connection, meeting_id: UUID, *, for_update: bool = False
) -> Meeting | None:
    """The meeting as last heard of; `for_update` locks its row until the transaction ends
    (the registry's sign-ups take places one at a time this way)."""
    row = await connection.fetchrow(_MEETING_FOR_UPDATE if for_update else _MEETING, meeting_id)
    return None if row is None else as_struct(row, Meeting)


async def apply(connection: Connection, event: MeetingEvent) -> None:
    await connection.execute(
        _UPSERT,
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
        msgspec.to_builtins(event.sessions),
        msgspec.to_builtins(event.sites),
        event.public,
    )
