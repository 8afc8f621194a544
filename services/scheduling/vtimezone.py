"""VTIMEZONEs derived from zoneinfo, in a form every calendar program reads alike. Pure:
a zone and years in, iCalendar text out.

Every change of a zone's offset is a STANDARD or DAYLIGHT sub-component of its own, or, for
a run of years in which the zone changes on one rule (the last Sunday of March at 02:00),
one sub-component with a yearly RRULE. An RDATE never carries more than one value: ical.js
(Thunderbird) and vobject read only the first.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

_STEP = 24 * 60 * 60
"""How many seconds apart offsets are compared to find a change. No zone of tzdata has
changed its clocks twice within a week since 1970 (the closest are 167 hours apart), so
none goes unseen."""

_FOLLOWED_FOR = 100
"""A rule still in force at the end of the years asked for is written without an end when
zoneinfo goes on following it for this many years more: calendar programs then compute the
right times for a series that runs past those years, as zoneinfo would."""

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_LAST = -1
"""The week of a rule such as `BYDAY=-1SU`: the last one of the month."""


@dataclass(frozen=True)
class OffsetChange:
    """A moment at which a zone's clocks change, as zoneinfo computes it."""

    at: datetime
    """The instant, in UTC."""
    offset_from: timedelta
    offset_to: timedelta
    daylight: bool
    """Whether the clocks go to summer time."""
    name: str
    """The abbreviation zoneinfo gives the time after the change: CEST, MSK, +05."""

    @property
    def onset(self) -> datetime:
        """The wall-clock time of the change, read before it: what DTSTART says (RFC 5545)."""
        return (self.at + self.offset_from).replace(tzinfo=None)


def offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[OffsetChange]:
    """Every change of the zone's offset after `start` until `end`, in order."""
    return [
        change
        for year in range(start.astimezone(UTC).year, end.astimezone(UTC).year + 1)
        for change in _changes_in(zone, year)
        if start < change.at <= end
    ]


@cache
def _changes_in(zone: ZoneInfo, year: int) -> tuple[OffsetChange, ...]:
    """The changes of a year of UTC, each year looked through once."""
    changes = []
    before = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    last = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    offset_before = _offset(zone, before)
    while before < last:
        after = min(before + _STEP, last)
        if (offset_after := _offset(zone, after)) != offset_before:
            at = _first_second_with_offset(zone, before, after, offset_after)
            local = datetime.fromtimestamp(at, zone)
            changes.append(
                OffsetChange(
                    at=datetime.fromtimestamp(at, UTC),
                    offset_from=offset_before,
                    offset_to=offset_after,
                    daylight=bool(local.dst()),
                    name=local.tzname() or "",
                )
            )
        before, offset_before = after, offset_after
    return tuple(changes)


def _offset(zone: ZoneInfo, timestamp: int) -> timedelta:
    offset = datetime.fromtimestamp(timestamp, zone).utcoffset()
    assert offset is not None
    return offset


def _first_second_with_offset(zone: ZoneInfo, before: int, after: int, offset: timedelta) -> int:
    """The change between two moments a day apart at most, to the second."""
    while after - before > 1:
        middle = (before + after) // 2
        if _offset(zone, middle) == offset:
            after = middle
        else:
            before = middle
    return after


@dataclass(frozen=True)
class _Rule:
    """What the changes of one yearly rule share; their week of the month aside."""

    daylight: bool
    offset_from: timedelta
    offset_to: timedelta
    name: str
    month: int
    weekday: int
    clock: time

    @classmethod
    def of(cls, change: OffsetChange) -> _Rule:
        onset = change.onset
        return cls(
            change.daylight,
            change.offset_from,
            change.offset_to,
            change.name,
            onset.month,
            onset.weekday(),
            onset.time(),
        )

    def onset_in(self, year: int, week: int) -> datetime | None:
        """The wall-clock time of the change in `year`, if the month has that week."""
        days_in_month = calendar.monthrange(year, self.month)[1]
        if week == _LAST:
            last = date(year, self.month, days_in_month)
            day = days_in_month - (last.weekday() - self.weekday) % 7
        else:
            first = date(year, self.month, 1)
            day = 1 + (self.weekday - first.weekday()) % 7 + 7 * (week - 1)
            if day > days_in_month:
                return None
        return datetime.combine(date(year, self.month, day), self.clock)


