"""Every kind of file scheduling emits, read by four readers that share no code with the
writer or with each other: each computes the same occurrences at the same instants."""

from __future__ import annotations

from pathlib import Path

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from tests.readers.lines import line_problems
from tests.readers.radicale import stored, stored_and_expanded
from tests.readers.readers import (
    by_ical,
    by_icaljs,
    by_recurring_ical_events,
    icalendar_problems,
    icaljs_occurrences,
)
from tests.readers.samples import SAMPLES, Sample

pytestmark = pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])


def test_python_icalendar_reads_it_whole(sample: Sample) -> None:
    assert icalendar_problems(sample.data) == []
    assert icalendar.Calendar.from_ical(sample.data).to_ical() == sample.data


def test_lines_keep_to_75_octets_crlf_and_whole_characters(sample: Sample) -> None:
    assert line_problems(sample.data) == []


def test_recurring_ical_events_expands_the_intended_dates(sample: Sample) -> None:
    assert by_recurring_ical_events(sample.data) == sample.expected


def test_the_strict_ical_package_computes_the_same_instants(sample: Sample) -> None:
    assert by_ical(sample.data) == sample.expected


def test_icaljs_computes_the_same_instants_in_the_zones_written(
    sample: Sample, icaljs: None, tmp_path: Path
) -> None:
    path = tmp_path / f"{sample.name}.ics"
    path.write_bytes(sample.data)
    [found] = by_icaljs([path]).values()
    assert icaljs_occurrences(found) == sample.expected
    zones = {str(tz["TZID"]) for tz in icalendar.Calendar.from_ical(sample.data).walk("VTIMEZONE")}
    assert set(found["timezones"]) == zones
    for occurrence in found["occurrences"]:
        assert {occurrence["start_zone"], occurrence["end_zone"]} <= zones, occurrence


def test_radicale_accepts_it_and_expands_the_same_instants(sample: Sample, radicale: str) -> None:
    if sample.whole:
        assert stored_and_expanded(radicale, sample.data) == sample.expected
    else:
        assert stored(radicale, sample.data) == sample.expected


def test_the_method_is_one_an_itip_reader_knows(sample: Sample) -> None:
    calendar = IcsCalendarStream.calendar_from_ics(sample.data.decode("utf-8"))
    assert calendar.method in {"REQUEST", "CANCEL", "PUBLISH"}
