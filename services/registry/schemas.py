"""What partners send to the registry and what they get back."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from shared.calendars import RUSSIA, countries, default_zone, holiday_subdivisions
from shared.events import (
    KeyRole,
    Language,
    MeetingKind,
    MeetingRole,
    MeetingStatus,
    OrganizationKind,
    RegistrationStatus,
    Rsvp,
    TimeRange,
    WorkingHours,
)
from shared.http.params import MAX_INT4
from shared.http.types import Instant, one_line
from shared.keys import SCOPES
from shared.regions import region
from shared.timezones import timezone_error

Name = Annotated[str, one_line(300, "Липецкая областная детская библиотека")]
ShortName = Annotated[str, one_line(100, "ЛОДБ")]
RegionCode = Annotated[str, one_line(16, "RU-LIP")]
CountryCode = Annotated[
    str,
    msgspec.Meta(
        pattern="^[A-Z]{2}$",
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2 country code, such as RU, DE, BY or KZ.",
        examples=["RU"],
    ),
]
City = Annotated[str, one_line(200, "Липецк")]
TimeZone = Annotated[str, one_line(64, "Europe/Moscow")]
PersonName = Annotated[str, one_line(100, "Иванова")]
Position = Annotated[str, one_line(300, "заведующая отделом")]
ExternalId = Annotated[str, one_line(200, "lipetsk-42")]
KeyName = Annotated[str, one_line(200, "Сайт Липецкой областной детской библиотеки")]
Email = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+$",
        max_length=254,
        examples=["reader@example.org"],
    ),
]
Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Scope = Annotated[str, one_line(32, "registry:read")]
MAX_BLACKOUT_DATES = 1000
"""Years of closed days; each is in the organization's event too, so not unbounded."""


ClockTime = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        max_length=8,
        description="A local time of day, HH:MM or HH:MM:SS (24-hour clock).",
        examples=["09:00"],
    ),
]


def clock_time(text: str) -> time:
    return time.fromisoformat(text)


def clock_text(moment: time) -> str:
    """HH:MM, or HH:MM:SS when the seconds matter: the form `ClockTime` documents."""
    return f"{moment:%H:%M:%S}" if moment.second else f"{moment:%H:%M}"


class OpeningRange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Part of a day in the organization's local time, `start` before `end`."""

    start: ClockTime
    end: ClockTime


OpeningDay = Annotated[list[OpeningRange], msgspec.Meta(max_length=12)]


