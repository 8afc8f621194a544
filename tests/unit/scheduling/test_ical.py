"""Invites as calendar programs read them: parsed back, and checked byte by byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar
from icalendar import Event as VEvent

from services.scheduling.ical import (
    Attendee,
    CalendarMeeting,
    CalendarSession,
    CalendarSite,
    render_invite,
    uid_of,
)
from shared.events import MEETING_KINDS, MeetingKind
from shared.timezones import utc_offset

MEETING = UUID("0190a000-0000-7000-8000-00000000abcd")
START = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
STAMP = datetime(2026, 9, 1, 12, 30, tzinfo=UTC)
GEORGIEVSK = CalendarSite(
    UUID(int=11),
    "Центральная библиотека г. Георгиевска",
    "Ставропольский край",
    "Europe/Moscow",
)
VLADIVOSTOK = CalendarSite(
    UUID(int=12), "Библиотека им. Горького", "Приморский край", "Asia/Vladivostok"
)
ATTENDEES = [
    Attendee("Мария Иванова", "maria@example.org"),
    Attendee('Петров, Пётр; "Петя"', "petr@example.org"),
    Attendee("John O'Neil", "john@example.org"),
]


def invite(**changes: Any) -> CalendarMeeting:
    """The meeting of these tests, written in its first site's zone (UTC without sites)."""
    starts_at = changes.pop("starts_at", START)
    ends_at = changes.pop("ends_at", START + timedelta(hours=2))
    meeting_id = changes.get("meeting_id", MEETING)
    sites = changes.get("sites", [GEORGIEVSK, VLADIVOSTOK])
    fields: dict[str, Any] = {
        "meeting_id": meeting_id,
        "title": "Телемост «Георгиевск — Антрацит»",
        "kind": "telebridge",
        "status": "scheduled",
        "timezone": sites[0].timezone if sites else "UTC",
        "sequence": 0,
        "sessions": [CalendarSession(meeting_id, starts_at, ends_at)],
        "sites": sites,
        "organizer_email": "meetings@telebridge.example",
    }
    return CalendarMeeting(**(fields | changes))


def render(
    meeting: CalendarMeeting, stamp: datetime = STAMP, attendees: list[Attendee] = ATTENDEES
) -> bytes:
    return render_invite(meeting, attendees, stamp)


def parse(data: bytes) -> tuple[Calendar, VEvent]:
    calendar = Calendar.from_ical(data)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines), "bare CR or LF"
    return lines


def unfolded(data: bytes) -> list[str]:
    """Content lines as RFC 5545 section 3.1 defines them, without any iCalendar library."""
    text = data.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")
    return text.decode("utf-8").split("\r\n")[:-1]


def escaped(text: str) -> str:
    """A TEXT value as RFC 5545 section 3.3.11 writes it."""
    for raw, written in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\n", "\\n")):
        text = text.replace(raw, written)
    return text


# --- the object -----------------------------------------------------------------------


def test_an_invite_is_a_request_with_the_meeting_in_it() -> None:
    calendar, event = parse(render(invite(sequence=4)))

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    assert str(event["SUMMARY"]) == "Телемост «Георгиевск — Антрацит»"
    assert event["STATUS"] == "CONFIRMED"
    assert event["UID"] == f"{MEETING}@telebridge"
    assert event["SEQUENCE"] == 4
    assert "URL" not in event  # no agenda's page yet; the meeting's JSON is for programs
    assert "Георгиевск" in str(event["LOCATION"])
    assert "Горького" in str(event["LOCATION"])


def test_a_cancelled_meeting_is_a_cancel_with_status_cancelled() -> None:
    calendar, event = parse(render(invite(status="cancelled", sequence=2)))

    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == f"{MEETING}@telebridge"
    assert event["SEQUENCE"] == 2
    assert len(as_list(event.get("ATTENDEE"))) == len(ATTENDEES)


def test_the_uid_is_stable_for_a_meeting_and_differs_between_meetings() -> None:
    first = parse(render(invite()))[1]["UID"]
    changed = parse(render(invite(title="Другое", sequence=5), STAMP + timedelta(1)))[1]
    other = parse(render(invite(meeting_id=UUID(int=1))))[1]["UID"]

    assert first == changed["UID"] == uid_of(MEETING)
    assert other != first


def test_every_attendee_is_invited_by_name_with_an_rsvp() -> None:
    _, event = parse(render(invite()))
    attendees = as_list(event.get("ATTENDEE"))

    assert [str(a) for a in attendees] == [f"mailto:{a.email}" for a in ATTENDEES]
    assert [a.params["CN"] for a in attendees] == [a.name for a in ATTENDEES]
    for attendee in attendees:
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"


def test_the_organizer_is_the_service_address_in_the_hosts_name() -> None:
    _, event = parse(render(invite()))

    assert str(event["ORGANIZER"]) == "mailto:meetings@telebridge.example"
    assert event["ORGANIZER"].params["CN"] == GEORGIEVSK.name


