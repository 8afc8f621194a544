"""The registry's data as other services keep it: one read model, one way to fill it.

A service that includes `MIGRATIONS` among its migration sources gets the tables;
`apply` brings them up to date with one registry event (the inbox has already discarded
duplicates and stale versions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from shared.db import Connection
from shared.events import OrganizationUpserted, PersonUpserted, RegistrationCreated, RegistryEvent

MIGRATIONS: Final = ("registry-read-model", Path(__file__).parent / "migrations" / "registry")

_UPSERT_ORGANIZATION: Final = """
INSERT INTO organizations (id, name, region, timezone, version) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region,
    timezone = EXCLUDED.timezone, version = EXCLUDED.version
"""
_UPSERT_PERSON: Final = """
INSERT INTO people (id, organization_id, name, email, version) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
    name = EXCLUDED.name, email = EXCLUDED.email, version = EXCLUDED.version
"""
_UPSERT_REGISTRATION: Final = """
INSERT INTO registrations (id, meeting_id, person_id, organization_id, status, version)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version
"""


async def apply(connection: Connection, event: RegistryEvent) -> None:
    match event:
        case OrganizationUpserted():
            await connection.execute(
                _UPSERT_ORGANIZATION,
                event.aggregate_id,
                event.name,
                event.region,
                event.timezone,
                event.aggregate_version,
            )
        case PersonUpserted():
            await connection.execute(
                _UPSERT_PERSON,
                event.aggregate_id,
                event.organization_id,
                event.name,
                event.email,
                event.aggregate_version,
            )
        case RegistrationCreated():
            await connection.execute(
                _UPSERT_REGISTRATION,
                event.aggregate_id,
                event.meeting_id,
                event.person_id,
                event.organization_id,
                event.status,
                event.aggregate_version,
            )
