"""What agendas and summaries read alike from a meeting of the read model. Pure."""

from __future__ import annotations

from uuid import UUID

from shared.events import MeetingSession
from shared.readmodels.meetings import Meeting


def sessions_of(meeting: Meeting) -> list[MeetingSession]:
    """The meeting's sessions; a meeting without sessions of its own has one."""
    return meeting.sessions or [
        MeetingSession(id=meeting.id, starts_at=meeting.starts_at, ends_at=meeting.ends_at)
    ]


def held_sessions(meeting: Meeting) -> list[MeetingSession]:
    """The sessions that take place: every one but those cancelled."""
    return [session for session in sessions_of(meeting) if session.status != "cancelled"]


def site_tracks(meeting: Meeting) -> dict[UUID, str]:
    """The workshop track of each site that takes part in one."""
    return {site.organization_id: site.track for site in meeting.sites if site.track}
