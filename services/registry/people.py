"""People of organizations: a partner registers and keeps its own, and sees no one else's.

Every change is announced as `PersonUpserted`; an email is unique within an organization.
"""

from __future__ import annotations

from uuid import UUID

from services.registry import store
from services.registry.schemas import Person, PersonCreate, PersonFields
from services.registry.store import EmailTakenError, PersonValues
from shared.access import Caller, require_own_organization
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.errors import Conflict, invalid
from shared.events import PersonUpserted, new_id
from shared.names import display_name as default_display_name


async def create(connection: Connection, caller: Caller, data: PersonCreate) -> Person:
    """A person of the organization named, or of the caller's own."""
    organization_id = data.organization_id or caller.organization_id
    if organization_id is None:
        raise invalid("organization_id", "a staff key must name the organization")
    require_own_organization(caller, organization_id)
    if not await store.organizations_exist(connection, [organization_id]):
        raise invalid("organization_id", f"no organization {organization_id}")
    try:
        created = await store.insert_person(connection, new_id(), organization_id, _values_of(data))
    except EmailTakenError as error:
        raise _duplicate_email(data.email) from error
    await _announce(connection, created)
    return created


async def update(connection: Connection, person_id: UUID, fields: PersonFields) -> Person:
    """The person (locked by the caller) described anew by `fields`."""
    try:
        updated = await store.update_person(connection, person_id, _values_of(fields))
    except EmailTakenError as error:
        raise _duplicate_email(fields.email) from error
    await _announce(connection, updated)
    return updated


def _values_of(fields: PersonFields) -> PersonValues:
    display_name = fields.display_name or default_display_name(
        fields.surname, fields.given_name, fields.patronymic
    )
    return PersonValues(
        surname=fields.surname,
        given_name=fields.given_name,
        patronymic=fields.patronymic,
        display_name=display_name,
        email=fields.email,
        position=fields.position,
        language=fields.language,
    )


def _duplicate_email(email: str) -> Conflict:
    return Conflict("duplicate-email", f"{email} already belongs to someone of this organization")


async def _announce(connection: Connection, person: Person) -> None:
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
