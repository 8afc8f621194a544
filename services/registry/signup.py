"""Sign-up for meetings: places per meeting and per site, and an ordered waitlist.

Every change to a meeting's registrations locks the meeting's row first, so concurrent
sign-ups take places one at a time: never more registered than there are places, and the
waitlist in the order the sign-ups got the lock. Whenever a place frees up (a cancellation,
more capacity) the waitlist is promoted in order, skipping people whose own site is full.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from services.registry.access import visible_meeting
from services.registry.schemas import (
    CapacityFields,
    KnownMeeting,
    Registration,
    RegistrationCreate,
    SiteCapacity,
)
from shared.bus.outbox import add_event
from shared.db import Connection, as_struct, fetch_one
from shared.errors import Conflict, Forbidden, invalid, not_found
from shared.events import (
    RegistrationCancelled,
    RegistrationCreated,
    RegistrationEvent,
    RegistrationPromoted,
    RegistrationStatus,
    new_id,
)
from shared.http.auth import KEY_SECURITY, Caller, operator_guard
from shared.http.pagination import Page, decode_cursor, page_of
from shared.http.params import DEFAULT_PAGE_SIZE, Cursor, PageSize, Transaction, Visitor
from shared.http.params import Caller as CallerParam

_CAPACITY: Final = "SELECT capacity FROM meeting_capacity WHERE meeting_id = $1"
_SITES: Final = """
SELECT organization_id, capacity FROM site_capacity WHERE meeting_id = $1
ORDER BY organization_id
"""
_SET_CAPACITY: Final = """
INSERT INTO meeting_capacity (meeting_id, capacity) VALUES ($1, $2)
ON CONFLICT (meeting_id) DO UPDATE SET capacity = EXCLUDED.capacity
"""
_CLEAR_SITES: Final = "DELETE FROM site_capacity WHERE meeting_id = $1"
_SET_SITE: Final = """
INSERT INTO site_capacity (meeting_id, organization_id, capacity) VALUES ($1, $2, $3)
"""
_COUNTS: Final = """
SELECT count(*) FILTER (WHERE status = 'registered') AS registered,
       count(*) FILTER (WHERE status = 'waitlisted') AS waitlisted,
       count(*) FILTER (WHERE status = 'registered' AND organization_id = $2) AS of_site
FROM registrations WHERE meeting_id = $1
"""
_PERSON: Final = "SELECT * FROM people WHERE id = $1"
_ORGANIZATIONS_EXIST: Final = "SELECT count(*) FROM organizations WHERE id = ANY($1::uuid[])"
_WITH_POSITION: Final = """
SELECT r.*, CASE WHEN r.status = 'waitlisted' THEN
    (SELECT count(*) FROM registrations w
     WHERE w.meeting_id = r.meeting_id AND w.status = 'waitlisted' AND w.queued <= r.queued)
    END AS waitlist_position
FROM registrations r
"""
_REGISTRATION: Final = _WITH_POSITION + "WHERE r.id = $1"
_EXISTING: Final = "SELECT * FROM registrations WHERE meeting_id = $1 AND person_id = $2"
_INSERT: Final = """
INSERT INTO registrations (id, meeting_id, person_id, organization_id, status, role)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""
_RENEW: Final = """
UPDATE registrations SET status = $2, role = $3, rsvp = 'needs-action',
    queued = nextval(pg_get_serial_sequence('registrations', 'queued')),
    version = version + 1, updated_at = now()
WHERE id = $1
"""
_SET_STATUS: Final = """
UPDATE registrations SET status = $2, version = version + 1, updated_at = now() WHERE id = $1
"""
_WAITLIST: Final = """
SELECT id, organization_id FROM registrations
WHERE meeting_id = $1 AND status = 'waitlisted' ORDER BY queued
"""
_LIST: Final = (
    _WITH_POSITION
    + """
WHERE r.meeting_id = $3 AND ($1::uuid IS NULL OR r.id > $1)
  AND ($4::uuid IS NULL OR r.organization_id = $4) AND ($5::text IS NULL OR r.status = $5)
ORDER BY r.id LIMIT $2
"""
)

_STAFF_ROLES: Final = frozenset({"moderator", "speaker"})

StatusFilter = Annotated[
    RegistrationStatus | None, QueryParameter(description="Only registrations in this state")
]


