"""The project's Russian calendar data: current, cited, consistent with the `holidays`
package, and what organizations in Russia and abroad get from it."""

from __future__ import annotations

import datetime as dt

import holidays
import pytest

from shared.calendars import (
    countries,
    default_zone,
    moved_working_days,
    public_holidays,
    russian_calendar,
)
from shared.regions import region

TODAY = dt.datetime.now(dt.UTC).date()
NEXT_YEAR_DUE = (11, 1)
"""(month, day): the Government's decree for the next year is out by then (24.09.2025 for
2026, 04.10.2024 for 2025), and from that day the file must hold that year too."""
ESTIMATE_DUE = dt.timedelta(days=14)
"""A republic's act for a holiday of the lunar or Islamic calendar comes out weeks before
it: an estimate this close to its day (or past it) is out of date."""


def covered_years(today: dt.date) -> tuple[int, ...]:
    return (
        (today.year, today.year + 1)
        if today >= dt.date(today.year, *NEXT_YEAR_DUE)
        else (today.year,)
    )


def test_the_next_year_is_due_from_november() -> None:
    assert covered_years(dt.date(2027, 1, 1)) == (2027,)
    assert covered_years(dt.date(2027, 10, 31)) == (2027,)
    assert covered_years(dt.date(2027, 11, 1)) == (2027, 2028)


@pytest.mark.parametrize("year", covered_years(TODAY))
def test_the_file_covers_the_current_year_and_from_november_the_next(year: int) -> None:
    calendar = russian_calendar()
    [federal] = [entry for entry in calendar.federal if entry.year == year]
    assert federal.decree.strip()
    for code, regional in calendar.regions.items():
        years = [entry for entry in regional.years if entry.year == year]
        assert len(years) == 1, f"{code} has no entry for {year}"
        for holiday in years[0].holidays:
            assert holiday.date.year == year
            assert holiday.source.strip(), f"{code} {holiday.date} cites nothing"


def test_no_estimate_stands_for_a_day_that_is_near_or_past() -> None:
    for code, regional in russian_calendar().regions.items():
        for entry in regional.years:
            for holiday in entry.holidays:
                assert not (holiday.provisional and holiday.date - TODAY < ESTIMATE_DUE), (
                    f"{code} {holiday.date}: the act for it is out by now, replace the estimate"
                )


def test_every_entry_cites_its_act_and_names_a_real_region() -> None:
    calendar = russian_calendar()
    for code, regional in calendar.regions.items():
        assert region(code) is not None, code
        assert regional.law.strip()
        for fixed in regional.fixed:
            dt.date.fromisoformat(f"2028-{fixed.date}")  # a leap year takes any MM-DD
            assert fixed.name.strip()


def test_moved_working_days_are_the_weekend_half_of_the_packages_substitutions() -> None:
    """The package has the days off a decree moves (`substituted from` a weekend day); the
    file lists that weekend day as a working day unless it is a holiday itself."""
    for entry in russian_calendar().federal:
        package = holidays.RU(years=entry.year)
        swapped = {
            moved: day
            for day, name in package.items()
            for moved in [_substituted_from(name, entry.year)]
            if moved is not None
        }
        expected = {
            moved: day
            for moved, day in swapped.items()
            if moved not in package and moved.weekday() >= 5
        }
        assert moved_working_days("RU", entry.year) == expected, entry.year
        for instead_of in expected.values():
            assert instead_of in package
            assert instead_of.weekday() < 5


def _substituted_from(name: str, year: int) -> dt.date | None:
    marker = "substituted from "
    if marker not in name:
        return None
    month, day, year_ = name.split(marker)[1].rstrip(")").split("/")
    return dt.date(int(year_), int(month), int(day))


@pytest.mark.parametrize("year", sorted({entry.year for entry in russian_calendar().federal}))
def test_every_region_in_the_file_gets_its_holidays_and_the_federal_ones(year: int) -> None:
    federal = public_holidays("RU", None, None, year)
    for code, regional in russian_calendar().regions.items():
        own = public_holidays("RU", None, code, year)
        assert set(federal) <= set(own)
        [entry] = [e for e in regional.years if e.year == year]
        for holiday in entry.holidays:
            assert holiday.date in own
        for fixed in regional.fixed:
            assert dt.date.fromisoformat(f"{year}-{fixed.date}") in own
        # A holiday the law moves off a weekend lands on a working day.
        for day, name in own.items():
            if "перенесён" in name:
                assert day.weekday() < 5
                assert day not in federal
    # Regions the file does not list keep the federal calendar.
    assert public_holidays("RU", None, "RU-LIP", year) == federal


def test_the_republics_named_in_the_issue_have_their_days() -> None:
    assert dt.date(2026, 2, 18) in public_holidays("RU", None, "RU-BU", 2026)  # Сагаалган
    assert dt.date(2026, 2, 18) in public_holidays("RU", None, "RU-TY", 2026)  # Шагаа
    assert dt.date(2026, 3, 20) in public_holidays("RU", None, "RU-TA", 2026)  # Ураза-байрам
    assert dt.date(2026, 5, 27) in public_holidays("RU", None, "RU-BA", 2026)  # Курбан-байрам
    ysyakh = public_holidays("RU", None, "RU-SA", 2026)
    assert dt.date(2026, 6, 21) in ysyakh
    assert dt.date(2026, 6, 22) in ysyakh  # the Sunday's day off, moved to Monday
    assert dt.date(2026, 3, 20) not in public_holidays("RU", None, "RU-MOW", 2026)
    assert moved_working_days("RU", 2027) == {dt.date(2027, 2, 20): dt.date(2027, 2, 22)}


def test_abroad_the_countrys_own_holidays_apply() -> None:
    berlin = public_holidays("DE", "BE", None, 2027)
    assert dt.date(2027, 3, 8) in berlin  # Frauentag, a holiday in Berlin only
    assert dt.date(2027, 3, 8) not in public_holidays("DE", None, None, 2027)
    assert dt.date(2027, 2, 23) not in berlin
    assert dt.date(2027, 7, 3) in public_holidays("BY", None, None, 2027)  # Independence Day
    assert dt.date(2027, 12, 16) in public_holidays("KZ", None, None, 2027)
    assert moved_working_days("DE", 2027) == {}
    assert countries()["DE"] == "Германия"
    assert [default_zone(c) for c in ("DE", "BY", "KZ")] == [
        "Europe/Berlin",
        "Europe/Minsk",
        "Asia/Almaty",
    ]
