"""Slot search: times that suit sites from Kaliningrad to Kamchatka, ranked and explained."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scheduling.slots import (
    SiteConstraints,
    SlotQuery,
    feasible_starts,
    grid,
    search,
    violations,
)
from shared.events import TimeRange, WorkingHours
from shared.regions import all_regions, region

NAMESPACE = UUID("6f1f7c1e-3c55-4a53-9a8e-4f5f3c1d2b00")


def site(name: str, zone: str, **fields: object) -> SiteConstraints:
    return SiteConstraints(
        organization_id=uuid5(NAMESPACE, name),
        name=name,
        timezone=zone,
        **{"holidays_country": "RU", **fields},  # type: ignore[arg-type]
    )


KALININGRAD = site("Калининград", "Europe/Kaliningrad")
LIPETSK = site("Липецк", "Europe/Moscow")
VLADIVOSTOK = site("Владивосток", "Asia/Vladivostok")
KAMCHATKA = site("Петропавловск-Камчатский", "Asia/Kamchatka")
BERLIN = site("Berlin", "Europe/Berlin", holidays_country="DE", holidays_subdivision="BE")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def week_of(day: datetime) -> tuple[datetime, datetime]:
    return day, day + timedelta(days=7)


def test_candidates_show_every_site_local_time_and_why() -> None:
    query = SlotQuery(
        sites=[LIPETSK, VLADIVOSTOK],
        duration=timedelta(hours=1),
        window=week_of(utc(2026, 12, 7)),
    )
    [best, *others] = search(query).candidates
    # Moscow 09:00–18:00 and Vladivostok 09:00–18:00 share 06:00–08:00 UTC: the balanced
    # hour is 09:30 in Lipetsk, 16:30 in Vladivostok.
    assert best.starts_at == utc(2026, 12, 7, 6, 30)
    lipetsk, vladivostok = best.sites
    assert (lipetsk.starts_at.time(), lipetsk.comfort) == (time(9, 30), "early")
    assert (vladivostok.ends_at.time(), vladivostok.comfort) == (time(17, 30), "late")
    assert "starts at 09:30 in Липецк, early" in best.reasons
    assert "ends at 17:30 in Владивосток, late" in best.reasons
    assert all(best.score >= other.score for other in others)


def test_the_ranking_prefers_comfortable_times_for_all() -> None:
    query = SlotQuery(
        sites=[KALININGRAD, LIPETSK],
        duration=timedelta(minutes=90),
        window=week_of(utc(2026, 12, 7)),
        limit=50,
    )
    candidates = search(query).candidates
    assert candidates[0].score == 100
    assert candidates[0].reasons == ["between 10:00 and 17:00 local time at every site"]
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)
    # Not 18:00 in Kaliningrad, however the grid falls.
    assert all(s.ends_at.time() <= time(18) for c in candidates for s in c.sites)


def test_working_hours_follow_a_dst_change_one_zone_has_and_the_other_not() -> None:
    berlin_mornings = replace(
        BERLIN,
        working_hours=WorkingHours(
            **{d: [TimeRange(time(9), time(10))] for d in ("mon", "tue", "wed", "thu", "fri")}
        ),
    )
    query = SlotQuery(
        sites=[berlin_mornings, LIPETSK],
        duration=timedelta(hours=1),
        window=(utc(2026, 10, 22), utc(2026, 10, 28)),
    )
    starts = sorted(feasible_starts(query))
    # 09:00 in Berlin is 10:00 in Moscow in summer time and 11:00 after 25 October.
    assert starts == [
        utc(2026, 10, 22, 7),
        utc(2026, 10, 23, 7),
        utc(2026, 10, 26, 8),
        utc(2026, 10, 27, 8),
    ]
    moved = search(query).candidates
    assert {c.sites[1].starts_at.time() for c in moved} == {time(10), time(11)}


def test_public_holidays_of_the_region_and_blackout_days_are_skipped() -> None:
    lipetsk = replace(LIPETSK, blackout_dates=frozenset({date(2026, 11, 5)}))
    query = SlotQuery(
        sites=[lipetsk], duration=timedelta(hours=1), window=(utc(2026, 11, 2), utc(2026, 11, 7))
    )
    days = {start.astimezone(lipetsk.zone).date() for start in feasible_starts(query)}
    # 4 November is National Unity Day; the 5th is the library's own day off.
    assert days == {date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 6)}
    [holiday] = violations([lipetsk], utc(2026, 11, 4, 8), utc(2026, 11, 4, 9))
    assert holiday.constraint == "public-holiday"
    [blackout] = violations([lipetsk], utc(2026, 11, 5, 8), utc(2026, 11, 5, 9))
    assert blackout.constraint == "blackout-day"


def test_other_meetings_keep_the_buffer_free() -> None:
    busy = (utc(2026, 12, 8, 8), utc(2026, 12, 8, 9))
    lipetsk = replace(LIPETSK, busy=(busy,))
    query = SlotQuery(
        sites=[lipetsk],
        duration=timedelta(hours=1),
        window=(utc(2026, 12, 8), utc(2026, 12, 9)),
        buffer=timedelta(minutes=30),
    )
    starts = feasible_starts(query)
    assert utc(2026, 12, 8, 6, 30) in starts
    assert utc(2026, 12, 8, 7) not in starts
    assert utc(2026, 12, 8, 9) not in starts
    assert utc(2026, 12, 8, 9, 30) in starts
    [too_close] = violations(
        [lipetsk], utc(2026, 12, 8, 9), utc(2026, 12, 8, 10), buffer=timedelta(minutes=30)
    )
    assert too_close.constraint == "busy"
    assert "Липецк" in too_close.message


def test_when_nothing_fits_it_names_the_blocking_sites_and_the_nearest_relaxations() -> None:
    query = SlotQuery(
        sites=[KALININGRAD, LIPETSK, KAMCHATKA],
        duration=timedelta(minutes=90),
        window=week_of(utc(2026, 12, 7)),
    )
    result = search(query)
    assert result.candidates == []
    blocked_pairs = {tuple(b.sites) for b in result.blockers}
    assert ("Калининград", "Петропавловск-Камчатский") in blocked_pairs
    assert all(b.constraint == "working-hours" for b in result.blockers)
    [fewer] = [r for r in result.relaxations if r.kind == "fewer-sites"]
    assert fewer.without_organization_id == KAMCHATKA.organization_id
    assert not violations([KALININGRAD, LIPETSK], fewer.first.starts_at, fewer.first.ends_at)


def test_a_shorter_meeting_is_offered_when_the_overlap_is_short() -> None:
    # Kaliningrad and Vladivostok are eight hours apart: one common working hour a day.
    query = SlotQuery(
        sites=[KALININGRAD, VLADIVOSTOK],
        duration=timedelta(minutes=90),
        window=week_of(utc(2026, 12, 7)),
    )
    result = search(query)
    [shorter] = [r for r in result.relaxations if r.kind == "shorter-duration"]
    assert shorter.duration_minutes == 60
    first = shorter.first
    assert [s.starts_at.time() for s in first.sites] == [time(9), time(17)]
    assert "longer-window" not in {r.kind for r in result.relaxations}


def test_a_longer_window_is_offered_past_the_new_year_holidays() -> None:
    query = SlotQuery(
        sites=[LIPETSK, VLADIVOSTOK],
        duration=timedelta(hours=1),
        window=(utc(2027, 1, 1), utc(2027, 1, 8)),
    )
    result = search(query)
    assert {b.constraint for b in result.blockers} == {"public-holiday"}
    [longer] = [r for r in result.relaxations if r.kind == "longer-window"]
    assert longer.first.starts_at >= utc(2027, 1, 8)
    assert not violations([LIPETSK, VLADIVOSTOK], longer.first.starts_at, longer.first.ends_at)


# --- properties -------------------------------------------------------------------------

ZONES = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Berlin",
    "Asia/Yekaterinburg",
    "Asia/Vladivostok",
    "Asia/Kamchatka",
    "America/New_York",
]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUARTERS = st.integers(min_value=0, max_value=95)


@st.composite
def time_ranges(draw: st.DrawFn) -> list[TimeRange]:
    bounds = sorted(draw(st.sets(QUARTERS, min_size=0, max_size=4)))
    pairs = zip(bounds[::2], bounds[1::2], strict=False)
    return [TimeRange(_quarter(start), _quarter(end)) for start, end in pairs]


def _quarter(index: int) -> time:
    return time(index // 4, index % 4 * 15)


CALENDARS = st.sampled_from(
    [
        {"holidays_country": None},
        {"holidays_country": "DE", "holidays_subdivision": "BE"},
        {"holidays_country": "BY"},
        {"holidays_country": "KZ"},
    ]
) | st.sampled_from([r.code for r in all_regions()]).map(
    lambda code: {"holidays_country": "RU", "region_code": code}
)
"""Every region's calendar, and the countries of partners abroad."""


