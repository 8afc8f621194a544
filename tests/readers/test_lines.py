"""Any text partners type comes back exactly: folded at 75 octets between characters and
escapes, unfolded and unescaped by two readers into the same text, and written again by
`icalendar` byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

from services.scheduling.ical import Attendee, CalendarSite, render_invite
from shared.events import AgendaEntry
from tests.readers.lines import line_problems, unfolded
from tests.readers.samples import LIPETSK, STAMP, TELEBRIDGE

TRICKY = st.sampled_from(
    ["😀", "📚", "🇷", "🇺", "𝄞", ",", ";", ":", "\\", "\n", '"', "'", "^", " ", "«", "»", "—"]
)
TEXT = st.text(
    st.one_of(
        TRICKY,
        st.sampled_from(list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЯ")),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    min_size=1,
    max_size=160,
)
# A backslash is left out of names: RFC 5545 parameter values have no escapes, but python
# icalendar reads `\;` and `\,` in one as escapes and loses the backslash.
NAME = st.text(
    st.one_of(TRICKY.filter(lambda c: c not in "\n\\"), st.sampled_from(list("абвгдеёжзАБВ -."))),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=TEXT, room=TEXT, item=TEXT, name=NAME)
def test_any_text_folds_cleanly_and_round_trips_exactly(
    title: str, room: str, item: str, name: str
) -> None:
    site = CalendarSite(LIPETSK.organization_id, LIPETSK.name, LIPETSK.region, LIPETSK.timezone)
    meeting = replace(
        TELEBRIDGE,
        title=title,
        sites=[replace(site, room=room)],
        agenda=[AgendaEntry(starts_at=datetime(2030, 10, 1, 8, 0, tzinfo=UTC), title=item)],
    )
    data = render_invite(meeting, [Attendee(name, "reader@libraries.example")], STAMP)

    assert line_problems(data) == []
    calendar = Calendar.from_ical(data)
    assert calendar.to_ical() == data
    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == title
    assert str(event["LOCATION"]) == f"{LIPETSK.name}, {room}"
    assert item in str(event["DESCRIPTION"])
    assert event["ATTENDEE"].params["CN"] == name
    [strict] = IcsCalendarStream.calendar_from_ics(data.decode("utf-8")).events
    assert strict.summary == title
    assert strict.location == f"{LIPETSK.name}, {room}"
    assert strict.description == str(event["DESCRIPTION"])
    assert [attendee.common_name for attendee in strict.attendees] == [name]
    assert any(line.startswith("SUMMARY:") for line in unfolded(data))


def test_the_line_check_finds_what_it_looks_for() -> None:
    cyrillic = "Ж".encode() * 37  # 74 octets
    assert line_problems(b"SUMMARY:ok\r\n") == []
    assert line_problems(b"SUMMARY:ok\n") == [
        "the file does not end with CRLF",
        "line 1: a bare CR or LF",
    ]
    assert line_problems(b"X:" + b"a" * 74 + b"\r\n") == ["line 1: 76 octets"]
    assert line_problems(b"X:" + cyrillic[:-1] + b"\r\n " + cyrillic[-1:] + b"\r\n") == [
        "line 1: a UTF-8 character split by folding",
        "line 2: a UTF-8 character split by folding",
    ]
    assert line_problems(b"X:a\\\r\n ,b\r\n") == ["line 2: an escape split by folding"]
    assert line_problems(b"X:a\\\\\r\n ,b\r\n") == []
