"""Agendas and summaries as the API takes and gives them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from shared.events import MeetingKind
from shared.http.types import one_line

ItemTitle = Annotated[str, one_line(500, "Виртуальное путешествие по Георгиевску")]
SpeakerName = Annotated[str, one_line(300, "Умеренко Светлана Вячеславовна")]
OrganizationName = Annotated[str, one_line(500, "Луганская республиканская библиотека для детей")]
Track = Annotated[str, one_line(100, "Площадка 2")]
TimeZone = Annotated[str, one_line(64, "Europe/Moscow")]
Link = Annotated[str, one_line(2000, "https://lodb.example/quest/1")]
ItemKey = Annotated[str, one_line(100, "opening")]
LocalTime = Annotated[
    str,
    msgspec.Meta(
        max_length=32,
        pattern=r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?$",
        description="A wall-clock time, seconds optional; with an offset, an instant",
        examples=["2020-10-01T10:00", "2020-10-01T10:00+03:00"],
    ),
]
ItemKind = Literal[
    "opening",
    "welcome",
    "talk",
    "presentation",
    "master-class",
    "tour",
    "discussion",
    "quest-task",
    "break",
    "closing",
    "other",
]


class Speaker(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A registered person, by id; or someone from outside, by name and organization."""

    person_id: UUID | None = None
    name: SpeakerName | None = None
    organization: OrganizationName | None = None
    external: bool = False
    """True for a speaker who is not registered: `name` (and `organization`) say who."""


class Material(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: ItemTitle
    url: Link


class ItemWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One item as an operator writes it: at a local time of a zone, or at an offset from
    the start of its session."""

    title: ItemTitle
    kind: ItemKind = "talk"
    key: ItemKey | None = None
    """A name that stays the same across versions, so that a diff follows a renamed item."""
    at: LocalTime | None = None
    """Local time of `timezone` ("2020-10-01T10:00"), or an instant with its offset."""
    timezone: TimeZone | None = None
    """The zone of `at`; omitted, the host organization's."""
    offset: timedelta | None = None
    """From the start of the item's session, as an ISO 8601 duration ("PT1H30M")."""
    duration: timedelta
    session_id: UUID | None = None
    """Needed with `offset` when the meeting has several sessions."""
    track: Track | None = None
    """The workshop track or site it belongs to; omitted, every site takes part."""
    speakers: Annotated[list[Speaker], msgspec.Meta(max_length=50)] = []
    materials: Annotated[list[Material], msgspec.Meta(max_length=50)] = []


class ScheduledItem(msgspec.Struct, frozen=True, kw_only=True):
    """An item with its times resolved to instants and its speakers named."""

    title: str
    kind: ItemKind
    key: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    """The zone its time was written in."""
    session_id: UUID
    track: str | None
    speakers: list[Speaker]
    """Every speaker with a name; registered ones with their organization's name too."""
    materials: list[Material]


class AgendaItem(msgspec.Struct, frozen=True):
    """An item as a summary lists it among those delivered."""

    starts_at: datetime
    title: str
    speakers: list[str] = []
    """Names, each with the organization when it is known."""
    ends_at: datetime | None = None
    kind: ItemKind = "talk"
    track: str | None = None
    materials: list[Material] = []


class SummaryOrganization(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    region: str
    participants: int
    """People of this organization registered for the meeting."""
    site: bool
    """Whether it took part as a site of the meeting."""
    city: str | None = None
    region_code: str | None = None
    attended: int = 0
    """Its people checked in to at least one session."""
    headcount: int = 0
    """The most people its room counted at one session, besides those checked in."""
    track: str | None = None
    """The workshop track it took part in as a site."""
    name_en: str | None = None
    """Its name in English, when it gave one; English texts transliterate it otherwise."""
    city_en: str | None = None


class SummarySession(msgspec.Struct, frozen=True):
    id: UUID
    starts_at: datetime
    ends_at: datetime
    title: str | None = None
    track: str | None = None
    attended: int = 0
    """People checked in to it, and the rooms' headcounts."""


class SummaryContent(msgspec.Struct, frozen=True):
    """What the summary says, written from data alone."""

    meeting_id: UUID
    title: str
    kind: MeetingKind
    timezone: str
    """The host's zone, in which the summary gives times."""
    held_from: datetime
    held_until: datetime
    participants: int
    """People registered."""
    organizations: list[SummaryOrganization]
    regions: list[str]
    items_delivered: list[AgendaItem]
    attended: int = 0
    """People checked in to at least one session."""
    headcount: int = 0
    """People the sites' rooms counted besides those checked in (each site's largest)."""
    sessions: list[SummarySession] = []
    items_planned: int | None = None
    """Items of the agenda published when the summary was written, delivered or not; None
    when no agenda was published (and in versions written before this was recorded)."""


OutcomeText = Annotated[
    str,
    msgspec.Meta(
        max_length=20_000,
        description="Markdown (CommonMark); raw HTML is shown as text",
        examples=["Участники собрали «портфель» методических материалов."],
    ),
]


class Outcomes(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What the data cannot say, in the operator's words: one text per language."""

    ru: OutcomeText | None = None
    en: OutcomeText | None = None


class SummaryWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    outcomes: Outcomes
    publish: bool = False
    """Publish the new version at once; otherwise it stays a draft until published."""


class SummaryLinks(msgspec.Struct, frozen=True):
    html: str
    markdown: str
    json: str


class SummaryVersion(msgspec.Struct, frozen=True, kw_only=True):
    meeting_id: UUID
    version: int
    published: bool
    """Whether this is the version the public summary shows."""
    latest: bool
    content: SummaryContent
    outcomes: Outcomes
    created_at: datetime
    created_by: str
    """"writer" for a version written from the data; otherwise who added outcomes."""
    links: SummaryLinks
    """The public summary, which shows the published version."""


class AgendaWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    items: Annotated[list[ItemWrite], msgspec.Meta(max_length=500)]
    publish: bool = False
    """Publish the new version at once; otherwise it is a draft until published."""


class AgendaVersion(msgspec.Struct, frozen=True, kw_only=True):
    meeting_id: UUID
    version: int
    published: bool
    """Whether this is the version readers, pages and invites see."""
    latest: bool
    items: list[ScheduledItem]
    """In order of time, times as instants, speakers named."""
    written: list[ItemWrite]
    """The items as they were written, for the next edit."""
    created_at: datetime
    created_by: str
