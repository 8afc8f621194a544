"""iCalendar invites for a meeting (RFC 5545 and 5546). Pure: data in, bytes out.

Times are written in the host's zone with a TZID, and every TZID used gets its VTIMEZONE,
so every calendar program computes the same instant. The description gives each site's
local time, since sites may be up to eleven zones apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

from shared.events import MEETING_KINDS, MeetingKind, MeetingRole, MeetingStatus, Rsvp

PRODID = "-//Telebridge//Scheduling//RU"


@dataclass(frozen=True)
class InviteSite:
    name: str
    region: str
    timezone: str


@dataclass(frozen=True)
class InviteAttendee:
    name: str
    email: str
    rsvp: Rsvp = "needs-action"
    role: MeetingRole = "participant"


_ROLES: dict[MeetingRole, str] = {
    "moderator": "CHAIR",
    "speaker": "REQ-PARTICIPANT",
    "participant": "REQ-PARTICIPANT",
    "guest": "OPT-PARTICIPANT",
}
"""RFC 5545 ROLE of each role a person has in a meeting."""


@dataclass(frozen=True)
class Invite:
    meeting_id: UUID
    title: str
    kind: MeetingKind
    status: MeetingStatus
    starts_at: datetime
    ends_at: datetime
    sequence: int
    sites: list[InviteSite]
    """Host first. Sites whose organization is not known yet are left out."""
    attendees: list[InviteAttendee]
    organizer_email: str
    url: str


def uid_of(meeting_id: UUID) -> str:
    """Stable for the life of the meeting: calendar programs match updates by it."""
    return f"{meeting_id}@telebridge"


def render_invite(invite: Invite, stamp: datetime) -> bytes:
    """The invite as an iCalendar object (RFC 5546): REQUEST to its attendees, CANCEL once
    cancelled, PUBLISH while nobody is signed up (REQUEST and CANCEL need an ATTENDEE)."""
    cancelled = invite.status == "cancelled"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if not invite.attendees:
        calendar.add("method", "PUBLISH")
    else:
        calendar.add("method", "CANCEL" if cancelled else "REQUEST")

    zone = ZoneInfo(invite.sites[0].timezone) if invite.sites else ZoneInfo("UTC")
    event = Event()
    event.add("uid", uid_of(invite.meeting_id))
    event.add("sequence", invite.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", invite.starts_at.astimezone(zone))
    event.add("dtend", invite.ends_at.astimezone(zone))
    event.add("summary", invite.title)
    event.add("description", _description(invite))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("url", invite.url)
    if invite.sites:
        event.add("location", "; ".join(site.name for site in invite.sites))
    host = invite.sites[0].name if invite.sites else None
    event.add("organizer", _address(invite.organizer_email, host))
    for attendee in invite.attendees:
        address = _address(attendee.email, attendee.name)
        address.params["ROLE"] = _ROLES[attendee.role]
        address.params["PARTSTAT"] = attendee.rsvp.upper()
        address.params["RSVP"] = "TRUE" if attendee.rsvp == "needs-action" else "FALSE"
        address.params["CUTYPE"] = "INDIVIDUAL"
        event.add("attendee", address)
    calendar.add_component(event)
    calendar.add_missing_timezones(
        first_date=(invite.starts_at - timedelta(days=366)).date(),
        last_date=(invite.ends_at + timedelta(days=366)).date(),
    )
    text: bytes = calendar.to_ical()
    return text


def _address(email: str, name: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    return address


def _description(invite: Invite) -> str:
    lines = [f"{MEETING_KINDS['ru'][invite.kind]}: {invite.title}"]
    if invite.sites:
        lines.append("")
        lines.append("Площадки и их местное время:")
        for site in invite.sites:
            zone = ZoneInfo(site.timezone)
            start = invite.starts_at.astimezone(zone)
            end = invite.ends_at.astimezone(zone)
            until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%d.%m.%Y %H:%M}"
            lines.append(
                f"— {site.name} ({site.region}): {start:%d.%m.%Y %H:%M}–{until} "
                f"({site.timezone}, {utc_offset(start)})"
            )
    return "\n".join(lines)


def utc_offset(moment: datetime) -> str:
    """`UTC+3`, `UTC+10`, `UTC+5:30`: the offset as people write it."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, minutes = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
