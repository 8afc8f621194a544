"""iCalendar for meetings: invites (RFC 5545, 5546, 7986) and subscription feeds. Pure:
data in, bytes out.

A meeting is one calendar object (one UID) per session, or a single object for a
recurring series, whose moved occurrences are overriding VEVENTs with a RECURRENCE-ID and
whose cancelled ones are EXDATEs. Times are written in the meeting's zone with a TZID, and
every TZID used gets its VTIMEZONE, so every calendar program computes the same instant.
The description gives each site's local time, since sites may be up to eleven zones apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Component,
    Event,
    vCalAddress,
    vDuration,
    vRecur,
    vUri,
)

from services.scheduling.vtimezone import vtimezone
from shared.events import (
    MEETING_KINDS,
    AgendaEntry,
    Conference,
    MeetingKind,
    MeetingRole,
    MeetingStatus,
    Rsvp,
    SessionStatus,
)
from shared.timezones import zone_label

PRODID = "-//Telebridge//Scheduling//RU"
CRLF = "\r\n"


@dataclass(frozen=True)
class CalendarSite:
    organization_id: UUID
    name: str
    region: str
    timezone: str
    room: str | None = None
    track: str | None = None

    @property
    def location(self) -> str:
        return f"{self.name}, {self.room}" if self.room else self.name


@dataclass(frozen=True)
class CalendarSession:
    id: UUID
    starts_at: datetime
    ends_at: datetime
    status: SessionStatus = "scheduled"
    title: str | None = None
    track: str | None = None
    recurrence_id: datetime | None = None


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    rsvp: Rsvp = "needs-action"
    role: MeetingRole = "participant"
    organization_id: UUID | None = None


_ROLES: dict[MeetingRole, str] = {
    "moderator": "CHAIR",
    "speaker": "REQ-PARTICIPANT",
    "participant": "REQ-PARTICIPANT",
    "guest": "OPT-PARTICIPANT",
}
"""RFC 5545 ROLE of each role a person has in a meeting."""


@dataclass(frozen=True)
class CalendarMeeting:
    meeting_id: UUID
    title: str
    kind: MeetingKind
    status: MeetingStatus
    timezone: str
    """The zone DTSTART and DTEND are written in (and a series recurs in)."""
    sequence: int
    sessions: Sequence[CalendarSession]
    """In order of time; for a series, every occurrence with its RECURRENCE-ID."""
    sites: Sequence[CalendarSite]
    """Host first. Sites whose organization is not known yet are left out."""
    organizer_email: str
    recurrence: str | None = None
    series_length: timedelta | None = None
    """How long each occurrence of a series lasts unless moved."""
    conference: Conference | None = None
    agenda: Sequence[AgendaEntry] = ()
    agenda_url: str | None = None
    """The published agenda's page: the event's URL, the link of the description and the
    mail. A meeting without one links nowhere: its other addresses are for programs."""
    summary_url: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True)
class CalendarObject:
    """The VEVENTs of one UID: a session, or a series with its overridden occurrences."""

    uid: str
    events: list[Event]
    starts_at: datetime
    ends_at: datetime
    """Of the whole object: a series' last occurrence included."""
    cancelled: bool
    tzids: frozenset[str] = field(default_factory=frozenset)

    def to_ical(self) -> str:
        return "".join(event.to_ical().decode("utf-8") for event in self.events)


def uid_of(item_id: UUID) -> str:
    """Stable for the life of a session or series: calendar programs match updates by it.

    A meeting without sessions of its own has one, with the meeting's id.
    """
    return f"{item_id}@telebridge"


@dataclass(frozen=True)
class ObjectSpan:
    """Which calendar object, and when: what a queued mail names, without rendering it."""

    uid: str
    starts_at: datetime
    ends_at: datetime
    cancelled: bool


