"""The registry's data as other services keep it: one read model, one way to fill it.

A service that includes `MIGRATIONS` among its migration sources gets the tables;
`apply` brings them up to date with one registry event (the inbox has already discarded
duplicates and stale versions; the upserts also refuse to go back a version, since RSVP
and registration events of one registration arrive under different subjects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from shared.db import Connection
from shared.events import (
    ApiKeyEvent,
    AttendanceRecorded,
    OrganizationUpserted,
    PersonUpserted,
    RegistrationEvent,
    RegistryEvent,
)

MIGRATIONS: Final = ("registry-read-model", Path(__file__).parent / "migrations" / "registry")

_UPSERT_ORGANIZATION: Final = """
INSERT INTO organizations (id, name, region, timezone, version, short_name, kind, region_code,
                           city, working_hours, blackout_dates, public, country, name_en,
                           city_en)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region,
    timezone = EXCLUDED.timezone, version = EXCLUDED.version,
    short_name = EXCLUDED.short_name, kind = EXCLUDED.kind,
    region_code = EXCLUDED.region_code, city = EXCLUDED.city,
    working_hours = EXCLUDED.working_hours, blackout_dates = EXCLUDED.blackout_dates,
    public = EXCLUDED.public, country = EXCLUDED.country, name_en = EXCLUDED.name_en,
    city_en = EXCLUDED.city_en
WHERE organizations.version < EXCLUDED.version
"""
_UPSERT_PERSON: Final = """
INSERT INTO people (id, organization_id, name, email, version, language, surname,
                    given_name, patronymic)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
    name = EXCLUDED.name, email = EXCLUDED.email, version = EXCLUDED.version,
    language = EXCLUDED.language, surname = EXCLUDED.surname,
    given_name = EXCLUDED.given_name, patronymic = EXCLUDED.patronymic
WHERE people.version < EXCLUDED.version
"""
_UPSERT_REGISTRATION: Final = """
INSERT INTO registrations (id, meeting_id, person_id, organization_id, status, version, role,
                           rsvp)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version,
    role = EXCLUDED.role, rsvp = EXCLUDED.rsvp
WHERE registrations.version < EXCLUDED.version
"""
_UPSERT_KEY: Final = """
INSERT INTO api_keys (id, prefix, secret_sha256, role, organization_id, scopes, expires_at,
                      revoked_at, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at,
    revoked_at = EXCLUDED.revoked_at, version = EXCLUDED.version
WHERE api_keys.version < EXCLUDED.version
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
                event.short_name,
                event.kind,
                event.region_code,
                event.city,
                event.working_hours,
                event.blackout_dates,
                event.public,
                event.country,
                event.name_en,
                event.city_en,
            )
        case PersonUpserted():
            await connection.execute(
                _UPSERT_PERSON,
                event.aggregate_id,
                event.organization_id,
                event.name,
                event.email,
                event.aggregate_version,
                event.language,
                event.surname,
                event.given_name,
                event.patronymic,
            )
        case RegistrationEvent():
            await connection.execute(
                _UPSERT_REGISTRATION,
                event.aggregate_id,
                event.meeting_id,
                event.person_id,
                event.organization_id,
                event.status,
                event.aggregate_version,
                event.role,
                event.rsvp,
            )
        case ApiKeyEvent():
            await connection.execute(
                _UPSERT_KEY,
                event.aggregate_id,
                event.prefix,
                event.secret_sha256,
                event.role,
                event.organization_id,
                event.scopes,
                event.expires_at,
                event.revoked_at,
                event.aggregate_version,
            )
        case AttendanceRecorded():
            pass  # agenda keeps attendance itself (its agenda-attendance consumer)
