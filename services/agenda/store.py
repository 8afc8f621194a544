"""The SQL agendas and summaries share: what the registry's read model says of the
organizations and people a meeting names. Meetings are read through
`shared.readmodels.meetings`; each document's own SQL is in its package's `store.py`,
and the versions both keep in `services.agenda.versions.store`."""

from __future__ import annotations

from typing import Final
from uuid import UUID

import msgspec

from shared.db import Connection, as_structs


class Organization(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    region: str
    timezone: str
    city: str | None
    region_code: str | None
    name_en: str | None
    city_en: str | None


class RegisteredPerson(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    organization: str | None
    """Its organization's name, when the organization is known."""


_HOST_TIMEZONE: Final = "SELECT timezone FROM organizations WHERE id = $1"
_PEOPLE: Final = """
SELECT p.id, p.name, o.name AS organization FROM people AS p
LEFT JOIN organizations AS o ON o.id = p.organization_id
WHERE p.id = ANY($1::uuid[])
"""
_ORGANIZATIONS: Final = "SELECT * FROM organizations WHERE id = ANY($1::uuid[])"


async def host_timezone(connection: Connection, organization_id: UUID) -> str | None:
    zone: str | None = await connection.fetchval(_HOST_TIMEZONE, organization_id)
    return zone


async def people(connection: Connection, ids: list[UUID]) -> list[RegisteredPerson]:
    """Registered people by id, with their organization's name when it is known."""
    return as_structs(await connection.fetch(_PEOPLE, ids), RegisteredPerson)


async def organizations(connection: Connection, ids: list[UUID]) -> list[Organization]:
    return as_structs(await connection.fetch(_ORGANIZATIONS, ids), Organization)