def object_spans(meeting: CalendarMeeting, site: CalendarSite | None = None) -> list[ObjectSpan]:
    """The UIDs and times of `calendar_objects(meeting, …, site=site)`, cheaply."""
    sessions = _sessions_of(meeting, site)
    if not sessions:
        return []
    if meeting.recurrence is not None:
        assert meeting.series_length is not None
        first = min(_recurrence_id(session) for session in sessions)
        return [
            ObjectSpan(
                uid=uid_of(meeting.meeting_id),
                starts_at=min(first, *(session.starts_at for session in sessions)),
                ends_at=max(session.ends_at for session in sessions),
                cancelled=meeting.cancelled,
            )
        ]
    return [
        ObjectSpan(
            uid=uid_of(session.id),
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            cancelled=meeting.cancelled or session.status == "cancelled",
        )
        for session in sessions
    ]


def _sessions_of(meeting: CalendarMeeting, site: CalendarSite | None) -> list[CalendarSession]:
    return [
        session
        for session in meeting.sessions
        if site is None or session.track is None or session.track == site.track
    ]


def calendar_objects(
    meeting: CalendarMeeting,
    stamp: datetime,
    *,
    attendees: Sequence[Attendee] = (),
    site: CalendarSite | None = None,
) -> list[CalendarObject]:
    """The meeting's calendar objects; with `site`, only what that site takes part in, with
    its own room as LOCATION."""
    sessions = _sessions_of(meeting, site)
    if not sessions:
        return []
    if meeting.recurrence is not None:
        return [_series(meeting, sessions, stamp, attendees, site)]
    return [
        CalendarObject(
            uid=uid_of(session.id),
            events=[_event(meeting, session, stamp, attendees, site)],
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            cancelled=meeting.cancelled or session.status == "cancelled",
            tzids=frozenset({meeting.timezone}),
        )
        for session in sessions
    ]


def _series(
    meeting: CalendarMeeting,
    occurrences: list[CalendarSession],
    stamp: datetime,
    attendees: Sequence[Attendee],
    site: CalendarSite | None,
) -> CalendarObject:
    assert meeting.recurrence is not None
    assert meeting.series_length is not None
    by_rule = sorted(occurrences, key=_recurrence_id)
    first = by_rule[0]
    master_session = CalendarSession(
        id=meeting.meeting_id,
        starts_at=_recurrence_id(first),
        ends_at=_recurrence_id(first) + meeting.series_length,
    )
    master = _event(meeting, master_session, stamp, attendees, site)
    master.add("rrule", vRecur.from_ical(meeting.recurrence))
    if cancelled := [o for o in by_rule if o.status == "cancelled"]:
        master.add("exdate", [_local(meeting, _recurrence_id(o)) for o in cancelled])
    events = [master]
    for occurrence in by_rule:
        if occurrence.status == "cancelled" or _as_the_rule_gives(meeting, occurrence):
            continue
        moved = _event(meeting, occurrence, stamp, attendees, site)
        moved.add("recurrence-id", _local(meeting, _recurrence_id(occurrence)))
        events.append(moved)
    return CalendarObject(
        uid=uid_of(meeting.meeting_id),
        events=events,
        starts_at=min(master_session.starts_at, *(o.starts_at for o in by_rule)),
        ends_at=max(o.ends_at for o in by_rule),
        cancelled=meeting.cancelled,
        tzids=frozenset({meeting.timezone}),
    )


def _recurrence_id(session: CalendarSession) -> datetime:
    return session.recurrence_id if session.recurrence_id is not None else session.starts_at


def _as_the_rule_gives(meeting: CalendarMeeting, occurrence: CalendarSession) -> bool:
    assert meeting.series_length is not None
    start = _recurrence_id(occurrence)
    return occurrence.starts_at == start and occurrence.ends_at == start + meeting.series_length


