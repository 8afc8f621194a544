"""People of organizations: a partner registers and keeps its own, and sees no one else's."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from services.registry.access import own_person
from services.registry.schemas import Person, PersonCreate, PersonFields
from shared.access import require_own_organization
from shared.bus.outbox import add_event
from shared.db import Connection, as_struct
from shared.errors import Conflict, invalid
from shared.events import PersonUpserted, new_id
from shared.http.auth import KEY_SECURITY
from shared.http.pagination import Page, decode_cursor, page_of
from shared.http.params import DEFAULT_PAGE_SIZE, AnyRequest, Cursor, PageSize, Transaction
from shared.http.params import Caller as CallerParam
from shared.http.versions import check_version, etag
from shared.names import display_name as default_display_name

_INSERT: Final = """
INSERT INTO people (id, organization_id, surname, given_name, patronymic, display_name, email,
                    position, language)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING *
"""
_UPDATE: Final = """
UPDATE people SET (surname, given_name, patronymic, display_name, email, position, language,
                   version, updated_at)
    = ($2, $3, $4, $5, $6, $7, $8, version + 1, now())
WHERE id = $1
RETURNING *
"""
_BY_ID: Final = "SELECT * FROM people WHERE id = $1"
_BY_ID_FOR_UPDATE: Final = "SELECT * FROM people WHERE id = $1 FOR UPDATE"
_ORGANIZATION_EXISTS: Final = "SELECT true FROM organizations WHERE id = $1"
_LIST: Final = """
SELECT * FROM people
WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid IS NULL OR organization_id = $3)
ORDER BY id LIMIT $2
"""


class PersonController(Controller):
    path = "/people"
    tags = ["people"]
    security = KEY_SECURITY

    @post("/", summary="Register a person of an organization")
    async def create_person(
        self, connection: Transaction, caller: CallerParam, data: JSONBody[PersonCreate]
    ) -> Response[Person]:
        organization_id = data.organization_id or caller.organization_id
        if organization_id is None:
            raise invalid("organization_id", "a staff key must name the organization")
        require_own_organization(caller, organization_id)
        if not await connection.fetchval(_ORGANIZATION_EXISTS, organization_id):
            raise invalid("organization_id", f"no organization {organization_id}")
        try:
            row = await connection.fetchrow(_INSERT, new_id(), organization_id, *_values(data))
        except asyncpg.UniqueViolationError as error:
            raise _duplicate_email(data.email) from error
        return await _announce(connection, row, status=201)

    @get("/{person_id:uuid}", summary="One person")
    async def get_person(
        self, connection: Transaction, caller: CallerParam, person_id: FromPath[UUID]
    ) -> Response[Person]:
        row = await own_person(connection, caller, person_id)
        return _with_etag(as_struct(row, Person))

    @put(
        "/{person_id:uuid}",
        summary="Change a person",
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
        row = await own_person(connection, caller, person_id, for_update=True)
        check_version(request, row["version"])
        try:
            updated = await connection.fetchrow(_UPDATE, person_id, *_values(data))
        except asyncpg.UniqueViolationError as error:
            raise _duplicate_email(data.email) from error
        return await _announce(connection, updated)

    @get(
        "/",
        summary="People, oldest first",
        description="A partner key lists its own organization's people.",
    )
    async def list_people(
        self,
        connection: Transaction,
        caller: CallerParam,
        organization_id: FromQuery[UUID | None] = None,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Person]:
        if organization_id is not None:
            require_own_organization(caller, organization_id)
        elif not caller.is_staff:
            organization_id = caller.organization_id
        rows = await connection.fetch(_LIST, decode_cursor(cursor), limit + 1, organization_id)
        found = [as_struct(row, Person) for row in rows]
        return page_of(found, [item.id for item in found], limit)


def _values(fields: PersonFields) -> list[Any]:
    display_name = fields.display_name or default_display_name(
        fields.surname, fields.given_name, fields.patronymic
    )
    return [
        fields.surname,
        fields.given_name,
        fields.patronymic,
        display_name,
        fields.email,
        fields.position,
        fields.language,
    ]


def _duplicate_email(email: str) -> Conflict:
    return Conflict("duplicate-email", f"{email} already belongs to someone of this organization")


def _with_etag(person: Person, status: int = 200) -> Response[Person]:
    return Response(person, status_code=status, headers={"ETag": etag(person.version)})


async def _announce(connection: Connection, row: Any, status: int = 200) -> Response[Person]:
    person = as_struct(row, Person)
    await add_event(
        connection,
        PersonUpserted(
            aggregate_id=person.id,
            aggregate_version=person.version,
            organization_id=person.organization_id,
            name=person.display_name,
            email=person.email,
            surname=person.surname,
            given_name=person.given_name,
            patronymic=person.patronymic,
            position=person.position,
            language=person.language,
        ),
    )
    return _with_etag(person, status)
