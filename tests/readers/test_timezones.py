"""Issue 13's rule for time zones: for every zone a Russian region or a partner abroad uses,
over any span of years from 1990 to 2040, ical.js, vobject, python icalendar and `ical`
compute the instants zoneinfo computes, for single meetings, for feeds whose meetings lie
years apart, and for weekly series across changes of the clocks.

Every file is written by scheduling's own code; then its zone is renamed to a name no zone
database knows (`Probe-7-Europe-Moscow`). Python icalendar and `ical` would otherwise take
an IANA name from zoneinfo and never read the VTIMEZONE, and a name used in one file only
keeps a reader from reusing a zone another file defined: each reader has only the file's
VTIMEZONE to go on, as Thunderbird has.

The instants, per zone: just before and just after every change of its clocks from 1990 to
2040, at the nearest wall-clock times the clocks show once (neither skipped nor repeated),
and two ordinary days a year. Spans of years for feeds and starts of series come from a
random generator seeded with the zone's name, so every run checks the same ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from itertools import count
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.ical import (
    CalendarMeeting,
    CalendarSession,
    FeedEntry,
    assemble_feed,
    calendar_objects,
    render_invite,
)
from services.scheduling.series import occurrences
from services.scheduling.vtimezone import offset_changes
from shared.regions import all_regions
from tests.readers.readers import (
    Occurrence,
    by_ical,
    by_icaljs,
    by_recurring_ical_events,
    by_vobject,
)

PARTNER_ZONES = frozenset({"Europe/Berlin", "Europe/Minsk", "Asia/Almaty"})
FIRST_YEAR, LAST_YEAR = 1990, 2040
START = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
END = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
SINCE, UNTIL = datetime(1980, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
"""What the readers are asked for: more than any meeting here covers."""
LENGTH = timedelta(minutes=20)
STEP = timedelta(minutes=30)
STAMP = datetime(2026, 9, 1, tzinfo=UTC)
WEEKS_APART = 7
"""The stride of the series that runs through all the years: 380 occurrences from 1990 to
2040, on the same weekday, on a different day of the year each time."""


def russian_zones() -> frozenset[str]:
    """The zone of every region in the directory, and every zone tzdata gives Russia: some
    regions, such as Yakutia, span more than one."""
    table = files("tzdata").joinpath("zoneinfo", "zone1970.tab").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in table.splitlines() if not line.startswith("#")]
    in_russia = {row[2] for row in rows if "RU" in row[0].split(",")}
    return frozenset({region.timezone for region in all_regions()} | in_russia)


ZONES = sorted(russian_zones() | PARTNER_ZONES)


def test_the_zones_are_every_russian_one_and_the_partners() -> None:
    assert {"Europe/Moscow", "Asia/Srednekolymsk", "Europe/Kaliningrad"} <= set(ZONES)
    assert set(ZONES) >= PARTNER_ZONES
    assert {region.timezone for region in all_regions()} <= set(ZONES)


# --- what zoneinfo computes -----------------------------------------------------------


def shown_once(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether the clocks of `zone` show the wall-clock time of `moment` only then."""
    wall = moment.astimezone(zone).replace(tzinfo=None, fold=0)
    return wall.replace(tzinfo=zone).utcoffset() == wall.replace(tzinfo=zone, fold=1).utcoffset()


def sample_starts(zone: ZoneInfo) -> list[datetime]:
    """Starts of meetings LENGTH long, around every change of the clocks and on ordinary
    days, whose start and end are wall-clock times the clocks show once."""
    starts = {
        datetime(year, month, 15, 12, tzinfo=zone).astimezone(UTC)
        for year in range(FIRST_YEAR, LAST_YEAR + 1)
        for month in (1, 7)
    }
    for change in offset_changes(zone, START, END):
        before = (change.at - LENGTH - step * STEP for step in range(1, 12))
        after = (change.at + step * STEP for step in range(1, 12))
        for candidates in (before, after):
            starts.add(
                next(
                    start
                    for start in candidates
                    if shown_once(start, zone) and shown_once(start + LENGTH, zone)
                )
            )
    return sorted(start for start in starts if start >= START and start + LENGTH < END)


# --- the files ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    kind: str
    label: str
    probe: str
    """The name the zone goes by in `data`."""
    data: bytes
    expected: list[Occurrence]


KINDS = ("single meetings", "feeds", "weekly series")
_numbers = count(1)


def _case(kind: str, label: str, zone: str, data: bytes, expected: list[Occurrence]) -> Case:
    probe = f"Probe-{next(_numbers)}-{zone.replace('/', '-')}"
    renamed = data.replace(f"TZID:{zone}".encode(), f"TZID:{probe}".encode())
    renamed = renamed.replace(f"TZID={zone}:".encode(), f"TZID={probe}:".encode())
    assert zone.encode() not in renamed, f"{label}: {zone} is still named somewhere"
    assert expected, f"{label}: no meeting"
    return Case(kind, f"{zone} {label}", probe, renamed, sorted(expected))


