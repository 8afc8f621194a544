"""An agenda's items resolved against their meeting: times to instants, speakers to names.

Pure: the meeting's sessions, tracks and known people come in, scheduled items or every
problem found (each with the path of the field to blame) go out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from services.agenda.schemas import ItemWrite, ScheduledItem, Speaker
from shared.errors import FieldError
from shared.events import MeetingSession
from shared.http.types import out_of_range
from shared.timezones import timezone_error
from shared.typography import quoted


@dataclass(frozen=True)
class Person:
    name: str
    organization: str | None


@dataclass(frozen=True)
class MeetingFrame:
    """What an agenda is checked against."""

    timezone: str
    """The host organization's zone: the default for local times."""
    sessions: Sequence[MeetingSession]
    """In order of time; a meeting without sessions of its own has one."""
    tracks: frozenset[str] = frozenset()
    """The workshop's tracks (virtual sites); empty when it has none."""
    people: Mapping[UUID, Person] = field(default_factory=dict)
    """Registered people who may speak."""


class InvalidAgendaError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.field}: {error.message}" for error in errors))
        self.errors = errors


LINK_SCHEMES = ("https://", "http://", "mailto:")
LONGEST = timedelta(days=366)
"""The longest an item lasts or starts after its session's start: longer than any session,
and short enough that no time it gives is near the end of what a datetime can be."""
"""What a material may link to: pages link to it, so no javascript: or data: addresses."""


def schedule(items: Sequence[ItemWrite], frame: MeetingFrame) -> list[ScheduledItem]:
    """The items in order of time, or InvalidAgendaError naming every problem at once."""
    errors: list[FieldError] = []
    scheduled: list[tuple[int, ScheduledItem]] = []
    for index, item in enumerate(items):
        before = len(errors)
        found = _schedule_one(item, frame, _Path(index, errors))
        if found is not None and len(errors) == before:
            scheduled.append((index, found))
    # Only items that are right in themselves are checked against each other.
    _check_overlaps(scheduled, errors)
    if errors:
        raise InvalidAgendaError(sorted(errors, key=_error_order))
    return [item for _, item in sorted(scheduled, key=lambda pair: _item_order(pair[1]))]


@dataclass
class _Path:
    index: int
    errors: list[FieldError]

    def error(self, name: str, message: str) -> None:
        self.errors.append(
            FieldError(message=message, field=f"items[{self.index}].{name}", source="body")
        )


def _schedule_one(item: ItemWrite, frame: MeetingFrame, path: _Path) -> ScheduledItem | None:
    zone_name = item.timezone or frame.timezone
    zone = _zone(zone_name, path)
    if item.duration <= timedelta(0):
        path.error("duration", "must be longer than zero, such as PT15M")
    elif item.duration > LONGEST:
        path.error("duration", f"must be at most {LONGEST.days} days")
    speakers = _speakers(item.speakers, frame, path)
    if item.track is not None and frame.tracks and item.track not in frame.tracks:
        path.error(
            "track", f"{item.track!r} is not a track of the meeting: {_listed(frame.tracks)}"
        )
    for number, material in enumerate(item.materials):
        if not material.url.startswith(LINK_SCHEMES):
            path.error(
                f"materials[{number}].url",
                f"{material.url!r} is not an http, https or mailto address",
            )
    session = _named_session(item, frame, path)
    starts_at = _start(item, zone, session, frame, path)
    if starts_at is None or zone is None or abs(item.duration) > LONGEST:
        return None
    starts_at = starts_at.astimezone(UTC)
    ends_at = starts_at + item.duration
    if session is None:
        session = _session_holding(starts_at, frame)
    if session is None:
        path.error(
            "at", f"{_local(starts_at, zone)} is outside every session: {_sessions(frame, zone)}"
        )
        return None
    if not session.starts_at <= starts_at or ends_at > session.ends_at:
        path.error(
            "at" if item.at is not None else "offset",
            f"{_span(starts_at, ends_at, zone)} is not inside its session "
            f"({_span(session.starts_at, session.ends_at, zone)})",
        )
    if session.track is not None and item.track not in (None, session.track):
        path.error("track", f"its session belongs to track {session.track!r}")
    if item.duration <= timedelta(0):
        return None
    return ScheduledItem(
        title=item.title,
        kind=item.kind,
        key=item.key,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=zone_name,
        session_id=session.id,
        track=item.track or session.track,
        speakers=speakers,
        materials=list(item.materials),
    )


def _zone(name: str, path: _Path) -> ZoneInfo | None:
    # Looked up in the list first: ZoneInfo reads any name as a file path, and one too long
    # for a file name raises OSError, which the kernel would take for the database's.
    if timezone_error(name) is None:
        return ZoneInfo(name)
    path.error("timezone", f"{name!r} is not an IANA time zone such as Europe/Moscow")
    return None


def _named_session(item: ItemWrite, frame: MeetingFrame, path: _Path) -> MeetingSession | None:
    if item.session_id is not None:
        for session in frame.sessions:
            if session.id == item.session_id:
                return session
        path.error("session_id", f"{item.session_id} is not a session of the meeting")
        return None
    if len(frame.sessions) == 1:
        return frame.sessions[0]
    return None