def test_an_invite_without_attendees_has_no_attendee_lines() -> None:
    _, event = parse(render(invite(), attendees=[]))
    assert as_list(event.get("ATTENDEE")) == []


def test_dtstamp_is_in_utc() -> None:
    data = render(invite(), datetime(2026, 9, 1, 15, 30, tzinfo=timezone(timedelta(hours=3))))
    _, event = parse(data)

    assert "DTSTAMP:20260901T123000Z" in unfolded(data)
    assert event.decoded("DTSTAMP") == STAMP
    assert event.decoded("DTSTAMP").utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("host", "local_start"),
    [(GEORGIEVSK, "20261001T100000"), (VLADIVOSTOK, "20261001T170000")],
)
def test_times_are_in_the_hosts_zone_and_the_same_instant(
    host: CalendarSite, local_start: str
) -> None:
    others = [site for site in (GEORGIEVSK, VLADIVOSTOK) if site != host]
    data = render(invite(sites=[host, *others]))
    calendar, event = parse(data)

    assert event["DTSTART"].params["TZID"] == host.timezone
    assert event["DTEND"].params["TZID"] == host.timezone
    assert f"DTSTART;TZID={host.timezone}:{local_start}" in unfolded(data)
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + timedelta(hours=2)
    assert event.decoded("DTSTART").utcoffset() == ZoneInfo(host.timezone).utcoffset(START)
    assert calendar.get_missing_tzids() == set()
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} >= {host.timezone}


def test_an_input_in_any_offset_gives_the_same_instants() -> None:
    local = timezone(timedelta(hours=5, minutes=30))
    _, event = parse(render(invite(starts_at=START.astimezone(local))))
    assert event.decoded("DTSTART") == START


def test_a_meeting_without_known_sites_is_written_in_utc() -> None:
    calendar, event = parse(render(invite(sites=[])))

    assert event.decoded("DTSTART") == START
    assert calendar.get_missing_tzids() == set()
    assert "ORGANIZER" in event


def test_the_description_gives_each_sites_local_time() -> None:
    _, event = parse(render(invite()))
    description = str(event["DESCRIPTION"])

    assert description.startswith("Телемост «Георгиевск — Антрацит»\n")
    assert "01.10.2026 10:00–12:00 (Москва, UTC+3)" in description
    assert "01.10.2026 17:00–19:00 (Владивосток, UTC+10)" in description
    assert "Ставропольский край" in description


@pytest.mark.parametrize(
    ("kind", "title", "first_line"),
    [
        ("telebridge", "Телемост «Георгиевск — Антрацит»", "Телемост «Георгиевск — Антрацит»"),
        ("videoconference", "Видеоконференция «Выборы»", "Видеоконференция «Выборы»"),
        ("videoconference", "видеоконференция библиотек", "видеоконференция библиотек"),
        ("telebridge", "Читаем вместе", "Телемост: Читаем вместе"),
        ("workshop", "Интернет-мастерская «Сеть»", "Онлайн-мастерская: Интернет-мастерская «Сеть»"),
    ],
)
def test_the_description_names_the_kind_once(
    kind: MeetingKind, title: str, first_line: str
) -> None:
    """The title, after the kind's name unless the title begins with it."""
    _, event = parse(render(invite(kind=kind, title=title)))
    line = str(event["DESCRIPTION"]).split("\n")[0]
    assert line == first_line
    assert line.casefold().count(MEETING_KINDS["ru"][kind].casefold()) == 1


def test_a_published_agenda_is_the_events_address_and_linked_from_its_description() -> None:
    page = f"https://agenda.example/meetings/{MEETING}/agenda.html"
    _, event = parse(render(invite(agenda_url=page)))
    assert str(event["URL"]) == page
    assert f"Программа на сайте: {page}" in str(event["DESCRIPTION"])


# --- the bytes ------------------------------------------------------------------------


def test_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    long_title = "Онлайн-мастерская «Библиотека — территория чтения», " * 6
    data = render(invite(title=long_title.strip()))

    for line in physical_lines(data):
        assert len(line) <= 75, line
        line.decode("utf-8")  # a fold inside a character leaves half of it on each line
    assert f"SUMMARY:{escaped(long_title.strip())}" in unfolded(data)


TITLE_ALPHABET = st.one_of(
    st.sampled_from(list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЯ «»—–")),
    st.sampled_from(
        ["😀", "📚", "𝄞", "🇷", "🇺", ",", ";", ":", "\\", "\n", "\t", '"', "'", " ", "^"]
    ),
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
)


@hypothesis_settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(TITLE_ALPHABET, min_size=1, max_size=200))
def test_any_title_folds_into_valid_utf8_and_round_trips(title: str) -> None:
    data = render(invite(title=title, sites=[GEORGIEVSK]))

    for line in physical_lines(data):
        assert len(line) <= 75, line
        line.decode("utf-8")
    assert f"SUMMARY:{escaped(title)}" in unfolded(data)
    _, event = parse(data)
    assert str(event["SUMMARY"]) == title


