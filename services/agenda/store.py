"""The agenda service's SQL: agendas, summary requests, and its read models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from services.agenda.identities import Identity, KnownItem, SpeakerKey
from services.agenda.schemas import ItemWrite, ScheduledItem
from shared.db import Connection

_MEETING: Final = "SELECT * FROM meetings WHERE id = $1"
_HOST_TIMEZONE: Final = "SELECT timezone FROM organizations WHERE id = $1"
_PEOPLE: Final = """
SELECT p.id, p.name, o.name AS organization FROM people AS p
LEFT JOIN organizations AS o ON o.id = p.organization_id
WHERE p.id = ANY($1::uuid[])
"""
_AGENDA: Final = "SELECT * FROM agendas WHERE meeting_id = $1"
_AGENDA_FOR_UPDATE: Final = "SELECT * FROM agendas WHERE meeting_id = $1 FOR UPDATE"
_NEW_AGENDA: Final = """
INSERT INTO agendas (meeting_id, id) VALUES ($1, $2)
ON CONFLICT (meeting_id) DO NOTHING
"""
_ADD_VERSION: Final = """
WITH head AS (
    UPDATE agendas SET latest_version = latest_version + 1, updated_at = now()
    WHERE meeting_id = $1
    RETURNING latest_version
)
INSERT INTO agenda_versions (meeting_id, version, items, written, created_by)
SELECT $1, latest_version, $2, $3, $4 FROM head
RETURNING *
"""
_PUBLISH: Final = """
UPDATE agendas SET published_version = $2, published_at = now(),
    event_version = event_version + 1
WHERE meeting_id = $1
RETURNING *
"""
_UNPUBLISH: Final = """
UPDATE agendas SET published_version = NULL, published_at = NULL,
    event_version = event_version + 1
WHERE meeting_id = $1
RETURNING *
"""
_VERSION: Final = "SELECT * FROM agenda_versions WHERE meeting_id = $1 AND version = $2"
_VERSIONS: Final = """
SELECT * FROM agenda_versions WHERE meeting_id = $1 ORDER BY version DESC
"""
_PUBLISHED_VERSION: Final = """
SELECT v.* FROM agendas AS a
JOIN agenda_versions AS v ON v.meeting_id = a.meeting_id AND v.version = a.published_version
WHERE a.meeting_id = $1
"""
_PUBLISHED_ITEMS: Final = """
SELECT uid, number, sequence, item, position FROM agenda_published_items
WHERE meeting_id = $1
ORDER BY number
"""
_LEAVE_LAST_PUBLICATION: Final = """
UPDATE agenda_published_items SET position = NULL
WHERE meeting_id = $1 AND position IS NOT NULL
"""
_PUT_PUBLISHED_ITEM: Final = """
INSERT INTO agenda_published_items (meeting_id, uid, number, sequence, item, position)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (meeting_id, uid) DO UPDATE
SET sequence = excluded.sequence, item = excluded.item, position = excluded.position
"""
_NUMBER_SPEAKERS: Final = """
INSERT INTO agenda_speakers (person_id, name, organization)
SELECT w.person_id, w.name, w.organization
FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY
    AS w (person_id, name, organization, place)
WHERE NOT EXISTS (
    SELECT FROM agenda_speakers AS s
    WHERE s.person_id IS NOT DISTINCT FROM w.person_id
      AND s.name IS NOT DISTINCT FROM w.name
      AND s.organization IS NOT DISTINCT FROM w.organization
)
ORDER BY w.place
ON CONFLICT (person_id, name, organization) DO NOTHING
"""
_SPEAKER_NUMBERS: Final = """
SELECT s.number, s.person_id, s.name, s.organization
FROM agenda_speakers AS s
JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS wanted (person_id, name, organization)
  ON s.person_id IS NOT DISTINCT FROM wanted.person_id
 AND s.name IS NOT DISTINCT FROM wanted.name
 AND s.organization IS NOT DISTINCT FROM wanted.organization
"""
_PUBLICATION: Final = """
SELECT v.*, a.published_at,
       (SELECT coalesce(
                   jsonb_agg(jsonb_build_array(p.uid, p.number, p.sequence) ORDER BY p.position),
                   '[]'
               )
        FROM agenda_published_items AS p
        WHERE p.meeting_id = a.meeting_id AND p.position IS NOT NULL) AS identities
FROM agendas AS a
JOIN agenda_versions AS v ON v.meeting_id = a.meeting_id AND v.version = a.published_version
WHERE a.meeting_id = $1
"""
_ORGANIZATIONS: Final = "SELECT * FROM organizations WHERE id = ANY($1::uuid[])"
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


async def meeting(connection: Connection, meeting_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_MEETING, meeting_id)
    return row


async def host_timezone(connection: Connection, organization_id: UUID) -> str | None:
    zone: str | None = await connection.fetchval(_HOST_TIMEZONE, organization_id)
    return zone


async def people(connection: Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    """Registered people by id, with their organization's name when it is known."""
    return await connection.fetch(_PEOPLE, ids)


