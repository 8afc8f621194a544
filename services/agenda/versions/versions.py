"""What agendas and summaries do alike with their versions: find one or answer 404, refuse
a change based on a stale version, publish, withdraw, and tell which is the latest and
which the published one."""

from __future__ import annotations

from uuid import UUID

from services.agenda.versions import store
from services.agenda.versions.store import Head, Kind, Row
from shared.access import Caller
from shared.db import Connection
from shared.errors import Conflict, NotFound, require_version
from shared.events import new_id

__all__ = ["Head", "Kind", "Row"]


async def head(connection: Connection, kind: Kind[Row], meeting_id: UUID) -> Head | None:
    return await store.head(connection, kind, meeting_id)


async def locked_head(connection: Connection, kind: Kind[Row], meeting_id: UUID) -> Head:
    """The head, made if the meeting has none yet, locked until the transaction ends."""
    return await store.locked_head(connection, kind, meeting_id, new_id())


def check_expected(head: Head, expected_version: int | None) -> None:
    """Refuse a change based on another version than the latest: `expected_version` is the
    latest the caller read (None: it has read none, which is right only while there is
    none), so that no one's version is lost."""
    if head.latest_version or expected_version is not None:
        require_version(head.latest_version, expected_version)


async def found(connection: Connection, kind: Kind[Row], meeting_id: UUID, number: int) -> Row:
    """The version, or 404."""
    row = await store.version(connection, kind, meeting_id, number)
    if row is None:
        raise NotFound(
            "no-such-version", f"the {kind.name} of {meeting_id} has no version {number}"
        )
    return row


async def latest(connection: Connection, kind: Kind[Row], head: Head) -> Row | None:
    if not head.latest_version:
        return None
    return await store.version(connection, kind, head.meeting_id, head.latest_version)


async def every(
    connection: Connection, kind: Kind[Row], meeting_id: UUID
) -> list[tuple[Row, Head]]:
    """Every version with the head it is seen under, newest first."""
    found_head = await store.head(connection, kind, meeting_id)
    if found_head is None:
        return []
    return [(row, found_head) for row in await store.versions(connection, kind, meeting_id)]


async def add(
    connection: Connection, kind: Kind[Row], meeting_id: UUID, *values: object, created_by: str
) -> Row:
    return await store.add_version(connection, kind, meeting_id, *values, created_by=created_by)


async def publish(connection: Connection, kind: Kind[Row], meeting_id: UUID, number: int) -> Head:
    """Make the version the published one; the head, with its next event version."""
    return await store.publish(connection, kind, meeting_id, number)


async def unpublish(connection: Connection, kind: Kind[Row], meeting_id: UUID) -> Head:
    """Withdraw the published version (409 if there is none); every version stays kept."""
    current = await store.head(connection, kind, meeting_id, for_update=True)
    if current is None or current.published_version is None:
        raise Conflict("not-published", f"meeting {meeting_id} has no published {kind.name}")
    return await store.unpublish(connection, kind, meeting_id)


async def published(connection: Connection, kind: Kind[Row], meeting_id: UUID) -> Row | None:
    return await store.published_version(connection, kind, meeting_id)


def is_published(head: Head, number: int) -> bool:
    return head.published_version == number


def is_latest(head: Head, number: int) -> bool:
    return head.latest_version == number


def author(caller: Caller) -> str:
    """Who made a version, as the version records it."""
    return f"key {caller.key_id}" if caller.key_id else "operator"
