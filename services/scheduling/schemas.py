"""What partners and operators send to scheduling and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from services.scheduling.series import RecurrenceError, normalized_rule
from services.scheduling.slots import MAX_WINDOW
from shared.events import (
    ConferencePlatform,
    MeetingKind,
    MeetingStatus,
    SessionStatus,
)
from shared.http.types import Instant, one_line, out_of_range
from shared.timezones import timezone_error

Title = Annotated[str, one_line(500, "Телемост «От сердца к сердцу»")]
Room = Annotated[str, one_line(300, "Читальный зал, 2 этаж")]
Track = Annotated[str, one_line(100, "Секция 2")]
TimeZone = Annotated[str, one_line(64, "Europe/Moscow")]
Rule = Annotated[str, one_line(500, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=6")]
Link = Annotated[str, one_line(2000, "https://telemost.yandex.ru/j/12345678901234")]
Phone = Annotated[str, one_line(100, "tel:+7-495-123-45-67,,1234#")]

MAX_SESSIONS = 200


class SiteWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An organization taking part, with the room it joins from."""

    organization_id: UUID
    room: Room | None = None
    track: Track | None = None
    """For a workshop: the track (virtual site) it follows; it takes part in that track's
    sessions and in the sessions of no track."""


class SessionWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    starts_at: Instant
    ends_at: Instant
    id: UUID | None = None
    """Send a session's id back when updating, so that its calendar entry stays the same."""
    title: Title | None = None
    track: Track | None = None

    def __post_init__(self) -> None:
        _check_times(self.starts_at, self.ends_at)


class ConferenceWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Link
    platform: ConferencePlatform = "other"
    dial_in: Phone | None = None
    access_code: Annotated[str, one_line(100, "1234")] | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"conference.url: {self.url!r} is not an http(s) link")


class MeetingWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A meeting as partners describe it: its times are either `starts_at`–`ends_at` (the
    first occurrence when `recurrence` is given) or a list of `sessions`."""

    title: Title
    kind: Annotated[
        MeetingKind,
        msgspec.Meta(
            description="A telebridge links two sites or more; a videoconference has a host "
            "and guests; a workshop runs over several sessions and tracks.",
            examples=["videoconference"],
        ),
    ]
    host_organization_id: UUID
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    sessions: Annotated[list[SessionWrite], msgspec.Meta(max_length=MAX_SESSIONS)] = []
    sites: Annotated[list[SiteWrite], msgspec.Meta(max_length=100)] = []
    """Every site besides the host; list the host too to give its room."""
    timezone: TimeZone | None = None
    """The zone its times are written in; the host's when not given."""
    recurrence: Rule | None = None
    """An RFC 5545 RRULE that ends (COUNT or UNTIL), e.g. every second Tuesday:
    `FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=6`."""
    conference: ConferenceWrite | None = None
    public: bool = True
    """Whether it is in the public feed."""
    force: bool = False
    """Schedule it even against working hours, holidays or other meetings (operators)."""
    record_past: bool = False
    """Record a meeting that took place, or began, before now (operators): without it, times
    in the past are refused. Such a meeting starts and ends at once, as it did."""

    def __post_init__(self) -> None:
        self._check_times()
        if self.timezone is not None and (error := timezone_error(self.timezone)):
            raise ValueError(f"timezone: {error}")
        if self.recurrence is not None:
            try:
                normalized_rule(self.recurrence)
            except RecurrenceError as error:
                raise ValueError(f"recurrence: {error}") from error
        self._check_sites_and_sessions()

    def _check_times(self) -> None:
        if self.sessions:
            if self.starts_at is not None or self.ends_at is not None:
                raise ValueError("sessions: give sessions or starts_at and ends_at, not both")
            if self.recurrence is not None:
                raise ValueError("recurrence: a series repeats one session; give no sessions")
        elif self.starts_at is None or self.ends_at is None:
            missing = "starts_at" if self.starts_at is None else "ends_at"
            raise ValueError(f"{missing}: required unless sessions are given")
        else:
            _check_times(self.starts_at, self.ends_at)

    def _check_sites_and_sessions(self) -> None:
        ids = [site.organization_id for site in self.sites]
        if len(ids) != len(set(ids)):
            raise ValueError("sites: an organization is listed twice")
        if self.kind == "telebridge" and not set(ids) - {self.host_organization_id}:
            raise ValueError("sites: a telebridge links two sites or more")
        session_ids = [session.id for session in self.sessions if session.id is not None]
        if len(session_ids) != len(set(session_ids)):
            raise ValueError("sessions: a session id is listed twice")
        tracks = {site.track for site in self.sites if site.track}
        for index, session in enumerate(self.sessions):
            if session.track is not None and session.track not in tracks:
                raise ValueError(f"sessions[{index}].track: no site follows {session.track!r}")

    @property
    def site_list(self) -> list[SiteWrite]:
        """The host first, then every other site in the order given."""
        host = next(
            (site for site in self.sites if site.organization_id == self.host_organization_id),
            SiteWrite(self.host_organization_id),
        )
        return [host] + [site for site in self.sites if site is not host]

    @property
    def site_ids(self) -> list[UUID]:
        return [site.organization_id for site in self.site_list]