@st.composite
def sites(draw: st.DrawFn, window: tuple[datetime, datetime]) -> SiteConstraints:
    span = int((window[1] - window[0]).total_seconds() // 900)
    hours = draw(
        st.none() | st.builds(WorkingHours, **{day: time_ranges() for day in DAYS})  # type: ignore[arg-type]
    )
    busy = []
    for _ in range(draw(st.integers(0, 4))):
        start = window[0] + timedelta(minutes=15 * draw(st.integers(-8, span)))
        busy.append((start, start + timedelta(minutes=15 * draw(st.integers(0, 16)))))
    first_day = window[0].date()
    blackout = draw(st.sets(st.integers(-1, 6), max_size=2))
    return SiteConstraints(
        organization_id=uuid5(NAMESPACE, str(draw(st.integers()))),
        name="site",
        timezone=draw(st.sampled_from(ZONES)),
        working_hours=hours,
        blackout_dates=frozenset(first_day + timedelta(days=n) for n in blackout),
        **draw(CALENDARS),
        busy=tuple(sorted(busy)),
    )


@st.composite
def queries(draw: st.DrawFn) -> SlotQuery:
    # Around the spring and autumn DST changes and the Russian holidays.
    start = draw(
        st.sampled_from(
            [
                utc(2026, 3, 26),
                utc(2026, 10, 22),
                utc(2026, 11, 1),
                utc(2026, 12, 29),
                # Republic holidays, and the working Saturday of 2027.
                utc(2026, 2, 16),
                utc(2026, 6, 19),
                utc(2027, 2, 18),
            ]
        )
    ) + timedelta(minutes=draw(st.integers(0, 95)) * 15 + draw(st.sampled_from([0, 7])))
    window = (start, start + timedelta(hours=draw(st.integers(2, 120))))
    # The search runs before the window, or during it: then only later slots are offered.
    now = draw(
        st.none()
        | st.integers(-60, int((window[1] - window[0]).total_seconds() // 60)).map(
            lambda minutes: window[0] + timedelta(minutes=minutes, seconds=7)
        )
    )
    return SlotQuery(
        sites=draw(st.lists(sites(window), min_size=1, max_size=4)),
        duration=timedelta(minutes=15 * draw(st.integers(1, 16))),
        window=window,
        granularity=timedelta(minutes=draw(st.sampled_from([15, 30, 60]))),
        buffer=timedelta(minutes=draw(st.sampled_from([0, 15, 30]))),
        limit=draw(st.integers(1, 10)),
        now=now,
    )


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(queries())
def test_a_returned_slot_never_breaks_a_constraint(query: SlotQuery) -> None:
    result = search(query)
    for candidate in result.candidates:
        assert candidate.ends_at - candidate.starts_at == query.duration
        assert query.window[0] <= candidate.starts_at
        assert query.now is None or candidate.starts_at > query.now
        assert candidate.ends_at <= query.window[1]
        assert not violations(
            query.sites, candidate.starts_at, candidate.ends_at, buffer=query.buffer
        )
    for relaxation in result.relaxations:
        first = relaxation.first
        assert query.now is None or first.starts_at > query.now
        sites = [s for s in query.sites if s.organization_id != relaxation.without_organization_id]
        assert not violations(sites, first.starts_at, first.ends_at)


@PROPERTY_SETTINGS
@given(queries())
def test_every_feasible_grid_time_is_found(query: SlotQuery) -> None:
    brute_force = {
        start
        for start in grid(query)
        if (query.now is None or start > query.now)
        and not violations(query.sites, start, start + query.duration, buffer=query.buffer)
    }
    assert set(feasible_starts(query)) == brute_force
    result = search(query)
    assert bool(result.candidates) == bool(brute_force)
    assert bool(result.blockers) != bool(brute_force)


# --- what a blocker names -----------------------------------------------------------------

PARTNER_ZONES = sorted(
    {r.timezone for r in all_regions()} | {"Europe/Berlin", "Europe/Minsk", "Asia/Almaty"}
)
NAMED_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def test_a_window_ending_at_midnight_does_not_name_the_next_day() -> None:
    lipetsk = replace(LIPETSK, blackout_dates=frozenset({date(2027, 3, 17)}))
    midnight = datetime(2027, 3, 18, tzinfo=lipetsk.zone)
    query = SlotQuery(
        sites=[lipetsk],
        duration=timedelta(hours=1),
        window=(midnight - timedelta(days=1), midnight),
    )
    [blocker] = search(query).blockers
    assert blocker.constraint == "blackout-day"
    assert NAMED_DAY.findall(blocker.message) == ["2027-03-17"]
    # The day after is a working day: the same site has time on it.
    next_day = replace(query, window=(midnight, midnight + timedelta(days=1)))
    assert search(next_day).candidates


@st.composite
def blocked_by_days_off(draw: st.DrawFn) -> tuple[SiteConstraints, SlotQuery]:
    zone = ZoneInfo(draw(st.sampled_from(PARTNER_ZONES)))
    first = date(2027, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    days = draw(st.integers(1, 4))
    # Local midnights or any quarter hour around them, so windows end exactly at a day's start
    # as often as inside one.
    start = datetime.combine(first, time(0), tzinfo=zone) + timedelta(
        minutes=15 * draw(st.sampled_from([0, 0, -4, 4, 37]))
    )
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone) + timedelta(
        minutes=15 * draw(st.sampled_from([0, 0, -4, 4, 37]))
    )
    blackout = {first + timedelta(days=n) for n in range(-1, days + 1) if draw(st.booleans())}
    site_ = SiteConstraints(
        organization_id=uuid5(NAMESPACE, zone.key),
        name=zone.key,
        timezone=zone.key,
        blackout_dates=frozenset(blackout),
        holidays_country=draw(st.sampled_from([None, "RU"])),
    )
    window = (start.astimezone(UTC), end.astimezone(UTC))
    return site_, SlotQuery(sites=[site_], duration=timedelta(hours=1), window=window)


@PROPERTY_SETTINGS
@given(blocked_by_days_off())
def test_a_blocker_names_exactly_the_days_off_the_window_covers(
    case: tuple[SiteConstraints, SlotQuery],
) -> None:
    site_, query = case
    result = search(query)
    off = [b for b in result.blockers if b.constraint in ("blackout-day", "public-holiday")]
    if not off:
        return
    [blocker] = off
    named = [date.fromisoformat(day) for day in NAMED_DAY.findall(blocker.message)]
    covered = {
        (query.window[0] + timedelta(minutes=minute)).astimezone(site_.zone).date()
        for minute in range(int((query.window[1] - query.window[0]).total_seconds() // 60))
    }
    expected = sorted(
        day
        for day in covered
        if site_.day_off(day)
        and any(s < query.window[1] and query.window[0] < e for s, e in site_.working_ranges(day))
    )
    assert named == expected[:5]
    for day in named:
        assert day in covered
        assert site_.day_off(day) is not None


def test_slots_start_after_now_even_in_a_window_that_began_earlier() -> None:
    now = utc(2026, 12, 8, 6, 40)
    query = SlotQuery(
        sites=[LIPETSK, VLADIVOSTOK],
        duration=timedelta(hours=1),
        window=week_of(utc(2026, 12, 7)),
        granularity=timedelta(minutes=15),
        now=now,
    )
    result = search(query)
    assert result.candidates
    assert min(c.starts_at for c in result.candidates) > now
    assert min(feasible_starts(query)) == utc(2026, 12, 8, 6, 45)


# --- calendars by region and country --------------------------------------------------------


def _days_with_slots(site_: SiteConstraints, first: date, last: date) -> set[date]:
    window = (
        datetime.combine(first, time(0), tzinfo=site_.zone).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=site_.zone).astimezone(UTC),
    )
    query = SlotQuery(sites=[site_], duration=timedelta(hours=1), window=window)
    return {start.astimezone(site_.zone).date() for start in feasible_starts(query)}


@pytest.mark.parametrize("code", [r.code for r in all_regions()])
def test_every_region_keeps_its_own_holidays_and_the_working_saturday(code: str) -> None:
    found = region(code)
    assert found is not None
    site_ = site(code, found.timezone, region_code=code)
    # 2026-02-18: Сагаалган in Buryatia, Шагаа in Tyva, a working Wednesday elsewhere.
    february = _days_with_slots(site_, date(2026, 2, 16), date(2026, 2, 20))
    lunar_new_year = code in ("RU-BU", "RU-TY")
    assert (date(2026, 2, 18) in february) != lunar_new_year
    # 2026-03-20: Ураза-байрам in Tatarstan and Bashkortostan.
    march = _days_with_slots(site_, date(2026, 3, 20), date(2026, 3, 20))
    assert bool(march) != (code in ("RU-TA", "RU-BA"))
    # 2026-06-22: Ysyakh's day off in Yakutia (the 21st is a Sunday).
    june = _days_with_slots(site_, date(2026, 6, 22), date(2026, 6, 22))
    assert bool(june) != (code == "RU-SA")
    # 2027-02-20 is a working Saturday everywhere in Russia, with Monday's hours; the 22nd
    # is the day off it was swapped with.
    swapped = _days_with_slots(site_, date(2027, 2, 19), date(2027, 2, 23))
    assert swapped == {date(2027, 2, 19), date(2027, 2, 20)}
    saturday = datetime(2027, 2, 20, 10, tzinfo=site_.zone).astimezone(UTC)
    assert not violations([site_], saturday, saturday + timedelta(hours=1))


def test_a_partner_abroad_keeps_its_countrys_calendar_not_russias() -> None:
    berlin = site("Berlin", "Europe/Berlin", holidays_country="DE", holidays_subdivision="BE")
    days = _days_with_slots(berlin, date(2027, 2, 19), date(2027, 3, 9))
    assert date(2027, 2, 20) not in days  # a Saturday in Germany
    assert date(2027, 2, 22) in days
    assert date(2027, 2, 23) in days
    assert date(2027, 3, 8) not in days  # Frauentag, in Berlin
    minsk = site("Minsk", "Europe/Minsk", holidays_country="BY")
    assert date(2027, 2, 23) in _days_with_slots(minsk, date(2027, 2, 23), date(2027, 2, 23))