def _meeting(zone: str, sessions: list[CalendarSession], **series: Any) -> CalendarMeeting:
    return CalendarMeeting(
        meeting_id=UUID(int=next(_numbers)),
        title="Телемост",
        kind="telebridge",
        status="scheduled",
        timezone=zone,
        sequence=0,
        sessions=sessions,
        sites=[],
        organizer_email="meetings@telebridge.example",
        **series,
    )


def _sessions(starts: list[datetime]) -> list[CalendarSession]:
    return [CalendarSession(UUID(int=next(_numbers)), start, start + LENGTH) for start in starts]


def _expected(sessions: list[CalendarSession]) -> list[Occurrence]:
    return [
        Occurrence(f"{session.id}@telebridge", session.starts_at, session.ends_at, "CONFIRMED")
        for session in sessions
    ]


def single_meetings(zone: str, starts: list[datetime]) -> Iterator[Case]:
    """The invites of one year's meetings together, a file a year.

    A file per meeting would be slower and no different: the VTIMEZONE of an invite spans
    the year of its meetings and the years either side, the same for all of a year's."""
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        sessions = _sessions([start for start in starts if start.year == year])
        data = render_invite(_meeting(zone, sessions), [], STAMP)
        yield _case("single meetings", str(year), zone, data, _expected(sessions))


def feeds(zone: str, starts: list[datetime], spans: list[tuple[int, int]]) -> Iterator[Case]:
    """A feed for each span of years: every meeting of its first and its last year, and
    the ordinary days of the years between."""
    for first, last in spans:
        chosen = [
            start
            for start in starts
            if start.year in (first, last)
            or (first < start.year < last and start.day == 15 and start.month in (1, 7))
        ]
        sessions = _sessions(chosen)
        entries = [
            FeedEntry(found.to_ical(), found.starts_at, found.ends_at, sorted(found.tzids))
            for found in calendar_objects(_meeting(zone, sessions), STAMP)
        ]
        data = assemble_feed("Липецкая областная библиотека", timedelta(hours=1), entries)
        yield _case("feeds", f"{first}–{last}", zone, data, _expected(sessions))


def weekly_series(zone: str, first_starts: list[tuple[datetime, str]]) -> Iterator[Case]:
    for first, rule in first_starts:
        found = occurrences(rule, first, first + LENGTH, ZoneInfo(zone))
        assert all(shown_once(o.starts_at, ZoneInfo(zone)) for o in found), (zone, first)
        meeting = _meeting(
            zone,
            [
                CalendarSession(
                    UUID(int=index + 1), o.starts_at, o.ends_at, recurrence_id=o.starts_at
                )
                for index, o in enumerate(found)
            ],
            recurrence=rule,
            series_length=LENGTH,
        )
        uid = f"{meeting.meeting_id}@telebridge"
        yield _case(
            "weekly series",
            f"{rule} from {first:%Y-%m-%d %H:%M %Z}",
            zone,
            render_invite(meeting, [], STAMP),
            [Occurrence(uid, o.starts_at, o.ends_at, "CONFIRMED") for o in found],
        )


def cases_of(zone: str) -> Iterator[Case]:
    tz = ZoneInfo(zone)
    draw = random.Random(zone)  # noqa: S311 - seeded, so that every run checks the same years
    starts = sample_starts(tz)
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    spans = [(FIRST_YEAR, LAST_YEAR)]
    spans += [(min(pair), max(pair)) for pair in (draw.sample(years, 2) for _ in range(3))]
    yield from single_meetings(zone, starts)
    yield from feeds(zone, starts, spans)
    a_sunday = datetime(FIRST_YEAR, 1, 7, 12, tzinfo=tz)
    every_week_from = datetime(
        draw.randrange(FIRST_YEAR, LAST_YEAR - 8),
        1,
        draw.randrange(1, 8),
        draw.choice((9, 12, 15)),
        tzinfo=tz,
    )
    yield from weekly_series(
        zone,
        [
            (a_sunday, f"FREQ=WEEKLY;INTERVAL={WEEKS_APART};COUNT=380"),
            (every_week_from, "FREQ=WEEKLY;COUNT=400"),
        ],
    )


