"""The registry's REST API: organizations, people, and sign-up for meetings."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from services.registry import store
from services.registry.schemas import (
    KnownMeeting,
    Organization,
    OrganizationCreate,
    Person,
    PersonCreate,
    Registration,
    RegistrationCreate,
)
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.events import (
    OrganizationUpserted,
    PersonUpserted,
    RegistrationCreated,
    new_id,
)
from shared.http.auth import is_operator
from shared.http.pagination import Page, decode_cursor, page_of
from shared.http.params import DEFAULT_PAGE_SIZE, AnyRequest, Cursor, PageSize, Transaction
from shared.http.problems import Problem, invalid, not_found, unknown_meeting


class OrganizationController(Controller):
    path = "/organizations"
    tags = ["organizations"]

    @post("/", summary="Register an organization")
    async def create_organization(
        self, connection: Transaction, data: JSONBody[OrganizationCreate]
    ) -> Organization:
        organization = await store.insert_organization(
            connection, new_id(), data.name, data.region, data.timezone
        )
        await add_event(
            connection,
            OrganizationUpserted(
                aggregate_id=organization.id,
                aggregate_version=organization.version,
                name=organization.name,
                region=organization.region,
                timezone=organization.timezone,
            ),
        )
        return organization

    @get("/{organization_id:uuid}", summary="One organization")
    async def get_organization(
        self, connection: Transaction, organization_id: FromPath[UUID]
    ) -> Organization:
        organization = await store.organization(connection, organization_id)
        if organization is None:
            raise not_found("organization", organization_id)
        return organization

    @get("/", summary="Organizations, oldest first")
    async def list_organizations(
        self,
        connection: Transaction,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Organization]:
        found = await store.organizations(connection, decode_cursor(cursor), limit + 1)
        return page_of(found, [item.id for item in found], limit)


class PersonController(Controller):
    path = "/people"
    tags = ["people"]

    @post("/", summary="Register a person of an organization")
    async def create_person(self, connection: Transaction, data: JSONBody[PersonCreate]) -> Person:
        if await store.organization(connection, data.organization_id) is None:
            raise invalid("organization_id", f"no organization {data.organization_id}")
        person = await store.insert_person(
            connection, new_id(), data.organization_id, data.name, data.email
        )
        if person is None:
            raise Problem(
                409,
                "duplicate-email",
                f"{data.email} already belongs to someone of this organization",
            )
        await add_event(
            connection,
            PersonUpserted(
                aggregate_id=person.id,
                aggregate_version=person.version,
                organization_id=person.organization_id,
                name=person.name,
                email=person.email,
            ),
        )
        return person

    @get("/{person_id:uuid}", summary="One person")
    async def get_person(self, connection: Transaction, person_id: FromPath[UUID]) -> Person:
        person = await store.person(connection, person_id)
        if person is None:
            raise not_found("person", person_id)
        return person

    @get("/", summary="People, oldest first, optionally of one organization")
    async def list_people(
        self,
        connection: Transaction,
        organization_id: FromQuery[UUID | None] = None,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Person]:
        found = await store.people(connection, decode_cursor(cursor), limit + 1, organization_id)
        return page_of(found, [item.id for item in found], limit)


class MeetingController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["registrations"]

    @get("/", summary="A meeting as the registry knows it from scheduling")
    async def get_meeting(
        self, connection: Transaction, meeting_id: FromPath[UUID]
    ) -> KnownMeeting:
        return await _known_meeting(connection, meeting_id)

    @post(
        "/registrations",
        summary="Sign a person up for a meeting",
        description="Ended meetings take registrations only with the operator key, to record "
        "after the fact who took part.",
    )
    async def register(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
        data: JSONBody[RegistrationCreate],
    ) -> Registration:
        meeting = await _known_meeting(connection, meeting_id)
        if meeting.status == "cancelled":
            raise Problem(409, "meeting-cancelled", f"meeting {meeting_id} was cancelled")
        if meeting.status == "ended" and not is_operator(request):
            raise Problem(409, "meeting-ended", f"meeting {meeting_id} has ended")
        person = await store.person(connection, data.person_id)
        if person is None:
            raise invalid("person_id", f"no person {data.person_id}")
        registration = await store.insert_registration(
            connection, new_id(), meeting_id, person.id, person.organization_id
        )
        if registration is None:
            raise Problem(
                409,
                "already-registered",
                f"person {person.id} is already signed up for meeting {meeting_id}",
            )
        await add_event(
            connection,
            RegistrationCreated(
                aggregate_id=registration.id,
                aggregate_version=registration.version,
                meeting_id=meeting_id,
                person_id=person.id,
                organization_id=person.organization_id,
                status=registration.status,
            ),
        )
        return registration

    @get("/registrations", summary="Who is signed up for a meeting")
    async def list_registrations(
        self,
        connection: Transaction,
        meeting_id: FromPath[UUID],
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Registration]:
        await _known_meeting(connection, meeting_id)
        found = await store.registrations(connection, meeting_id, decode_cursor(cursor), limit + 1)
        return page_of(found, [item.id for item in found], limit)


async def _known_meeting(connection: Connection, meeting_id: UUID) -> KnownMeeting:
    meeting = await store.meeting(connection, meeting_id)
    if meeting is None:
        raise unknown_meeting(meeting_id, "the registry")
    return meeting
