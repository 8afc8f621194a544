"""Attendance: who was there, person by person or as a site's headcount.

A partner checks in its own people (one or many at once) and counts a room where people
watch together without signing up one by one; staff do either for any site. The
statistics are served over REST and, for services that need them at once, as the
`attendance` endpoint of the `registry` NATS micro service.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final
from uuid import UUID

import msgspec
import structlog
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody
from nats.micro import add_service
from nats.micro.request import Request as MicroRequest

from services.registry.access import is_site, visible_meeting
from services.registry.schemas import (
    AttendanceStatistics,
    CheckIn,
    CheckIns,
    Headcount,
    HeadcountFields,
    OrganizationAttendance,
    RegionAttendance,
)
from shared.access import require_own_organization
from shared.bus.outbox import add_event
from shared.db import Connection, acquire, as_struct, as_structs, fetch_one
from shared.errors import Conflict, invalid, not_found
from shared.events import AttendanceRecorded, new_id, utc_now
from shared.http.auth import KEY_SECURITY, Caller
from shared.http.params import Caller as CallerParam
from shared.http.params import Transaction
from shared.service import VERSION, Runtime

log = structlog.get_logger(__name__)

STATISTICS_SUBJECT: Final = "telebridge.registry.attendance"
"""Request subject of the statistics endpoint: the meeting id as text in, JSON out."""

_MEETING: Final = "SELECT id, status, sessions FROM meetings WHERE id = $1"
_PEOPLE: Final = "SELECT id, organization_id FROM people WHERE id = ANY($1::uuid[])"
_CHECK_IN: Final = """
INSERT INTO check_ins (id, meeting_id, session_id, person_id, organization_id, attended)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (meeting_id, session_id, person_id) DO UPDATE
    SET attended = EXCLUDED.attended, version = check_ins.version + 1, recorded_at = now()
    WHERE check_ins.attended <> EXCLUDED.attended
RETURNING *
"""
_CHECK_INS: Final = """
SELECT * FROM check_ins WHERE meeting_id = $1 AND session_id = $2 AND person_id = ANY($3::uuid[])
ORDER BY person_id
"""
_HEADCOUNT: Final = """
INSERT INTO headcounts (id, meeting_id, session_id, organization_id, headcount)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (meeting_id, session_id, organization_id) DO UPDATE
    SET headcount = EXCLUDED.headcount, version = headcounts.version + 1, recorded_at = now()
    WHERE headcounts.headcount <> EXCLUDED.headcount
RETURNING *
"""
_HEADCOUNT_OF: Final = """
SELECT * FROM headcounts WHERE meeting_id = $1 AND session_id = $2 AND organization_id = $3
"""
_BY_ORGANIZATION: Final = """
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


