"""The registry's SQL: organizations, people, registrations and its view of meetings."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from services.registry.schemas import KnownMeeting, Organization, Person, Registration
from shared.db import Connection, as_struct, as_structs

_INSERT_ORGANIZATION: Final = """
INSERT INTO organizations (id, name, region, timezone) VALUES ($1, $2, $3, $4) RETURNING *
"""
_ORGANIZATION: Final = "SELECT * FROM organizations WHERE id = $1"
_ORGANIZATIONS: Final = """
SELECT * FROM organizations WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2
"""
_INSERT_PERSON: Final = """
INSERT INTO people (id, organization_id, name, email) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING *
"""
_PERSON: Final = "SELECT * FROM people WHERE id = $1"
_PEOPLE: Final = """
SELECT * FROM people
WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid IS NULL OR organization_id = $3)
ORDER BY id LIMIT $2
"""
_MEETING: Final = "SELECT * FROM meetings WHERE id = $1"
_INSERT_REGISTRATION: Final = """
INSERT INTO registrations (id, meeting_id, person_id, organization_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (meeting_id, person_id) DO NOTHING
RETURNING *
"""
_REGISTRATIONS: Final = """
SELECT * FROM registrations
WHERE meeting_id = $3 AND ($1::uuid IS NULL OR id > $1)
ORDER BY id LIMIT $2
"""


async def insert_organization(
    connection: Connection, organization_id: UUID, name: str, region: str, timezone: str
) -> Organization:
    row = await connection.fetchrow(_INSERT_ORGANIZATION, organization_id, name, region, timezone)
    assert row is not None
    return as_struct(row, Organization)


async def organization(connection: Connection, organization_id: UUID) -> Organization | None:
    row = await connection.fetchrow(_ORGANIZATION, organization_id)
    return as_struct(row, Organization) if row else None


async def organizations(
    connection: Connection, after: UUID | None, limit: int
) -> list[Organization]:
    return as_structs(await connection.fetch(_ORGANIZATIONS, after, limit), Organization)


async def insert_person(
    connection: Connection, person_id: UUID, organization_id: UUID, name: str, email: str
) -> Person | None:
    """The new person, or None when the organization already has someone with this e-mail."""
    row = await connection.fetchrow(_INSERT_PERSON, person_id, organization_id, name, email)
    return as_struct(row, Person) if row else None


async def person(connection: Connection, person_id: UUID) -> Person | None:
    row = await connection.fetchrow(_PERSON, person_id)
    return as_struct(row, Person) if row else None


async def people(
    connection: Connection, after: UUID | None, limit: int, organization_id: UUID | None
) -> list[Person]:
    return as_structs(await connection.fetch(_PEOPLE, after, limit, organization_id), Person)


async def meeting(connection: Connection, meeting_id: UUID) -> KnownMeeting | None:
    row = await connection.fetchrow(_MEETING, meeting_id)
    return as_struct(row, KnownMeeting) if row else None


async def insert_registration(
    connection: Connection,
    registration_id: UUID,
    meeting_id: UUID,
    person_id: UUID,
    organization_id: UUID,
) -> Registration | None:
    """The new registration, or None when the person is already signed up."""
    row = await connection.fetchrow(
        _INSERT_REGISTRATION, registration_id, meeting_id, person_id, organization_id
    )
    return as_struct(row, Registration) if row else None


async def registrations(
    connection: Connection, meeting_id: UUID, after: UUID | None, limit: int
) -> list[Registration]:
    return as_structs(
        await connection.fetch(_REGISTRATIONS, after, limit, meeting_id), Registration
    )
