"""What partners and operators send to scheduling and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from shared.events import MeetingKind, MeetingStatus
from shared.http.types import Instant, one_line, out_of_range

Title = Annotated[str, one_line(500, "Телемост «От сердца к сердцу»")]


class MeetingCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Title
    kind: MeetingKind
    host_organization_id: UUID
    starts_at: Instant
    ends_at: Instant
    organization_ids: list[UUID] = []
    """Participating organizations besides the host; each one is a site."""

    def __post_init__(self) -> None:
        for field in ("starts_at", "ends_at"):
            if reason := out_of_range(getattr(self, field)):
                raise ValueError(f"{field}: {reason}")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at: the meeting must end after it starts")
        if self.kind == "telebridge" and not set(self.organization_ids) - {
            self.host_organization_id
        }:
            raise ValueError("organization_ids: a telebridge links two sites or more")

    @property
    def site_ids(self) -> list[UUID]:
        """The host first, then every other participant once, in the order given."""
        return list(dict.fromkeys([self.host_organization_id, *self.organization_ids]))


class Site(msgspec.Struct, frozen=True):
    """One participating organization, with the meeting's times on its own clock."""

    organization_id: UUID
    name: str
    region: str
    timezone: str
    starts_at_local: str
    """Local start, ISO 8601 with the site's offset."""
    ends_at_local: str


class Meeting(msgspec.Struct, frozen=True):
    id: UUID
    title: str
    kind: MeetingKind
    status: MeetingStatus
    host_organization_id: UUID
    starts_at: datetime
    """UTC."""
    ends_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    sites: list[Site]
    version: int
    sequence: int
    """iCalendar SEQUENCE of its invites."""
    invite_url: str