class AttendanceController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["attendance"]
    security = KEY_SECURITY

    @post(
        "/check-ins",
        summary="Check people in to a session, one or many",
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
        meeting = await visible_meeting(connection, caller, meeting_id)
        session_id = _session(meeting, data.session_id)
        wanted = list(dict.fromkeys(data.person_ids))
        people = {
            row["id"]: row["organization_id"]
            for row in await connection.fetch(_PEOPLE, wanted)
            if caller.acts_for(row["organization_id"])
        }
        unknown = [str(person) for person in wanted if person not in people]
        if unknown:
            raise invalid("person_ids", f"no person {', '.join(unknown)}")
        for person_id in wanted:
            row = await connection.fetchrow(
                _CHECK_IN,
                new_id(),
                meeting_id,
                session_id,
                person_id,
                people[person_id],
                data.attended,
            )
            if row is not None:
                await _announce(connection, row, person_id=person_id, attended=data.attended)
        return as_structs(
            await connection.fetch(_CHECK_INS, meeting_id, session_id, wanted), CheckIn
        )

    @put(
        "/headcounts/{organization_id:uuid}",
        summary="Record how many watched at a site",
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
        meeting = await visible_meeting(connection, caller, meeting_id)
        require_own_organization(caller, organization_id)
        if not is_site(meeting, organization_id):
            raise not_found("site", organization_id)
        session_id = _session(meeting, data.session_id)
        row = await connection.fetchrow(
            _HEADCOUNT, new_id(), meeting_id, session_id, organization_id, data.headcount
        )
        if row is not None:
            await _announce(connection, row, headcount=data.headcount)
        else:
            row = await fetch_one(
                connection, _HEADCOUNT_OF, meeting_id, session_id, organization_id
            )
        return as_struct(row, Headcount)

    @get(
        "/attendance",
        summary="Attendance statistics of a meeting",
        description="By organization and by region. A partner key sees its own organization.",
    )
    async def attendance(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> AttendanceStatistics:
        await visible_meeting(connection, caller, meeting_id)
        return await statistics(connection, meeting_id, _only(caller))


async def statistics(
    connection: Connection, meeting_id: UUID, organization_id: UUID | None = None
) -> AttendanceStatistics:
    """Registered, waitlisted, attended and headcount, in all, per organization, per region."""
    rows = await connection.fetch(_BY_ORGANIZATION, meeting_id, organization_id)
    organizations = [msgspec.convert(dict(row), OrganizationAttendance) for row in rows]
    regions: dict[str, dict[str, Any]] = {}
    for site in organizations:
        region = regions.setdefault(
            site.region,
            {"region": site.region, "region_name": site.region_name} | dict.fromkeys(_COUNTED, 0),
        )
        for name in _COUNTED:
            region[name] += getattr(site, name)
    return AttendanceStatistics(
        meeting_id=meeting_id,
        organizations=organizations,
        regions=[msgspec.convert(region, RegionAttendance) for region in regions.values()],
        **{name: sum(getattr(site, name) for site in organizations) for name in _COUNTED},
    )


_COUNTED: Final = ("registered", "waitlisted", "attended", "headcount")


async def serve_statistics(runtime: Runtime) -> None:
    """The `registry` micro service: `attendance` answers statistics over NATS request-reply."""

    async def answer(request: MicroRequest) -> None:
        try:
            meeting_id = UUID(request.data.decode().strip())
        except ValueError:
            await request.respond_error("400", "send a meeting id")
            return
        async with acquire(runtime.pool) as connection:
            if await connection.fetchval(_MEETING, meeting_id) is None:
                await request.respond_error("404", f"meeting {meeting_id} is not known")
                return
            found = await statistics(connection, meeting_id)
        await request.respond(msgspec.json.encode(found))

    service = await add_service(
        runtime.nats,
        name="registry",
        version=VERSION,
        description="Attendance statistics of meetings",
    )
    await service.add_endpoint(
        name="attendance", subject=STATISTICS_SUBJECT, handler=answer, queue_group="registry"
    )
    try:
        await asyncio.Event().wait()
    finally:
        await service.stop()


def _only(caller: Caller) -> UUID | None:
    return None if caller.is_staff else caller.organization_id


def _session(meeting: Any, session_id: UUID | None) -> UUID:
    """The session attendance is recorded for: the one named, or the meeting's only one."""
    meeting_id = meeting["id"]
    # The meeting's start time, not the clock's event, opens attendance: a check-in sent
    # at the start must not wait for the registry to hear that the meeting started.
    not_yet = meeting["status"] == "scheduled" and meeting["starts_at"] > utc_now()
    if meeting["status"] == "cancelled" or not_yet:
        raise Conflict(
            f"meeting-{meeting['status']}",
            f"meeting {meeting_id} is {meeting['status']}: attendance is recorded once it starts",
        )
    sessions = [UUID(session["id"]) for session in meeting["sessions"]] or [meeting_id]
    if session_id is None:
        if len(sessions) > 1:
            raise invalid("session_id", "the meeting has several sessions: name one")
        return sessions[0]
    if session_id not in sessions:
        raise invalid("session_id", f"meeting {meeting_id} has no session {session_id}")
    return session_id


async def _announce(
    connection: Connection,
    row: Any,
    *,
    person_id: UUID | None = None,
    attended: bool = True,
    headcount: int | None = None,
) -> None:
    await add_event(
        connection,
        AttendanceRecorded(
            aggregate_id=row["id"],
            aggregate_version=row["version"],
            meeting_id=row["meeting_id"],
            session_id=row["session_id"],
            organization_id=row["organization_id"],
            person_id=person_id,
            attended=attended,
            headcount=headcount,
        ),
    )