class OpeningHours(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When an organization works, per weekday, in its own time zone; an empty day is off.
    Times are written HH:MM (HH:MM:SS is accepted too)."""

    mon: OpeningDay = msgspec.field(default_factory=list)
    tue: OpeningDay = msgspec.field(default_factory=list)
    wed: OpeningDay = msgspec.field(default_factory=list)
    thu: OpeningDay = msgspec.field(default_factory=list)
    fri: OpeningDay = msgspec.field(default_factory=list)
    sat: OpeningDay = msgspec.field(default_factory=list)
    sun: OpeningDay = msgspec.field(default_factory=list)

    def as_event(self) -> WorkingHours:
        """The same hours as the events carry them."""
        return WorkingHours(
            **{
                day: [
                    TimeRange(clock_time(hours.start), clock_time(hours.end))
                    for hours in getattr(self, day)
                ]
                for day in self.__struct_fields__
            }
        )

    @classmethod
    def of(cls, hours: WorkingHours) -> OpeningHours:
        return cls(
            **{
                day: [
                    OpeningRange(clock_text(hours.start), clock_text(hours.end))
                    for hours in getattr(hours, day)
                ]
                for day in cls.__struct_fields__
            }
        )


class Contact(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Whom to reach at an organization, and how."""

    name: Annotated[str, one_line(200, "Ольга Арутинова")]
    email: Email | None = None
    phone: Annotated[str, one_line(50, "+7 4742 22-33-44")] | None = None
    role: Annotated[str, one_line(200, "модератор")] | None = None


class OrganizationFields(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An organization as a client describes it, on create and on (full) update."""

    name: Name
    short_name: ShortName | None = None
    kind: OrganizationKind = "other"
    region: RegionCode | None = None
    """In Russia (required): a code from `GET /regions`, such as RU-LIP. Abroad (optional):
    the ISO 3166-2 subdivision whose own public holidays apply, such as DE-BE for Berlin."""
    country: CountryCode = "RU"
    """Whose public holidays the organization keeps."""
    city: City | None = None
    timezone: TimeZone | None = None
    """IANA time zone; omitted, the region's default (abroad, the country's when it has
    one zone for most of it)."""
    working_hours: OpeningHours | None = None
    """Local opening hours per weekday; omitted, unknown (slot search assumes 9 to 18)."""
    blackout_dates: Annotated[list[date], msgspec.Meta(max_length=MAX_BLACKOUT_DATES)] = (
        msgspec.field(default_factory=list)
    )
    """Days the organization cannot take part, besides the region's public holidays."""
    contacts: Annotated[list[Contact], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )
    public: bool = True
    """Listed to anyone; a non-public organization is seen only by its own and staff keys."""
    name_en: Name | None = None
    """The name in English, for English texts; omitted, the name is transliterated."""
    city_en: City | None = None
    """The town in English («Lipetsk»); omitted, the town is transliterated."""

    def __post_init__(self) -> None:
        self._check_place()
        if self.timezone is not None and (error := timezone_error(self.timezone)):
            raise ValueError(f"timezone: {error}")
        if self.working_hours is not None:
            for day in self.working_hours.as_event().days():
                if any(hours.start >= hours.end for hours in day):
                    raise ValueError("working_hours: every range must start before it ends")

    def _check_place(self) -> None:
        if self.country not in countries():
            raise ValueError(f"country: {self.country!r} is not an ISO 3166-1 alpha-2 code")
        if self.country == RUSSIA:
            if self.region is None:
                raise ValueError("region: required in Russia: a region code from GET /regions")
            if region(self.region) is None:
                raise ValueError(f"region: {self.region!r} is not a region code from GET /regions")
            return
        if self.region is not None:
            known = [f"{self.country}-{code}" for code in holiday_subdivisions(self.country)]
            if self.region.upper() not in {code.upper() for code in known}:
                allowed = ", ".join(known) if known else "none: leave it out"
                raise ValueError(
                    f"region: {self.region!r} is not a subdivision of {self.country} with "
                    f"public holidays of its own ({allowed})"
                )
        if self.timezone is None and default_zone(self.country) is None:
            raise ValueError(f"timezone: required in {self.country}, which has several time zones")


class OrganizationCreate(OrganizationFields, frozen=True, kw_only=True):
    external_id: ExternalId | None = None
    """The id in the system the organization was imported from; unique."""


class Organization(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    external_id: str | None
    name: str
    short_name: str | None
    kind: OrganizationKind
    region: str | None
    """Region code; abroad, the subdivision's (ISO 3166-2), if one was given."""
    region_name: str
    """The region's name; abroad, the country's (in Russian)."""
    country: str
    city: str | None
    timezone: str
    working_hours: OpeningHours | None
    blackout_dates: list[date]
    contacts: list[Contact]
    public: bool
    version: int
    created_at: datetime
    updated_at: datetime
    name_en: str | None = None
    city_en: str | None = None


class ImportRow(OrganizationCreate, frozen=True, kw_only=True):
    row: Annotated[int, msgspec.Meta(ge=1, le=MAX_INT4)]
    """The row's number in the file, echoed in its result."""
    external_id: ExternalId


RawRow = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=100)], Any], msgspec.Meta(max_length=50)
]
"""A row as sent, at most 50 columns: each is then checked as an `ImportRow`."""


