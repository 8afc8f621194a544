"""The directory of Russia's regions: the 89 federal subjects as of 2026.

The data ships with Telebridge in `shared/regions.yaml`. The codes come from ISO 3166-2:RU,
plus the project's own codes for the six subjects ISO does not list. The numbers are the tax
service's two-digit subject codes. The names are the official short ones, in Russian (nominative
and genitive) and in English. Each zone is the subject's default IANA zone from tzdata, and the
calendars are the `holidays` package's.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Literal

import msgspec
import yaml

RegionType = Literal[
    "республика",
    "край",
    "область",
    "город федерального значения",
    "автономная область",
    "автономный округ",
]

# What follows the main part of a name: "Кемеровская область — Кузбасс", "Республика Саха (Якутия)".
_NAME_SUFFIX = re.compile(r"\s+[—–]\s+|\s+\(")


class HolidayCalendar(msgspec.Struct, frozen=True):
    """Which calendar a region keeps: `holidays.country_holidays(country, subdiv=subdivision)`."""

    country: str
    subdivision: str | None = None
    """None for the country's national calendar; the package has no subdivisions for RU."""


class Region(msgspec.Struct, frozen=True):
    """One federal subject of the Russian Federation."""

    code: str
    """ISO 3166-2 code, such as "RU-LIP". ISO lists none for RU-CR, RU-SEV, RU-DPR, RU-LPR,
    RU-ZP or RU-KHE, so those six are the project's own."""
    number: str
    """Two-digit subject code of the tax service: "48" for Lipetsk Oblast, "01" for Adygea."""
    name: str
    """Official short name in Russian, nominative: "Липецкая область"."""
    name_genitive: str
    """The name in the genitive, as in "Правительство Липецкой области"."""
    name_en: str
    type: RegionType
    timezone: str
    """IANA zone for most of the region. Some regions, such as Yakutia, span more than one."""
    holidays: HolidayCalendar


@cache
def all_regions() -> tuple[Region, ...]:
    """Every region, ordered by number."""
    text = files("shared").joinpath("regions.yaml").read_text(encoding="utf-8")
    return tuple(msgspec.convert(yaml.safe_load(text), list[Region]))


def region(code: str) -> Region | None:
    """The region with this code, such as "RU-LIP" or "ru-lip", or None if there is none."""
    return _by_code().get(code.upper())


def find_region(text: str) -> Region | None:
    """The region that `text` names: a code, a number or a Russian or English name.

    Matching ignores case, extra spaces and "ё" versus "е". The part of a name before " — " or
    " (" also matches, so "Кемеровская область" finds "Кемеровская область — Кузбасс".
    """
    key = _key(text)
    if key.isdigit():
        key = key.zfill(2)
    return _index().get(key)


def _key(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split())


@cache
def _by_code() -> dict[str, Region]:
    return {r.code.upper(): r for r in all_regions()}


@cache
def _index() -> dict[str, Region]:
    index: dict[str, Region] = {}
    for r in all_regions():
        for name in (r.name, r.name_en):
            index[_key(_NAME_SUFFIX.split(name, maxsplit=1)[0])] = r
    for r in all_regions():  # after the short names, so that a full name always wins
        for name in (r.code, r.number, r.name, r.name_en):
            index[_key(name)] = r
    return index
