"""The regions directory lists every federal subject once, with its zone, names and calendar."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from shared.regions import Region, all_regions, find_region, region
from shared.timezones import known_zones

NOVEMBER_2026 = dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC)


def _named(name: str) -> Region:
    found = find_region(name)
    assert found is not None, name
    return found


def test_the_directory_has_all_89_federal_subjects() -> None:
    assert len(all_regions()) == 89


def test_the_directory_has_each_kind_of_subject_in_its_number() -> None:
    kinds = Counter(r.type for r in all_regions())

    assert kinds == {
        "республика": 24,
        "край": 9,
        "область": 48,
        "город федерального значения": 3,
        "автономная область": 1,
        "автономный округ": 4,
    }


@pytest.mark.parametrize("field", ["code", "number", "name", "name_genitive", "name_en"])
def test_codes_numbers_and_names_are_unique(field: str) -> None:
    values = [getattr(r, field) for r in all_regions()]

    assert len(set(values)) == len(values)


def test_regions_are_ordered_by_a_two_digit_number() -> None:
    numbers = [r.number for r in all_regions()]

    assert numbers == sorted(numbers)
    assert all(len(n) == 2 and n.isdigit() for n in numbers)


def test_every_timezone_is_a_tzdata_zone() -> None:
    unknown = {r.code: r.timezone for r in all_regions() if r.timezone not in known_zones()}

    assert unknown == {}


@pytest.mark.parametrize(
    ("name", "hours"),
    [
        ("Астраханская область", 4),
        ("Саратовская область", 4),
        ("Ульяновская область", 4),
        ("Красноярский край", 7),
        ("Республика Тыва", 7),
        ("Приморский край", 10),
        ("Калининградская область", 2),
        ("Чукотский автономный округ", 12),
        ("Москва", 3),
    ],
)
def test_the_zone_has_the_regions_utc_offset_in_november_2026(name: str, hours: int) -> None:
    offset = NOVEMBER_2026.astimezone(ZoneInfo(_named(name).timezone)).utcoffset()

    assert offset == dt.timedelta(hours=hours)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Липецкая область", "RU-LIP"),
        ("Республика Крым", "RU-CR"),
        ("Республика Тыва", "RU-TY"),
        ("Луганская Народная Республика", "RU-LPR"),
        ("Донецкая Народная Республика", "RU-DPR"),
        ("Ставропольский край", "RU-STA"),
        ("Приморский край", "RU-PRI"),
    ],
)
def test_the_seed_regions_are_found_by_name(name: str, code: str) -> None:
    assert _named(name).code == code


@pytest.mark.parametrize(
    "text",
    [
        "Липецкая область",
        "липецкая область",
        "  ЛИПЕЦКАЯ   область ",
        "Липёцкая область",
        "RU-LIP",
        "ru-lip",
        "48",
        "Lipetsk Oblast",
        "lipetsk oblast",
    ],
)
def test_lipetsk_is_found_by_code_number_or_name_in_any_case(text: str) -> None:
    assert _named(text).code == "RU-LIP"


def test_a_single_digit_number_finds_the_region() -> None:
    assert _named("1").name == "Республика Адыгея"


def test_the_main_part_of_a_long_name_finds_the_region() -> None:
    assert _named("Кемеровская область").code == "RU-KEM"
    assert _named("Ханты-Мансийский автономный округ").code == "RU-KHM"
    assert _named("Республика Саха").code == "RU-SA"


def test_every_region_is_found_by_each_of_its_own_codes_and_names() -> None:
    for r in all_regions():
        for text in (r.code, r.number, r.name, r.name_en):
            assert find_region(text) is r, text


def test_moscow_the_city_is_not_moscow_oblast() -> None:
    assert _named("Москва").code == "RU-MOW"
    assert _named("Moscow").code == "RU-MOW"
    assert _named("Московская область").code == "RU-MOS"


def test_an_unknown_name_finds_nothing() -> None:
    assert find_region("Нарния") is None
    assert find_region("Липецк") is None
    assert find_region("") is None
    assert find_region("99") is None


def test_region_looks_up_a_code_in_any_case() -> None:
    lipetsk = region("ru-lip")

    assert lipetsk is not None
    assert lipetsk is region("RU-LIP")
    assert lipetsk.name == "Липецкая область"
    assert region("RU-XXX") is None
    assert region("Липецкая область") is None


@pytest.mark.parametrize(
    ("name", "genitive"),
    [
        ("Липецкая область", "Липецкой области"),
        ("Луганская Народная Республика", "Луганской Народной Республики"),
        ("Республика Тыва", "Республики Тыва"),
        ("Приморский край", "Приморского края"),
        ("Москва", "Москвы"),
        ("Кабардино-Балкарская Республика", "Кабардино-Балкарской Республики"),
    ],
)
def test_the_genitive_name(name: str, genitive: str) -> None:
    assert _named(name).name_genitive == genitive


def test_every_regions_holiday_calendar_has_orthodox_christmas_2026() -> None:
    holidays = pytest.importorskip("holidays")

    for r in all_regions():
        calendar = holidays.country_holidays(
            r.holidays.country, subdiv=r.holidays.subdivision, years=2026
        )
        assert dt.date(2026, 1, 7) in calendar, r.code
