"""Change feeds: rows in the order they changed, resumable without a miss or a repeat.

A table that has one keeps `changed_in`, the id of the transaction that last wrote the row,
and `updated_at` (trigger `mark_changed()`, kernel migration 0003). A feed hands rows out
ordered by (`changed_in`, `id`), and only rows of transactions older than every one still
running (the snapshot's `xmin`, the *horizon*): a row not yet committed always belongs to a
transaction at or past the horizon, and so does any later change. A poller that resumes
from the position of the last row it saw, or from the horizon once it has seen all there
was, therefore misses nothing and gets nothing twice, unless the row changed again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, NamedTuple, TypeVar
from uuid import UUID

import msgspec

from shared.db import Connection, as_struct

T = TypeVar("T")

NIL: UUID = UUID(int=0)


class Position(NamedTuple):
    """Where a row is in change order."""

    changed_in: int
    id: UUID


class Changes(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    positions: list[Position]
    horizon: int
    """Every transaction before this one had ended when the rows were read."""


def in_change_order(select: str, alias: str) -> str:
    """A query of changed rows: `select` is `SELECT ... FROM <table> <alias> WHERE <filters>`
    whose own parameters start at $5; $1 and $2 are the position to start after, $3 the
    earliest `updated_at`, $4 the page size. One row is always answered, holding the
    horizon, with the changed rows' columns null when there are none."""
    return f"""
SELECT horizon.xmin AS horizon, changed.*
FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS horizon
LEFT JOIN LATERAL (
    {select}
      AND ({alias}.changed_in, {alias}.id) > ($1::xid8, $2::uuid)
      AND {alias}.changed_in < horizon.xmin
      AND ($3::timestamptz IS NULL OR {alias}.updated_at >= $3)
    ORDER BY {alias}.changed_in, {alias}.id
    LIMIT $4
) AS changed ON true
"""


Asked = tuple[Position | None, datetime | None, int]
"""Which changes: after this position, changed at or after this instant, at most this many."""


async def fetch_changes(
    connection: Connection, struct_type: type[T], query: str, asked: Asked, *args: object
) -> Changes[T]:
    """The changes `asked` for of `query` (made by `in_change_order`)."""
    after, since, limit = asked
    start = after or Position(0, NIL)
    rows = await connection.fetch(query, start.changed_in, start.id, since, limit, *args)
    found = [row for row in rows if row["id"] is not None]
    return Changes(
        items=[as_struct(row, struct_type) for row in found],
        positions=[Position(row["changed_in"], row["id"]) for row in found],
        horizon=rows[0]["horizon"],
    )
