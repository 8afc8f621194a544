"""Cross-region slot search: when can every site meet, and how comfortable is it for each.

Pure: the sites' constraints come in as `SiteConstraints`, found slots and explanations go
out. Two readings of the same rules live here on purpose. `violations` judges one proposed
time, as scheduling does; `search` builds each site's free time as intervals and intersects
them, which is fast over weeks of 5-minute grid. The property tests hold one against the
other.

A site's working time on a local date is its working ranges of that weekday, placed on that
date's wall clock in the site's zone (so a DST change moves them in UTC), unless the date is
a public holiday (of its country and subdivision, and in Russia of its republic:
`shared.calendars`) or a blackout day; a weekend day the production calendar makes a working
day is worked with the hours of the day off it was swapped with. A slot must lie inside one
working range of every site and keep `buffer` away from the sites' other meetings.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from shared.calendars import moved_working_days, public_holidays
from shared.events import TimeRange, WorkingHours

Interval = tuple[datetime, datetime]
ConstraintKind = Literal["working-hours", "public-holiday", "blackout-day", "busy"]
Comfort = Literal["comfortable", "early", "late", "early and late"]

ASSUMED_WORKING_HOURS = WorkingHours(
    **{day: [TimeRange(time(9), time(18))] for day in ("mon", "tue", "wed", "thu", "fri")}
)
"""What an organization that has not told its working hours is taken to work."""

COMFORT_START = time(10)
COMFORT_END = time(17)
"""Local times between which a meeting is comfortable for a site: not 08:00 in Vladivostok,
not 18:00 in Kaliningrad."""

MAX_WINDOW = timedelta(days=93)
PER_DAY = 2
"""How many candidates of one day come before other days' in the ranking."""
MIN_SITES = 2
WINDOW_EXTENSIONS = (timedelta(days=7), timedelta(days=14), timedelta(days=28))


@dataclass(frozen=True)
class SiteConstraints:
    """What limits one organization's times, in its own zone."""

    organization_id: UUID
    name: str
    timezone: str
    working_hours: WorkingHours | None = None
    """None: not told, `ASSUMED_WORKING_HOURS` apply."""
    blackout_dates: frozenset[date] = frozenset()
    holidays_country: str | None = None
    """ISO 3166-1 country whose public holidays (and moved working days) apply."""
    holidays_subdivision: str | None = None
    """The subdivision, where the `holidays` package keeps its own holidays."""
    region_code: str | None = None
    """For Russia: the region, whose republic holidays the project's data file lists."""
    busy: tuple[Interval, ...] = ()
    """Other meetings of the organization, in UTC."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def hours(self) -> WorkingHours:
        return self.working_hours or ASSUMED_WORKING_HOURS

    def day_off(self, day: date) -> ConstraintKind | None:
        if day in self.blackout_dates:
            return "blackout-day"
        if self.holidays_country and day in public_holidays(
            self.holidays_country, self.holidays_subdivision, self.region_code, day.year
        ):
            return "public-holiday"
        return None

    def working_ranges(self, day: date) -> list[Interval]:
        """The day's working ranges on its wall clock, as UTC instants (days off aside).

        A weekend day the production calendar makes a working day is worked, by an
        organization that does not work that weekday, with the hours of the day off it was
        swapped with."""
        zone = self.zone
        days = self.hours().days()
        ranges = days[day.weekday()]
        if not ranges and self.holidays_country:
            swapped = moved_working_days(self.holidays_country, day.year).get(day)
            if swapped is not None:
                ranges = days[swapped.weekday()]
        return [
            (_instant(day, start, zone), _instant(day, end, zone)) for start, end in _merged(ranges)
        ]


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """One constraint one site's time breaks."""

    organization_id: UUID
    site: str
    constraint: ConstraintKind
    message: str
    starts_at: datetime
    ends_at: datetime