async def agenda(
    connection: Connection, meeting_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    """The head of a meeting's agenda versions: latest and published version numbers."""
    query = _AGENDA_FOR_UPDATE if for_update else _AGENDA
    row: asyncpg.Record | None = await connection.fetchrow(query, meeting_id)
    return row


async def locked_agenda(
    connection: Connection, meeting_id: UUID, agenda_id: UUID
) -> asyncpg.Record:
    """The head, made if the meeting has none yet, locked until the transaction ends."""
    await connection.execute(_NEW_AGENDA, meeting_id, agenda_id)
    row = await agenda(connection, meeting_id, for_update=True)
    assert row is not None
    return row


async def add_version(
    connection: Connection,
    meeting_id: UUID,
    items: list[ScheduledItem],
    written: list[ItemWrite],
    created_by: str,
) -> asyncpg.Record:
    row = await connection.fetchrow(_ADD_VERSION, meeting_id, items, written, created_by)
    assert row is not None
    return row


async def publish(connection: Connection, meeting_id: UUID, version: int) -> asyncpg.Record:
    row = await connection.fetchrow(_PUBLISH, meeting_id, version)
    assert row is not None
    return row


async def unpublish(connection: Connection, meeting_id: UUID) -> asyncpg.Record:
    row = await connection.fetchrow(_UNPUBLISH, meeting_id)
    assert row is not None
    return row


async def version(connection: Connection, meeting_id: UUID, number: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_VERSION, meeting_id, number)
    return row


async def versions(connection: Connection, meeting_id: UUID) -> list[asyncpg.Record]:
    """Every version, newest first."""
    return await connection.fetch(_VERSIONS, meeting_id)


async def published_version(connection: Connection, meeting_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(_PUBLISHED_VERSION, meeting_id)
    return row


async def published_items(connection: Connection, meeting_id: UUID) -> list[KnownItem]:
    """Every item the meeting's agenda has published, as it was last published."""
    return [
        KnownItem(
            Identity(row["uid"], row["number"], row["sequence"]),
            msgspec.convert(row["item"], ScheduledItem),
            in_last_publication=row["position"] is not None,
        )
        for row in await connection.fetch(_PUBLISHED_ITEMS, meeting_id)
    ]


async def publication(connection: Connection, meeting_id: UUID) -> asyncpg.Record | None:
    """The published version with when it was published and its items' identities, read
    at one moment (a publication in between cannot pair one version's items with another's
    identities)."""
    row: asyncpg.Record | None = await connection.fetchrow(_PUBLICATION, meeting_id)
    return row


def identities_of(publication: asyncpg.Record) -> list[Identity]:
    """The identities of the publication's items, in their order; none for a version
    published before identities were kept."""
    return [
        Identity(UUID(uid), number, sequence) for uid, number, sequence in publication["identities"]
    ]


async def put_published_items(
    connection: Connection,
    meeting_id: UUID,
    items: Sequence[ScheduledItem],
    identities: Sequence[Identity],
) -> None:
    """Record a publication: `items` (a version's, in order) under their identities."""
    await connection.execute(_LEAVE_LAST_PUBLICATION, meeting_id)
    await connection.executemany(
        _PUT_PUBLISHED_ITEM,
        [
            (meeting_id, identity.uid, identity.number, identity.sequence, item, position)
            for position, (item, identity) in enumerate(zip(items, identities, strict=True))
        ],
    )


async def number_speakers(connection: Connection, keys: Sequence[SpeakerKey]) -> None:
    """Give each speaker that has none yet a number, in the order of `keys`."""
    await connection.execute(_NUMBER_SPEAKERS, *_columns(keys))


async def speaker_numbers(
    connection: Connection, keys: Sequence[SpeakerKey]
) -> dict[SpeakerKey, int]:
    rows = await connection.fetch(_SPEAKER_NUMBERS, *_columns(keys))
    return {(row["person_id"], row["name"], row["organization"]): row["number"] for row in rows}


def _columns(keys: Sequence[SpeakerKey]) -> tuple[list[Any], list[Any], list[Any]]:
    ordered = list(dict.fromkeys(keys))
    return (
        [person_id for person_id, _, _ in ordered],
        [name for _, name, _ in ordered],
        [organization for _, _, organization in ordered],
    )


def items_of(version: asyncpg.Record | None) -> list[ScheduledItem]:
    return msgspec.convert(version["items"], list[ScheduledItem]) if version else []


def written_of(version: asyncpg.Record) -> list[ItemWrite]:
    return msgspec.convert(version["written"], list[ItemWrite])


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


async def organizations(connection: Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    return await connection.fetch(_ORGANIZATIONS, ids)
