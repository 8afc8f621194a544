"""The events the services exchange: the bus contract, in one module.

Every event is a frozen msgspec Struct on one base, `Event`, which carries the envelope
(event id, aggregate id and version, occurred-at in UTC, producer, trace context). The tag,
written as `type`, is also the NATS subject: `<service>.<aggregate>.<event>`, past tense.
Events carry the whole current state of their aggregate, so a consumer that has applied
version n can ignore anything older.

Schemas evolve additively: a new field gets a default, a field never changes type.
`contracts/` holds the JSON Schema and AsyncAPI generated from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
MeetingKind = Literal["telebridge", "videoconference", "workshop"]
MeetingStatus = Literal["draft", "scheduled", "live", "ended", "cancelled"]
"""A draft is scheduling's own: no event carries it, nobody is invited to it."""
SessionStatus = Literal["scheduled", "cancelled"]
ConferencePlatform = Literal[
    "jitsi", "telemost", "vk", "sferum", "zoom", "webex", "teams", "bigbluebutton", "other"
]
OrganizationKind = Literal["library", "museum", "school", "university", "other"]
RegistrationStatus = Literal["registered", "waitlisted", "cancelled"]
MeetingRole = Literal["moderator", "speaker", "participant", "guest"]
Rsvp = Literal["needs-action", "accepted", "declined", "tentative"]
"""A person's answer to an invitation; `needs-action` until they give one (RFC 5545 PARTSTAT)."""
KeyRole = Literal["admin", "operator", "partner"]
Language = Literal["ru", "en"]

MEETING_KINDS: dict[str, dict[MeetingKind, str]] = {
    "ru": {
        "telebridge": "Телемост",
        "videoconference": "Видеоконференция",
        "workshop": "Онлайн-мастерская",
    },
    "en": {
        "telebridge": "Telebridge",
        "videoconference": "Videoconference",
        "workshop": "Online workshop",
    },
}
"""What each kind of meeting is called, in the languages invites and summaries use."""


def new_id() -> UUID:
    """A time-ordered UUID (version 7): ids sort by creation, indexes stay compact."""
    return uuid7()


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """The envelope every event shares; subclasses add the aggregate's state."""

    event_id: UUID = msgspec.field(default_factory=new_id)
    """Unique per event; the outbox row id and the JetStream `Nats-Msg-Id`."""
    aggregate_id: UUID
    """The entity this event is about."""
    aggregate_version: Annotated[int, msgspec.Meta(ge=1)]
    """Raised by one on every change of the aggregate."""
    occurred_at: datetime = msgspec.field(default_factory=utc_now)
    """When the change was made (in the transaction that wrote the event), in UTC."""
    producer: str = ""
    """The service that wrote the event."""
    traceparent: str | None = None
    """W3C trace context of the request or message that caused the event."""

    @property
    def type(self) -> str:
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return tag

    @property
    def subject(self) -> str:
        return self.type

    @property
    def aggregate_type(self) -> str:
        """`<service>.<aggregate>`: versions are counted per aggregate type and id."""
        return self.type.rsplit(".", 1)[0]


# --- registry -------------------------------------------------------------------------


class TimeRange(msgspec.Struct, frozen=True):
    """Part of a day in an organization's local time, `start` before `end`."""

    start: time
    end: time


DayHours = Annotated[list[TimeRange], msgspec.Meta(max_length=12)]
"""The ranges of one day: a break or two, never a dozen."""