def violations(
    sites: Sequence[SiteConstraints],
    starts_at: datetime,
    ends_at: datetime,
    *,
    buffer: timedelta = timedelta(0),
) -> list[Violation]:
    """Every constraint the time `starts_at`–`ends_at` breaks, site by site."""
    found = []
    for site in sites:
        for kind, message in _site_violations(site, starts_at, ends_at, buffer):
            found.append(
                Violation(
                    organization_id=site.organization_id,
                    site=site.name,
                    constraint=kind,
                    message=f"{site.name}: {message}",
                    starts_at=starts_at,
                    ends_at=ends_at,
                )
            )
    return found


def _site_violations(
    site: SiteConstraints, starts_at: datetime, ends_at: datetime, buffer: timedelta
) -> Iterator[tuple[ConstraintKind, str]]:
    zone = site.zone
    local_start = starts_at.astimezone(zone)
    local_end = ends_at.astimezone(zone)
    shown = f"{local_start:%Y-%m-%d %H:%M}–{local_end:%H:%M} {site.timezone}"
    last_day = (ends_at - timedelta(microseconds=1)).astimezone(zone).date()
    day = local_start.date()
    while day <= last_day:
        off = site.day_off(day)
        if off == "public-holiday":
            yield off, f"{day:%Y-%m-%d} is a public holiday"
        elif off == "blackout-day":
            yield off, f"{day:%Y-%m-%d} is a blackout day"
        day += timedelta(days=1)
    ranges = site.working_ranges(local_start.date())
    if not any(start <= starts_at and ends_at <= end for start, end in ranges):
        hours = ", ".join(
            f"{r_start.astimezone(zone):%H:%M}–{r_end.astimezone(zone):%H:%M}"
            for r_start, r_end in ranges
        )
        yield (
            "working-hours",
            f"{shown} is outside working hours ({hours or 'a day off'})",
        )
    for busy_start, busy_end in site.busy:
        if busy_start < ends_at + buffer and busy_end > starts_at - buffer:
            how = "overlaps" if busy_start < ends_at and busy_end > starts_at else "is too close to"
            yield (
                "busy",
                f"{shown} {how} another meeting at "
                f"{busy_start.astimezone(zone):%Y-%m-%d %H:%M}–{busy_end.astimezone(zone):%H:%M}",
            )


# --- search -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotQuery:
    sites: Sequence[SiteConstraints]
    duration: timedelta
    window: Interval
    granularity: timedelta = timedelta(minutes=30)
    buffer: timedelta = timedelta(0)
    limit: int = 10
    now: datetime | None = None
    """When the search runs: only slots that start after it are offered."""

    @property
    def widest_window(self) -> Interval:
        """The window with the longest extension a relaxation tries."""
        return (self.window[0], self.window[1] + WINDOW_EXTENSIONS[-1])

    @property
    def earliest(self) -> datetime:
        """The first instant a slot may start at: the window's start, or just after now."""
        if self.now is None or self.now < self.window[0]:
            return self.window[0]
        return self.now + timedelta(microseconds=1)


class SiteTime(msgspec.Struct, frozen=True, kw_only=True):
    """A candidate as one site sees it."""

    organization_id: UUID
    name: str
    timezone: str
    starts_at: datetime
    """Local, with the site's UTC offset."""
    ends_at: datetime
    comfort: Comfort


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    starts_at: datetime
    ends_at: datetime
    score: int
    """100 when every site is between 10:00 and 17:00; less for each minute outside."""
    sites: list[SiteTime]
    reasons: list[str]


class Blocker(msgspec.Struct, frozen=True, kw_only=True):
    """Why no time suits: one site alone, two sites together, or all of them."""

    organization_ids: list[UUID]
    sites: list[str]
    constraint: ConstraintKind | Literal["no-common-time"]
    message: str


