"""The registry's REST API: regions, organizations, people, keys, sign-up, RSVP, attendance.

Each handler parses the request, finds what the path names through `access` (which answers
an id the caller may not see as one that does not exist), and calls a use case; reads
without a rule of their own go straight to the store. If-Match, ETags and pages are HTTP's
and stay here.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.registry import (
    access,
    attendance,
    examples,
    keys,
    organizations,
    people,
    registrations,
    rsvp,
    store,
)
from services.registry.schemas import (
    ApiKey,
    AttendanceStatistics,
    CapacityFields,
    CheckIn,
    CheckIns,
    Headcount,
    HeadcountFields,
    ImportReport,
    IssuedKey,
    KeyCreate,
    KnownMeeting,
    Organization,
    OrganizationCreate,
    OrganizationFields,
    OrganizationImport,
    Person,
    PersonCreate,
    PersonFields,
    Registration,
    RegistrationCreate,
    RsvpFields,
    RsvpInvitation,
    RsvpLink,
)
from shared.access import require_own_organization
from shared.errors import Conflict, Gone, Invalid, not_found
from shared.events import OrganizationKind, RegistrationStatus
from shared.http.auth import admin_guard, operator_guard
from shared.http.contract import answers
from shared.http.pagination import (
    Page,
    UpdatedSince,
    change_page,
    decode_cursor,
    list_order,
    page_of,
)
from shared.http.params import (
    DEFAULT_PAGE_SIZE,
    AnyRequest,
    ChangeCursor,
    Cursor,
    PageSize,
    Transaction,
    Visitor,
)
from shared.http.params import Caller as CallerParam
from shared.http.versions import V, check_version, created, with_etag
from shared.regions import Region, all_regions, region
from shared.settings import RegistrySettings


def _page(items: list[V], limit: int) -> Page[V]:
    """A page of `limit` items, given `limit + 1` fetched."""
    return page_of(items, [item.id for item in items], limit)


class RegionController(Controller):
    path = "/regions"
    tags = ["regions"]

    @get("/", summary="Every federal subject of Russia, by its number", cache=3600)
    async def list_regions(self) -> list[Region]:
        return list(all_regions())

    @get("/{code:str}", summary="One region, by its code such as RU-LIP", cache=3600)
    async def get_region(self, code: FromPath[str]) -> Region:
        found = region(code)
        if found is None:
            raise not_found("region", code)
        return found


RegionFilter = Annotated[
    str | None, QueryParameter(description="Region code, such as RU-LIP", max_length=16)
]
KindFilter = Annotated[OrganizationKind | None, QueryParameter(description="Kind of organization")]
TextFilter = Annotated[
    str | None,
    QueryParameter(
        description="Part of the name, short name or city, any case", min_length=1, max_length=100
    ),
]


class OrganizationController(Controller):
    path = "/organizations"
    tags = ["organizations"]

    @post(
        "/",
        summary="Register an organization",
        guards=[operator_guard],
        opt=answers(Conflict, etag=True, location=True, examples=examples.ORGANIZATION),
        description="Staff only. The time zone defaults to the region's.",
    )
    async def create_organization(
        self, connection: Transaction, data: JSONBody[OrganizationCreate]
    ) -> Response[Organization]:
        return created(await organizations.create(connection, data), "organizations")

    @get("/{organization_id:uuid}", summary="One organization", opt=answers(etag=True))
    async def get_organization(
        self, connection: Transaction, visitor: Visitor, organization_id: FromPath[UUID]
    ) -> Response[Organization]:
        found = await access.visible_organization(connection, visitor, organization_id)
        return with_etag(organizations.organization_of(found))

    @put(
        "/{organization_id:uuid}",
        summary="Change an organization",
        opt=answers(if_match=True, etag=True),
        description="Send every field, and the ETag last read as If-Match. A partner key "
        "changes only its own organization.",
    )
    async def update_organization(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        organization_id: FromPath[UUID],
        data: JSONBody[OrganizationFields],
    ) -> Response[Organization]:
        current = await access.visible_organization(
            connection, caller, organization_id, for_update=True
        )
        require_own_organization(caller, organization_id)
        check_version(request, current.version)
        return with_etag(await organizations.update(connection, current, data))

    @get(
        "/",
        summary="Organizations, oldest first, by region, kind or text",
        description="Without a key, public organizations only; a partner key also sees its "
        "own, a staff key every one.",
    )
    async def list_organizations(
        self,
        *,
        connection: Transaction,
        visitor: Visitor,
        region: RegionFilter = None,
        kind: KindFilter = None,
        text: FromQuery[TextFilter] = None,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Organization]:
        found = await access.visible_organizations(
            connection,
            visitor,
            after=decode_cursor(cursor),
            limit=limit + 1,
            region=region,
            kind=kind,
            text=text,
        )
        return _page([organizations.organization_of(item) for item in found], limit)

    @post(
        "/import",
        summary="Create or update organizations in bulk, by external id",
        guards=[operator_guard],
        status_code=200,
        description="Staff only. Each row is checked on its own: good rows are saved, bad "
        "ones reported with their row number, and a row equal to what is stored changes "
        "nothing, so importing a file twice is harmless. `telebridge orgs import` sends CSV "
        "files here.",
    )
    async def import_organizations(
        self, connection: Transaction, data: JSONBody[OrganizationImport]
    ) -> ImportReport:
        return await organizations.import_rows(connection, data.rows, dry_run=data.dry_run)


class PersonController(Controller):
    path = "/people"
    tags = ["people"]

    @post(
        "/",
        summary="Register a person of an organization",
        opt=answers(Conflict, etag=True, location=True, examples=examples.PERSON_CREATE),
    )
    async def create_person(
        self, connection: Transaction, caller: CallerParam, data: JSONBody[PersonCreate]
    ) -> Response[Person]:
        return created(await people.create(connection, caller, data), "people")

    @get("/{person_id:uuid}", summary="One person", opt=answers(etag=True))
    async def get_person(
        self, connection: Transaction, caller: CallerParam, person_id: FromPath[UUID]
    ) -> Response[Person]:
        return with_etag(await access.own_person(connection, caller, person_id))

    @put(
        "/{person_id:uuid}",
        summary="Change a person",
        opt=answers(Conflict, if_match=True, etag=True),
        description="Send every field, and the ETag last read as If-Match.",
    )
    async def update_person(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        person_id: FromPath[UUID],
        data: JSONBody[PersonFields],
    ) -> Response[Person]:
        current = await access.own_person(connection, caller, person_id, for_update=True)
        check_version(request, current.version)
        return with_etag(await people.update(connection, person_id, data))

    @get(
        "/",
        summary="People, oldest first, or as they change",
        opt=answers(Invalid),
        description="A partner key lists its own organization's people. With "
        "`updated_since`, a change feed: people in the order they were last changed.",
    )
    async def list_people(
        self,
        *,
        connection: Transaction,
        caller: CallerParam,
        organization_id: FromQuery[UUID | None] = None,
        updated_since: UpdatedSince = None,
        cursor: ChangeCursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Person]:
        listed = access.listed_organization(caller, organization_id)
        order = list_order(cursor, updated_since)
        if order.after_change is not None:
            changes = await store.changed_people(
                connection, (order.after_change, order.since, limit + 1), organization_id=listed
            )
            return change_page(changes.items, changes, limit, order.after_change)
        found = await store.list_people(
            connection, after=order.after_id, limit=limit + 1, organization_id=listed
        )
        return _page(found, limit)


class KeyController(Controller):
    path = "/keys"
    tags = ["keys"]
    guards = [admin_guard]

    @post(
        "/",
        summary="Issue an API key",
        opt=answers(location=True, examples=examples.KEY),
        description="Admin only. The answer holds the secret: it is not shown again.",
    )
    async def issue_key(
        self, connection: Transaction, data: JSONBody[KeyCreate]
    ) -> Response[IssuedKey]:
        issued = await keys.create(connection, data)
        return Response(issued, status_code=201, headers={"Location": f"/keys/{issued.id}"})

    @get("/", summary="Every key, without secrets")
    async def list_keys(self, connection: Transaction) -> list[ApiKey]:
        return await store.keys(connection)

    @get("/{key_id:uuid}", summary="One key, without its secret")
    async def get_key(self, connection: Transaction, key_id: FromPath[UUID]) -> ApiKey:
        found = await store.key(connection, key_id)
        if found is None:
            raise not_found("key", key_id)
        return found

    @post(
        "/{key_id:uuid}/revoke",
        summary="Revoke a key",
        status_code=200,
        description="Every service refuses the key as soon as it hears of this, within a "
        "second. Revoking a revoked key changes nothing; the key the request is sent with "
        "is not revoked (409): another admin key does that.",
        opt=answers(Conflict),
    )
    async def revoke_key(
        self, connection: Transaction, caller: CallerParam, key_id: FromPath[UUID]
    ) -> ApiKey:
        return await keys.revoke(connection, caller, key_id)


StatusFilter = Annotated[
    RegistrationStatus | None, QueryParameter(description="Only registrations in this state")
]


class MeetingController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["registrations"]

    @get(
        "/",
        summary="A meeting as the registry knows it, with its places",
        description="A public meeting to anyone; a private one to its sites and staff.",
    )
    async def get_meeting(
        self, connection: Transaction, visitor: Visitor, meeting_id: FromPath[UUID]
    ) -> KnownMeeting:
        meeting = await access.visible_meeting(connection, visitor, meeting_id)
        return await registrations.known_meeting(connection, meeting)

    @put(
        "/capacity",
        summary="Set how many places a meeting has, in all and per site",
        guards=[operator_guard],
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
        meeting = await access.visible_meeting(connection, caller, meeting_id, for_update=True)
        return await registrations.set_capacity(connection, meeting, data)

    @post(
        "/registrations",
        summary="Sign a person up for a meeting",
        opt=answers(Conflict, etag=True, location=True, examples=examples.SIGN_UP),
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
        meeting = await access.visible_meeting(connection, caller, meeting_id, for_update=True)
        registration = await registrations.register(connection, caller, meeting, data)
        return created(registration, "registrations")

    @get(
        "/registrations",
        summary="Who is signed up for a meeting, or as their registrations change",
        opt=answers(Invalid),
        description="A partner key sees its own organization's registrations. With "
        "`updated_since`, a change feed: registrations in the order they were last changed "
        "(signed up, promoted from the waitlist, cancelled, answered).",
    )
    async def list_registrations(
        self,
        *,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        status: StatusFilter = None,
        updated_since: UpdatedSince = None,
        cursor: ChangeCursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Registration]:
        await access.visible_meeting(connection, caller, meeting_id)
        listed = access.listed_organization(caller)
        order = list_order(cursor, updated_since)
        if order.after_change is not None:
            changes = await store.changed_registrations(
                connection,
                meeting_id,
                (order.after_change, order.since, limit + 1),
                organization_id=listed,
                status=status,
            )
            return change_page(changes.items, changes, limit, order.after_change)
        found = await store.list_registrations(
            connection,
            meeting_id,
            after=order.after_id,
            limit=limit + 1,
            organization_id=listed,
            status=status,
        )
        return _page(found, limit)


class RegistrationController(Controller):
    path = "/registrations/{registration_id:uuid}"
    tags = ["registrations"]

    @get("/", summary="One registration")
    async def get_registration(
        self, connection: Transaction, caller: CallerParam, registration_id: FromPath[UUID]
    ) -> Registration:
        return await access.visible_registration(connection, caller, registration_id)

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
        registration = await access.visible_registration(connection, caller, registration_id)
        return await registrations.cancel(connection, caller, registration)


class RsvpController(Controller):
    path = "/registrations/{registration_id:uuid}"
    tags = ["rsvp"]

    @put(
        "/rsvp",
        summary="Answer for a registered person",
        opt=answers(Conflict, examples=examples.RSVP),
    )
    async def set_rsvp(
        self,
        connection: Transaction,
        caller: CallerParam,
        registration_id: FromPath[UUID],
        data: JSONBody[RsvpFields],
    ) -> Registration:
        await access.visible_registration(connection, caller, registration_id)
        return await rsvp.answer(connection, registration_id, data.rsvp)

    @get(
        "/rsvp-link",
        summary="A signed link the person can answer with, without logging in",
        description="Send it to the person; it works for this registration only, until the "
        "meeting has ended (`expires_at`, which follows the meeting when it moves).",
    )
    async def rsvp_link(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        registration_id: FromPath[UUID],
    ) -> RsvpLink:
        await access.visible_registration(connection, caller, registration_id)
        token, expires_at = await rsvp.link(connection, registration_id)
        settings: RegistrySettings = request.app.state.settings
        base = settings.http.public_url or str(request.base_url).rstrip("/")
        return RsvpLink(url=f"{base}/rsvp/{token}", token=token, expires_at=expires_at)


class SignedRsvpController(Controller):
    path = "/rsvp/{token:str}"
    tags = ["rsvp"]

    @get("/", summary="What a signed RSVP link is for", opt=answers(Gone))
    async def invitation(self, connection: Transaction, token: FromPath[str]) -> RsvpInvitation:
        registration_id = await rsvp.registration_of(connection, token)
        return await rsvp.invitation(connection, registration_id)

    @post(
        "/",
        summary="Answer through a signed link",
        status_code=200,
        opt=answers(Conflict, Gone),
    )
    async def answer_by_link(
        self, connection: Transaction, token: FromPath[str], data: JSONBody[RsvpFields]
    ) -> RsvpInvitation:
        registration_id = await rsvp.registration_of(connection, token)
        await rsvp.answer(connection, registration_id, data.rsvp)
        return await rsvp.invitation(connection, registration_id)


class AttendanceController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["attendance"]

    @post(
        "/check-ins",
        summary="Check people in to a session, one or many",
        opt=answers(Conflict, examples=examples.CHECK_INS),
        status_code=200,
        description="A partner checks in its own people; if any person is not one it may "
        "check in, nothing is recorded. `attended: false` takes check-ins back.",
    )
    async def check_in(
        self,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        data: JSONBody[CheckIns],
    ) -> list[CheckIn]:
        meeting = await access.visible_meeting(connection, caller, meeting_id)
        return await attendance.check_in(connection, caller, meeting, data)

    @put(
        "/headcounts/{organization_id:uuid}",
        summary="Record how many watched at a site",
        opt=answers(Conflict),
        description="For a room where people are not signed up one by one: a room of 30 "
        "watching together counts 30. One number per site and session; sending another "
        "replaces it. Only for the meeting's sites, by the site itself or staff.",
    )
    async def set_headcount(
        self,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        organization_id: FromPath[UUID],
        data: JSONBody[HeadcountFields],
    ) -> Headcount:
        meeting = await access.visible_meeting(connection, caller, meeting_id)
        require_own_organization(caller, organization_id)
        return await attendance.record_headcount(connection, meeting, organization_id, data)

    @get(
        "/attendance",
        summary="Attendance statistics of a meeting",
        description="By organization and by region. A partner key sees its own organization.",
    )
    async def attendance(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> AttendanceStatistics:
        await access.visible_meeting(connection, caller, meeting_id)
        return await attendance.statistics(
            connection, meeting_id, access.listed_organization(caller)
        )
