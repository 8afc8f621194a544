"""The SQL of versioned documents, agendas and summaries alike.

Each meeting's document has a head row (`agendas`, `summaries`): its id, the latest and
the published version numbers, and the version of its own events. Every version is a row
of its own (`agenda_versions`, `summary_versions`) that is never changed. `Kind` names the
two tables and the columns a version carries; every statement here works on either kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, TypeVar
from uuid import UUID

import msgspec

from shared.db import Connection, as_struct, as_structs

Row = TypeVar("Row", bound=msgspec.Struct)


class Head(msgspec.Struct, frozen=True):
    """A document's head: which version is the latest, which one is published."""

    meeting_id: UUID
    id: UUID
    latest_version: int
    published_version: int | None
    published_at: datetime | None
    event_version: int


@dataclass(frozen=True)
class Kind(Generic[Row]):
    """One kind of versioned document: its tables, and its version rows as a Struct whose
    fields after `meeting_id` and `version` are the columns a new version is written with
    (then `created_at` and `created_by`)."""

    name: str
    """How problems name it: "agenda", "summary"."""
    heads: str
    versions: str
    row: type[Row]
    columns: tuple[str, ...]
    touched: str = ""
    """Columns the head sets besides the latest version when a version is added."""


_HEAD: Final = "SELECT * FROM {heads} WHERE meeting_id = $1"
_LOCKED_HEAD: Final = "SELECT * FROM {heads} WHERE meeting_id = $1 FOR UPDATE"
_NEW_HEAD: Final = """
INSERT INTO {heads} (meeting_id, id) VALUES ($1, $2)
ON CONFLICT (meeting_id) DO NOTHING
"""
_ADD_VERSION: Final = """
WITH head AS (
    UPDATE {heads} SET latest_version = latest_version + 1{touched}
    WHERE meeting_id = $1
    RETURNING latest_version
)
INSERT INTO {versions} (meeting_id, version, {columns}, created_by)
SELECT $1, latest_version, {values}, ${author} FROM head
RETURNING *
"""
_PUBLISH: Final = """
UPDATE {heads} SET published_version = $2, published_at = now(),
    event_version = event_version + 1
WHERE meeting_id = $1
RETURNING *
"""
_UNPUBLISH: Final = """
UPDATE {heads} SET published_version = NULL, published_at = NULL,
    event_version = event_version + 1
WHERE meeting_id = $1
RETURNING *
"""
_VERSION: Final = "SELECT * FROM {versions} WHERE meeting_id = $1 AND version = $2"
_VERSIONS: Final = "SELECT * FROM {versions} WHERE meeting_id = $1 ORDER BY version DESC"
_PUBLISHED_VERSION: Final = """
SELECT v.* FROM {heads} AS h
JOIN {versions} AS v ON v.meeting_id = h.meeting_id AND v.version = h.published_version
WHERE h.meeting_id = $1
"""


def _sql(template: str, kind: Kind[Row]) -> str:
    touched = "".join(f", {column} = now()" for column in kind.touched.split())
    return template.format(
        heads=kind.heads,
        versions=kind.versions,
        touched=touched,
        columns=", ".join(kind.columns),
        values=", ".join(f"${n}" for n in range(2, len(kind.columns) + 2)),
        author=len(kind.columns) + 2,
    )


async def head(
    connection: Connection, kind: Kind[Row], meeting_id: UUID, *, for_update: bool = False
) -> Head | None:
    query = _LOCKED_HEAD if for_update else _HEAD
    row = await connection.fetchrow(_sql(query, kind), meeting_id)
    return None if row is None else as_struct(row, Head)


async def locked_head(connection: Connection, kind: Kind[Row], meeting_id: UUID, id: UUID) -> Head:
    """The head, made (with this id) if the meeting has none yet, locked until the
    transaction ends."""
    row = await connection.fetchrow(_sql(_LOCKED_HEAD, kind), meeting_id)
    if row is None:
        await connection.execute(_sql(_NEW_HEAD, kind), meeting_id, id)
        row = await connection.fetchrow(_sql(_LOCKED_HEAD, kind), meeting_id)
    assert row is not None
    return as_struct(row, Head)


async def add_version(
    connection: Connection, kind: Kind[Row], meeting_id: UUID, *values: object, created_by: str
) -> Row:
    """The next version, with a value for each of the kind's columns."""
    assert len(values) == len(kind.columns)
    row = await connection.fetchrow(_sql(_ADD_VERSION, kind), meeting_id, *values, created_by)
    assert row is not None
    return as_struct(row, kind.row)


async def publish(connection: Connection, kind: Kind[Row], meeting_id: UUID, number: int) -> Head:
    row = await connection.fetchrow(_sql(_PUBLISH, kind), meeting_id, number)
    assert row is not None
    return as_struct(row, Head)


async def unpublish(connection: Connection, kind: Kind[Row], meeting_id: UUID) -> Head:
    row = await connection.fetchrow(_sql(_UNPUBLISH, kind), meeting_id)
    assert row is not None
    return as_struct(row, Head)


async def version(
    connection: Connection, kind: Kind[Row], meeting_id: UUID, number: int
) -> Row | None:
    row = await connection.fetchrow(_sql(_VERSION, kind), meeting_id, number)
    return None if row is None else as_struct(row, kind.row)


async def versions(connection: Connection, kind: Kind[Row], meeting_id: UUID) -> list[Row]:
    """Every version, newest first."""
    return as_structs(await connection.fetch(_sql(_VERSIONS, kind), meeting_id), kind.row)


async def published_version(
    connection: Connection, kind: Kind[Row], meeting_id: UUID
) -> Row | None:
    row = await connection.fetchrow(_sql(_PUBLISHED_VERSION, kind), meeting_id)
    return None if row is None else as_struct(row, kind.row)