def issue_cases() -> Iterator[Case]:
    """The two the issue reports: a Moscow feed with a meeting in 2009 and one in 2027,
    and a weekly series in Berlin past March 2028."""
    moscow = ZoneInfo("Europe/Moscow")
    yield from feeds(
        "Europe/Moscow",
        [
            datetime(2009, 2, 10, 10, tzinfo=moscow).astimezone(UTC),
            datetime(2027, 6, 10, 9, tzinfo=moscow).astimezone(UTC),
        ],
        [(2009, 2027)],
    )
    berlin = ZoneInfo("Europe/Berlin")
    yield from weekly_series(
        "Europe/Berlin", [(datetime(2027, 9, 7, 10, tzinfo=berlin), "FREQ=WEEKLY;COUNT=60")]
    )


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Case]:
    folder = tmp_path_factory.mktemp("timezones")
    written = {}
    for index, case in enumerate([*issue_cases(), *(c for zone in ZONES for c in cases_of(zone))]):
        path = folder / f"{index}.ics"
        path.write_bytes(case.data)
        written[path] = case
    return written


# --- the readers ----------------------------------------------------------------------

ICALJS_BATCH = 400
"""Files per Node process: one process per file would take minutes."""


def _read_with_icaljs(cases: dict[Path, Case]) -> dict[Path, list[Occurrence] | str]:
    """ical.js's occurrences, or what it did wrong: a time not read in the file's zone
    would come from somewhere other than the VTIMEZONE."""
    paths = list(cases)
    read: dict[Path, list[Occurrence] | str] = {}
    for batch in (paths[i : i + ICALJS_BATCH] for i in range(0, len(paths), ICALJS_BATCH)):
        for path, found in by_icaljs(batch, until=UNTIL).items():
            zones = {
                z for item in found["occurrences"] for z in (item["start_zone"], item["end_zone"])
            }
            if zones - {cases[path].probe}:
                read[path] = f"read in {sorted(zones)}, not in the VTIMEZONE {cases[path].probe}"
                continue
            read[path] = sorted(
                Occurrence(
                    item["uid"],
                    datetime.fromisoformat(item["start"]),
                    datetime.fromisoformat(item["end"]),
                    item["status"] or "",
                )
                for item in found["occurrences"]
            )
    return read


def _each(reader: Callable[..., list[Occurrence]]) -> Callable[[dict[Path, Case]], Any]:
    """A Python reader of one file at a time, and what it raised, if it did."""

    def read_one(data: bytes) -> list[Occurrence] | str:
        try:
            return reader(data, SINCE, UNTIL)
        except Exception as error:
            return f"raised {error!r}"[:300]

    def read(cases: dict[Path, Case]) -> dict[Path, list[Occurrence] | str]:
        return {path: read_one(case.data) for path, case in cases.items()}

    return read


PYTHON_READERS: dict[str, Callable[[dict[Path, Case]], dict[Path, Any]]] = {
    "python icalendar": _each(by_recurring_ical_events),
    "ical": _each(by_ical),
    "vobject": _each(by_vobject),
}
READERS = [*PYTHON_READERS, "ical.js"]


@pytest.fixture(scope="module")
def readings(cases: dict[Path, Case], icaljs: None) -> Iterator[Callable[[str], dict[Path, Any]]]:
    """What each reader computes from every file, read once for all the tests of a reader;
    ical.js reads in its Node processes while the Python readers read."""
    done: dict[str, dict[Path, Any]] = {}
    with ThreadPoolExecutor(max_workers=1) as node:
        read_by_node = node.submit(_read_with_icaljs, cases)

        def of(reader: str) -> dict[Path, Any]:
            if reader == "ical.js":
                return read_by_node.result()
            if reader not in done:
                done[reader] = PYTHON_READERS[reader](cases)
            return done[reader]

        yield of


def _wrong(case: Case, found: list[Occurrence] | str) -> str | None:
    if isinstance(found, str):
        return f"{case.label}: {found}"
    if found == case.expected:
        return None
    missing = sorted(set(case.expected) - set(found))
    extra = sorted(set(found) - set(case.expected))
    return (
        f"{case.label}: expected {len(case.expected)}, read {len(found)}; "
        f"expected but not read {[f'{o.start:%Y-%m-%dT%H:%MZ}' for o in missing[:4]]}, "
        f"read instead {[f'{o.start:%Y-%m-%dT%H:%MZ}' for o in extra[:4]]}"
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", READERS)
def test_every_reader_computes_the_instants_zoneinfo_computes(
    reader: str,
    kind: str,
    cases: dict[Path, Case],
    readings: Callable[[str], dict[Path, Any]],
) -> None:
    read = readings(reader)
    chosen = {path: case for path, case in cases.items() if case.kind == kind}
    assert chosen
    wrong = [
        problem
        for path, case in chosen.items()
        if (problem := _wrong(case, read[path])) is not None
    ]
    assert not wrong, f"{len(wrong)} of {len(chosen)} files read wrong:\n" + "\n".join(wrong[:25])