def _weeks(onset: datetime) -> set[int]:
    """The weeks of the month a day is in, counted from the start and from the end."""
    weeks = {(onset.day - 1) // 7 + 1}
    if onset.day + 7 > calendar.monthrange(onset.year, onset.month)[1]:
        weeks.add(_LAST)
    return weeks


@dataclass
class _Run:
    """Changes in consecutive years on one rule: every one of them, none other."""

    rule: _Rule
    changes: list[OffsetChange]
    weeks: set[int]

    @property
    def week(self) -> int:
        """The week the RRULE names: the last one if that fits every change of the run."""
        return _LAST if _LAST in self.weeks else min(self.weeks)


def _runs(changes: list[OffsetChange]) -> list[_Run]:
    runs: list[_Run] = []
    latest: dict[_Rule, _Run] = {}
    for change in changes:
        rule = _Rule.of(change)
        run = latest.get(rule)
        weeks = _weeks(change.onset)
        if (
            run is not None
            and run.changes[-1].onset.year == change.onset.year - 1
            and run.weeks & weeks
        ):
            run.changes.append(change)
            run.weeks &= weeks
        else:
            latest[rule] = run = _Run(rule, [change], weeks)
            runs.append(run)
    return runs


def _week_kept_after(zone: ZoneInfo, run: _Run, year: int) -> int | None:
    """The week of the month in which zoneinfo goes on changing the clocks on the run's
    rule every year after `year`, if it does."""
    rule = run.rule
    for week in sorted(run.weeks):
        onsets = (rule.onset_in(later, week) for later in range(year + 1, year + 1 + _FOLLOWED_FOR))
        if all(onset is not None and _changes_at(zone, onset, rule) for onset in onsets):
            return week
    return None


def _changes_at(zone: ZoneInfo, onset: datetime, rule: _Rule) -> bool:
    """Whether zoneinfo changes the clocks as `rule` says at this wall-clock time."""
    at = (onset - rule.offset_from).replace(tzinfo=UTC)
    after = at.astimezone(zone)
    return (
        _offset(zone, int(at.timestamp()) - 1) == rule.offset_from
        and after.utcoffset() == rule.offset_to
        and bool(after.dst()) == rule.daylight
        and after.tzname() == rule.name
    )


@cache
def vtimezone(tzid: str, first_year: int, last_year: int) -> str:
    """The VTIMEZONE of a zone as zoneinfo gives it from 1 January of `first_year` to the
    end of `last_year`, as iCalendar text; yearly rules still followed then go on after."""
    zone = ZoneInfo(tzid)
    start = datetime(first_year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    component = Timezone()
    component.add("tzid", tzid)
    opening = start.astimezone(zone)
    offset = opening.utcoffset()
    assert offset is not None
    # No change, only the time in force from the start: ical.js reads any time before the
    # first onset of a VTIMEZONE as UTC.
    in_force = OffsetChange(start, offset, offset, bool(opening.dst()), opening.tzname() or "")
    component.add_component(_observance(in_force, None))
    for run in _runs(offset_changes(zone, start, end)):
        kept = None
        if run.changes[-1].onset.year == last_year:
            kept = _week_kept_after(zone, run, last_year)
        if kept is not None:
            yearly = _yearly(run.rule, kept, None)
        elif len(run.changes) > 1:
            yearly = _yearly(run.rule, run.week, len(run.changes))
        else:
            yearly = None
        component.add_component(_observance(run.changes[0], yearly))
    text: str = component.to_ical().decode("utf-8")
    return text


def _observance(
    change: OffsetChange, yearly: dict[str, object] | None
) -> TimezoneStandard | TimezoneDaylight:
    observance = TimezoneDaylight() if change.daylight else TimezoneStandard()
    observance.add("dtstart", change.onset)
    if yearly is not None:
        observance.add("rrule", yearly)
    else:
        # The onset once more, as an RDATE of one value: the `ical` package finds the
        # onsets of a sub-component in its RRULE and RDATE only, ical.js takes an RDATE's
        # first value, RFC 5545 and every other reader the union with DTSTART.
        observance.add("rdate", change.onset)
    observance.add("tzoffsetfrom", change.offset_from)
    observance.add("tzoffsetto", change.offset_to)
    if change.name:
        observance.add("tzname", change.name)
    return observance


def _yearly(rule: _Rule, week: int, count: int | None) -> dict[str, object]:
    """A yearly RRULE: without an end when `count` is None."""
    yearly: dict[str, object] = {
        "freq": "YEARLY",
        "bymonth": rule.month,
        "byday": f"{week}{_WEEKDAYS[rule.weekday]}",
    }
    if count is not None:
        # COUNT, not UNTIL: RFC 5545 wants UNTIL in UTC here, which the `ical` package
        # refuses beside a local DTSTART, and dateutil (behind python icalendar and vobject)
        # takes for wall-clock time, losing the last change east of Greenwich.
        yearly["count"] = count
    return yearly