def _start(
    item: ItemWrite,
    zone: ZoneInfo | None,
    session: MeetingSession | None,
    frame: MeetingFrame,
    path: _Path,
) -> datetime | None:
    if (item.at is None) == (item.offset is None):
        path.error("at", "give either `at` (a local time) or `offset` (from the session start)")
        return None
    if item.offset is not None:
        return _start_from_offset(item, item.offset, session, frame, path)
    assert item.at is not None
    try:
        at = datetime.fromisoformat(item.at)
    except ValueError:
        path.error("at", f"{item.at!r} is not a date and time such as 2020-10-01T10:00")
        return None
    if reason := out_of_range(at.replace(tzinfo=UTC)):
        path.error("at", reason)
        return None
    if at.tzinfo is not None:
        return at
    return _existing_local_time(at, zone, path) if zone is not None else None


def _start_from_offset(
    item: ItemWrite,
    offset: timedelta,
    session: MeetingSession | None,
    frame: MeetingFrame,
    path: _Path,
) -> datetime | None:
    if offset < timedelta(0):
        path.error("offset", "must not be negative")
        return None
    if offset > LONGEST:
        path.error("offset", f"must be at most {LONGEST.days} days")
        return None
    if session is None:
        if item.session_id is None and len(frame.sessions) > 1:
            path.error("session_id", "the meeting has several sessions: name the item's")
        return None
    return session.starts_at + offset


def _existing_local_time(local: datetime, zone: ZoneInfo, path: _Path) -> datetime | None:
    """The instant of a wall-clock time, unless the zone skips it or has it twice."""
    earlier = local.replace(tzinfo=zone, fold=0)
    later = local.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier
    round_trip = earlier.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
    if round_trip != local:
        path.error("at", f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks skip it")
    else:
        path.error(
            "at",
            f"{local:%Y-%m-%d %H:%M} happens twice in {zone.key}: write it with its UTC offset, "
            f"{earlier.isoformat(timespec='minutes')} or {later.isoformat(timespec='minutes')}",
        )
    return None


def _session_holding(moment: datetime, frame: MeetingFrame) -> MeetingSession | None:
    for session in frame.sessions:
        if session.starts_at <= moment < session.ends_at:
            return session
    return None


def _speakers(speakers: Sequence[Speaker], frame: MeetingFrame, path: _Path) -> list[Speaker]:
    named: list[Speaker] = []
    for number, speaker in enumerate(speakers):
        where = f"speakers[{number}]"
        if speaker.person_id is not None:
            person = frame.people.get(speaker.person_id)
            if person is None:
                path.error(
                    f"{where}.person_id",
                    f"{speaker.person_id} is not a registered person; "
                    "for someone from outside give `name`, `organization` and `external: true`",
                )
                continue
            named.append(
                Speaker(
                    person_id=speaker.person_id,
                    name=person.name,
                    organization=speaker.organization or person.organization,
                )
            )
        elif not speaker.external:
            path.error(
                f"{where}.external",
                f"{speaker.name or 'the speaker'} is not registered: give their `person_id`, "
                "or mark them `external: true`",
            )
        elif speaker.name is None and speaker.organization is None:
            path.error(f"{where}.name", "an external speaker needs a name or an organization")
        else:
            named.append(speaker)
    return named


def _check_overlaps(scheduled: list[tuple[int, ScheduledItem]], errors: list[FieldError]) -> None:
    """Within a session, an item of one track may not overlap another of that track, and an
    item of every track (no track) may overlap none."""
    ordered = sorted(scheduled, key=lambda pair: _item_order(pair[1]))
    for position, (index, item) in enumerate(ordered):
        for earlier_index, earlier in ordered[:position]:
            same_place = item.track is None or earlier.track is None or item.track == earlier.track
            if (
                same_place
                and earlier.session_id == item.session_id
                and earlier.ends_at > item.starts_at
            ):
                zone = ZoneInfo(item.timezone)
                errors.append(
                    FieldError(
                        message=f"overlaps items[{earlier_index}] {quoted(earlier.title)} "
                        f"({_span(earlier.starts_at, earlier.ends_at, zone)})"
                        + (f" on track {item.track!r}" if item.track else ""),
                        field=f"items[{index}].at",
                        source="body",
                    )
                )
                break


def _item_order(item: ScheduledItem) -> tuple[datetime, str, str]:
    return item.starts_at, item.track or "", item.title


def _error_order(error: FieldError) -> tuple[int, str]:
    field_name = error.field or ""
    index = field_name.removeprefix("items[").split("]", 1)[0]
    return (int(index) if index.isdigit() else -1), field_name


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def _span(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}–{end_text} {zone.key}"


def _sessions(frame: MeetingFrame, zone: ZoneInfo) -> str:
    return ", ".join(_span(s.starts_at, s.ends_at, zone) for s in frame.sessions)


def _listed(names: frozenset[str]) -> str:
    return ", ".join(sorted(names))
