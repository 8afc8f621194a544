"""Who may see what of the registry's: every lookup by id a caller names goes through here.

The rules are `shared.access`'s (and the table in docs/design.md). Each function returns the
row when the caller may see it, and otherwise raises exactly what an id that does not exist
raises, so that no answer tells one from the other.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from shared.access import sees_meeting, sees_organization
from shared.db import Connection
from shared.errors import not_found, unknown_meeting
from shared.http.auth import Caller
from shared.readmodels import catchup

_MEETING: Final = "SELECT * FROM meetings WHERE id = $1"
_MEETING_FOR_UPDATE: Final = "SELECT * FROM meetings WHERE id = $1 FOR UPDATE"
_ORGANIZATION: Final = "SELECT * FROM organizations WHERE id = $1"
_ORGANIZATION_FOR_UPDATE: Final = "SELECT * FROM organizations WHERE id = $1 FOR UPDATE"
_PERSON: Final = "SELECT * FROM people WHERE id = $1"
_PERSON_FOR_UPDATE: Final = "SELECT * FROM people WHERE id = $1 FOR UPDATE"
_ORGANIZATION_EXISTS: Final = "SELECT EXISTS (SELECT FROM organizations WHERE id = $1::uuid)"
_PERSON_EXISTS: Final = "SELECT EXISTS (SELECT FROM people WHERE id = $1::uuid)"
_KEY_EXISTS: Final = "SELECT EXISTS (SELECT FROM api_keys WHERE prefix = $1)"


async def visible_meeting(
    connection: Connection, caller: Caller | None, meeting_id: UUID, *, for_update: bool = False
) -> Any:
    """The meeting as the registry knows it, if the caller may see it."""
    query = _MEETING_FOR_UPDATE if for_update else _MEETING

    async def lookup() -> Any:
        return await connection.fetchrow(query, meeting_id)

    row = await catchup.find("meeting", meeting_id, lookup)
    if row is None or not sees_meeting(
        caller, public=row["public"], status=row["status"], site_ids=row["organization_ids"]
    ):
        raise unknown_meeting(meeting_id, "the registry")
    return row


async def visible_organization(
    connection: Connection,
    caller: Caller | None,
    organization_id: UUID,
    *,
    for_update: bool = False,
) -> Any:
    query = _ORGANIZATION_FOR_UPDATE if for_update else _ORGANIZATION
    row = await connection.fetchrow(query, organization_id)
    if row is None or not sees_organization(caller, organization_id, public=row["public"]):
        raise not_found("organization", organization_id)
    return row


async def own_person(
    connection: Connection, caller: Caller, person_id: UUID, *, for_update: bool = False
) -> Any:
    """A person of the caller's organization (any, for staff): people are never public."""
    row = await connection.fetchrow(_PERSON_FOR_UPDATE if for_update else _PERSON, person_id)
    if row is None or not caller.acts_for(row["organization_id"]):
        raise not_found("person", person_id)
    return row


def is_site(meeting: Any, organization_id: UUID) -> bool:
    """Whether the organization is one of the meeting's sites (the host is one)."""
    return organization_id in meeting["organization_ids"]


def _exists(query: str) -> catchup.Answer:
    async def answer(connection: Connection, identifier: str) -> bool:
        if query != _KEY_EXISTS and not _is_uuid(identifier):
            return False
        return bool(await connection.fetchval(query, identifier))

    return answer


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


IDS: Final[dict[catchup.Kind, catchup.Answer]] = {
    "organization": _exists(_ORGANIZATION_EXISTS),
    "person": _exists(_PERSON_EXISTS),
    "key": _exists(_KEY_EXISTS),
}
"""The ids the registry creates, as other services ask after them (read-your-writes)."""
