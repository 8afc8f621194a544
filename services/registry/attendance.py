"""Attendance: who was there, person by person or as a site's headcount.

A partner checks in its own people (one or many at once) and counts a room where people
watch together without signing up one by one; staff do either for any site. Each record
that changes is announced as `AttendanceRecorded`. The statistics add it all up per
organization and per region.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from services.registry import store
from services.registry.access import is_site
from services.registry.schemas import (
    AttendanceCounts,
    AttendanceStatistics,
    CheckIn,
    CheckIns,
    Headcount,
    HeadcountFields,
    OrganizationAttendance,
    RegionAttendance,
)
from shared.access import Caller
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.errors import Conflict, invalid, not_found
from shared.events import AttendanceRecorded, new_id, utc_now
from shared.readmodels.meetings import Meeting


async def check_in(
    connection: Connection, caller: Caller, meeting: Meeting, data: CheckIns
) -> list[CheckIn]:
    """Record who attended a session: all of them, or nothing if any person is not one the
    caller may check in. The check-ins of those people, by person id."""
    session_id = _session(meeting, data.session_id)
    wanted = list(dict.fromkeys(data.person_ids))
    found = {
        person.id: person
        for person in await store.people(connection, wanted)
        if caller.acts_for(person.organization_id)
    }
    unknown = [str(person_id) for person_id in wanted if person_id not in found]
    if unknown:
        raise invalid("person_ids", f"no person {', '.join(unknown)}")
    changed = await store.record_check_ins(
        connection,
        meeting.id,
        session_id,
        [found[person_id] for person_id in wanted],
        check_in_ids=[new_id() for _ in wanted],
        attended=data.attended,
    )
    for record in changed:
        await _announce(connection, record)
    return await store.check_ins(connection, meeting.id, session_id, wanted)


async def record_headcount(
    connection: Connection, meeting: Meeting, organization_id: UUID, data: HeadcountFields
) -> Headcount:
    """How many watched at one of the meeting's sites during a session."""
    if not is_site(meeting, organization_id):
        raise not_found("site", organization_id)
    session_id = _session(meeting, data.session_id)
    recorded = await store.record_headcount(
        connection,
        new_id(),
        meeting_id=meeting.id,
        session_id=session_id,
        organization_id=organization_id,
        headcount=data.headcount,
    )
    if recorded is not None:
        await _announce(connection, recorded)
        return recorded
    unchanged = await store.headcount(connection, meeting.id, session_id, organization_id)
    assert unchanged is not None
    return unchanged


async def statistics(
    connection: Connection, meeting_id: UUID, organization_id: UUID | None = None
) -> AttendanceStatistics:
    """Registered, waitlisted, attended and headcount, in all, per organization, per region;
    of one organization unless `organization_id` is None."""
    organizations = await store.attendance_by_organization(connection, meeting_id, organization_id)
    by_region: dict[str, list[OrganizationAttendance]] = {}
    for site in organizations:
        by_region.setdefault(site.region, []).append(site)
    return AttendanceStatistics(
        meeting_id=meeting_id,
        organizations=organizations,
        regions=[
            RegionAttendance(region=code, region_name=sites[0].region_name, **_totals(sites))
            for code, sites in by_region.items()
        ],
        **_totals(organizations),
    )


def _totals(counted: Sequence[AttendanceCounts]) -> dict[str, int]:
    return {
        name: sum(getattr(item, name) for item in counted)
        for name in AttendanceCounts.__struct_fields__
    }


def _session(meeting: Meeting, session_id: UUID | None) -> UUID:
    """The session attendance is recorded for: the one named, or the meeting's only one."""
    # The meeting's start time, not the clock's event, opens attendance: a check-in sent
    # at the start must not wait for the registry to hear that the meeting started.
    not_yet = meeting.status == "scheduled" and meeting.starts_at > utc_now()
    if meeting.status == "cancelled" or not_yet:
        raise Conflict(
            f"meeting-{meeting.status}",
            f"meeting {meeting.id} is {meeting.status}: attendance is recorded once it starts",
        )
    sessions = [session.id for session in meeting.sessions] or [meeting.id]
    if session_id is None:
        if len(sessions) > 1:
            raise invalid("session_id", "the meeting has several sessions: name one")
        return sessions[0]
    if session_id not in sessions:
        raise invalid("session_id", f"meeting {meeting.id} has no session {session_id}")
    return session_id


async def _announce(connection: Connection, record: CheckIn | Headcount) -> None:
    checked_in = record if isinstance(record, CheckIn) else None
    await add_event(
        connection,
        AttendanceRecorded(
            aggregate_id=record.id,
            aggregate_version=record.version,
            meeting_id=record.meeting_id,
            session_id=record.session_id,
            organization_id=record.organization_id,
            person_id=checked_in.person_id if checked_in else None,
            attended=checked_in.attended if checked_in else True,
            headcount=record.headcount if isinstance(record, Headcount) else None,
        ),
    )
