"""The SQL of agendas: their versions (through `services.agenda.versions.store`), the
identities published items keep, and the numbers speakers keep across meetings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import msgspec

from services.agenda.agendas.identities import Identity, KnownItem, SpeakerKey
from services.agenda.schemas import ItemWrite, ScheduledItem
from services.agenda.versions.store import Kind
from shared.db import Connection, as_struct, as_structs


class StoredVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A version of an agenda: its items as scheduled and as the operator wrote them."""

    meeting_id: UUID
    version: int
    items: list[ScheduledItem]
    written: list[ItemWrite]
    created_at: datetime
    created_by: str


class Publication(StoredVersion, frozen=True, kw_only=True):
    """The published version with when it was published and its items' identities (none
    for a version published before identities were kept), in the items' order."""

    published_at: datetime
    identities: list[tuple[UUID, int, int]]

    def item_identities(self) -> list[Identity]:
        return [Identity(uid, number, sequence) for uid, number, sequence in self.identities]


class _PublishedItem(msgspec.Struct, frozen=True):
    uid: UUID
    number: int
    sequence: int
    item: ScheduledItem
    position: int | None


class _SpeakerNumber(msgspec.Struct, frozen=True):
    number: int
    person_id: UUID | None
    name: str | None
    organization: str | None


AGENDAS: Final = Kind(
    name="agenda",
    heads="agendas",
    versions="agenda_versions",
    row=StoredVersion,
    columns=("items", "written"),
    touched="updated_at",
)

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


async def published_items(connection: Connection, meeting_id: UUID) -> list[KnownItem]:
    """Every item the meeting's agenda has published, as it was last published."""
    return [
        KnownItem(
            Identity(row.uid, row.number, row.sequence),
            row.item,
            in_last_publication=row.position is not None,
        )
        for row in as_structs(await connection.fetch(_PUBLISHED_ITEMS, meeting_id), _PublishedItem)
    ]


async def publication(connection: Connection, meeting_id: UUID) -> Publication | None:
    """The published version with when it was published and its items' identities, read
    at one moment (a publication in between cannot pair one version's items with another's
    identities)."""
    row = await connection.fetchrow(_PUBLICATION, meeting_id)
    return None if row is None else as_struct(row, Publication)


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
    rows = as_structs(await connection.fetch(_SPEAKER_NUMBERS, *_columns(keys)), _SpeakerNumber)
    return {(row.person_id, row.name, row.organization): row.number for row in rows}


def _columns(keys: Sequence[SpeakerKey]) -> tuple[list[Any], list[Any], list[Any]]:
    ordered = list(dict.fromkeys(keys))
    return (
        [person_id for person_id, _, _ in ordered],
        [name for _, name, _ in ordered],
        [organization for _, _, organization in ordered],
    )