class MeetingController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["registrations"]

    @get(
        "/",
        summary="A meeting as the registry knows it, with its places",
        security=[{}, *KEY_SECURITY],
        description="A public meeting to anyone; a private one to its sites and staff.",
    )
    async def get_meeting(
        self, connection: Transaction, visitor: Visitor, meeting_id: FromPath[UUID]
    ) -> KnownMeeting:
        return await known_meeting(
            connection, await visible_meeting(connection, visitor, meeting_id)
        )

    @put(
        "/capacity",
        summary="Set how many places a meeting has, in all and per site",
        guards=[operator_guard],
        security=KEY_SECURITY,
        description="Staff only. More places promote the waitlist at once; fewer places "
        "take no one's place away.",
    )
    async def set_capacity(
        self,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        data: JSONBody[CapacityFields],
    ) -> KnownMeeting:
        meeting = await visible_meeting(connection, caller, meeting_id, for_update=True)
        sites = [site.organization_id for site in data.sites]
        if len(set(sites)) != len(sites):
            raise invalid("sites", "each organization may be listed once")
        if await connection.fetchval(_ORGANIZATIONS_EXIST, sites) != len(sites):
            raise invalid("sites", "every site must be a registered organization")
        await connection.execute(_SET_CAPACITY, meeting_id, data.capacity)
        await connection.execute(_CLEAR_SITES, meeting_id)
        await connection.executemany(
            _SET_SITE, [(meeting_id, site.organization_id, site.capacity) for site in data.sites]
        )
        await promote_waitlist(connection, meeting_id)
        return await known_meeting(connection, meeting)

    @post(
        "/registrations",
        summary="Sign a person up for a meeting",
        security=KEY_SECURITY,
        description="Registered while there are places (in all and at the person's site), "
        "waitlisted after. Closed once the meeting is cancelled; after it ended, only staff "
        "record who took part. A partner signs up its own people; moderators and speakers "
        "are named by staff or the host organization.",
    )
    async def register(
        self,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        data: JSONBody[RegistrationCreate],
    ) -> Response[Registration]:
        meeting = await visible_meeting(connection, caller, meeting_id, for_update=True)
        _check_open(meeting, caller)
        person = await connection.fetchrow(_PERSON, data.person_id)
        if person is None or not caller.acts_for(person["organization_id"]):
            raise invalid("person_id", f"no person {data.person_id}")
        if data.role in _STAFF_ROLES and not caller.acts_for(meeting["host_organization_id"]):
            raise Forbidden(
                "role-not-allowed",
                f"only staff or the host organization may name a {data.role}",
            )
        existing = await connection.fetchrow(_EXISTING, meeting_id, person["id"])
        if existing is not None and existing["status"] != "cancelled":
            raise Conflict(
                "already-registered",
                f"person {person['id']} is already signed up for meeting {meeting_id}",
                extensions={"registration_id": str(existing["id"])},
            )
        status: RegistrationStatus = (
            "registered"
            if await _has_place(connection, meeting_id, person["organization_id"])
            else "waitlisted"
        )
        if existing is None:
            registration_id = await connection.fetchval(
                _INSERT,
                new_id(),
                meeting_id,
                person["id"],
                person["organization_id"],
                status,
                data.role,
            )
        else:
            registration_id = existing["id"]
            await connection.execute(_RENEW, registration_id, status, data.role)
        registration = await announce(connection, RegistrationCreated, registration_id)
        return Response(registration, status_code=201)

    @get(
        "/registrations",
        summary="Who is signed up for a meeting",
        security=KEY_SECURITY,
        description="A partner key sees its own organization's registrations.",
    )
    async def list_registrations(
        self,
        *,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        status: StatusFilter = None,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Registration]:
        await visible_meeting(connection, caller, meeting_id)
        rows = await connection.fetch(
            _LIST,
            decode_cursor(cursor),
            limit + 1,
            meeting_id,
            None if caller.is_staff else caller.organization_id,
            status,
        )
        found = [as_struct(row, Registration) for row in rows]
        return page_of(found, [item.id for item in found], limit)


