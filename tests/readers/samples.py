"""Every kind of file scheduling emits, rendered by its own code without a server, each
with the occurrences a calendar program must compute from it.

Meetings are in Europe/Moscow and Asia/Vladivostok, seven hours apart, and one in
Europe/Berlin across the end of summer time, which Moscow does not keep.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar

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
from services.scheduling.series import occurrences
from shared.events import AgendaEntry, Conference
from tests.readers.readers import Occurrence

STAMP = datetime(2030, 9, 1, 6, 0, tzinfo=UTC)

LIPETSK = CalendarSite(
    UUID(int=1), "Липецкая областная детская библиотека", "Липецкая область", "Europe/Moscow"
)
PRIMORYE = CalendarSite(
    UUID(int=2),
    "Приморская краевая детская библиотека",
    "Приморский край",
    "Asia/Vladivostok",
    room="Зал №2; «Медиацентр», 3 этаж",
)
BERLIN = CalendarSite(UUID(int=3), "Russisches Haus", "Berlin", "Europe/Berlin")

ATTENDEES = [
    Attendee("Ольга Петровна Ли-Соколова", "olga@libraries.example", role="moderator"),
    Attendee('Петров, Пётр; "Петя" 🎉', "petr@libraries.example", rsvp="accepted"),
    Attendee("Иванова\nАнна", "anna@libraries.example", role="guest", rsvp="tentative"),
]
CONFERENCE = Conference(
    url="https://telemost.example/j/1234567890?pwd=a,b;c",
    platform="telemost",
    dial_in="+7 (495) 000-00-00",
    access_code="1234#",
)
AGENDA = [
    AgendaEntry(
        starts_at=datetime(2030, 10, 1, 8, 0, tzinfo=UTC),
        title="Открытие: «Книги, опалённые войной»; приветствие, вопросы, ответы",
        speakers=["Ольга Петровна Ли-Соколова"],
    ),
    AgendaEntry(starts_at=datetime(2030, 10, 1, 8, 30, tzinfo=UTC), title="Квест 🧩"),
]


def _meeting(meeting_id: int, **changes: object) -> CalendarMeeting:
    starts_at = datetime(2030, 10, 1, 8, 0, tzinfo=UTC)
    fields: dict[str, object] = {
        "meeting_id": UUID(int=meeting_id),
        "title": "Телемост «Липецк — Владивосток»: книги, дети, память",
        "kind": "telebridge",
        "status": "scheduled",
        "timezone": "Europe/Moscow",
        "sequence": 0,
        "sessions": [
            CalendarSession(UUID(int=meeting_id), starts_at, starts_at + timedelta(hours=2))
        ],
        "sites": [LIPETSK, PRIMORYE],
        "organizer_email": "meetings@telebridge.example",
        "conference": CONFERENCE,
        "agenda": AGENDA,
        "agenda_url": "https://telebridge.example/agenda/1?lang=ru&print=1",
    }
    return CalendarMeeting(**(fields | changes))  # type: ignore[arg-type]


TELEBRIDGE = _meeting(100)
MOVED = replace(
    TELEBRIDGE,
    sequence=1,
    sessions=[
        CalendarSession(
            UUID(int=100),
            datetime(2030, 10, 2, 23, 0, tzinfo=UTC),
            datetime(2030, 10, 3, 1, 0, tzinfo=UTC),
        )
    ],
)
"""Moved to 09:00 in Vladivostok, which is still the evening before in Moscow."""
CANCELLED = replace(MOVED, status="cancelled", sequence=2)

WORKSHOP = _meeting(
    200,
    title="Интернет-мастерская «Во славу Великой Победы»",
    kind="workshop",
    sessions=[
        CalendarSession(
            UUID(int=200 + day),
            datetime(2030, 10, day, 7, 0, tzinfo=UTC),
            datetime(2030, 10, day, 9, 0, tzinfo=UTC),
            title=f"День {day}",
        )
        for day in range(1, 6)
    ],
)

SERIES_RULE = "FREQ=MONTHLY;BYDAY=2TU;COUNT=6"
"""Every second Tuesday of the month, in Berlin: October's falls in summer time, November's
in winter time, while Moscow keeps UTC+3 all year."""


def _series() -> CalendarMeeting:
    first = datetime(2030, 10, 8, 16, 0, tzinfo=UTC)
    length = timedelta(hours=1, minutes=30)
    sessions = [
        CalendarSession(
            UUID(int=300 + index), found.starts_at, found.ends_at, recurrence_id=found.starts_at
        )
        for index, found in enumerate(
            occurrences(SERIES_RULE, first, first + length, ZoneInfo("Europe/Berlin"))
        )
    ]
    moved = sessions[2]
    sessions[2] = replace(
        moved,
        starts_at=moved.starts_at + timedelta(days=1),
        ends_at=moved.ends_at + timedelta(days=1),
    )
    sessions[4] = replace(sessions[4], status="cancelled")
    return _meeting(
        300,
        title="Клуб «Читаем вместе»: Берлин — Липецк",
        timezone="Europe/Berlin",
        sites=[BERLIN, LIPETSK],
        recurrence=SERIES_RULE,
        series_length=length,
        sessions=sessions,
    )


SERIES = _series()


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    expected: list[Occurrence]
    """What a reader that expands series finds in it, in order of start."""
    whole: bool = True
    """False for an iTIP message about one occurrence, which a calendar program applies to
    the series it holds rather than keeping it on its own."""


def expected_of(meeting: CalendarMeeting, *, with_cancelled: bool = False) -> list[Occurrence]:
    status = "CANCELLED" if meeting.cancelled else "CONFIRMED"
    if meeting.recurrence is None:
        return sorted(
            Occurrence(f"{session.id}@telebridge", session.starts_at, session.ends_at, status)
            for session in meeting.sessions
        )
    return sorted(
        Occurrence(f"{meeting.meeting_id}@telebridge", session.starts_at, session.ends_at, status)
        for session in meeting.sessions
        if with_cancelled or session.status != "cancelled"
    )


def _feed(*meetings: CalendarMeeting) -> bytes:
    entries = [
        FeedEntry(found.to_ical(), found.starts_at, found.ends_at, sorted(found.tzids))
        for meeting in meetings
        for found in calendar_objects(meeting, STAMP)
    ]
    return assemble_feed("Липецкая областная детская библиотека", timedelta(hours=1), entries)


def _occurrence_cancel() -> list[Sample]:
    """CANCEL of the second occurrence, and the series as an attendee's calendar holds it
    once the CANCEL is applied (RFC 5546 section 3.2.5): the instance kept, cancelled."""
    cancelled = SERIES.sessions[1]
    message = render_occurrence_cancel(SERIES, cancelled, ATTENDEES, STAMP)
    held = icalendar.Calendar.from_ical(render_invite(SERIES, ATTENDEES, STAMP))
    for instance in icalendar.Calendar.from_ical(message).walk("VEVENT"):
        held.add_component(instance)
    uid = f"{SERIES.meeting_id}@telebridge"
    instance = Occurrence(uid, cancelled.starts_at, cancelled.ends_at, "CANCELLED")
    return [
        Sample("series-occurrence-cancel", message, [instance], whole=False),
        Sample(
            "series-after-occurrence-cancel",
            held.to_ical(),
            sorted([*(o for o in expected_of(SERIES) if o.start != instance.start), instance]),
        ),
    ]


SAMPLES = [
    Sample("invite", render_invite(TELEBRIDGE, ATTENDEES, STAMP), expected_of(TELEBRIDGE)),
    Sample("update", render_invite(MOVED, ATTENDEES, STAMP), expected_of(MOVED)),
    Sample("cancel", render_invite(CANCELLED, ATTENDEES, STAMP), expected_of(CANCELLED)),
    Sample("workshop", render_invite(WORKSHOP, ATTENDEES, STAMP), expected_of(WORKSHOP)),
    Sample("series", render_invite(SERIES, ATTENDEES, STAMP), expected_of(SERIES)),
    *_occurrence_cancel(),
    Sample(
        "feed",
        _feed(TELEBRIDGE, WORKSHOP, SERIES),
        sorted(expected_of(TELEBRIDGE) + expected_of(WORKSHOP) + expected_of(SERIES)),
    ),
    Sample("empty-feed", _feed(), []),
]
