"""The registry's SQL, every statement of it, and the typed rows it returns.

Rows leave here as Structs: the API's own where a table holds exactly what the API shows
(`Person`, `Registration`, `CheckIn`, ...), a `Stored...` Struct where it holds more or
in another form. No rules: who may see what is `access`'s, what a change means is the use
cases'.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Final, TypeVar
from uuid import UUID

import asyncpg
import msgspec

from services.registry.places import Places, Waiting
from services.registry.schemas import (
    ApiKey,
    CheckIn,
    Contact,
    Headcount,
    OrganizationAttendance,
    Person,
    Registration,
    RsvpInvitation,
    SiteCapacity,
)
from shared.changes import Asked, Changes, fetch_changes, in_change_order
from shared.db import Connection, as_struct, fetch_one, fetch_struct, fetch_structs
from shared.events import (
    KeyRole,
    Language,
    MeetingRole,
    MeetingStatus,
    OrganizationKind,
    RegistrationStatus,
    Rsvp,
    WorkingHours,
)

T = TypeVar("T")


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


# Organizations


class OrganizationValues(msgspec.Struct, frozen=True, kw_only=True):
    """What a client's description of an organization makes of its columns: the fields are
    the columns, named and ordered as the statements below write them."""

    name: str
    short_name: str | None
    kind: OrganizationKind
    region_code: str | None
    region: str
    """The region's name; abroad, the country's."""
    city: str | None
    timezone: str
    working_hours: WorkingHours | None
    blackout_dates: list[date]
    contacts: list[Contact]
    public: bool
    country: str
    name_en: str | None
    city_en: str | None

    def same_as(self, other: OrganizationValues) -> bool:
        """Whether writing `other` would change nothing of these columns."""
        return all(
            getattr(self, name) == getattr(other, name)
            for name in OrganizationValues.__struct_fields__
        )


class StoredOrganization(OrganizationValues, frozen=True, kw_only=True):
    id: UUID
    external_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


_ORGANIZATION_COLUMNS: Final = ", ".join(OrganizationValues.__struct_fields__)
_INSERT_ORGANIZATION: Final = f"""
INSERT INTO organizations (id, external_id, {_ORGANIZATION_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING *
"""
_UPDATE_ORGANIZATION: Final = f"""
UPDATE organizations SET ({_ORGANIZATION_COLUMNS}, version, updated_at)
    = ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, version + 1, now())
WHERE id = $1
RETURNING *
"""
_ORGANIZATION: Final = "SELECT * FROM organizations WHERE id = $1"
_ORGANIZATION_FOR_UPDATE: Final = "SELECT * FROM organizations WHERE id = $1 FOR UPDATE"
_ORGANIZATIONS_BY_EXTERNAL_ID: Final = """
SELECT * FROM organizations WHERE external_id = ANY($1::text[]) FOR UPDATE
"""
_COUNT_ORGANIZATIONS: Final = "SELECT count(*) FROM organizations WHERE id = ANY($1::uuid[])"
_LIST_ORGANIZATIONS: Final = """
SELECT * FROM organizations
WHERE ($1::uuid IS NULL OR id > $1)
  AND ($3::text IS NULL OR region_code = $3)
  AND ($4::text IS NULL OR kind = $4)
  AND ($5::text IS NULL
       OR name ILIKE '%' || $5 || '%' OR short_name ILIKE '%' || $5 || '%'
       OR city ILIKE '%' || $5 || '%')
  AND (public OR $6 OR id = $7)
ORDER BY id LIMIT $2
"""


async def organization(
    connection: Connection, organization_id: UUID, *, for_update: bool = False
) -> StoredOrganization | None:
    query = _ORGANIZATION_FOR_UPDATE if for_update else _ORGANIZATION
    return await fetch_struct(connection, StoredOrganization, query, organization_id)


async def organizations_by_external_id(
    connection: Connection, external_ids: Collection[str]
) -> dict[str, StoredOrganization]:
    """The organizations with these external ids, locked, by external id."""
    found = await fetch_structs(
        connection, StoredOrganization, _ORGANIZATIONS_BY_EXTERNAL_ID, list(external_ids)
    )
    return {item.external_id: item for item in found if item.external_id is not None}


async def organizations_exist(connection: Connection, organization_ids: Collection[UUID]) -> bool:
    """Whether every one of these (distinct) ids is an organization's."""
    count: int = await connection.fetchval(_COUNT_ORGANIZATIONS, list(organization_ids))
    return count == len(organization_ids)


async def list_organizations(
    connection: Connection,
    *,
    after: UUID | None,
    limit: int,
    region: str | None,
    kind: OrganizationKind | None,
    text: str | None,
    every: bool,
    own: UUID | None,
) -> list[StoredOrganization]:
    """Up to `limit` organizations after `after`, by id: public ones, `own`, and with
    `every` the private ones too. `region` is a code in any case; `text` a part of the
    name, short name or city, in any case."""
    return await fetch_structs(
        connection,
        StoredOrganization,
        _LIST_ORGANIZATIONS,
        after,
        limit,
        region.upper() if region else None,
        kind,
        _escape_like(text) if text else None,
        every,
        own,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def insert_organization(
    connection: Connection,
    organization_id: UUID,
    external_id: str | None,
    values: OrganizationValues,
) -> StoredOrganization:
    created = await fetch_struct(
        connection,
        StoredOrganization,
        _INSERT_ORGANIZATION,
        organization_id,
        external_id,
        *msgspec.structs.astuple(values),
    )
    assert created is not None
    return created


async def update_organization(
    connection: Connection, organization_id: UUID, values: OrganizationValues
) -> StoredOrganization:
    updated = await fetch_struct(
        connection,
        StoredOrganization,
        _UPDATE_ORGANIZATION,
        organization_id,
        *msgspec.structs.astuple(values),
    )
    assert updated is not None  # the caller holds its lock
    return updated


async def has_organization(connection: Connection, identifier: str) -> bool:
    """Whether an organization has this id (another service asks: read-your-writes)."""
    return _is_uuid(identifier) and await organizations_exist(connection, [UUID(identifier)])


# People


class PersonValues(msgspec.Struct, frozen=True, kw_only=True):
    """The columns a client's description of a person sets, in the order the statements
    below write them."""

    surname: str
    given_name: str
    patronymic: str | None
    display_name: str
    email: str
    position: str | None
    language: Language


class EmailTakenError(Exception):
    """Someone of the organization has this email already (in any case)."""


_INSERT_PERSON: Final = """
INSERT INTO people (id, organization_id, surname, given_name, patronymic, display_name, email,
                    position, language)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING *
"""
_UPDATE_PERSON: Final = """
UPDATE people SET (surname, given_name, patronymic, display_name, email, position, language,
                   version, updated_at)
    = ($2, $3, $4, $5, $6, $7, $8, version + 1, now())
WHERE id = $1
RETURNING *
"""
_PERSON: Final = "SELECT * FROM people WHERE id = $1"
_PERSON_FOR_UPDATE: Final = "SELECT * FROM people WHERE id = $1 FOR UPDATE"
_PEOPLE: Final = "SELECT * FROM people WHERE id = ANY($1::uuid[]) ORDER BY id"
_LIST_PEOPLE: Final = """
SELECT * FROM people
WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid IS NULL OR organization_id = $3)
ORDER BY id LIMIT $2
"""
_CHANGED_PEOPLE: Final = in_change_order(
    "SELECT p.* FROM people p WHERE ($5::uuid IS NULL OR p.organization_id = $5)", "p"
)


async def person(
    connection: Connection, person_id: UUID, *, for_update: bool = False
) -> Person | None:
    return await fetch_struct(
        connection, Person, _PERSON_FOR_UPDATE if for_update else _PERSON, person_id
    )


async def people(connection: Connection, person_ids: Collection[UUID]) -> list[Person]:
    return await fetch_structs(connection, Person, _PEOPLE, list(person_ids))


async def list_people(
    connection: Connection, *, after: UUID | None, limit: int, organization_id: UUID | None
) -> list[Person]:
    """Up to `limit` people after `after`, by id; of one organization unless None."""
    return await fetch_structs(connection, Person, _LIST_PEOPLE, after, limit, organization_id)


async def changed_people(
    connection: Connection, asked: Asked, *, organization_id: UUID | None
) -> Changes[Person]:
    """People in the order they changed (`shared.changes`); of one organization unless None."""
    return await fetch_changes(connection, Person, _CHANGED_PEOPLE, asked, organization_id)


async def insert_person(
    connection: Connection, person_id: UUID, organization_id: UUID, values: PersonValues
) -> Person:
    """The new person; `EmailTakenError` (the transaction is then spoiled) for a taken email."""
    return await _write_person(
        connection, _INSERT_PERSON, person_id, organization_id, *msgspec.structs.astuple(values)
    )


async def update_person(connection: Connection, person_id: UUID, values: PersonValues) -> Person:
    """The changed person; `EmailTakenError` (the transaction is then spoiled) for a taken email."""
    return await _write_person(
        connection, _UPDATE_PERSON, person_id, *msgspec.structs.astuple(values)
    )


async def _write_person(connection: Connection, query: str, *args: object) -> Person:
    try:
        written = await fetch_struct(connection, Person, query, *args)
    except asyncpg.UniqueViolationError as error:
        raise EmailTakenError from error
    assert written is not None
    return written


async def has_person(connection: Connection, identifier: str) -> bool:
    """Whether a person has this id (another service asks: read-your-writes)."""
    return _is_uuid(identifier) and await person(connection, UUID(identifier)) is not None


# API keys


class StoredKey(ApiKey, frozen=True, kw_only=True):
    """A key as stored: with the SHA-256 of its secret, which its events carry."""

    secret_sha256: str


_INSERT_KEY: Final = """
INSERT INTO api_keys (id, name, prefix, secret_sha256, role, organization_id, scopes, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (prefix) DO NOTHING
RETURNING *
"""
_REVOKE_KEY: Final = """
UPDATE api_keys SET revoked_at = now(), version = version + 1
WHERE id = $1 AND revoked_at IS NULL
RETURNING *
"""
_KEY: Final = "SELECT * FROM api_keys WHERE id = $1"
_KEYS: Final = "SELECT * FROM api_keys ORDER BY id"
_KEY_PREFIX_EXISTS: Final = "SELECT EXISTS (SELECT FROM api_keys WHERE prefix = $1)"


async def insert_key(
    connection: Connection,
    key_id: UUID,
    *,
    name: str,
    prefix: str,
    secret_sha256: str,
    role: KeyRole,
    organization_id: UUID | None,
    scopes: list[str],
    expires_at: datetime | None,
) -> StoredKey | None:
    """The new key; None if a key has this prefix already."""
    return await fetch_struct(
        connection,
        StoredKey,
        _INSERT_KEY,
        key_id,
        name,
        prefix,
        secret_sha256,
        role,
        organization_id,
        scopes,
        expires_at,
    )


async def revoke_key(connection: Connection, key_id: UUID) -> StoredKey | None:
    """The key, revoked now; None if there is no such key or it was revoked before."""
    return await fetch_struct(connection, StoredKey, _REVOKE_KEY, key_id)


async def key(connection: Connection, key_id: UUID) -> ApiKey | None:
    return await fetch_struct(connection, ApiKey, _KEY, key_id)


async def keys(connection: Connection) -> list[ApiKey]:
    return await fetch_structs(connection, ApiKey, _KEYS)


async def has_key(connection: Connection, prefix: str) -> bool:
    """Whether a key has this prefix (another service asks: read-your-writes)."""
    return bool(await connection.fetchval(_KEY_PREFIX_EXISTS, prefix))


# Places


class _Count(msgspec.Struct, frozen=True):
    organization_id: UUID
    registered: int
    waitlisted: int


# One round trip: a sign-up asks this while it holds the meeting's lock.
_PLACES: Final = """
SELECT
    (SELECT capacity FROM meeting_capacity WHERE meeting_id = $1) AS capacity,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'organization_id', organization_id, 'capacity', capacity)
            ORDER BY organization_id), '[]')
     FROM site_capacity WHERE meeting_id = $1) AS sites,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'organization_id', organization_id,
                'registered', registered,
                'waitlisted', waitlisted)), '[]')
     FROM (SELECT organization_id,
                  count(*) FILTER (WHERE status = 'registered') AS registered,
                  count(*) FILTER (WHERE status = 'waitlisted') AS waitlisted
           FROM registrations WHERE meeting_id = $1
           GROUP BY organization_id) AS counted) AS counts
"""
_SET_CAPACITY: Final = """
INSERT INTO meeting_capacity (meeting_id, capacity) VALUES ($1, $2)
ON CONFLICT (meeting_id) DO UPDATE SET capacity = EXCLUDED.capacity
"""
_CLEAR_SITES: Final = "DELETE FROM site_capacity WHERE meeting_id = $1"
_SET_SITE: Final = """
INSERT INTO site_capacity (meeting_id, organization_id, capacity) VALUES ($1, $2, $3)
"""


class _Places(msgspec.Struct, frozen=True):
    capacity: int | None
    sites: list[SiteCapacity]
    counts: list[_Count]


async def places(connection: Connection, meeting_id: UUID) -> Places:
    return _places_of(as_struct(await fetch_one(connection, _PLACES, meeting_id), _Places))


def _places_of(found: _Places) -> Places:
    return Places(
        capacity=found.capacity,
        sites=found.sites,
        registered={count.organization_id: count.registered for count in found.counts},
        waitlisted=sum(count.waitlisted for count in found.counts),
    )


async def set_places(
    connection: Connection, meeting_id: UUID, capacity: int | None, sites: Sequence[SiteCapacity]
) -> None:
    """Replace the meeting's limits: in all, and those of its sites."""
    await connection.execute(_SET_CAPACITY, meeting_id, capacity)
    await connection.execute(_CLEAR_SITES, meeting_id)
    await connection.executemany(
        _SET_SITE, [(meeting_id, site.organization_id, site.capacity) for site in sites]
    )


# Registrations

_WITH_POSITION: Final = """
SELECT r.*, CASE WHEN r.status = 'waitlisted' THEN
    (SELECT count(*) FROM registrations w
     WHERE w.meeting_id = r.meeting_id AND w.status = 'waitlisted' AND w.queued <= r.queued)
    END AS waitlist_position
FROM registrations r
"""
_REGISTRATION: Final = _WITH_POSITION + "WHERE r.id = $1"
_REGISTRATIONS: Final = (
    _WITH_POSITION + "WHERE r.id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], r.id)"
)
_LIST_REGISTRATIONS: Final = (
    _WITH_POSITION
    + """
WHERE r.meeting_id = $3 AND ($1::uuid IS NULL OR r.id > $1)
  AND ($4::uuid IS NULL OR r.organization_id = $4) AND ($5::text IS NULL OR r.status = $5)
ORDER BY r.id LIMIT $2
"""
)
_CHANGED_REGISTRATIONS: Final = in_change_order(
    _WITH_POSITION
    + """
WHERE r.meeting_id = $5
  AND ($6::uuid IS NULL OR r.organization_id = $6) AND ($7::text IS NULL OR r.status = $7)
""",
    "r",
)
# The statement's own subquery does not see the row it inserts: hence the + 1.
_INSERT_REGISTRATION: Final = """
WITH inserted AS (
    INSERT INTO registrations (id, meeting_id, person_id, organization_id, status, role)
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING *
)
SELECT inserted.*, CASE WHEN inserted.status = 'waitlisted' THEN
    (SELECT count(*) + 1 FROM registrations w
     WHERE w.meeting_id = inserted.meeting_id AND w.status = 'waitlisted'
       AND w.queued <= inserted.queued)
    END AS waitlist_position
FROM inserted
"""
_RENEW_REGISTRATION: Final = """
UPDATE registrations SET status = $2, role = $3, rsvp = 'needs-action',
    queued = nextval(pg_get_serial_sequence('registrations', 'queued')),
    version = version + 1, updated_at = now()
WHERE id = $1
"""
_SET_STATUS: Final = """
UPDATE registrations SET status = $2, version = version + 1, updated_at = now()
WHERE id = ANY($1::uuid[])
"""
_WAITLIST: Final = """
SELECT id, organization_id FROM registrations
WHERE meeting_id = $1 AND status = 'waitlisted' ORDER BY queued
"""


async def registration(connection: Connection, registration_id: UUID) -> Registration | None:
    return await fetch_struct(connection, Registration, _REGISTRATION, registration_id)


async def registrations(
    connection: Connection, registration_ids: Sequence[UUID]
) -> list[Registration]:
    """The registrations, in the order of their ids given."""
    return await fetch_structs(connection, Registration, _REGISTRATIONS, list(registration_ids))


_SIGN_UP_STATE: Final = f"""
SELECT places.*,
       (SELECT to_jsonb(p) FROM people p WHERE p.id = $2) AS person,
       (SELECT to_jsonb(found) FROM ({_WITH_POSITION} WHERE r.meeting_id = $1 AND r.person_id = $2)
            AS found) AS existing
FROM ({_PLACES}) AS places
"""


class SignUpState(msgspec.Struct, frozen=True):
    """What a sign-up decides by: the person, their registration for the meeting in any
    state, and the meeting's places."""

    person: Person | None
    existing: Registration | None
    places: Places


class _SignUpState(_Places, frozen=True):
    person: Person | None
    existing: Registration | None


async def sign_up_state(connection: Connection, meeting_id: UUID, person_id: UUID) -> SignUpState:
    """The person, their registration and the places in one round trip: a sign-up is
    the registry's most frequent write."""
    found = as_struct(
        await fetch_one(connection, _SIGN_UP_STATE, meeting_id, person_id), _SignUpState
    )
    return SignUpState(found.person, found.existing, _places_of(found))


async def list_registrations(
    connection: Connection,
    meeting_id: UUID,
    *,
    after: UUID | None,
    limit: int,
    organization_id: UUID | None,
    status: RegistrationStatus | None,
) -> list[Registration]:
    """Up to `limit` registrations after `after`, by id; of one organization unless None."""
    return await fetch_structs(
        connection,
        Registration,
        _LIST_REGISTRATIONS,
        after,
        limit,
        meeting_id,
        organization_id,
        status,
    )


async def changed_registrations(
    connection: Connection,
    meeting_id: UUID,
    asked: Asked,
    *,
    organization_id: UUID | None,
    status: RegistrationStatus | None,
) -> Changes[Registration]:
    """A meeting's registrations in the order they changed (`shared.changes`)."""
    return await fetch_changes(
        connection,
        Registration,
        _CHANGED_REGISTRATIONS,
        asked,
        meeting_id,
        organization_id,
        status,
    )


async def insert_registration(
    connection: Connection,
    registration_id: UUID,
    *,
    meeting_id: UUID,
    person: Person,
    status: RegistrationStatus,
    role: MeetingRole,
) -> Registration:
    """The new registration, as `registrations` would read it."""
    return as_struct(
        await fetch_one(
            connection,
            _INSERT_REGISTRATION,
            registration_id,
            meeting_id,
            person.id,
            person.organization_id,
            status,
            role,
        ),
        Registration,
    )


async def renew_registration(
    connection: Connection, registration_id: UUID, status: RegistrationStatus, role: MeetingRole
) -> None:
    """A cancelled registration anew: at the end of the queue, its RSVP not yet given."""
    await connection.execute(_RENEW_REGISTRATION, registration_id, status, role)


async def set_status(
    connection: Connection, registration_ids: Sequence[UUID], status: RegistrationStatus
) -> None:
    await connection.execute(_SET_STATUS, list(registration_ids), status)


async def waitlist(connection: Connection, meeting_id: UUID) -> list[Waiting]:
    """The meeting's waitlisted registrations, first come first."""
    return await fetch_structs(connection, Waiting, _WAITLIST, meeting_id)


# RSVP and the links that answer it

# When the meeting ended (an operator may end it early), or else when it is to end: the
# last session's end, the last occurrence's for a series.
_MEETING_END: Final = "COALESCE(m.ended_at, m.ends_at)"


class RsvpState(msgspec.Struct, frozen=True):
    status: RegistrationStatus
    rsvp: Rsvp
    meeting_status: MeetingStatus


class LinkEnd(msgspec.Struct, frozen=True):
    expires_at: datetime
    """When the links of a registration stop working: its meeting's end."""
    ended: bool
    """The meeting has ended already (perhaps before its time)."""


_LOCK_RSVP: Final = """
SELECT r.status, r.rsvp, m.status AS meeting_status
FROM registrations r JOIN meetings m ON m.id = r.meeting_id
WHERE r.id = $1 FOR UPDATE OF r
"""
_SET_RSVP: Final = """
UPDATE registrations SET rsvp = $2, version = version + 1, updated_at = now() WHERE id = $1
"""
_INVITATION: Final = f"""
SELECT r.id AS registration_id, m.title AS meeting_title, m.starts_at, m.ends_at,
       p.display_name, r.rsvp, {_MEETING_END} AS expires_at
FROM registrations r JOIN meetings m ON m.id = r.meeting_id JOIN people p ON p.id = r.person_id
WHERE r.id = $1
"""
_LINK_END: Final = f"""
SELECT {_MEETING_END} AS expires_at, m.status = 'ended' AS ended
FROM registrations r JOIN meetings m ON m.id = r.meeting_id
WHERE r.id = $1
"""
_SIGNING_KEY: Final = "SELECT value FROM secrets WHERE name = $1"
_MAKE_SIGNING_KEY: Final = (
    "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING"
)


async def lock_rsvp(connection: Connection, registration_id: UUID) -> RsvpState | None:
    """The registration's state and its meeting's, the registration locked."""
    return await fetch_struct(connection, RsvpState, _LOCK_RSVP, registration_id)


async def set_rsvp(connection: Connection, registration_id: UUID, rsvp: Rsvp) -> None:
    await connection.execute(_SET_RSVP, registration_id, rsvp)


async def invitation(connection: Connection, registration_id: UUID) -> RsvpInvitation | None:
    return await fetch_struct(connection, RsvpInvitation, _INVITATION, registration_id)


async def link_end(connection: Connection, registration_id: UUID) -> LinkEnd | None:
    return await fetch_struct(connection, LinkEnd, _LINK_END, registration_id)


async def secret(connection: Connection, name: str) -> bytes | None:
    value: bytes | None = await connection.fetchval(_SIGNING_KEY, name)
    return value


async def make_secret(connection: Connection, name: str, value: bytes) -> None:
    """Keep `value` as the secret `name`, unless there is one by that name already."""
    await connection.execute(_MAKE_SIGNING_KEY, name, value)


# Attendance

_CHECK_IN: Final = """
WITH changed AS (
    INSERT INTO check_ins (id, meeting_id, session_id, person_id, organization_id, attended)
    SELECT c.id, $2, $3, c.person_id, c.organization_id, $6
    FROM unnest($1::uuid[], $4::uuid[], $5::uuid[]) AS c (id, person_id, organization_id)
    ON CONFLICT (meeting_id, session_id, person_id) DO UPDATE
        SET attended = EXCLUDED.attended, version = check_ins.version + 1, recorded_at = now()
        WHERE check_ins.attended <> EXCLUDED.attended
    RETURNING *
)
SELECT * FROM changed ORDER BY array_position($4::uuid[], person_id)
"""
_CHECK_INS: Final = """
SELECT * FROM check_ins WHERE meeting_id = $1 AND session_id = $2 AND person_id = ANY($3::uuid[])
ORDER BY person_id
"""
_RECORD_HEADCOUNT: Final = """
INSERT INTO headcounts (id, meeting_id, session_id, organization_id, headcount)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (meeting_id, session_id, organization_id) DO UPDATE
    SET headcount = EXCLUDED.headcount, version = headcounts.version + 1, recorded_at = now()
    WHERE headcounts.headcount <> EXCLUDED.headcount
RETURNING *
"""
_HEADCOUNT: Final = """
SELECT * FROM headcounts WHERE meeting_id = $1 AND session_id = $2 AND organization_id = $3
"""
_ATTENDANCE_BY_ORGANIZATION: Final = """
WITH sites AS (
    SELECT organization_id FROM registrations WHERE meeting_id = $1
    UNION SELECT organization_id FROM check_ins WHERE meeting_id = $1
    UNION SELECT organization_id FROM headcounts WHERE meeting_id = $1
)
-- Abroad, an organization counts under its country (region_name is then the country's).
SELECT o.id AS organization_id, o.name, coalesce(o.region_code, o.country) AS region,
    o.region AS region_name,
    (SELECT count(*) FROM registrations r
     WHERE r.meeting_id = $1 AND r.organization_id = o.id AND r.status = 'registered')
        AS registered,
    (SELECT count(*) FROM registrations r
     WHERE r.meeting_id = $1 AND r.organization_id = o.id AND r.status = 'waitlisted')
        AS waitlisted,
    (SELECT count(DISTINCT c.person_id) FROM check_ins c
     WHERE c.meeting_id = $1 AND c.organization_id = o.id AND c.attended) AS attended,
    coalesce((SELECT max(h.headcount) FROM headcounts h
              WHERE h.meeting_id = $1 AND h.organization_id = o.id), 0) AS headcount
FROM sites JOIN organizations o ON o.id = sites.organization_id
WHERE $2::uuid IS NULL OR o.id = $2
ORDER BY o.name, o.id
"""


async def record_check_ins(
    connection: Connection,
    meeting_id: UUID,
    session_id: UUID,
    people: Sequence[Person],
    *,
    check_in_ids: Sequence[UUID],
    attended: bool,
) -> list[CheckIn]:
    """Record whether each person attended the session (`check_in_ids` for new records);
    the check-ins this changed, in the order of `people`."""
    return await fetch_structs(
        connection,
        CheckIn,
        _CHECK_IN,
        list(check_in_ids),
        meeting_id,
        session_id,
        [person.id for person in people],
        [person.organization_id for person in people],
        attended,
    )


async def check_ins(
    connection: Connection, meeting_id: UUID, session_id: UUID, person_ids: Collection[UUID]
) -> list[CheckIn]:
    """The people's check-ins to the session, by person id."""
    return await fetch_structs(
        connection, CheckIn, _CHECK_INS, meeting_id, session_id, list(person_ids)
    )


async def record_headcount(
    connection: Connection,
    headcount_id: UUID,
    *,
    meeting_id: UUID,
    session_id: UUID,
    organization_id: UUID,
    headcount: int,
) -> Headcount | None:
    """The site's headcount for the session as now recorded; None if it was so already."""
    return await fetch_struct(
        connection,
        Headcount,
        _RECORD_HEADCOUNT,
        headcount_id,
        meeting_id,
        session_id,
        organization_id,
        headcount,
    )


async def headcount(
    connection: Connection, meeting_id: UUID, session_id: UUID, organization_id: UUID
) -> Headcount | None:
    return await fetch_struct(
        connection, Headcount, _HEADCOUNT, meeting_id, session_id, organization_id
    )


async def attendance_by_organization(
    connection: Connection, meeting_id: UUID, organization_id: UUID | None
) -> list[OrganizationAttendance]:
    """Each organization that signed up, checked in or counted heads for the meeting (only
    `organization_id` unless None), with its numbers; by name."""
    return await fetch_structs(
        connection,
        OrganizationAttendance,
        _ATTENDANCE_BY_ORGANIZATION,
        meeting_id,
        organization_id,
    )
