"""Session planning: what sessions a meeting as written has, and the meeting's fields.

Pure: no I/O, no database, no web framework. It turns a `MeetingWrite` (one time, a list
of sessions, or a series expanded on its zone's wall clock) into the session rows to
keep, keeping the ids and rows of sessions and occurrences the meeting has already.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from services.scheduling.schemas import MeetingWrite
from services.scheduling.series import occurrences
from services.scheduling.store import MeetingFields, StoredSession
from shared.errors import FieldError, invalid_fields
from shared.events import Conference, MeetingSession, MeetingStatus, new_id


@dataclass(frozen=True)
class Plan:
    """The sessions a meeting is to have, cancelled ones included."""

    sessions: list[MeetingSession]
    series: bool
    series_length: timedelta | None = None

    @property
    def intervals(self) -> list[tuple[datetime, datetime]]:
        """The times of the sessions that take place."""
        return [(s.starts_at, s.ends_at) for s in self.sessions if s.status == "scheduled"]


def plan_sessions(
    meeting_id: UUID, data: MeetingWrite, zone: str, existing: Sequence[StoredSession]
) -> Plan:
    """The sessions of the meeting `data` describes, in `zone`, given those it has.

    A series keeps the rows of occurrences it had (their ids and cancellations); one time
    is one session whose id is the meeting's; a list of sessions keeps the ids it names,
    which must be the meeting's (422 `unknown-session` otherwise), and is sorted by start.
    """
    if data.recurrence is not None:
        assert data.starts_at is not None
        assert data.ends_at is not None
        kept = {row.recurrence_id: row for row in existing if row.recurrence_id}
        rows: list[MeetingSession] = []
        for occurrence in occurrences(
            data.recurrence, data.starts_at, data.ends_at, ZoneInfo(zone)
        ):
            if (old := kept.get(occurrence.recurrence_id)) is not None:
                rows.append(old)
            else:
                rows.append(
                    MeetingSession(
                        id=new_id(),
                        starts_at=occurrence.starts_at,
                        ends_at=occurrence.ends_at,
                        recurrence_id=occurrence.recurrence_id,
                    )
                )
        return Plan(rows, series=True, series_length=data.ends_at - data.starts_at)
    if not data.sessions:
        assert data.starts_at is not None
        assert data.ends_at is not None
        return Plan(
            [MeetingSession(id=meeting_id, starts_at=data.starts_at, ends_at=data.ends_at)],
            series=False,
        )
    known = {row.id for row in existing}
    unknown = [
        FieldError(
            message=f"the meeting has no session {session.id}",
            field=f"sessions[{index}].id",
            source="body",
        )
        for index, session in enumerate(data.sessions)
        if session.id is not None and session.id not in known
    ]
    if unknown:
        raise invalid_fields(unknown, slug="unknown-session")
    return Plan(
        [
            MeetingSession(
                id=session.id or new_id(),
                starts_at=session.starts_at,
                ends_at=session.ends_at,
                title=session.title,
                track=session.track,
            )
            for session in sorted(data.sessions, key=lambda session: session.starts_at)
        ],
        series=False,
    )


def span(sessions: Iterable[MeetingSession]) -> tuple[datetime, datetime]:
    """From the first start to the last end of the sessions that take place."""
    live = [s for s in sessions if s.status == "scheduled"]
    return min(s.starts_at for s in live), max(s.ends_at for s in live)


def fields(data: MeetingWrite, plan: Plan, zone: str, status: MeetingStatus) -> MeetingFields:
    """The meeting's settable fields as `data` and its plan give them.

    Fields already stored need no copy: a `StoredMeeting` is its `MeetingFields` and more
    (the store writes only `MeetingFields.values()`), so a change of some of them is
    `msgspec.structs.replace(stored, ...)`, with `span` when the sessions changed.
    """
    starts_at, ends_at = span(plan.sessions)
    return MeetingFields(
        title=data.title,
        kind=data.kind,
        status=status,
        host_organization_id=data.host_organization_id,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=zone,
        conference=None
        if data.conference is None
        else msgspec.convert(msgspec.to_builtins(data.conference), Conference),
        recurrence=data.recurrence and data.recurrence.upper().removeprefix("RRULE:"),
        series_length=plan.series_length,
        public=data.public,
    )


def times_sent(data: MeetingWrite, plan: Plan) -> list[tuple[str, datetime]]:
    """The starts a client sent, by the field that carries them."""
    if data.sessions:
        return [
            (f"sessions[{index}].starts_at", session.starts_at)
            for index, session in enumerate(data.sessions)
        ]
    # One time, or the first occurrence of a series and so the earliest.
    return [("starts_at", min(start for start, _ in plan.intervals))]