class Relaxation(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    kind: Literal["longer-window", "shorter-duration", "fewer-sites", "smaller-buffer"]
    message: str
    first: Candidate
    window_end: datetime | None = None
    duration_minutes: int | None = None
    without_organization_id: UUID | None = None
    buffer_minutes: int | None = None


class SlotSearchResult(msgspec.Struct, frozen=True, kw_only=True):
    candidates: list[Candidate]
    blockers: list[Blocker] = msgspec.field(default_factory=list)
    relaxations: list[Relaxation] = msgspec.field(default_factory=list)


def search(query: SlotQuery) -> SlotSearchResult:
    """The best candidates; if there are none, what blocks and what would help."""
    # Over the longest window a relaxation tries: the busy times cover it anyway, and most
    # of the work is taking them out.
    times = SiteTimes(query.widest_window)
    starts = feasible_starts(query, times)
    if starts:
        return SlotSearchResult(candidates=_ranked(query, starts))
    return SlotSearchResult(
        candidates=[], blockers=blockers(query, times), relaxations=relaxations(query, times)
    )


def feasible_starts(query: SlotQuery, times: SiteTimes | None = None) -> list[datetime]:
    """Every grid start at which all sites are free for the whole duration."""
    times = times or SiteTimes(query.window)
    return list(_grid_starts(times.common(query.sites, query.window, query.buffer), query))


class SiteTimes:
    """Each site's working and free time within `span`, worked out once and clipped to the
    window each question asks about.

    When nothing fits, the search asks the same again and again: each site alone, every
    two sites, a longer window, a shorter meeting, all sites but one, no buffer. Working
    out a site's days and taking a thousand meetings out of them is most of the work, so
    it is done once per site (and buffer), not once per question.
    """

    def __init__(self, span: Interval) -> None:
        self.span = span
        # Keyed by the site objects' identities: the query holds them while this lives.
        self._working: dict[tuple[int, bool], list[Interval]] = {}
        self._free: dict[tuple[int, timedelta], list[Interval]] = {}
        self._common: dict[tuple[tuple[int, ...], timedelta], list[Interval]] = {}

    def working(
        self, site: SiteConstraints, window: Interval, *, days_off: bool = True
    ) -> list[Interval]:
        """The site's working time in `window`, its days off taken out unless `days_off`
        is false."""
        key = (id(site), days_off)
        if key not in self._working:
            self._working[key] = _working_time(site, self.span, days_off=days_off)
        return _clipped(self._working[key], window)

    def free(self, site: SiteConstraints, window: Interval, buffer: timedelta) -> list[Interval]:
        """The site's working time in `window` without its other meetings (and `buffer`
        around them); working ranges are kept apart, never merged across."""
        key = (id(site), buffer)
        if key not in self._free:
            self._free[key] = _without(
                self.working(site, self.span), _merged_intervals(_padded(site.busy, buffer))
            )
        return _clipped(self._free[key], window)

    def common(
        self, sites: Sequence[SiteConstraints], window: Interval, buffer: timedelta
    ) -> list[Interval]:
        """The time in `window` when all `sites` are free."""
        key = (tuple(id(site) for site in sites), buffer)
        if key not in self._common:
            self._common[key] = _intersection(
                [self.free(site, self.span, buffer) for site in sites]
            )
        return _clipped(self._common[key], window)

    def leave_each_out(self, sites: Sequence[SiteConstraints], buffer: timedelta) -> None:
        """Work out, for each site, the time all the others are free (what `common` then
        answers for them) from the common time of those before it and of those after it:
        two passes instead of one per site."""
        free = [self.free(site, self.span, buffer) for site in sites]
        before: list[list[Interval]] = [[(self.span[0], self.span[1])]]
        for pieces in free[:-1]:
            before.append(list(_intersect_two(before[-1], pieces)))
        after: list[list[Interval]] = [[(self.span[0], self.span[1])]]
        for pieces in reversed(free[1:]):
            after.append(list(_intersect_two(after[-1], pieces)))
        after.reverse()
        for index, site in enumerate(sites):
            others = tuple(id(other) for other in sites if other is not site)
            self._common.setdefault(
                (others, buffer), list(_intersect_two(before[index], after[index]))
            )


def _working_time(
    site: SiteConstraints, window: Interval, *, days_off: bool = True
) -> list[Interval]:
    zone = site.zone
    first = window[0].astimezone(zone).date() - timedelta(days=1)
    last = window[1].astimezone(zone).date() + timedelta(days=1)
    found = []
    day = first
    while day <= last:
        if not (days_off and site.day_off(day)):
            for start, end in site.working_ranges(day):
                clipped = (max(start, window[0]), min(end, window[1]))
                if clipped[0] < clipped[1]:
                    found.append(clipped)
        day += timedelta(days=1)
    return sorted(found)


def _clipped(pieces: list[Interval], window: Interval) -> list[Interval]:
    """The parts of `pieces` (sorted, apart from one another) within `window`."""
    low, high = window
    first = bisect.bisect_right(pieces, (low, low))
    if first and pieces[first - 1][1] > low:
        first -= 1
    last = bisect.bisect_left(pieces, (high, high), lo=first)
    found = pieces[first:last]
    if found and (found[0][0] < low or found[-1][1] > high):
        found = [(max(start, low), min(end, high)) for start, end in found]
        found = [(start, end) for start, end in found if start < end]
    return found


def _padded(busy: Iterable[Interval], buffer: timedelta) -> list[Interval]:
    if not buffer:
        return sorted(busy)
    return sorted((start - buffer, end + buffer) for start, end in busy)


def _merged_intervals(intervals: list[Interval]) -> list[Interval]:
    """Sorted intervals with those that overlap or touch joined: ends then rise with starts."""
    merged: list[Interval] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _without(pieces: list[Interval], taken: list[Interval]) -> list[Interval]:
    """`pieces` without `taken` (merged: sorted by start and by end alike)."""
    ends = [end for _, end in taken]
    result = []
    for start, end in pieces:
        cursor = start
        index = bisect.bisect_right(ends, cursor)
        while index < len(taken) and taken[index][0] < end:
            taken_start, taken_end = taken[index]
            if taken_start > cursor:
                result.append((cursor, taken_start))
            cursor = max(cursor, taken_end)
            index += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def _intersection(per_site: list[list[Interval]]) -> list[Interval]:
    if not per_site:
        return []
    # The sparsest first: the common time only shrinks, and each step is as long as both.
    ordered = sorted(per_site, key=len)
    common = ordered[0]
    for pieces in ordered[1:]:
        if not common:
            break
        common = list(_intersect_two(common, pieces))
    return common


def _intersect_two(left: list[Interval], right: list[Interval]) -> Iterator[Interval]:
    """Both sorted, pieces of each apart from one another: so is the result. Lazy, so that
    a question whether anything fits stops at the first answer."""
    i = j = 0
    while i < len(left) and j < len(right):
        left_start, left_end = left[i]
        right_start, right_end = right[j]
        low, high = max(left_start, right_start), min(left_end, right_end)
        if low < high:
            yield (low, high)
        if left_end < right_end:
            i += 1
        else:
            j += 1


def _grid_starts(pieces: Iterable[Interval], query: SlotQuery) -> Iterator[datetime]:
    step = query.granularity
    window_start, window_end = query.earliest, query.window[1]
    duration = query.duration
    for start, end in pieces:
        if end - start < duration:
            continue
        candidate = _aligned(max(start, window_start), step)
        last_end = min(end, window_end)
        while candidate + duration <= last_end:
            yield candidate
            candidate += step


def _aligned(moment: datetime, step: timedelta) -> datetime:
    """The first instant at or after `moment` on the grid of `step` counted from 00:00 UTC."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    steps = -((epoch - moment) // step)
    return epoch + steps * step


def grid(query: SlotQuery) -> Iterator[datetime]:
    """Every start the search considers, fitting or not."""
    candidate = _aligned(query.earliest, query.granularity)
    while candidate + query.duration <= query.window[1]:
        yield candidate
        candidate += query.granularity


# --- ranking ----------------------------------------------------------------------------


def _ranked(query: SlotQuery, starts: list[datetime]) -> list[Candidate]:
    candidates = sorted(
        (_candidate(query.sites, start, start + query.duration) for start in starts),
        key=lambda c: (-c.score, c.starts_at),
    )
    chosen: list[Candidate] = []
    per_day: dict[date, int] = {}
    later: list[Candidate] = []
    for candidate in candidates:
        day = candidate.sites[0].starts_at.date() if candidate.sites else candidate.starts_at.date()
        if per_day.get(day, 0) < PER_DAY:
            per_day[day] = per_day.get(day, 0) + 1
            chosen.append(candidate)
        else:
            later.append(candidate)
        if len(chosen) == query.limit:
            return chosen
    return (chosen + later)[: query.limit]


def _candidate(
    sites: Sequence[SiteConstraints], starts_at: datetime, ends_at: datetime
) -> Candidate:
    seen: list[SiteTime] = []
    penalties: list[int] = []
    reasons: list[str] = []
    for site in sites:
        local_start, local_end = starts_at.astimezone(site.zone), ends_at.astimezone(site.zone)
        early = _minutes(COMFORT_START) - _minutes(local_start.time())
        late = _minutes(local_end.time()) - _minutes(COMFORT_END)
        if local_end.date() != local_start.date():
            late = 24 * 60
        early, late = max(0, early), max(0, late)
        comfort: Comfort = (
            "early and late"
            if early and late
            else "early"
            if early
            else "late"
            if late
            else "comfortable"
        )
        if early:
            reasons.append(f"starts at {local_start:%H:%M} in {site.name}, early")
        if late:
            reasons.append(f"ends at {local_end:%H:%M} in {site.name}, late")
        penalties.append(early + late)
        seen.append(
            SiteTime(
                organization_id=site.organization_id,
                name=site.name,
                timezone=site.timezone,
                starts_at=local_start,
                ends_at=local_end,
                comfort=comfort,
            )
        )
    worst = max(penalties, default=0)
    average = sum(penalties) / len(penalties) if penalties else 0
    score = max(0, round(100 - (worst + average) / 3))
    if not reasons:
        reasons.append(
            f"between {COMFORT_START:%H:%M} and {COMFORT_END:%H:%M} local time at every site"
        )
    return Candidate(starts_at=starts_at, ends_at=ends_at, score=score, sites=seen, reasons=reasons)


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


# --- when nothing fits ------------------------------------------------------------------


def blockers(query: SlotQuery, times: SiteTimes | None = None) -> list[Blocker]:
    """Sites that have no time alone, pairs that share none, or none common to all."""
    times = times or SiteTimes(query.window)
    window, buffer = query.window, query.buffer
    found = []
    for site in query.sites:
        if not _fits(query, times.free(site, window, buffer)):
            kind, message = _why_site_blocks(site, query, times)
            found.append(
                Blocker(
                    organization_ids=[site.organization_id],
                    sites=[site.name],
                    constraint=kind,
                    message=f"{site.name}: {message}",
                )
            )
    if found:
        return found
    hours_only = replace(query, buffer=timedelta(0))
    for index, first in enumerate(query.sites):
        for second in query.sites[index + 1 :]:
            overlap = _fits(
                hours_only,
                _intersect_two(times.working(first, window), times.working(second, window)),
            )
            free = _intersect_two(
                times.free(first, window, buffer), times.free(second, window, buffer)
            )
            if overlap and _fits(query, free):
                continue
            blocking: ConstraintKind = "busy" if overlap else "working-hours"
            reason = (
                "their other meetings leave no common free time"
                if overlap
                else "their working hours do not overlap long enough on the same days"
            )
            found.append(
                Blocker(
                    organization_ids=[first.organization_id, second.organization_id],
                    sites=[first.name, second.name],
                    constraint=blocking,
                    message=f"{first.name} and {second.name}: {reason}",
                )
            )
    if found:
        return found
    return [
        Blocker(
            organization_ids=[site.organization_id for site in query.sites],
            sites=[site.name for site in query.sites],
            constraint="no-common-time",
            message="every two sites can meet, but no time suits all of them at once",
        )
    ]


def _why_site_blocks(
    site: SiteConstraints, query: SlotQuery, times: SiteTimes
) -> tuple[ConstraintKind, str]:
    hours_only = replace(query, buffer=timedelta(0))
    if not _fits(hours_only, times.working(site, query.window, days_off=False)):
        return "working-hours", "no working hours long enough in the window"
    if not _fits(hours_only, times.working(site, query.window)):
        off = _days_off_in(site, (query.earliest, query.window[1]))
        holiday = [day for day, kind in off if kind == "public-holiday"]
        kind: ConstraintKind = "public-holiday" if holiday else "blackout-day"
        shown = [day for day, _ in off]
        listed = ", ".join(f"{day:%Y-%m-%d}" for day in shown[:5])
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        return kind, f"its working days in the window are days off ({listed}{more})"
    return "busy", "other meetings (with the buffer) take all its working time in the window"


def covered_days(site: SiteConstraints, window: Interval) -> list[date]:
    """The local dates, in the site's zone, of which the window covers some time: a window
    that ends at midnight does not cover the day that midnight begins."""
    zone = site.zone
    first = window[0].astimezone(zone).date()
    last = (window[1] - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _days_off_in(site: SiteConstraints, window: Interval) -> list[tuple[date, ConstraintKind]]:
    """The site's days off in the window that take working time from it: days it would
    work, within the window, were they not off."""
    found = []
    for day in covered_days(site, window):
        kind = site.day_off(day)
        if kind is None:
            continue
        if any(start < window[1] and window[0] < end for start, end in site.working_ranges(day)):
            found.append((day, kind))
    return found


def _fits(query: SlotQuery, common: Iterable[Interval]) -> bool:
    """Whether a slot of the query fits in `common`, the time all its sites are free."""
    return next(_grid_starts(common, query), None) is not None


def relaxations(query: SlotQuery, times: SiteTimes | None = None) -> list[Relaxation]:
    """The nearest changes to the query that find a time, each with its best candidate."""
    times = times or SiteTimes(query.widest_window)
    found = []
    for extension in WINDOW_EXTENSIONS:
        window = (query.window[0], query.window[1] + extension)
        first = _first_best(replace(query, window=window), times)
        if first:
            found.append(
                Relaxation(
                    kind="longer-window",
                    message=f"a window {extension.days} days longer, until {window[1]:%Y-%m-%d}",
                    first=first,
                    window_end=window[1],
                )
            )
            break
    duration = query.duration - query.granularity
    while duration >= max(query.granularity, timedelta(minutes=15)):
        first = _first_best(replace(query, duration=duration), times)
        if first:
            minutes = int(duration.total_seconds() // 60)
            found.append(
                Relaxation(
                    kind="shorter-duration",
                    message=f"a meeting of {minutes} minutes",
                    first=first,
                    duration_minutes=minutes,
                )
            )
            break
        duration -= query.granularity
    if len(query.sites) > MIN_SITES:
        times.leave_each_out(query.sites, query.buffer)
        for site in query.sites[1:]:
            fewer = replace(query, sites=[s for s in query.sites if s is not site])
            first = _first_best(fewer, times)
            if first:
                found.append(
                    Relaxation(
                        kind="fewer-sites",
                        message=f"without {site.name}",
                        first=first,
                        without_organization_id=site.organization_id,
                    )
                )
    if query.buffer:
        first = _first_best(replace(query, buffer=timedelta(0)), times)
        if first:
            found.append(
                Relaxation(
                    kind="smaller-buffer",
                    message="no buffer around other meetings",
                    first=first,
                    buffer_minutes=0,
                )
            )
    return found


def _first_best(query: SlotQuery, times: SiteTimes) -> Candidate | None:
    starts = feasible_starts(query, times)
    return _ranked(replace(query, limit=1), starts)[0] if starts else None


# --- wall clock -------------------------------------------------------------------------


def _merged(ranges: Sequence[TimeRange]) -> list[tuple[time, time]]:
    """Ranges of one day in order, those that touch or overlap joined."""
    merged: list[tuple[time, time]] = []
    for item in sorted(ranges, key=lambda r: r.start):
        if merged and item.start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], item.end))
        else:
            merged.append((item.start, item.end))
    return merged


def _instant(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)
