"""Who may see what of the registry's: every lookup by an id a caller names goes through here.

The rules are `shared.access`'s (and the table in docs/design.md). Each lookup returns the
row when the caller may see it, and otherwise raises exactly what an id that does not exist
raises, so that no answer tells one from the other.
"""

from __future__ import annotations

from uuid import UUID

from services.registry import store
from services.registry.schemas import Person, Registration
from services.registry.store import StoredOrganization
from services.registry.webhooks import store as webhooks
from services.registry.webhooks.schemas import Endpoint
from shared.access import Caller, require_own_organization, sees_meeting, sees_organization
from shared.db import Connection
from shared.errors import not_found, unknown_meeting
from shared.events import OrganizationKind
from shared.readmodels import catchup, meetings
from shared.readmodels.meetings import Meeting


async def visible_meeting(
    connection: Connection, caller: Caller | None, meeting_id: UUID, *, for_update: bool = False
) -> Meeting:
    """The meeting as the registry knows it, if the caller may see it."""

    async def lookup() -> Meeting | None:
        return await meetings.meeting(connection, meeting_id, for_update=for_update)

    found = await catchup.find("meeting", meeting_id, lookup)
    if found is None or not sees_meeting(
        caller, public=found.public, status=found.status, site_ids=found.organization_ids
    ):
        raise unknown_meeting(meeting_id, "the registry")
    return found


async def visible_organization(
    connection: Connection,
    caller: Caller | None,
    organization_id: UUID,
    *,
    for_update: bool = False,
) -> StoredOrganization:
    found = await store.organization(connection, organization_id, for_update=for_update)
    if found is None or not sees_organization(caller, organization_id, public=found.public):
        raise not_found("organization", organization_id)
    return found


async def visible_organizations(
    connection: Connection,
    visitor: Caller | None,
    *,
    after: UUID | None,
    limit: int,
    region: str | None,
    kind: OrganizationKind | None,
    text: str | None,
) -> list[StoredOrganization]:
    """A page of organizations: public ones to anyone, a partner's own too, all to staff."""
    return await store.list_organizations(
        connection,
        after=after,
        limit=limit,
        region=region,
        kind=kind,
        text=text,
        every=visitor is not None and visitor.is_staff,
        own=visitor.organization_id if visitor else None,
    )


async def own_person(
    connection: Connection, caller: Caller, person_id: UUID, *, for_update: bool = False
) -> Person:
    """A person of the caller's organization (any, for staff): people are never public."""
    found = await store.person(connection, person_id, for_update=for_update)
    if found is None or not caller.acts_for(found.organization_id):
        raise not_found("person", person_id)
    return found


async def visible_registration(
    connection: Connection, caller: Caller, registration_id: UUID
) -> Registration:
    """A registration of a person of the caller's organization (any, for staff)."""
    found = await store.registration(connection, registration_id)
    if found is None or not caller.acts_for(found.organization_id):
        raise not_found("registration", registration_id)
    return found


def listed_organization(caller: Caller, asked: UUID | None = None) -> UUID | None:
    """The organization whose people, registrations or numbers a list shows the caller: the
    one asked for, if the caller acts for it; else a partner's own; None (every one's) for
    staff."""
    if asked is not None:
        require_own_organization(caller, asked)
        return asked
    return None if caller.is_staff else caller.organization_id


def is_site(meeting: Meeting, organization_id: UUID) -> bool:
    """Whether the organization is one of the meeting's sites (the host is one)."""
    return organization_id in meeting.organization_ids


async def own_endpoint(
    connection: Connection, caller: Caller, endpoint_id: UUID, *, for_update: bool = False
) -> Endpoint:
    """A webhook endpoint of the caller's organization (any, for staff)."""
    found = await webhooks.endpoint(connection, endpoint_id, for_update=for_update)
    if found is None or not caller.acts_for(found.organization_id):
        raise not_found("webhook endpoint", endpoint_id)
    return found