class WorkingHours(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When an organization works, per weekday, in its own time zone; an empty day is off."""

    mon: DayHours = msgspec.field(default_factory=list)
    tue: DayHours = msgspec.field(default_factory=list)
    wed: DayHours = msgspec.field(default_factory=list)
    thu: DayHours = msgspec.field(default_factory=list)
    fri: DayHours = msgspec.field(default_factory=list)
    sat: DayHours = msgspec.field(default_factory=list)
    sun: DayHours = msgspec.field(default_factory=list)

    def days(self) -> list[list[TimeRange]]:
        """The ranges of each weekday, Monday first (as `date.weekday()` counts)."""
        return [self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun]


class OrganizationUpserted(Event, tag="registry.organization.upserted", frozen=True, kw_only=True):
    """An organization was registered or changed.

    `region` is the region's Russian name, `region_code` its code in the regions directory.
    Abroad (`country` other than RU), `region` is the country's Russian name and
    `region_code` the ISO 3166-2 subdivision, if any. Contacts stay in the registry.
    """

    name: NonEmpty
    region: NonEmpty
    timezone: NonEmpty
    short_name: str | None = None
    kind: OrganizationKind = "other"
    region_code: str | None = None
    city: str | None = None
    working_hours: WorkingHours | None = None
    blackout_dates: list[date] = msgspec.field(default_factory=list)
    public: bool = True
    country: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")] = "RU"
    """ISO 3166-1 alpha-2: whose public holidays the organization keeps."""
    name_en: str | None = None
    """The name in English, when the organization gave one."""
    city_en: str | None = None


class PersonUpserted(Event, tag="registry.person.upserted", frozen=True, kw_only=True):
    """A person of an organization was registered or changed; `name` is the display name."""

    organization_id: UUID
    name: NonEmpty
    email: NonEmpty
    surname: str | None = None
    given_name: str | None = None
    patronymic: str | None = None
    position: str | None = None
    language: Language = "ru"


class RegistrationEvent(Event, frozen=True, kw_only=True):
    """The state of a registration, carried by every event about it."""

    meeting_id: UUID
    person_id: UUID
    organization_id: UUID
    status: RegistrationStatus = "registered"
    role: MeetingRole = "participant"
    rsvp: Rsvp = "needs-action"

    @property
    def aggregate_type(self) -> str:
        return "registry.registration"


class RegistrationCreated(
    RegistrationEvent, tag="registry.registration.created", frozen=True, kw_only=True
):
    """A person was signed up for a meeting: registered, or waitlisted when it was full."""


class RegistrationCancelled(
    RegistrationEvent, tag="registry.registration.cancelled", frozen=True, kw_only=True
):
    """A registration was cancelled; the place it held went to the waitlist."""


class RegistrationPromoted(
    RegistrationEvent, tag="registry.registration.promoted", frozen=True, kw_only=True
):
    """A waitlisted person got a place, because someone cancelled or capacity grew."""


class RsvpChanged(RegistrationEvent, tag="registry.rsvp.changed", frozen=True, kw_only=True):
    """A registered person accepted, declined or tentatively accepted the invitation."""


class AttendanceRecorded(Event, tag="registry.attendance.recorded", frozen=True, kw_only=True):
    """Who was there: one person checked in, or a site's headcount for a session.

    The aggregate is the check-in (meeting, session, person) or the headcount (meeting,
    session, organization); `person_id` is set for a check-in, `headcount` for a headcount.
    """

    meeting_id: UUID
    session_id: UUID
    organization_id: UUID
    person_id: UUID | None = None
    attended: bool = True
    headcount: int | None = None


class ApiKeyEvent(Event, frozen=True, kw_only=True):
    """The state of an API key, so that every service can verify it locally.

    Only the SHA-256 of the secret travels; `prefix` identifies the key in a request.
    """

    prefix: NonEmpty
    secret_sha256: NonEmpty
    role: KeyRole
    organization_id: UUID | None = None
    """The partner organization the key acts for; None for operator and admin keys."""
    scopes: list[str]
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def aggregate_type(self) -> str:
        return "registry.apikey"


class ApiKeyIssued(ApiKeyEvent, tag="registry.apikey.issued", frozen=True, kw_only=True):
    """An admin issued an API key."""


class ApiKeyRevoked(ApiKeyEvent, tag="registry.apikey.revoked", frozen=True, kw_only=True):
    """An API key was revoked: it stops working everywhere."""


# --- scheduling -----------------------------------------------------------------------


class MeetingSession(msgspec.Struct, frozen=True, kw_only=True):
    """One sitting of a meeting: a multi-day workshop has one per day (or per track and
    day), a recurring meeting one per occurrence."""

    id: UUID
    starts_at: datetime
    ends_at: datetime
    title: str | None = None
    track: str | None = None
    """The workshop track (virtual site) it belongs to; None: every site takes part."""
    recurrence_id: datetime | None = None
    """For an occurrence of a series: its start as the series rule gives it (RFC 5545
    RECURRENCE-ID), which stays the same when the occurrence is moved."""
    status: SessionStatus = "scheduled"


class Conference(msgspec.Struct, frozen=True, kw_only=True):
    """Where the meeting happens online (RFC 7986 CONFERENCE)."""

    url: str
    platform: ConferencePlatform = "other"
    dial_in: str | None = None
    """A phone number to join by voice, as `tel:` URI or as people write it."""
    access_code: str | None = None


class MeetingSite(msgspec.Struct, frozen=True, kw_only=True):
    """A participating organization and the room it joins from."""

    organization_id: UUID
    room: str | None = None
    track: str | None = None


class MeetingEvent(Event, frozen=True, kw_only=True):
    """The state of a meeting, carried by every event of its lifecycle."""

    title: NonEmpty
    kind: MeetingKind
    status: MeetingStatus
    host_organization_id: UUID
    organization_ids: list[UUID]
    """Every participating site, the host included."""
    starts_at: datetime
    ends_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    sessions: list[MeetingSession] = msgspec.field(default_factory=list)
    """The meeting's sessions; none listed means one session, whose id is the meeting's."""
    timezone: str | None = None
    """The zone its times are written in (the host's unless chosen): a series recurs on
    this zone's wall clock."""
    recurrence: str | None = None
    """The RFC 5545 RRULE of a recurring meeting, e.g. `FREQ=WEEKLY;INTERVAL=2;BYDAY=TU`."""
    conference: Conference | None = None
    sites: list[MeetingSite] = msgspec.field(default_factory=list)
    """Every site with its room, in the order of `organization_ids`."""
    sequence: int = 0
    """The iCalendar SEQUENCE its invites carry."""
    public: bool = True


class MeetingScheduled(MeetingEvent, tag="scheduling.meeting.scheduled", frozen=True, kw_only=True):
    """A meeting was scheduled."""


class MeetingStarted(MeetingEvent, tag="scheduling.meeting.started", frozen=True, kw_only=True):
    """The meeting clock started the meeting at its start."""


class MeetingEnded(MeetingEvent, tag="scheduling.meeting.ended", frozen=True, kw_only=True):
    """The meeting ended, at its end or because an operator ended it."""


class MeetingUpdated(MeetingEvent, tag="scheduling.meeting.updated", frozen=True, kw_only=True):
    """A scheduled meeting changed: its times, sessions, sites, link or description."""


class MeetingCancelled(MeetingEvent, tag="scheduling.meeting.cancelled", frozen=True, kw_only=True):
    """A meeting that had not started was cancelled."""


# --- agenda ---------------------------------------------------------------------------


class AgendaEntry(msgspec.Struct, frozen=True, kw_only=True):
    starts_at: datetime
    title: str
    speakers: list[str] = msgspec.field(default_factory=list)
    """Each speaker as a line of the programme: a name, with the organization if known."""
    ends_at: datetime | None = None
    track: str | None = None


class AgendaPublished(Event, tag="agenda.agenda.published", frozen=True, kw_only=True):
    """A version of a meeting's agenda was published, replacing the one published before.

    `aggregate_version` counts the agenda's events; `version` is the agenda version that
    is now the published one (a diff between versions names them by it).
    """

    meeting_id: UUID
    version: int = 1
    items: int
    """How many items the agenda has."""
    url: str
    """The agenda's page (`…/agenda.html`), which invites and mails link to."""
    entries: list[AgendaEntry] = msgspec.field(default_factory=list)
    """The items themselves, in order of time: invites carry them in their DESCRIPTION."""


class AgendaUnpublished(Event, tag="agenda.agenda.unpublished", frozen=True, kw_only=True):
    """A meeting's agenda was withdrawn: no version of it is published any more."""

    meeting_id: UUID


class SummaryPublished(Event, tag="agenda.summary.published", frozen=True, kw_only=True):
    """The host or an operator published a version of a meeting's post-event summary.

    `aggregate_version` counts the summary's publications; `version` is the summary
    version now shown at `url`, the summary's page.
    """

    meeting_id: UUID
    version: int = 1
    participants: int
    """People registered."""
    attended: int = 0
    """People checked in, and those the sites' rooms counted besides."""
    organizations: int
    regions: int
    url: str


RegistryEvent = (
    OrganizationUpserted
    | PersonUpserted
    | RegistrationCreated
    | RegistrationCancelled
    | RegistrationPromoted
    | RsvpChanged
    | AttendanceRecorded
    | ApiKeyIssued
    | ApiKeyRevoked
)
SchedulingEvent = (
    MeetingScheduled | MeetingUpdated | MeetingStarted | MeetingEnded | MeetingCancelled
)
AgendaEvent = AgendaPublished | AgendaUnpublished | SummaryPublished
AnyEvent = RegistryEvent | SchedulingEvent | AgendaEvent

ALL_EVENTS: tuple[type[Event], ...] = (
    OrganizationUpserted,
    PersonUpserted,
    RegistrationCreated,
    RegistrationCancelled,
    RegistrationPromoted,
    RsvpChanged,
    AttendanceRecorded,
    ApiKeyIssued,
    ApiKeyRevoked,
    MeetingScheduled,
    MeetingUpdated,
    MeetingStarted,
    MeetingEnded,
    MeetingCancelled,
    AgendaPublished,
    AgendaUnpublished,
    SummaryPublished,
)


def subject_of(event_type: type[Event]) -> str:
    tag = event_type.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


# --- streams --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """A JetStream stream holding every subject under one prefix."""

    name: str
    prefix: str

    @property
    def subjects(self) -> list[str]:
        return [f"{self.prefix}.>"]

    def holds(self, subject: str) -> bool:
        return subject.startswith(f"{self.prefix}.")


SERVICES = ("registry", "scheduling", "agenda")
"""The services, each the only publisher of the subjects under its name."""

REGISTRY = Stream("REGISTRY", "registry")
SCHEDULING = Stream("SCHEDULING", "scheduling")
AGENDA = Stream("AGENDA", "agenda")
DEADLETTER = Stream("DEADLETTER", "deadletter")
"""Messages a consumer gave up on, with the error in the `Telebridge-Error` header."""

STREAMS = (REGISTRY, SCHEDULING, AGENDA, DEADLETTER)


def stream_of(subject: str) -> Stream:
    for stream in STREAMS:
        if stream.holds(subject):
            return stream
    raise LookupError(f"no stream holds subject {subject!r}")


def dead_letter_subject(consumer: str, subject: str) -> str:
    return f"{DEADLETTER.prefix}.{consumer}.{subject}"
