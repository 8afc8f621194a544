"""Sign-up for meetings: places per meeting and per site, and an ordered waitlist.

Every change to a meeting's registrations locks the meeting's row first, so concurrent
sign-ups take places one at a time: never more registered than there are places, and the
waitlist in the order the sign-ups got the lock. Whenever a place frees up (a cancellation,
more capacity) the waitlist is promoted in order, skipping people whose own site is full.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from uuid import UUID

from services.registry import store
from services.registry.access import visible_meeting
from services.registry.places import promotions
from services.registry.schemas import (
    CapacityFields,
    KnownMeeting,
    Registration,
    RegistrationCreate,
)
from shared.access import Caller, hosts
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.errors import Conflict, Forbidden, invalid
from shared.events import (
    RegistrationCancelled,
    RegistrationCreated,
    RegistrationEvent,
    RegistrationPromoted,
    RegistrationStatus,
    new_id,
)
from shared.readmodels.meetings import Meeting

_STAFF_ROLES: Final = frozenset({"moderator", "speaker"})


async def known_meeting(connection: Connection, meeting: Meeting) -> KnownMeeting:
    """The meeting with its places and how many hold one or wait for one."""
    places = await store.places(connection, meeting.id)
    return KnownMeeting(
        id=meeting.id,
        title=meeting.title,
        kind=meeting.kind,
        status=meeting.status,
        host_organization_id=meeting.host_organization_id,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        version=meeting.version,
        capacity=places.capacity,
        sites=places.sites,
        registered=places.registered_in_all,
        waitlisted=places.waitlisted,
    )


async def set_capacity(
    connection: Connection, meeting: Meeting, data: CapacityFields
) -> KnownMeeting:
    """New limits for the meeting (locked by the caller); more places promote the waitlist."""
    sites = [site.organization_id for site in data.sites]
    if len(set(sites)) != len(sites):
        raise invalid("sites", "each organization may be listed once")
    if not await store.organizations_exist(connection, sites):
        raise invalid("sites", "every site must be a registered organization")
    await store.set_places(connection, meeting.id, data.capacity, data.sites)
    await promote_waitlist(connection, meeting.id)
    return await known_meeting(connection, meeting)


async def register(
    connection: Connection, caller: Caller, meeting: Meeting, data: RegistrationCreate
) -> Registration:
    """Sign a person up for the meeting (locked by the caller): registered if a place is
    left for them, else waitlisted."""
    _check_open(meeting, caller)
    state = await store.sign_up_state(connection, meeting.id, data.person_id)
    person, existing, places = state.person, state.existing, state.places
    if person is None or not caller.acts_for(person.organization_id):
        raise invalid("person_id", f"no person {data.person_id}")
    if data.role in _STAFF_ROLES and not hosts(caller, meeting.host_organization_id):
        raise Forbidden(
            "role-not-allowed",
            f"only staff or the host organization may name a {data.role}",
        )
    if existing is not None and existing.status != "cancelled":
        raise Conflict(
            "already-registered",
            f"person {person.id} is already signed up for meeting {meeting.id}",
            extensions={"registration_id": str(existing.id)},
        )
    status: RegistrationStatus = (
        "registered" if places.fits(person.organization_id) else "waitlisted"
    )
    if existing is None:
        registration = await store.insert_registration(
            connection,
            new_id(),
            meeting_id=meeting.id,
            person=person,
            status=status,
            role=data.role,
        )
        await _add_events(connection, RegistrationCreated, [registration])
        return registration
    await store.renew_registration(connection, existing.id, status, data.role)
    [registration] = await announce(connection, RegistrationCreated, [existing.id])
    return registration


async def cancel(
    connection: Connection, caller: Caller, registration: Registration
) -> Registration:
    """The registration, cancelled (it may be already); its place goes to the waitlist."""
    if registration.status == "cancelled":
        return registration
    meeting = await visible_meeting(connection, caller, registration.meeting_id, for_update=True)
    _check_open(meeting, caller)
    await store.set_status(connection, [registration.id], "cancelled")
    [cancelled] = await announce(connection, RegistrationCancelled, [registration.id])
    await promote_waitlist(connection, meeting.id)
    return cancelled


async def announce(
    connection: Connection,
    event_type: type[RegistrationEvent],
    registration_ids: Sequence[UUID],
) -> list[Registration]:
    """The registrations as they now are, after writing the events that say so."""
    current = await store.registrations(connection, registration_ids)
    await _add_events(connection, event_type, current)
    return current


async def _add_events(
    connection: Connection,
    event_type: type[RegistrationEvent],
    current: Sequence[Registration],
) -> None:
    for registration in current:
        await add_event(
            connection,
            event_type(
                aggregate_id=registration.id,
                aggregate_version=registration.version,
                meeting_id=registration.meeting_id,
                person_id=registration.person_id,
                organization_id=registration.organization_id,
                status=registration.status,
                role=registration.role,
                rsvp=registration.rsvp,
            ),
        )


async def promote_waitlist(connection: Connection, meeting_id: UUID) -> None:
    """Give free places to the waitlist in order; the meeting must be locked."""
    promoted = promotions(
        await store.places(connection, meeting_id), await store.waitlist(connection, meeting_id)
    )
    if promoted:
        await store.set_status(connection, promoted, "registered")
        await announce(connection, RegistrationPromoted, promoted)


def _check_open(meeting: Meeting, caller: Caller) -> None:
    if meeting.status == "cancelled":
        raise Conflict("meeting-cancelled", f"meeting {meeting.id} was cancelled")
    if meeting.status == "ended" and not caller.is_staff:
        raise Conflict("meeting-ended", f"meeting {meeting.id} has ended")
