"""Events as the services publish them, for tests that play the other services' part.

One builder per event the tests publish themselves, shared by every service's tests, and
`applied`: wait until a consumer has taken an event in before asserting that it changed
nothing (a sleep proves nothing: the event may simply not have arrived yet).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import msgspec

from shared.events import (
    Event,
    MeetingCancelled,
    MeetingEnded,
    MeetingEvent,
    MeetingScheduled,
    MeetingSession,
    MeetingStarted,
    OrganizationUpserted,
    PersonUpserted,
    RegistrationCreated,
    new_id,
    utc_now,
)
from tests.support import eventually

TITLE = "Телемост «От сердца к сердцу»"
STARTS = datetime(2030, 10, 1, 8, 0, tzinfo=UTC)
"""11:00 in Moscow, 18:00 in Vladivostok: far enough ahead that the meeting clock leaves
the meeting alone."""

M = TypeVar("M", bound=MeetingEvent)
E = TypeVar("E", bound=Event)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def organization(name: str, region: str, timezone: str, **details: Any) -> OrganizationUpserted:
    return OrganizationUpserted(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        name=name,
        region=region,
        timezone=timezone,
        **details,
    )


def email_of(person_id: UUID) -> str:
    """The address a person gets unless told otherwise (all of the id: its first half is a
    time)."""
    return f"{person_id.hex}@libraries.example"


def person(
    organization_id: UUID, name: str, email: str | None = None, **details: Any
) -> PersonUpserted:
    """`details` may give surname, given_name, patronymic, language."""
    person_id = new_id()
    return PersonUpserted(
        aggregate_id=person_id,
        aggregate_version=1,
        producer="registry",
        organization_id=organization_id,
        name=name,
        email=email or email_of(person_id),
        **details,
    )


def registration(meeting_id: UUID, someone: PersonUpserted) -> RegistrationCreated:
    return RegistrationCreated(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        meeting_id=meeting_id,
        person_id=someone.aggregate_id,
        organization_id=someone.organization_id,
    )


def signed_up(
    meeting_id: UUID, organization_id: UUID, name: str, email: str | None = None, **details: Any
) -> tuple[PersonUpserted, RegistrationCreated]:
    """A new person of the organization and their registration for the meeting."""
    someone = person(organization_id, name, email, **details)
    return someone, registration(meeting_id, someone)


def scheduled(
    host: UUID,
    *others: UUID,
    starts: datetime = STARTS,
    duration: timedelta = timedelta(hours=2),
    title: str = TITLE,
) -> MeetingScheduled:
    """A telebridge of the host and the other sites, as scheduling announces it."""
    return MeetingScheduled(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="scheduling",
        title=title,
        kind="telebridge",
        status="scheduled",
        host_organization_id=host,
        organization_ids=[host, *others],
        starts_at=starts,
        ends_at=starts + duration,
    )


def session(
    session_id: UUID, starts_at: datetime, ends_at: datetime, **details: Any
) -> MeetingSession:
    """One sitting of a meeting; `details` may give title, track, status."""
    return MeetingSession(id=session_id, starts_at=starts_at, ends_at=ends_at, **details)


def later(meeting: MeetingEvent, event_type: type[M], versions: int = 1, **changes: Any) -> M:
    """The meeting's event `versions` changes later, as scheduling would publish it."""
    carried = {
        field: getattr(meeting, field)
        for field in meeting.__struct_fields__
        if field not in ("event_id", "occurred_at")
    }
    carried["aggregate_version"] = meeting.aggregate_version + versions
    return event_type(**(carried | changes))


def changed(event: E, **changes: Any) -> E:
    """The same aggregate one version later, as a new event (its own id and time: an event
    with the id of one already sent is dropped by the stream as a duplicate)."""
    return msgspec.structs.replace(
        event,
        event_id=new_id(),
        occurred_at=utc_now(),
        aggregate_version=event.aggregate_version + 1,
        **changes,
    )


def cancelled(meeting: MeetingScheduled) -> MeetingCancelled:
    return later(meeting, MeetingCancelled, status="cancelled")


def started(meeting: MeetingScheduled) -> MeetingStarted:
    return later(meeting, MeetingStarted, status="live", started_at=meeting.starts_at)


def ended(meeting: MeetingScheduled, at: datetime | None = None) -> MeetingEnded:
    """The meeting ended at `at` (when planned, unless told otherwise)."""
    return later(
        meeting,
        MeetingEnded,
        versions=2,
        status="ended",
        started_at=meeting.starts_at,
        ended_at=at or meeting.ends_at,
    )


async def applied(database: asyncpg.Connection, schema: str, *events: Event) -> None:
    """Return once a consumer of the service in `schema` has taken in every one of `events`
    (applied it, or recognised it as stale or repeated): only then does the absence of its
    effect mean anything."""
    wanted = [event.event_id for event in events]

    async def taken_in() -> bool:
        found = await database.fetchval(
            f"SELECT count(DISTINCT event_id) FROM {schema}.inbox WHERE event_id = ANY($1)",
            wanted,
        )
        return bool(found == len(wanted))

    await eventually(taken_in)
