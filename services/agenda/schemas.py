"""Agendas and summaries as the API takes and gives them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from shared.events import MeetingKind
from shared.http.types import Instant, one_line, out_of_range

ItemTitle = Annotated[str, one_line(500, "Виртуальное путешествие по Георгиевску")]
SpeakerName = Annotated[str, one_line(300, "Умеренко Светлана Вячеславовна")]


class AgendaItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    starts_at: Instant
    title: ItemTitle
    speakers: Annotated[list[SpeakerName], msgspec.Meta(max_length=50)] = []

    def __post_init__(self) -> None:
        if reason := out_of_range(self.starts_at):
            raise ValueError(f"starts_at: {reason}")


class AgendaPut(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    items: Annotated[list[AgendaItem], msgspec.Meta(max_length=500)]


class Agenda(msgspec.Struct, frozen=True):
    meeting_id: UUID
    items: list[AgendaItem]
    """In order of time."""
    version: int
    updated_at: datetime


class SummaryOrganization(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    region: str
    participants: int
    """People of this organization registered for the meeting."""
    site: bool
    """Whether it took part as a site of the meeting."""


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
    organizations: list[SummaryOrganization]
    regions: list[str]
    items_delivered: list[AgendaItem]


class Summary(msgspec.Struct, frozen=True):
    meeting_id: UUID
    version: int
    published_at: datetime
    content: SummaryContent
    markdown_url: str