def _event(
    meeting: CalendarMeeting,
    session: CalendarSession,
    stamp: datetime,
    attendees: Sequence[Attendee],
    site: CalendarSite | None,
) -> Event:
    uid = meeting.meeting_id if meeting.recurrence is not None else session.id
    cancelled = meeting.cancelled or session.status == "cancelled"
    event = Event()
    event.add("uid", uid_of(uid))
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", _local(meeting, session.starts_at))
    event.add("dtend", _local(meeting, session.ends_at))
    event.add("summary", f"{meeting.title}. {session.title}" if session.title else meeting.title)
    event.add("description", _description(meeting, session))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if meeting.agenda_url:
        event.add("url", meeting.agenda_url)
    locations = [site] if site is not None else meeting.sites
    if locations:
        event.add("location", "; ".join(place.location for place in locations))
    if meeting.conference is not None:
        _add_conference(event, meeting.conference)
    host = meeting.sites[0].name if meeting.sites else None
    event.add("organizer", _address(meeting.organizer_email, host))
    for attendee in attendees:
        address = _address(attendee.email, attendee.name)
        address.params["ROLE"] = _ROLES[attendee.role]
        address.params["PARTSTAT"] = attendee.rsvp.upper()
        address.params["RSVP"] = "TRUE" if attendee.rsvp == "needs-action" else "FALSE"
        address.params["CUTYPE"] = "INDIVIDUAL"
        event.add("attendee", address)
    return event


def _add_conference(event: Event, conference: Conference) -> None:
    """RFC 7986 CONFERENCE: the video link, and the phone line if there is one."""
    label = conference.platform if conference.platform != "other" else "Video"
    video = vUri(conference.url)
    # A list, so that it is written FEATURE=AUDIO,VIDEO: two values, not one quoted.
    video.params.update({"VALUE": "URI", "FEATURE": ["AUDIO", "VIDEO"], "LABEL": label})
    event.add("conference", video)
    if conference.dial_in:
        event.add(
            "conference",
            _tel_uri(conference.dial_in),
            parameters={"VALUE": "URI", "FEATURE": "PHONE", "LABEL": conference.dial_in},
        )


def _tel_uri(number: str) -> str:
    if number.lower().startswith("tel:"):
        return number
    digits = "".join(char for char in number if char.isdigit() or char == "+")
    return f"tel:{digits}"


def _local(meeting: CalendarMeeting, moment: datetime) -> datetime:
    return moment.astimezone(meeting.zone)


def _address(email: str, name: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    return address


def _description(meeting: CalendarMeeting, session: CalendarSession) -> str:
    lines = [_kind_and_title(meeting)]
    if session.title:
        lines.append(session.title)
    if meeting.sites:
        lines += ["", "Площадки и их местное время:"]
        for site in meeting.sites:
            zone = ZoneInfo(site.timezone)
            start = session.starts_at.astimezone(zone)
            end = session.ends_at.astimezone(zone)
            until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%d.%m.%Y %H:%M}"
            room = f", {site.room}" if site.room else ""
            lines.append(
                f"— {site.name}{room} ({site.region}): {start:%d.%m.%Y %H:%M}–{until} "
                f"({zone_label(zone, start, 'ru')})"
            )
    if meeting.conference is not None:
        lines += ["", f"Подключение: {meeting.conference.url}"]
        if meeting.conference.dial_in:
            lines.append(f"По телефону: {meeting.conference.dial_in}")
        if meeting.conference.access_code:
            lines.append(f"Код доступа: {meeting.conference.access_code}")
    if entries := [
        entry for entry in meeting.agenda if session.starts_at <= entry.starts_at < session.ends_at
    ]:
        lines += ["", f"Программа ({zone_label(meeting.zone, session.starts_at, 'ru')}):"]
        for entry in entries:
            speakers = f" ({', '.join(entry.speakers)})" if entry.speakers else ""
            lines.append(
                f"{entry.starts_at.astimezone(meeting.zone):%H:%M} {entry.title}{speakers}"
            )
    if meeting.agenda_url:
        lines += ["", f"Программа на сайте: {meeting.agenda_url}"]
    if meeting.summary_url:
        lines += ["", f"Итоги встречи: {meeting.summary_url}"]
    return "\n".join(lines)


def _kind_and_title(meeting: CalendarMeeting) -> str:
    """`Телемост: Читаем вместе`; a title that begins with the kind's name, such as
    `Телемост «Читаем вместе»`, is not told the kind again."""
    kind = MEETING_KINDS["ru"][meeting.kind]
    if meeting.title.casefold().startswith(kind.casefold()):
        return meeting.title
    return f"{kind}: {meeting.title}"


# --- whole iCalendar objects ----------------------------------------------------------


