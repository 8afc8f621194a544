"""Post-event summaries, written from data alone. Pure: facts in, summary out.

`write_summary` decides what the summary says: who registered and who was there (people
checked in, rooms counted), from which organizations, towns and regions, in which sessions
and at which sites, and which agenda items were delivered before the meeting ended.
`services.agenda.summaries.text` says it in Russian or English.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from services.agenda.schemas import (
    AgendaItem,
    SummaryContent,
    SummaryOrganization,
    SummarySession,
)
from shared.events import MeetingKind, MeetingSession


@dataclass(frozen=True)
class MeetingFacts:
    id: UUID
    title: str
    kind: MeetingKind
    host_organization_id: UUID
    site_ids: list[UUID]
    starts_at: datetime
    ends_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    sessions: list[MeetingSession] = field(default_factory=list)
    """Those held; none listed means one, the meeting itself."""
    site_tracks: dict[UUID, str] = field(default_factory=dict)
    """The workshop track of each site that took part in only one."""


@dataclass(frozen=True)
class OrganizationFacts:
    id: UUID
    name: str
    region: str
    timezone: str
    city: str | None = None
    region_code: str | None = None
    name_en: str | None = None
    city_en: str | None = None


@dataclass(frozen=True)
class Attendance:
    """One record of the registry's: a person's check-in, or a room's headcount."""

    session_id: UUID
    organization_id: UUID
    person_id: UUID | None
    attended: bool
    headcount: int | None

    @property
    def present(self) -> UUID | None:
        """The person it says was there; None for a headcount or a check-in taken back."""
        return self.person_id if self.attended else None

    @property
    def room(self) -> int:
        """The people a headcount counted in the room; 0 for a check-in."""
        return (self.headcount or 0) if self.person_id is None else 0


def write_summary(
    meeting: MeetingFacts,
    organizations: dict[UUID, OrganizationFacts],
    participant_organizations: list[UUID],
    agenda: list[AgendaItem] | None,
    attendance: list[Attendance] | None = None,
) -> SummaryContent:
    """The summary of an ended meeting.

    `agenda` is the published agenda's items, None when none was published: published
    and delivered are different facts, so an agenda whose items all came after an early
    end is not one that was never published.

    `participant_organizations` has one entry per registered person: the organization they
    came from. Organizations the service does not know yet are left out until they are.
    A person checked in to several sessions counts once; a room counted at several sessions
    counts with its largest headcount.
    """
    held_from = meeting.started_at or meeting.starts_at
    held_until = meeting.ended_at or meeting.ends_at
    records = attendance or []
    checked_in = {(r.organization_id, r.present) for r in records if r.present}
    attended_by = Counter(organization for organization, _ in checked_in)
    headcount_of: dict[UUID, int] = {}
    for record in records:
        if record.room:
            headcount_of[record.organization_id] = max(
                headcount_of.get(record.organization_id, 0), record.room
            )
    per_organization = Counter(participant_organizations)
    taking_part = list(
        dict.fromkeys([*meeting.site_ids, *per_organization, *attended_by, *headcount_of])
    )
    known = [organizations[org_id] for org_id in taking_part if org_id in organizations]
    host = organizations.get(meeting.host_organization_id)
    return SummaryContent(
        meeting_id=meeting.id,
        title=meeting.title,
        kind=meeting.kind,
        timezone=host.timezone if host else "UTC",
        held_from=held_from,
        held_until=held_until,
        participants=len(participant_organizations),
        attended=len({person for _, person in checked_in}),
        headcount=sum(headcount_of.values()),
        organizations=sorted(
            (
                SummaryOrganization(
                    id=org.id,
                    name=org.name,
                    region=org.region,
                    participants=per_organization[org.id],
                    site=org.id in meeting.site_ids,
                    city=org.city,
                    region_code=org.region_code,
                    attended=attended_by[org.id],
                    headcount=headcount_of.get(org.id, 0),
                    track=meeting.site_tracks.get(org.id),
                    name_en=org.name_en,
                    city_en=org.city_en,
                )
                for org in known
            ),
            key=lambda org: (-org.participants, org.name.casefold()),
        ),
        regions=sorted({org.region for org in known}, key=str.casefold),
        items_delivered=[item for item in agenda or [] if item.starts_at < held_until],
        items_planned=None if agenda is None else len(agenda),
        sessions=_sessions(meeting, held_until, records),
    )


def _sessions(
    meeting: MeetingFacts, held_until: datetime, records: list[Attendance]
) -> list[SummarySession]:
    sessions = meeting.sessions or [
        MeetingSession(id=meeting.id, starts_at=meeting.starts_at, ends_at=meeting.ends_at)
    ]
    people = {(r.session_id, r.present) for r in records if r.present}
    counted_in = Counter(session for session, _ in people)
    for record in records:
        counted_in[record.session_id] += record.room
    return [
        SummarySession(
            id=session.id,
            starts_at=session.starts_at,
            ends_at=min(session.ends_at, held_until),
            title=session.title,
            track=session.track,
            attended=counted_in[session.id],
        )
        for session in sorted(sessions, key=lambda s: (s.starts_at, s.track or ""))
        if session.starts_at < held_until
    ]
