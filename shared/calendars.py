"""Which days an organization does not work, and which weekend days it does: by country.

Public holidays come from the `holidays` package for the organization's country (and its
subdivision where the package has them), plus, for Russia, the project's own data in
`shared/holidays_ru.yaml`: the republics' holidays and the production calendar's moved
working days (a Saturday that becomes a working day when a day off is moved). Pure apart
from reading that file once.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib.resources import files

import holidays
import msgspec
import yaml
from babel import Locale

RUSSIA = "RU"


class MovedWorkingDay(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    date: dt.date
    instead_of: dt.date
    """The day off it was swapped with: a five-day-week organization works it with that
    day's hours."""


class FederalYear(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    year: int
    decree: str
    working_days: list[MovedWorkingDay]


class FixedHoliday(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    date: str
    """MM-DD."""
    name: str
    observed: bool = False
    """On a weekend, the day off moves to the next working day."""


class DatedHoliday(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    date: dt.date
    name: str
    source: str
    provisional: bool = False
    observed: bool = False


class RegionalYear(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    year: int
    holidays: list[DatedHoliday]


class RegionalCalendar(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    law: str
    fixed: list[FixedHoliday]
    years: list[RegionalYear]


class RussianCalendar(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    federal: list[FederalYear]
    regions: dict[str, RegionalCalendar]


@cache
def russian_calendar() -> RussianCalendar:
    text = files("shared").joinpath("holidays_ru.yaml").read_text(encoding="utf-8")
    return msgspec.convert(yaml.safe_load(text), RussianCalendar)


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 codes of the countries tzdata knows, with their Russian names."""
    text = files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    russian = Locale("ru").territories
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, english = line.split("\t", 1)
            found[code] = str(russian.get(code, english))
    return found


@cache
def default_zone(country: str) -> str | None:
    """The zone most of a country keeps, as tzdata's zone.tab says: its only zone, or the
    first when marked "most of"; None when the country has several and none is most."""
    text = files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    zones = [
        line.split("\t")[2:]
        for line in text.splitlines()
        if line and not line.startswith("#") and line.split("\t")[0] == country
    ]
    if len(zones) == 1 or (zones and zones[0][-1].startswith("most of")):
        return zones[0][0]
    return None


def holiday_subdivisions(country: str) -> tuple[str, ...]:
    """The subdivisions the `holidays` package keeps their own holidays for (none for RU)."""
    return tuple(holidays.list_supported_countries().get(country, ()))


def has_public_holidays(country: str) -> bool:
    return country in holidays.list_supported_countries()


@cache
def public_holidays(
    country: str, subdivision: str | None, region_code: str | None, year: int
) -> dict[dt.date, str]:
    """Every non-working holiday of the year, with its name; empty for a country the
    `holidays` package does not know."""
    found: dict[dt.date, str] = {}
    if has_public_holidays(country):
        subdiv = subdivision if subdivision in holiday_subdivisions(country) else None
        found.update(holidays.country_holidays(country, subdiv=subdiv, years=year))
    if country == RUSSIA and region_code:
        found.update(_regional(region_code.upper(), year, found))
    return found


@cache
def moved_working_days(country: str, year: int) -> dict[dt.date, dt.date]:
    """Weekend days that are working days by the production calendar, each with the day
    off it was swapped with."""
    if country != RUSSIA:
        return {}
    return {
        moved.date: moved.instead_of
        for entry in russian_calendar().federal
        if entry.year == year
        for moved in entry.working_days
    }


def _regional(region_code: str, year: int, federal: dict[dt.date, str]) -> dict[dt.date, str]:
    calendar = russian_calendar().regions.get(region_code)
    if calendar is None:
        return {}
    days: list[tuple[dt.date, str, bool]] = [
        (dt.date.fromisoformat(f"{year}-{fixed.date}"), fixed.name, fixed.observed)
        for fixed in calendar.fixed
    ]
    for entry in calendar.years:
        if entry.year == year:
            days += [(holiday.date, holiday.name, holiday.observed) for holiday in entry.holidays]
    found: dict[dt.date, str] = {}
    for day, name, observed in days:
        found[day] = name
        if observed and day.weekday() >= 5:
            moved = day + dt.timedelta(days=1)
            while moved.weekday() >= 5 or moved in federal or moved in found:
                moved += dt.timedelta(days=1)
            found[moved] = f"{name} (перенесён с {day:%d.%m})"
    return found
