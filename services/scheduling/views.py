"""A meeting as others see it: the event other services read, the calendar its invites and
feeds render, and the API's answer. Field mappings, nothing more: pure."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from services.scheduling.ical import Attendee, CalendarMeeting, CalendarSession, CalendarSite
from services.scheduling.schemas import ConferenceWrite, Feed, Meeting, Session, Site
from services.scheduling.store import Attendee as StoredAttendee
from services.scheduling.store import KnownSite, StoredFeed, StoredSession
from shared.events import MeetingEvent, MeetingSession, MeetingSite

if TYPE_CHECKING:
    from services.scheduling.meetings import Context, MeetingState

V = TypeVar("V", MeetingSession, CalendarSession)


def event_of(event_type: type[MeetingEvent], state: MeetingState) -> MeetingEvent:
    row = state.stored
    return event_type(
        aggregate_id=row.id,
        aggregate_version=row.version,
        title=row.title,
        kind=row.kind,
        status=row.status,
        host_organization_id=row.host_organization_id,
        organization_ids=[site.organization_id for site in state.site_rows],
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        sessions=[_as(MeetingSession, session) for session in state.sessions],
        timezone=state.timezone,
        recurrence=row.recurrence,
        conference=row.conference,
        sites=[
            MeetingSite(organization_id=site.organization_id, room=site.room, track=site.track)
            for site in state.site_rows
        ],
        sequence=row.sequence,
        public=row.public,
    )


def calendar_of(state: MeetingState, context: Context) -> CalendarMeeting:
    row = state.stored
    return CalendarMeeting(
        meeting_id=row.id,
        title=row.title,
        kind=row.kind,
        status=row.status,
        timezone=state.timezone,
        sequence=row.sequence,
        sessions=[_as(CalendarSession, session) for session in state.sessions],
        sites=[calendar_site(site) for site in state.sites],
        organizer_email=context.organizer_email,
        recurrence=row.recurrence,
        series_length=row.series_length,
        conference=row.conference,
        agenda=row.agenda or [],
        agenda_url=row.agenda_url,
        summary_url=row.summary_url,
    )


def _as(view: type[V], session: StoredSession) -> V:
    """The session as the event and the calendar describe it: the same fields."""
    return msgspec.convert(session, view, from_attributes=True)


def calendar_site(site: KnownSite) -> CalendarSite:
    return CalendarSite(
        organization_id=site.organization_id,
        name=site.name,
        region=site.region,
        timezone=site.timezone,
        room=site.room,
        track=site.track,
    )


def attendee_of(row: StoredAttendee) -> Attendee:
    return Attendee(
        name=row.name,
        email=row.email,
        rsvp=row.rsvp,
        role=row.role,
        organization_id=row.organization_id,
    )


def view_of(state: MeetingState, base_url: str) -> Meeting:
    """The meeting as the API shows it, with every site's local times."""
    row = state.stored
    meeting_url = f"{base_url}/meetings/{row.id}"
    first = min(state.live_sessions or state.sessions, key=lambda session: session.starts_at)
    return Meeting(
        id=row.id,
        title=row.title,
        kind=row.kind,
        status=row.status,
        host_organization_id=row.host_organization_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        timezone=state.timezone,
        recurrence=row.recurrence,
        conference=None
        if row.conference is None
        else msgspec.convert(msgspec.to_builtins(row.conference), ConferenceWrite),
        public=row.public,
        sites=[
            Site(
                organization_id=site.organization_id,
                name=site.name,
                region=site.region,
                timezone=site.timezone,
                starts_at_local=_local(first.starts_at, site.timezone),
                ends_at_local=_local(first.ends_at, site.timezone),
                room=site.room,
                track=site.track,
            )
            for site in state.sites
        ],
        sessions=[
            Session(
                id=session.id,
                starts_at=session.starts_at,
                ends_at=session.ends_at,
                status=session.status,
                title=session.title,
                track=session.track,
                recurrence_id=session.recurrence_id,
                invite_url=f"{meeting_url}/sessions/{session.id}/invite.ics",
            )
            for session in state.sessions
        ],
        version=row.version,
        sequence=row.sequence,
        invite_url=f"{meeting_url}/invite.ics",
        agenda_url=row.agenda_url,
        summary_url=row.summary_url,
        forced_by=row.forced_by,
    )


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).isoformat()


def feed_of(row: StoredFeed, base_url: str) -> Feed:
    """A feed as the API answers it, with the URLs calendar programs subscribe to."""
    url = f"{base_url}/calendars/{row.token}.ics"
    return Feed(
        id=row.id,
        kind=row.kind,
        organization_id=row.organization_id,
        person_id=row.person_id,
        url=url,
        webcal_url="webcal://" + url.split("://", 1)[1],
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