class RegistrationController(Controller):
    path = "/registrations/{registration_id:uuid}"
    tags = ["registrations"]
    security = KEY_SECURITY

    @get("/", summary="One registration")
    async def get_registration(
        self, connection: Transaction, caller: CallerParam, registration_id: FromPath[UUID]
    ) -> Registration:
        return await visible_registration(connection, caller, registration_id)

    @delete(
        "/",
        summary="Cancel a registration",
        status_code=200,
        description="The place goes to the first on the waitlist who fits. Cancelling a "
        "cancelled registration changes nothing.",
    )
    async def cancel_registration(
        self, connection: Transaction, caller: CallerParam, registration_id: FromPath[UUID]
    ) -> Registration:
        registration = await visible_registration(connection, caller, registration_id)
        if registration.status == "cancelled":
            return registration
        meeting = await visible_meeting(
            connection, caller, registration.meeting_id, for_update=True
        )
        _check_open(meeting, caller)
        await connection.execute(_SET_STATUS, registration_id, "cancelled")
        cancelled = await announce(connection, RegistrationCancelled, registration_id)
        await promote_waitlist(connection, registration.meeting_id)
        return cancelled


async def known_meeting(connection: Connection, row: Any) -> KnownMeeting:
    """The meeting's row (see `access.visible_meeting`) with its places and counts."""
    meeting_id = row["id"]
    counts = await fetch_one(connection, _COUNTS, meeting_id, None)
    sites = await connection.fetch(_SITES, meeting_id)
    return KnownMeeting(
        id=row["id"],
        title=row["title"],
        kind=row["kind"],
        status=row["status"],
        host_organization_id=row["host_organization_id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        version=row["version"],
        capacity=await connection.fetchval(_CAPACITY, meeting_id),
        sites=[as_struct(site, SiteCapacity) for site in sites],
        registered=counts["registered"],
        waitlisted=counts["waitlisted"],
    )


async def visible_registration(
    connection: Connection, caller: Caller, registration_id: UUID
) -> Registration:
    """The registration if the caller may see it; a 404 as if it did not exist if not."""
    row = await connection.fetchrow(_REGISTRATION, registration_id)
    if row is None or not caller.acts_for(row["organization_id"]):
        raise not_found("registration", registration_id)
    return as_struct(row, Registration)


async def registration(connection: Connection, registration_id: UUID) -> Registration:
    return as_struct(await fetch_one(connection, _REGISTRATION, registration_id), Registration)


async def announce(
    connection: Connection, event_type: type[RegistrationEvent], registration_id: UUID
) -> Registration:
    """The registration as it now is, after writing the event that says so."""
    current = await registration(connection, registration_id)
    await add_event(
        connection,
        event_type(
            aggregate_id=current.id,
            aggregate_version=current.version,
            meeting_id=current.meeting_id,
            person_id=current.person_id,
            organization_id=current.organization_id,
            status=current.status,
            role=current.role,
            rsvp=current.rsvp,
        ),
    )
    return current


async def promote_waitlist(connection: Connection, meeting_id: UUID) -> None:
    """Give free places to the waitlist in order; the meeting must be locked."""
    for waiting in await connection.fetch(_WAITLIST, meeting_id):
        if not await _has_place(
            connection, meeting_id, waiting["organization_id"], total_only=True
        ):
            return
        if await _has_place(connection, meeting_id, waiting["organization_id"]):
            await connection.execute(_SET_STATUS, waiting["id"], "registered")
            await announce(connection, RegistrationPromoted, waiting["id"])


async def _has_place(
    connection: Connection, meeting_id: UUID, organization_id: UUID, *, total_only: bool = False
) -> bool:
    counts = await fetch_one(connection, _COUNTS, meeting_id, organization_id)
    capacity = await connection.fetchval(_CAPACITY, meeting_id)
    if capacity is not None and counts["registered"] >= capacity:
        return False
    if total_only:
        return True
    sites = {
        row["organization_id"]: row["capacity"]
        for row in await connection.fetch(_SITES, meeting_id)
    }
    site = sites.get(organization_id)
    return site is None or counts["of_site"] < site


def _check_open(meeting: Any, caller: Caller) -> None:
    if meeting["status"] == "cancelled":
        raise Conflict("meeting-cancelled", f"meeting {meeting['id']} was cancelled")
    if meeting["status"] == "ended" and not caller.is_staff:
        raise Conflict("meeting-ended", f"meeting {meeting['id']} has ended")
