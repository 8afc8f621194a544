"""What partners send to the registry and what they get back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from shared.events import (
    KeyRole,
    Language,
    MeetingKind,
    MeetingRole,
    MeetingStatus,
    OrganizationKind,
    RegistrationStatus,
    Rsvp,
    WorkingHours,
)
from shared.http.auth import SCOPES
from shared.http.params import MAX_INT4
from shared.http.types import Instant, one_line
from shared.regions import region
from shared.timezones import timezone_error

Name = Annotated[str, one_line(300, "Липецкая областная детская библиотека")]
ShortName = Annotated[str, one_line(100, "ЛОДБ")]
RegionCode = Annotated[str, one_line(16, "RU-LIP")]
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
    region: RegionCode
    """Code from `GET /regions`, such as RU-LIP."""
    city: City | None = None
    timezone: TimeZone | None = None
    """IANA time zone; omitted, the region's default."""
    working_hours: WorkingHours | None = None
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
        if region(self.region) is None:
            raise ValueError(f"region: {self.region!r} is not a region code from GET /regions")
        if self.timezone is not None and (error := timezone_error(self.timezone)):
            raise ValueError(f"timezone: {error}")
        if self.working_hours is not None:
            for day in self.working_hours.days():
                if any(hours.start >= hours.end for hours in day):
                    raise ValueError("working_hours: every range must start before it ends")


class OrganizationCreate(OrganizationFields, frozen=True, kw_only=True):
    external_id: ExternalId | None = None
    """The id in the system the organization was imported from; unique."""


class Organization(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    external_id: str | None
    name: str
    short_name: str | None
    kind: OrganizationKind
    region: str
    """Region code."""
    region_name: str
    city: str | None
    timezone: str
    working_hours: WorkingHours | None
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