def render_invite(
    meeting: CalendarMeeting,
    attendees: Sequence[Attendee],
    stamp: datetime,
    *,
    uid: str | None = None,
    site: CalendarSite | None = None,
) -> bytes:
    """An iTIP message (RFC 5546) for one calendar object, or every object of the meeting.

    REQUEST to its attendees, CANCEL once the object is cancelled, PUBLISH while nobody is
    signed up (REQUEST and CANCEL need an ATTENDEE) or when several objects go together
    (an iTIP message carries one UID).
    """
    objects = calendar_objects(meeting, stamp, attendees=attendees, site=site)
    if uid is not None:
        objects = [found for found in objects if found.uid == uid]
    if not attendees or len(objects) != 1:
        objects = calendar_objects(meeting, stamp, site=site)
        if uid is not None:
            objects = [found for found in objects if found.uid == uid]
        method = "PUBLISH"
    else:
        method = "CANCEL" if objects[0].cancelled else "REQUEST"
    return _calendar(method, objects)


def render_occurrence_cancel(
    meeting: CalendarMeeting,
    occurrence: CalendarSession,
    attendees: Sequence[Attendee],
    stamp: datetime,
) -> bytes:
    """RFC 5546 CANCEL of one occurrence of a series, named by its RECURRENCE-ID."""
    assert meeting.recurrence is not None
    event = _event(
        meeting,
        CalendarSession(
            id=meeting.meeting_id,
            starts_at=occurrence.starts_at,
            ends_at=occurrence.ends_at,
            status="cancelled",
        ),
        stamp,
        attendees,
        None,
    )
    event.add("recurrence-id", _local(meeting, _recurrence_id(occurrence)))
    return _calendar(
        "CANCEL",
        [
            CalendarObject(
                uid=uid_of(meeting.meeting_id),
                events=[event],
                starts_at=occurrence.starts_at,
                ends_at=occurrence.ends_at,
                cancelled=True,
                tzids=frozenset({meeting.timezone}),
            )
        ],
    )


def _calendar(method: str, objects: Sequence[CalendarObject]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    for timezone in _timezones(objects):
        calendar.add_component(timezone)
    for found in objects:
        for event in found.events:
            calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text


def _timezones(objects: Iterable[CalendarObject]) -> list[Component]:
    spans: dict[str, tuple[date, date]] = {}
    for found in objects:
        for tzid in found.tzids:
            first, last = spans.get(tzid, (found.starts_at.date(), found.ends_at.date()))
            spans[tzid] = (min(first, found.starts_at.date()), max(last, found.ends_at.date()))
    return [
        Calendar.from_ical(vtimezone(tzid, first.year - 1, last.year + 1))
        for tzid, (first, last) in sorted(spans.items())
    ]


# --- feeds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """A calendar object rendered when its meeting changed, as stored."""

    body: str
    starts_at: datetime
    ends_at: datetime
    tzids: Sequence[str]


def assemble_feed(name: str, refresh: timedelta, entries: Sequence[FeedEntry]) -> bytes:
    """A subscription feed (METHOD:PUBLISH) put together from stored entries, without
    rendering any of them again: the header, one VTIMEZONE per zone used, the entries."""
    header = Calendar()
    header.add("prodid", PRODID)
    header.add("version", "2.0")
    header.add("calscale", "GREGORIAN")
    header.add("method", "PUBLISH")
    header.add("name", name)
    header.add("x-wr-calname", name)
    header.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    header.add("x-published-ttl", vDuration(refresh))
    opening = header.to_ical().decode("utf-8").removesuffix(f"END:VCALENDAR{CRLF}")
    spans: dict[str, tuple[int, int]] = {}
    for entry in entries:
        for tzid in entry.tzids:
            first, last = spans.get(tzid, (entry.starts_at.year, entry.ends_at.year))
            spans[tzid] = (min(first, entry.starts_at.year), max(last, entry.ends_at.year))
    parts = [opening]
    parts += [vtimezone(tzid, first - 1, last + 1) for tzid, (first, last) in sorted(spans.items())]
    parts += [entry.body for entry in entries]
    parts.append(f"END:VCALENDAR{CRLF}")
    return "".join(parts).encode("utf-8")