@pytest.mark.parametrize("title", ["Строка 1\r\nСтрока 2", "Строка 1\rСтрока 2"])
def test_a_windows_line_break_in_a_title_becomes_one_line_break(title: str) -> None:
    data = render(invite(title=title))

    physical_lines(data)  # no bare CR reaches the file
    assert str(parse(data)[1]["SUMMARY"]) == "Строка 1\nСтрока 2"


NAME_ALPHABET = st.one_of(
    st.sampled_from(list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЯ .-")),
    st.sampled_from([",", ";", ":", '"', "'", "^", "😀"]),
)


@hypothesis_settings(max_examples=40, deadline=None)
@given(name=st.text(NAME_ALPHABET, min_size=1, max_size=80).filter(str.strip))
def test_any_attendee_name_survives_as_its_cn(name: str) -> None:
    attendees = [Attendee(name, "a@example.org")]
    data = render(invite(sites=[]), attendees=attendees)  # no zones: faster

    for line in physical_lines(data):
        assert len(line) <= 75, line
        line.decode("utf-8")
    _, event = parse(data)
    (attendee,) = as_list(event.get("ATTENDEE"))
    assert attendee.params["CN"] == name


# --- offsets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "written"),
    [
        ("Europe/Moscow", "UTC+3"),
        ("Asia/Vladivostok", "UTC+10"),
        ("Asia/Kolkata", "UTC+5:30"),
        ("America/Sao_Paulo", "UTC-3"),
        ("America/St_Johns", "UTC-2:30"),  # daylight time in October
        ("UTC", "UTC+0"),
    ],
)
def test_utc_offset_is_written_as_people_write_it(zone: str, written: str) -> None:
    assert utc_offset(START.astimezone(ZoneInfo(zone))) == written


def test_utc_offset_of_a_naive_time_is_zero() -> None:
    assert utc_offset(datetime(2026, 10, 1, 10, 0)) == "UTC+0"  # noqa: DTZ001


def test_an_invite_nobody_is_invited_to_yet_is_published() -> None:
    """RFC 5546 asks REQUEST and CANCEL for at least one ATTENDEE; PUBLISH needs none."""
    calendar, event = parse(render(invite(), attendees=[]))
    assert calendar["METHOD"] == "PUBLISH"
    assert "ATTENDEE" not in event


def test_a_meeting_over_several_days_gives_each_site_its_end_date() -> None:
    workshop = invite(
        starts_at=datetime(2030, 10, 1, 6, 0, tzinfo=UTC),
        ends_at=datetime(2030, 10, 9, 14, 0, tzinfo=UTC),
    )
    _, event = parse(render(workshop))
    description = str(event["DESCRIPTION"])
    assert "01.10.2030 09:00–09.10.2030 17:00 (Москва" in description
    assert "01.10.2030 16:00–10.10.2030 00:00 (Владивосток" in description


# --- a second, independent reader -----------------------------------------------------


@pytest.mark.parametrize(
    "title",
    ["Телемост «Георгиевск — Антрацит»", 'Title with, commas; semicolons \\ and "quotes" 🎉'],
)
def test_the_strict_ical_package_reads_the_same_invite(title: str) -> None:
    """`ical` parses strictly and shares no code with `icalendar`, which wrote the file."""
    written = invite(title=title, sequence=3)
    calendar = IcsCalendarStream.calendar_from_ics(render(written).decode())
    (event,) = calendar.events
    assert event.summary == title
    assert event.uid == f"{MEETING}@telebridge"
    assert event.sequence == 3
    assert event.dtstart.astimezone(UTC) == START
    assert event.dtend.astimezone(UTC) == START + timedelta(hours=2)
    assert [(a.common_name, a.uri) for a in event.attendees] == [
        (attendee.name, f"mailto:{attendee.email}") for attendee in ATTENDEES
    ]
    assert [zone.tz_id for zone in calendar.timezones] == ["Europe/Moscow"]


def test_an_answer_becomes_the_attendees_partstat_and_a_role_its_role() -> None:
    answered = [
        Attendee("Ольга Арутинова", "olga@example.org", "accepted", "moderator"),
        Attendee("Анна Ким", "kim@example.org", "declined", "speaker"),
        Attendee("Гость", "guest@example.org", "tentative", "guest"),
    ]
    _, event = parse(render(invite(), attendees=answered))
    found = {
        str(attendee).removeprefix("mailto:"): (
            attendee.params["PARTSTAT"],
            attendee.params["ROLE"],
            attendee.params["RSVP"],
        )
        for attendee in as_list(event["ATTENDEE"])
    }
    assert found == {
        "olga@example.org": ("ACCEPTED", "CHAIR", "FALSE"),
        "kim@example.org": ("DECLINED", "REQ-PARTICIPANT", "FALSE"),
        "guest@example.org": ("TENTATIVE", "OPT-PARTICIPANT", "FALSE"),
    }
