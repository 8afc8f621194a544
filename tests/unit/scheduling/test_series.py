"""Recurring meetings: rules expanded on the wall clock of their zone, and written so that
calendar programs expand exactly the same dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar

from services.scheduling.ical import (
    Attendee,
    CalendarMeeting,
    CalendarSession,
    CalendarSite,
    FeedEntry,
    assemble_feed,
    calendar_objects,
    render_invite,
    render_occurrence_cancel,
)
from services.scheduling.series import (
    MAX_OCCURRENCES,
    RecurrenceError,
    normalized_rule,
    occurrences,
)
from shared.events import Conference

BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = ZoneInfo("Europe/Moscow")
SERIES = UUID("0190a000-0000-7000-8000-00000000beef")
STAMP = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
EVERY_SECOND_TUESDAY = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=6"


def test_a_series_keeps_its_local_time_across_a_dst_change() -> None:
    first_start = datetime(2026, 10, 13, 11, 0, tzinfo=BERLIN)
    found = occurrences(
        EVERY_SECOND_TUESDAY, first_start, first_start + timedelta(hours=1, minutes=30), BERLIN
    )

    assert [o.starts_at.astimezone(BERLIN).strftime("%d.%m %H:%M") for o in found] == [
        "13.10 11:00",
        "27.10 11:00",
        "10.11 11:00",
        "24.11 11:00",
        "08.12 11:00",
        "22.12 11:00",
    ]
    # Berlin left summer time on 25 October; Moscow did not: an hour later there.
    assert [o.starts_at.astimezone(MOSCOW).hour for o in found[:2]] == [12, 13]
    assert all(o.ends_at - o.starts_at == timedelta(hours=1, minutes=30) for o in found)
    assert all(o.recurrence_id == o.starts_at for o in found)


def test_the_second_tuesday_of_each_month_is_a_rule_too() -> None:
    start = datetime(2027, 1, 12, 10, 0, tzinfo=MOSCOW)
    found = occurrences("FREQ=MONTHLY;BYDAY=2TU;COUNT=3", start, start + timedelta(hours=2), MOSCOW)
    assert [o.starts_at.astimezone(MOSCOW).date() for o in found] == [
        date(2027, 1, 12),
        date(2027, 2, 9),
        date(2027, 3, 9),
    ]


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=WEEKLY", "must end"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20270101T000000Z", "not both"),
        ("FREQ=HOURLY;COUNT=3", "FREQ must be"),
        ("FREQ=WEEKLY;UNTIL=20271231", "UTC date-time"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=2", "BYDAY"),
        ("каждый вторник", "NAME=VALUE"),
    ],
)
def test_a_rule_that_cannot_be_scheduled_says_why(rule: str, reason: str) -> None:
    with pytest.raises(RecurrenceError, match=reason):
        normalized_rule(rule)


def test_a_series_longer_than_the_limit_is_refused() -> None:
    start = datetime(2027, 1, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(RecurrenceError, match=str(MAX_OCCURRENCES)):
        occurrences(
            f"FREQ=DAILY;COUNT={MAX_OCCURRENCES + 1}",
            start,
            start + timedelta(hours=1),
            ZoneInfo("UTC"),
        )


def test_the_prefix_and_case_of_a_rule_do_not_matter() -> None:
    assert normalized_rule("rrule:freq=weekly;count=2") == "FREQ=WEEKLY;COUNT=2"


# --- written to calendars -------------------------------------------------------------


def series_meeting(**changes: object) -> CalendarMeeting:
    first = datetime(2026, 10, 13, 11, 0, tzinfo=BERLIN)
    length = timedelta(hours=1, minutes=30)
    sessions = [
        CalendarSession(
            id=UUID(int=index + 1),
            starts_at=o.starts_at,
            ends_at=o.ends_at,
            recurrence_id=o.recurrence_id,
        )
        for index, o in enumerate(occurrences(EVERY_SECOND_TUESDAY, first, first + length, BERLIN))
    ]
    meeting = CalendarMeeting(
        meeting_id=SERIES,
        title="Клуб «Читаем вместе»",
        kind="videoconference",
        status="scheduled",
        timezone="Europe/Berlin",
        sequence=2,
        sessions=sessions,
        sites=[
            CalendarSite(UUID(int=100), "Русский дом в Берлине", "Берлин", "Europe/Berlin"),
            CalendarSite(
                UUID(int=101), "Библиотека им. Горького", "Приморский край", "Asia/Vladivostok"
            ),
        ],
        organizer_email="meetings@telebridge.example",
        recurrence=EVERY_SECOND_TUESDAY,
        series_length=length,
        conference=Conference(url="https://telemost.yandex.ru/j/123", platform="telemost"),
    )
    return replace(meeting, **changes)


def moved_and_cancelled(meeting: CalendarMeeting) -> CalendarMeeting:
    sessions = list(meeting.sessions)
    moved = sessions[1]
    sessions[1] = replace(
        moved,
        starts_at=moved.starts_at + timedelta(days=1),
        ends_at=moved.ends_at + timedelta(days=1),
    )
    sessions[3] = replace(sessions[3], status="cancelled")
    return replace(meeting, sessions=sessions)


def expanded_dates(data: bytes) -> list[datetime]:
    calendar = Calendar.from_ical(data)
    events = recurring_ical_events.of(calendar).between(date(2026, 1, 1), date(2028, 1, 1))
    return sorted(event.decoded("DTSTART").astimezone(UTC) for event in events)


def test_a_series_with_one_occurrence_moved_and_one_cancelled_expands_to_the_intended_dates() -> (
    None
):
    meeting = moved_and_cancelled(series_meeting())
    data = render_invite(meeting, [Attendee("Анна Ким", "kim@example.org")], STAMP)
    calendar = Calendar.from_ical(data)

    assert str(calendar["METHOD"]) == "REQUEST"
    master, override = calendar.walk("VEVENT")
    assert str(master["UID"]) == str(override["UID"]) == f"{SERIES}@telebridge"
    assert "RRULE" in master
    assert "RECURRENCE-ID" in override
    assert calendar.get_missing_tzids() == set()
    intended = sorted(s.starts_at for s in meeting.sessions if s.status == "scheduled")
    assert expanded_dates(data) == intended
    assert len(intended) == 5


def test_one_cancelled_occurrence_is_cancelled_by_its_recurrence_id() -> None:
    meeting = series_meeting()
    occurrence = replace(meeting.sessions[2], status="cancelled")
    data = render_occurrence_cancel(
        meeting, occurrence, [Attendee("Анна Ким", "kim@example.org")], STAMP
    )
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")

    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("RECURRENCE-ID") == occurrence.recurrence_id
    assert "RRULE" not in event
    assert calendar.get_missing_tzids() == set()


def test_sessions_of_a_workshop_are_calendar_objects_of_their_own() -> None:
    day = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    sessions = [
        CalendarSession(
            UUID(int=i + 1),
            day + timedelta(days=i),
            day + timedelta(days=i, hours=3),
            title=f"День {i + 1}",
        )
        for i in range(3)
    ]
    meeting = series_meeting(
        recurrence=None, series_length=None, sessions=sessions, kind="workshop"
    )
    objects = calendar_objects(meeting, STAMP)

    assert [found.uid for found in objects] == [f"{UUID(int=i + 1)}@telebridge" for i in range(3)]
    one = Calendar.from_ical(
        render_invite(meeting, [Attendee("A", "a@example.org")], STAMP, uid=objects[1].uid)
    )
    assert str(one["METHOD"]) == "REQUEST"
    [event] = one.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Клуб «Читаем вместе». День 2"
    # All of them together are an import file, not an iTIP message of one UID.
    together = Calendar.from_ical(render_invite(meeting, [Attendee("A", "a@example.org")], STAMP))
    assert str(together["METHOD"]) == "PUBLISH"
    assert len(together.walk("VEVENT")) == 3
    assert all("ATTENDEE" not in event for event in together.walk("VEVENT"))


def test_the_conference_link_and_phone_are_rfc_7986_conference_properties() -> None:
    meeting = series_meeting(
        conference=Conference(
            url="https://telemost.yandex.ru/j/123", platform="telemost", dial_in="+7 495 123-45-67"
        )
    )
    [master] = Calendar.from_ical(render_invite(meeting, [], STAMP)).walk("VEVENT")
    conferences = master["CONFERENCE"]
    assert [str(c) for c in conferences] == ["https://telemost.yandex.ru/j/123", "tel:+74951234567"]
    assert conferences[0].params["FEATURE"] == ["AUDIO", "VIDEO"]
    assert conferences[1].params["FEATURE"] == "PHONE"
    assert "https://telemost.yandex.ru/j/123" in str(master["DESCRIPTION"])


def test_a_feed_is_assembled_from_stored_entries_with_one_vtimezone_per_zone() -> None:
    meetings = [
        moved_and_cancelled(series_meeting()),
        series_meeting(meeting_id=UUID(int=7), timezone="Asia/Vladivostok"),
    ]
    entries = [
        FeedEntry(found.to_ical(), found.starts_at, found.ends_at, sorted(found.tzids))
        for meeting in meetings
        for found in calendar_objects(meeting, STAMP)
    ]
    data = assemble_feed("Телемосты: Библиотека им. Горького", timedelta(hours=1), entries)
    calendar = Calendar.from_ical(data)

    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == "Телемосты: Библиотека им. Горького"
    assert str(calendar["NAME"]) == "Телемосты: Библиотека им. Горького"
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(hours=1)
    assert sorted(str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")) == [
        "Asia/Vladivostok",
        "Europe/Berlin",
    ]
    assert calendar.get_missing_tzids() == set()
    assert len(expanded_dates(data)) == 5 + 6
    assert all(not component.errors for component in calendar.walk())
