"""VTIMEZONEs as written: a sub-component per change or per yearly rule, onsets in the
wall-clock time before the change, never an RDATE of several values. Whether readers
compute zoneinfo's instants from them is tests/readers/test_timezones.py's question."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Component, Timezone

from services.scheduling.vtimezone import offset_changes, vtimezone


def observances(tzid: str, first_year: int, last_year: int) -> list[Component]:
    component = Timezone.from_ical(vtimezone(tzid, first_year, last_year))
    assert str(component["TZID"]) == tzid
    return list(component.subcomponents)


def line(observance: Component, name: str) -> str:
    return observance.content_line(name, observance[name]).split(":", 1)[1]


@pytest.mark.parametrize(
    "tzid", ["Europe/Moscow", "Europe/Berlin", "Asia/Almaty", "Europe/Volgograd"]
)
def test_an_rdate_has_one_value_the_onset_itself(tzid: str) -> None:
    for observance in observances(tzid, 1990, 2040):
        assert "RDATE" in observance or "RRULE" in observance
        if "RDATE" in observance:
            assert line(observance, "RDATE") == line(observance, "DTSTART")


def test_a_rule_the_zone_still_follows_goes_on_without_an_end() -> None:
    opening, spring, autumn = observances("Europe/Berlin", 2027, 2029)

    assert (opening.name, line(opening, "DTSTART")) == ("STANDARD", "20270101T000000")
    assert (spring.name, autumn.name) == ("DAYLIGHT", "STANDARD")
    # 02:00 in winter time becomes 03:00; 03:00 in summer time becomes 02:00.
    assert line(spring, "DTSTART") == "20270328T020000"
    assert line(autumn, "DTSTART") == "20271031T030000"
    assert line(spring, "RRULE") == "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"
    assert line(autumn, "RRULE") == "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"
    assert (line(spring, "TZOFFSETFROM"), line(spring, "TZOFFSETTO")) == ("+0100", "+0200")


def test_a_rule_the_zone_gives_up_later_ends_with_the_years_asked_for() -> None:
    """Moscow kept summer time until 2010: written for 2005–2009, its rules stop in 2009."""
    rules = [o for o in observances("Europe/Moscow", 2005, 2009) if "RRULE" in o]

    assert [line(o, "RRULE") for o in rules] == [
        "FREQ=YEARLY;COUNT=5;BYDAY=-1SU;BYMONTH=3",
        "FREQ=YEARLY;COUNT=5;BYDAY=-1SU;BYMONTH=10",
    ]


def test_each_irregular_change_is_a_sub_component_of_its_own() -> None:
    found = [
        (o.name, line(o, "DTSTART"), line(o, "TZOFFSETFROM"), line(o, "TZOFFSETTO"))
        for o in observances("Europe/Moscow", 2010, 2016)
    ]
    assert found[-2:] == [
        ("STANDARD", "20110327T020000", "+0300", "+0400"),
        ("STANDARD", "20141026T020000", "+0400", "+0300"),
    ]


def test_a_zone_that_does_not_change_in_those_years_is_one_standard() -> None:
    [standard] = observances("Asia/Almaty", 2025, 2029)

    assert standard.name == "STANDARD"
    assert line(standard, "DTSTART") == "20250101T000000"
    assert (line(standard, "TZOFFSETFROM"), line(standard, "TZOFFSETTO")) == ("+0500", "+0500")


@pytest.mark.parametrize("tzid", ["Europe/Moscow", "Europe/Volgograd", "Asia/Almaty"])
def test_offset_changes_are_every_change_an_hourly_look_finds(tzid: str) -> None:
    zone = ZoneInfo(tzid)
    start, end = datetime(2009, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=n) for n in range(int((end - start) / timedelta(hours=1)))]
    offsets = [hour.astimezone(zone).utcoffset() for hour in hours]
    hourly = [
        (hours[n], offsets[n - 1], offsets[n])
        for n in range(1, len(hours))
        if offsets[n - 1] != offsets[n]
    ]

    found = offset_changes(zone, start, end)

    assert [(c.at, c.offset_from, c.offset_to) for c in found] == hourly
