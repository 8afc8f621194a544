"""What partners send to the registry and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from shared.events import MeetingKind, MeetingStatus, RegistrationStatus
from shared.http.types import one_line
from shared.timezones import timezone_error

Name = Annotated[str, one_line(300, "Липецкая областная детская библиотека")]
Region = Annotated[str, one_line(200, "Липецкая область")]
TimeZone = Annotated[str, one_line(64, "Europe/Moscow")]
Email = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+$",
        max_length=254,
        examples=["reader@example.org"],
    ),
]


class OrganizationCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    region: Region
    timezone: TimeZone
    """IANA time zone the organization keeps, such as Asia/Vladivostok."""

    def __post_init__(self) -> None:
        if error := timezone_error(self.timezone):
            raise ValueError(f"timezone: {error}")


class Organization(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    region: str
    timezone: str
    version: int
    created_at: datetime
    updated_at: datetime


class PersonCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    organization_id: UUID
    name: Name
    email: Email


class Person(msgspec.Struct, frozen=True):
    id: UUID
    organization_id: UUID
    name: str
    email: str
    version: int
    created_at: datetime
    updated_at: datetime


class RegistrationCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    person_id: UUID


class Registration(msgspec.Struct, frozen=True):
    id: UUID
    meeting_id: UUID
    person_id: UUID
    organization_id: UUID
    status: RegistrationStatus
    version: int
    created_at: datetime


class KnownMeeting(msgspec.Struct, frozen=True):
    """A meeting as the registry knows it from scheduling's events."""

    id: UUID
    title: str
    kind: MeetingKind
    status: MeetingStatus
    host_organization_id: UUID
    starts_at: datetime
    ends_at: datetime
    version: int
