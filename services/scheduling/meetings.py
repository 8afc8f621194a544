"""Scheduling's use cases: schedule, end, cancel, advance the clock, render an invite.

Each runs inside the caller's transaction and writes its events to the outbox there.
"""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from services.scheduling import store
from services.scheduling.ical import Invite, InviteAttendee, InviteSite, render_invite
from services.scheduling.lifecycle import Step
from services.scheduling.schemas import Meeting, MeetingCreate, Site
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.events import MeetingEvent, MeetingScheduled, new_id, utc_now
from shared.http.problems import FieldError, invalid_fields


async def schedule(connection: Connection, data: MeetingCreate) -> asyncpg.Record:
    site_ids = data.site_ids
    if unknown := await store.unknown_organizations(connection, site_ids):
        raise invalid_fields(
            [
                FieldError(
                    message=f"unknown organization {organization_id}",
                    field="host_organization_id"
                    if organization_id == data.host_organization_id
                    else "organization_ids",
                    source="body",
                )
                for organization_id in unknown
            ],
            slug="unknown-organization",
            detail="scheduling does not know organization(s) "
            + ", ".join(map(str, unknown))
            + ": register them with the registry first (its events take a moment to arrive)",
        )
    meeting = await store.insert_meeting(
        connection,
        new_id(),
        title=data.title,
        kind=data.kind,
        host_organization_id=data.host_organization_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        site_ids=site_ids,
    )
    await add_event(connection, meeting_event(MeetingScheduled, meeting, site_ids))
    return meeting


async def apply_steps(
    connection: Connection, meeting: asyncpg.Record, steps: list[Step]
) -> asyncpg.Record:
    """Apply lifecycle steps to a meeting locked by the caller, one event per step."""
    site_ids = await store.site_ids(connection, meeting["id"])
    for step in steps:
        meeting = await store.apply_lifecycle(
            connection, meeting["id"], step.after, changes_invite=step.changes_invite
        )
        await add_event(connection, meeting_event(step.event_type, meeting, site_ids))
    return meeting


def meeting_event(
    event_type: type[MeetingEvent], meeting: asyncpg.Record, site_ids: list[UUID]
) -> MeetingEvent:
    return event_type(
        aggregate_id=meeting["id"],
        aggregate_version=meeting["version"],
        title=meeting["title"],
        kind=meeting["kind"],
        status=meeting["status"],
        host_organization_id=meeting["host_organization_id"],
        organization_ids=site_ids,
        starts_at=meeting["starts_at"],
        ends_at=meeting["ends_at"],
        started_at=meeting["started_at"],
        ended_at=meeting["ended_at"],
    )


async def views(
    connection: Connection, meetings: list[asyncpg.Record], base_url: str
) -> list[Meeting]:
    """Meetings as the API shows them, with every site's local times."""
    by_id = {meeting["id"]: meeting for meeting in meetings}
    sites_by_meeting: dict[UUID, list[Site]] = defaultdict(list)
    for site in await store.sites(connection, list(by_id)):
        zone = ZoneInfo(site["timezone"])
        meeting = by_id[site["meeting_id"]]
        sites_by_meeting[site["meeting_id"]].append(
            Site(
                organization_id=site["organization_id"],
                name=site["name"],
                region=site["region"],
                timezone=site["timezone"],
                starts_at_local=meeting["starts_at"].astimezone(zone).isoformat(),
                ends_at_local=meeting["ends_at"].astimezone(zone).isoformat(),
            )
        )
    return [
        Meeting(
            id=meeting["id"],
            title=meeting["title"],
            kind=meeting["kind"],
            status=meeting["status"],
            host_organization_id=meeting["host_organization_id"],
            starts_at=meeting["starts_at"],
            ends_at=meeting["ends_at"],
            started_at=meeting["started_at"],
            ended_at=meeting["ended_at"],
            sites=sites_by_meeting[meeting["id"]],
            version=meeting["version"],
            sequence=meeting["sequence"],
            invite_url=f"{base_url}/meetings/{meeting['id']}/invite.ics",
        )
        for meeting in meetings
    ]


async def invite(
    connection: Connection, meeting: asyncpg.Record, *, organizer_email: str, base_url: str
) -> bytes:
    sites = await store.sites(connection, [meeting["id"]])
    attendees = await store.attendees(connection, meeting["id"])
    return render_invite(
        Invite(
            meeting_id=meeting["id"],
            title=meeting["title"],
            kind=meeting["kind"],
            status=meeting["status"],
            starts_at=meeting["starts_at"],
            ends_at=meeting["ends_at"],
            sequence=meeting["sequence"],
            sites=[InviteSite(site["name"], site["region"], site["timezone"]) for site in sites],
            attendees=[
                InviteAttendee(row["name"], row["email"], row["rsvp"], row["role"])
                for row in attendees
            ],
            organizer_email=organizer_email,
            url=f"{base_url}/meetings/{meeting['id']}",
        ),
        stamp=utc_now(),
    )