class OrganizationImport(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rows: Annotated[list[RawRow], msgspec.Meta(max_length=500)]
    """Rows as `ImportRow` objects; each is checked on its own, so one bad row spoils none."""
    dry_run: bool = False
    """Check and report, change nothing."""


ImportOutcome = Literal["created", "updated", "unchanged", "invalid"]


class ImportResult(msgspec.Struct, frozen=True, omit_defaults=True):
    row: int
    outcome: ImportOutcome
    external_id: str | None = None
    id: UUID | None = None
    error: str | None = None


class ImportReport(msgspec.Struct, frozen=True):
    dry_run: bool
    results: list[ImportResult]


class PersonFields(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    surname: PersonName
    given_name: PersonName
    patronymic: PersonName | None = None
    display_name: Name | None = None
    """How the person is named on lists and badges; omitted, surname and initials
    («Алехина И. Л.») when the patronymic is given, otherwise given name and surname."""
    email: Email
    """Unique within the organization."""
    position: Position | None = None
    language: Language = "ru"
    """Language of invitations and links sent to the person."""


class PersonCreate(PersonFields, frozen=True, kw_only=True):
    organization_id: UUID | None = None
    """Omitted with a partner key: the key's own organization."""


class Person(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    organization_id: UUID
    surname: str
    given_name: str
    patronymic: str | None
    display_name: str
    email: str
    position: str | None
    language: Language
    version: int
    created_at: datetime
    updated_at: datetime


class KeyCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: KeyName
    """What the key is for, to recognise it on the list."""
    role: KeyRole = "partner"
    organization_id: UUID | None = None
    """The partner organization the key acts for; only for partner keys."""
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=len(SCOPES))] | None = None
    """Omitted: every scope."""
    expires_at: Instant | None = None


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    prefix: str
    role: KeyRole
    organization_id: UUID | None
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    version: int
    created_at: datetime


class IssuedKey(ApiKey, frozen=True, kw_only=True):
    secret: str
    """The key itself: shown this once, never stored."""


class SiteCapacity(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    organization_id: UUID
    capacity: Count


class CapacityFields(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    capacity: Count | None = None
    """Places in all; null for no limit."""
    sites: Annotated[list[SiteCapacity], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    """Places per organization, for those that have a limit of their own."""


class KnownMeeting(msgspec.Struct, frozen=True, kw_only=True):
    """A meeting as the registry knows it from scheduling's events, with its places."""

    id: UUID
    title: str
    kind: MeetingKind
    status: MeetingStatus
    host_organization_id: UUID
    starts_at: datetime
    ends_at: datetime
    version: int
    capacity: int | None
    sites: list[SiteCapacity]
    registered: int
    waitlisted: int


class RegistrationCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    person_id: UUID
    role: MeetingRole = "participant"
    """Moderators and speakers are named by staff or the host organization."""


class Registration(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    meeting_id: UUID
    person_id: UUID
    organization_id: UUID
    status: RegistrationStatus
    role: MeetingRole
    rsvp: Rsvp
    waitlist_position: int | None
    """1 for the next to get a place; null unless waitlisted."""
    version: int
    created_at: datetime
    updated_at: datetime


class RsvpFields(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rsvp: Literal["accepted", "declined", "tentative"]


class RsvpLink(msgspec.Struct, frozen=True):
    url: str
    """Open it to answer without logging in; it works for this registration only."""
    token: str
    expires_at: datetime


class RsvpInvitation(msgspec.Struct, frozen=True):
    """What a signed RSVP link shows the person it was sent to."""

    registration_id: UUID
    meeting_title: str
    starts_at: datetime
    ends_at: datetime
    display_name: str
    rsvp: Rsvp
    expires_at: datetime


class CheckIns(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    person_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=1000)]
    session_id: UUID | None = None
    """Omitted for a meeting of one session."""
    attended: bool = True
    """False takes a check-in back."""


class CheckIn(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    meeting_id: UUID
    session_id: UUID
    person_id: UUID
    organization_id: UUID
    attended: bool
    version: int
    recorded_at: datetime


class HeadcountFields(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    headcount: Count
    """How many people watched together at this site."""
    session_id: UUID | None = None


class Headcount(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    meeting_id: UUID
    session_id: UUID
    organization_id: UUID
    headcount: int
    version: int
    recorded_at: datetime


class AttendanceCounts(msgspec.Struct, frozen=True, kw_only=True):
    registered: int
    waitlisted: int
    attended: int
    """People checked in to at least one session."""
    headcount: int
    """Sum of each site's largest headcount over the sessions."""


class OrganizationAttendance(AttendanceCounts, frozen=True, kw_only=True):
    organization_id: UUID
    name: str
    region: str
    region_name: str


class RegionAttendance(AttendanceCounts, frozen=True, kw_only=True):
    region: str
    region_name: str


class AttendanceStatistics(AttendanceCounts, frozen=True, kw_only=True):
    meeting_id: UUID
    organizations: list[OrganizationAttendance]
    regions: list[RegionAttendance]
