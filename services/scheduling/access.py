"""Who may see what of scheduling's: every lookup by id a caller names goes through here.

The rules are `shared.access`'s (and the table in docs/design.md). What the caller may not
see answers exactly as an id that does not exist.
"""

from __future__ import annotations

from functools import partial
from typing import Final
from uuid import UUID

from services.scheduling import meetings, store
from services.scheduling.meetings import MeetingState
from shared.access import Caller, require_host, sees_meeting, takes_part
from shared.db import Connection
from shared.errors import FieldError, invalid_fields, not_found
from shared.readmodels import catchup


async def visible_meeting(
    connection: Connection, caller: Caller | None, meeting_id: UUID, *, for_update: bool = False
) -> MeetingState:
    """The meeting, if the caller may see it: public ones (drafts excepted) to anyone,
    others to their sites and staff."""
    row = await catchup.find(
        "meeting", meeting_id, partial(store.meeting, connection, meeting_id, for_update=for_update)
    )
    if row is None:
        raise not_found("meeting", meeting_id)
    state = await meetings.load(connection, row)
    if not sees_meeting(caller, public=row.public, status=row.status, site_ids=site_ids(state)):
        raise not_found("meeting", meeting_id)
    return state


async def hosted_meeting(connection: Connection, caller: Caller, meeting_id: UUID) -> MeetingState:
    """The meeting, locked, if the caller's organization hosts it (or the caller is staff):
    404 if the caller cannot see it, 403 if it can but does not host it."""
    state = await visible_meeting(connection, caller, meeting_id, for_update=True)
    require_host(caller, state.stored.host_organization_id)
    return state


def site_ids(state: MeetingState) -> list[UUID]:
    return [site.organization_id for site in state.site_rows]


def takes_part_in(caller: Caller | None, state: MeetingState) -> bool:
    """Staff, or a key of one of the meeting's sites: they see who is invited."""
    return takes_part(caller, site_ids(state))


async def unseen_organizations(
    connection: Connection, caller: Caller, ids: list[UUID]
) -> list[UUID]:
    """Those of `ids` the caller may not name: unknown (once the registry's events that
    are on their way have arrived), or private and not its own."""
    unseen = await store.unseen_organizations(
        connection, ids, organization_id=caller.organization_id, all_visible=caller.is_staff
    )
    if not unseen:
        return unseen
    for organization_id in unseen:
        await catchup.find(
            "organization",
            organization_id,
            partial(store.organization, connection, organization_id),
        )
    return await store.unseen_organizations(
        connection, ids, organization_id=caller.organization_id, all_visible=caller.is_staff
    )


async def require_seen_organizations(
    connection: Connection,
    caller: Caller,
    ids: list[UUID],
    field_of: dict[UUID, str] | None = None,
    *,
    field: str = "organization_ids",
) -> None:
    """A 422 naming every organization the caller may not name: unknown, or private and not
    its own; one answer for both, so that a private organization cannot be told apart."""
    unseen = await unseen_organizations(connection, caller, ids)
    if not unseen:
        return
    raise invalid_fields(
        [
            FieldError(
                message=f"unknown organization {organization_id}",
                field=(field_of or {}).get(organization_id, field),
                source="body",
            )
            for organization_id in unseen
        ],
        slug="unknown-organization",
        detail="scheduling does not know organization(s) "
        + ", ".join(map(str, unseen))
        + ": register them with the registry first (its events take a moment to arrive)",
    )


async def _meeting_exists(connection: Connection, identifier: str) -> bool:
    try:
        meeting_id = UUID(identifier)
    except ValueError:
        return False
    row = await store.meeting(connection, meeting_id)
    # A draft is scheduling's own: no event carries it to anyone.
    return row is not None and row.status != "draft"


IDS: Final[dict[catchup.Kind, catchup.Answer]] = {"meeting": _meeting_exists}
"""The ids scheduling creates, as other services ask after them (read-your-writes)."""