class MeetingCreate(MeetingWrite, frozen=True, forbid_unknown_fields=True, kw_only=True):
    draft: bool = False
    """Keep it a draft: nobody is invited and the sites are not checked until it is
    scheduled with `POST /meetings/{id}/schedule`."""


class ScheduleDraft(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    force: bool = False
    record_past: bool = False
    """Schedule a draft whose times have passed, as a record of a past meeting (operators)."""


class SessionMove(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    starts_at: Instant
    ends_at: Instant
    force: bool = False
    record_past: bool = False
    """Move it to a time that has passed, as a record (operators)."""

    def __post_init__(self) -> None:
        _check_times(self.starts_at, self.ends_at)


def _check_times(
    starts_at: datetime, ends_at: datetime, names: tuple[str, str] = ("starts_at", "ends_at")
) -> None:
    for field, moment in zip(names, (starts_at, ends_at), strict=True):
        if reason := out_of_range(moment):
            raise ValueError(f"{field}: {reason}")
    if ends_at <= starts_at:
        raise ValueError(f"{names[1]}: must come after {names[0]}")


class Site(msgspec.Struct, frozen=True):
    """One participating organization, with the meeting's times on its own clock."""

    organization_id: UUID
    name: str
    region: str
    timezone: str
    starts_at_local: str
    """Local start of the first session, ISO 8601 with the site's offset."""
    ends_at_local: str
    room: str | None = None
    track: str | None = None


class Session(msgspec.Struct, frozen=True):
    id: UUID
    starts_at: datetime
    ends_at: datetime
    status: SessionStatus
    title: str | None
    track: str | None
    recurrence_id: datetime | None
    """For an occurrence of a series: its start as the rule gives it."""
    invite_url: str


class Meeting(msgspec.Struct, frozen=True):
    id: UUID
    title: str
    kind: MeetingKind
    status: MeetingStatus
    host_organization_id: UUID
    starts_at: datetime
    """UTC: the start of the first session."""
    ends_at: datetime
    """UTC: the end of the last session."""
    started_at: datetime | None
    ended_at: datetime | None
    timezone: str
    """The zone its times are written in: the host's unless chosen."""
    recurrence: str | None
    conference: ConferenceWrite | None
    public: bool
    sites: list[Site]
    sessions: list[Session]
    version: int
    sequence: int
    """iCalendar SEQUENCE of its invites."""
    invite_url: str
    agenda_url: str | None
    summary_url: str | None
    """The post-event summary, once published."""
    forced_by: str | None
    """Who scheduled it against the constraints (the key's prefix), if anyone did."""


FeedKind = Literal["organization", "person", "public"]


class FeedCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: FeedKind
    organization_id: UUID | None = None
    person_id: UUID | None = None

    def __post_init__(self) -> None:
        if (self.kind == "organization") != (self.organization_id is not None):
            raise ValueError("organization_id: required for an organization's feed, and only")
        if (self.kind == "person") != (self.person_id is not None):
            raise ValueError("person_id: required for a person's feed, and only then")


class Feed(msgspec.Struct, frozen=True):
    id: UUID
    kind: FeedKind
    organization_id: UUID | None
    person_id: UUID | None
    url: str
    """The feed over HTTPS; its token is the only key to it."""
    webcal_url: str
    """The same feed for calendar programs that subscribe to `webcal://` links."""
    created_at: datetime
    revoked_at: datetime | None


Minutes = Annotated[int, msgspec.Meta(ge=5, le=24 * 60)]


class SlotSearch(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Times that suit every organization: `duration_minutes` long, starting on a grid of
    `granularity_minutes` (counted from 00:00 UTC) between `window_start` and `window_end`,
    `buffer_minutes` away from their other meetings."""

    organization_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=50)]
    duration_minutes: Minutes
    window_start: Instant
    window_end: Instant
    granularity_minutes: Minutes = 30
    buffer_minutes: Annotated[int, msgspec.Meta(ge=0, le=24 * 60)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 10

    def __post_init__(self) -> None:
        _check_times(self.window_start, self.window_end, ("window_start", "window_end"))
        if self.window_end - self.window_start > MAX_WINDOW:
            raise ValueError(f"window_end: a window is {MAX_WINDOW.days} days at most")
        if len(set(self.organization_ids)) != len(self.organization_ids):
            raise ValueError("organization_ids: an organization is listed twice")
