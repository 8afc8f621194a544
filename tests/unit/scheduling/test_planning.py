"""Session planning, pure: a meeting as written becomes the sessions to keep and the
meeting's fields, keeping the ids (and cancellations) of what the meeting has already."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
import pytest

from services.scheduling.planning import Plan, fields, plan_sessions, span, times_sent
from services.scheduling.schemas import ConferenceWrite, MeetingWrite, SessionWrite, SiteWrite
from services.scheduling.store import StoredSession
from shared.errors import Invalid
from shared.events import Conference, MeetingSession

MEETING = UUID("0190a000-0000-7000-8000-00000000beef")
HOST = UUID("0190a000-0000-7000-8000-000000000001")
GUEST = UUID("0190a000-0000-7000-8000-000000000002")
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 10, 13, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
EVERY_SECOND_TUESDAY = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=6"


def written(**changes: object) -> MeetingWrite:
    base: dict[str, object] = {
        "title": "Телемост",
        "kind": "videoconference",
        "host_organization_id": HOST,
        "starts_at": START,
        "ends_at": START + HOUR,
    }
    return MeetingWrite(**(base | changes))  # type: ignore[arg-type]


def stored(row: MeetingSession) -> StoredSession:
    return StoredSession(**msgspec.structs.asdict(row), meeting_id=MEETING)


def test_one_time_is_one_session_whose_id_is_the_meetings() -> None:
    plan = plan_sessions(MEETING, written(), "Europe/Berlin", existing=[])

    assert plan == Plan(
        [MeetingSession(id=MEETING, starts_at=START, ends_at=START + HOUR)], series=False
    )
    assert plan.intervals == [(START, START + HOUR)]


def test_sessions_are_sorted_by_start_and_keep_the_ids_sent_back() -> None:
    first = stored(MeetingSession(id=UUID(int=1), starts_at=START, ends_at=START + HOUR))
    data = written(
        starts_at=None,
        ends_at=None,
        sites=[SiteWrite(HOST, track="A"), SiteWrite(GUEST, track="B")],
        sessions=[
            SessionWrite(START + 3 * HOUR, START + 4 * HOUR, title="Квест", track="B"),
            SessionWrite(START, START + HOUR, id=first.id, title="Открытие"),
        ],
    )

    plan = plan_sessions(MEETING, data, "Europe/Berlin", existing=[first])

    assert [(s.starts_at, s.title, s.track) for s in plan.sessions] == [
        (START, "Открытие", None),
        (START + 3 * HOUR, "Квест", "B"),
    ]
    assert plan.sessions[0].id == first.id
    assert plan.sessions[1].id not in (first.id, MEETING)
    assert not plan.series
    assert plan.series_length is None


def test_a_session_id_the_meeting_does_not_have_is_refused_by_its_field() -> None:
    stranger = UUID(int=7)
    data = written(
        starts_at=None,
        ends_at=None,
        sessions=[
            SessionWrite(START, START + HOUR),
            SessionWrite(START + 2 * HOUR, START + 3 * HOUR, id=stranger),
        ],
    )

    with pytest.raises(Invalid) as refused:
        plan_sessions(MEETING, data, "Europe/Berlin", existing=[])

    assert refused.value.slug == "unknown-session"
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("sessions[1].id", f"the meeting has no session {stranger}")
    ]


def test_a_series_is_expanded_on_its_zones_wall_clock() -> None:
    first = datetime(2026, 10, 13, 11, 0, tzinfo=BERLIN)
    data = written(starts_at=first, ends_at=first + 1.5 * HOUR, recurrence=EVERY_SECOND_TUESDAY)

    plan = plan_sessions(MEETING, data, "Europe/Berlin", existing=[])

    assert plan.series
    assert plan.series_length == 1.5 * HOUR
    assert [s.starts_at.astimezone(BERLIN).hour for s in plan.sessions] == [11] * 6
    # Berlin leaves summer time on 25 October: the second occurrence is an hour later in UTC.
    assert [s.starts_at.astimezone(UTC).hour for s in plan.sessions[:2]] == [9, 10]
    assert all(s.recurrence_id == s.starts_at for s in plan.sessions)
    assert len({s.id for s in plan.sessions}) == 6


def test_a_series_changed_keeps_the_occurrences_it_had_cancellations_included() -> None:
    first = datetime(2026, 10, 13, 11, 0, tzinfo=BERLIN)
    data = written(starts_at=first, ends_at=first + HOUR, recurrence=EVERY_SECOND_TUESDAY)
    before = plan_sessions(MEETING, data, "Europe/Berlin", existing=[])
    cancelled = msgspec.structs.replace(before.sessions[2], status="cancelled")
    existing = [stored(cancelled), *map(stored, before.sessions[:2])]

    after = plan_sessions(
        MEETING,
        written(**{**msgspec.structs.asdict(data), "title": "Новое"}),
        "Europe/Berlin",
        existing=existing,
    )

    assert [s.id for s in after.sessions[:3]] == [s.id for s in before.sessions[:3]]
    assert after.sessions[2].status == "cancelled"
    assert (cancelled.starts_at, cancelled.ends_at) not in after.intervals
    assert len(after.intervals) == 5


def test_span_and_intervals_leave_cancelled_sessions_out() -> None:
    sessions = [
        MeetingSession(id=UUID(int=1), starts_at=START, ends_at=START + HOUR, status="cancelled"),
        MeetingSession(id=UUID(int=2), starts_at=START + 2 * HOUR, ends_at=START + 3 * HOUR),
        MeetingSession(id=UUID(int=3), starts_at=START + 4 * HOUR, ends_at=START + 5 * HOUR),
    ]

    assert span(sessions) == (START + 2 * HOUR, START + 5 * HOUR)
    assert Plan(sessions, series=False).intervals == [
        (START + 2 * HOUR, START + 3 * HOUR),
        (START + 4 * HOUR, START + 5 * HOUR),
    ]


def test_fields_span_the_plan_and_normalize_the_rule_and_conference() -> None:
    first = datetime(2026, 10, 13, 11, 0, tzinfo=BERLIN)
    data = written(
        starts_at=first,
        ends_at=first + HOUR,
        recurrence="rrule:freq=weekly;count=3",
        conference=ConferenceWrite(url="https://meet.example/x", platform="zoom"),
        public=False,
    )
    plan = plan_sessions(MEETING, data, "Europe/Berlin", existing=[])

    got = fields(data, plan, "Europe/Berlin", "draft")

    assert got.status == "draft"
    assert got.timezone == "Europe/Berlin"
    assert (got.starts_at, got.ends_at) == (first, first + timedelta(weeks=2, hours=1))
    assert got.recurrence == "FREQ=WEEKLY;COUNT=3"
    assert got.series_length == HOUR
    assert got.conference == Conference(url="https://meet.example/x", platform="zoom")
    assert got.public is False
    assert (got.title, got.kind, got.host_organization_id) == (
        "Телемост",
        "videoconference",
        HOST,
    )


def test_the_times_sent_are_named_by_the_field_that_carries_them() -> None:
    data = written(
        starts_at=None,
        ends_at=None,
        sessions=[
            SessionWrite(START + 2 * HOUR, START + 3 * HOUR),
            SessionWrite(START, START + HOUR),
        ],
    )
    plan = plan_sessions(MEETING, data, "UTC", existing=[])
    assert times_sent(data, plan) == [
        ("sessions[0].starts_at", START + 2 * HOUR),
        ("sessions[1].starts_at", START),
    ]

    series = written(recurrence="FREQ=DAILY;COUNT=3")
    assert times_sent(series, plan_sessions(MEETING, series, "UTC", existing=[])) == [
        ("starts_at", START)
    ]
