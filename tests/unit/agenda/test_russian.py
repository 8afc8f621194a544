"""Russian as an editor writes it: checked against forms written by hand, not by pymorphy3."""

from __future__ import annotations

from datetime import date

import pytest

from services.agenda.russian import (
    Place,
    agreed,
    city_genitive,
    counted,
    date_in_words,
    date_range,
    day_and_month,
    more_than,
    places_phrase,
    region_genitive,
)
from shared.regions import Region, all_regions, find_region
from telebridge.demo import demo_plan

FORMS = {
    "участник": ("участник", "участника", "участников"),
    "регион": ("регион", "региона", "регионов"),
    "организация": ("организация", "организации", "организаций"),
    "библиотека": ("библиотека", "библиотеки", "библиотек"),
    "площадка": ("площадка", "площадки", "площадок"),
    "специалист": ("специалист", "специалиста", "специалистов"),
    "день": ("день", "дня", "дней"),
    "человек": ("человек", "человека", "человек"),  # not «5 людей»
    "год": ("год", "года", "лет"),  # not «5 годов»
}


def by_the_rule(number: int, forms: tuple[str, str, str]) -> str:
    """The grammar book's rule: 1, 21, 101 take the first form; 2–4, 22–24 the second;
    the rest, 11–14 included, the third."""
    if number % 10 == 1 and number % 100 != 11:
        return forms[0]
    if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14:
        return forms[1]
    return forms[2]


@pytest.mark.parametrize("noun", sorted(FORMS))
def test_every_count_from_0_to_1000_agrees_with_its_noun(noun: str) -> None:
    for number in range(1001):
        assert agreed(number, noun) == by_the_rule(number, FORMS[noun]), number


def test_counts_are_written_with_their_digits() -> None:
    assert counted(1, "участник") == "1 участник"
    assert counted(3, "участника") == "3 участника"
    assert counted(105, "участник") == "105 участников"
    assert counted(1000, "участник") == "1000 участников"
    assert counted(12000, "участник") == "12\u00a0000 участников"
    assert counted(21, "регион", genitive=True) == "21 региона"
    assert counted(5, "регион", genitive=True) == "5 регионов"
    assert counted(0, "Площадка") == "0 Площадок"


@pytest.mark.parametrize(
    ("number", "written"),
    [
        (0, "0 участников"),
        (9, "9 участников"),
        (10, "10 участников"),
        (11, "11 участников"),
        (27, "27 участников"),
        (49, "49 участников"),
        (50, "50 участников"),
        (57, "более пятидесяти участников"),
        (99, "более девяноста участников"),
        (100, "100 участников"),
        (105, "более ста участников"),
        (115, "более ста участников"),
        (250, "более двухсот участников"),
        (340, "более трёхсот участников"),
        (1000, "1000 участников"),
        (1234, "более тысячи участников"),
    ],
)
def test_large_counts_are_rounded_as_the_seed_rounds_them(number: int, written: str) -> None:
    assert more_than(number, "участник") == written


def test_dates_are_written_in_words() -> None:
    assert day_and_month(date(2023, 8, 25)) == "25 августа"
    assert date_in_words(date(2020, 6, 9)) == "9 июня 2020 года"
    assert date_range(date(2020, 10, 1), date(2020, 10, 9)) == "с 1 по 9 октября 2020 года"
    assert date_range(date(2020, 9, 28), date(2020, 10, 2)) == (
        "с 28 сентября по 2 октября 2020 года"
    )
    assert date_range(date(2020, 12, 28), date(2021, 1, 3)) == (
        "с 28 декабря 2020 года по 3 января 2021 года"
    )
    assert date_range(date(2023, 8, 25), date(2023, 8, 25)) == "25 августа 2023 года"


@pytest.mark.parametrize("region", all_regions(), ids=lambda region: region.code)
def test_every_federal_subject_has_its_genitive(region: Region) -> None:
    """Against the directory's genitives, written by hand."""
    assert region_genitive(region.name) == region.name_genitive


def test_the_name_after_republic_stays_as_it_is() -> None:
    assert region_genitive("Республика Тыва") == "Республики Тыва"
    assert region_genitive("Республика Саха (Якутия)") == "Республики Саха (Якутия)"
    assert region_genitive("Чувашская Республика — Чувашия") == "Чувашской Республики — Чувашии"


@pytest.mark.parametrize(
    ("city", "genitive"),
    [
        ("Астрахань", "Астрахани"),
        ("Иваново", "Иванова"),
        ("Орёл", "Орла"),
        ("Пенза", "Пензы"),
        ("Елец", "Ельца"),
        ("Балаково", "Балакова"),
        ("Антрацит", "Антрацита"),
        ("Нижний Новгород", "Нижнего Новгорода"),
        ("Набережные Челны", "Набережных Челнов"),
        ("Ростов-на-Дону", "Ростова-на-Дону"),
        ("Санкт-Петербург", "Санкт-Петербурга"),
        ("Петропавловск-Камчатский", "Петропавловска-Камчатского"),
        ("Йошкар-Ола", "Йошкар-Олы"),
        ("Улан-Удэ", "Улан-Удэ"),
        ("Сочи", "Сочи"),
    ],
)
def test_towns_are_declined_with_their_capitals(city: str, genitive: str) -> None:
    assert city_genitive(city) == genitive


def place(city: str, region: str) -> Place:
    found = find_region(region)
    assert found is not None
    return Place(city, found)


SEED_PHRASE = (
    "Астрахани, Брянска, Владимира, Иванова, Краснодара, Красноярска, Курска, Луганска, "
    "Орла, Пензы, Тамбова, Липецкой, Саратовской, Тульской, Ульяновской областей, "
    "Приморского края, республик Крым, Тыва"
)
"""From ../shared/seeds/000-lipetsk-internet-workshop.txt: «Более сотни участников из …»."""


def test_the_workshops_places_read_as_the_seed_lists_them() -> None:
    plan = demo_plan()
    organizations = {organization.key: organization for organization in plan.organizations}
    people = {person.key: person for person in plan.people}
    [workshop] = [meeting for meeting in plan.meetings if meeting.key == "lipetsk-workshop"]
    taking_part = {organizations[people[key].organization] for key in workshop.participants}
    assert places_phrase(place(org.city, org.region) for org in taking_part) == SEED_PHRASE


def test_one_region_of_a_kind_keeps_its_singular_and_groups_keep_their_order() -> None:
    places = [
        place("Чебоксары", "Чувашская Республика"),
        place("Новочебоксарск", "Чувашская Республика"),
        place("Ижевск", "Удмуртская Республика"),
        place("Сарапул", "Удмуртская Республика"),
        place("Кемерово", "Кемеровская область — Кузбасс"),
        place("Новокузнецк", "Кемеровская область — Кузбасс"),
        place("Сургут", "Ханты-Мансийский автономный округ — Югра"),
        place("Нягань", "Ханты-Мансийский автономный округ — Югра"),
        place("Хабаровск", "Хабаровский край"),
        place("Комсомольск-на-Амуре", "Хабаровский край"),
        place("Пермь", "Пермский край"),
        place("Кудымкар", "Пермский край"),
        place("Москва", "Москва"),
        place("Якутск", "Республика Саха (Якутия)"),
        place("Мирный", "Республика Саха (Якутия)"),
    ]
    assert places_phrase(places) == (
        "Москвы, Кемеровской области, Пермского, Хабаровского краёв, "
        "Республики Саха (Якутия), Удмуртской, Чувашской республик, "
        "Ханты-Мансийского автономного округа — Югры"
    )
    assert places_phrase([]) == ""


def test_two_places_are_joined_by_and() -> None:
    donetsk = place("Донецк", "Донецкая Народная Республика")
    ulyanovsk = place("Ульяновск", "Ульяновская область")
    assert places_phrase([donetsk, ulyanovsk]) == "Донецка и Ульяновска"


def _kind_of_name(region: Region) -> str:
    """How a federal subject's name is built, which decides how a list names it."""
    if region.type == "город федерального значения":
        return "city"
    if region.name.startswith("Республика "):
        return "called"  # «Республика Саха (Якутия)»: the name follows the word
    return region.type + ("" if len(region.name.split(" — ")[0].split()) == 2 else "+")


def _companion(region: Region) -> Region:
    """Another subject whose name is built the same way (or of the same type, for the
    only autonomous oblast), to list it with."""
    others = [other for other in all_regions() if other != region]
    alike = [other for other in others if _kind_of_name(other) == _kind_of_name(region)]
    autonomous = [other for other in others if other.type.startswith("автономн")]
    return (alike or autonomous)[0]


def _two_towns(region: Region) -> list[Place]:
    return [Place(f"Город {region.number}-1", region), Place(f"Город {region.number}-2", region)]


@pytest.mark.parametrize("region", all_regions(), ids=lambda region: region.code)
def test_every_subject_listed_with_another_of_its_kind_keeps_its_whole_name(
    region: Region,
) -> None:
    """A republic named after the word keeps all of its name, brackets and dash included
    («республик Бурятия, Саха (Якутия)»); a subject named by an adjective keeps it before
    the shared noun."""
    phrase = places_phrase([*_two_towns(region), *_two_towns(_companion(region))])
    kind = _kind_of_name(region)
    if kind == "city":
        assert city_genitive(region.name) in phrase.split(" и ")
    elif kind == "called":
        assert phrase.startswith("республик ")
        assert region.name.removeprefix("Республика ") in phrase.removeprefix("республик ").split(
            ", "
        )
    else:
        adjective = region.name_genitive.split()[0]
        assert adjective in phrase.replace(",", "").split(), phrase


def test_republics_named_after_the_word_are_listed_whole() -> None:
    places = [
        *_two_towns(_region("Республика Саха (Якутия)")),
        *_two_towns(_region("Республика Бурятия")),
        *_two_towns(_region("Республика Северная Осетия — Алания")),
    ]
    assert places_phrase(places) == "республик Бурятия, Саха (Якутия), Северная Осетия — Алания"


def test_a_word_between_adjective_and_noun_is_shared_in_the_plural() -> None:
    places = [
        *_two_towns(_region("Донецкая Народная Республика")),
        *_two_towns(_region("Луганская Народная Республика")),
        *_two_towns(_region("Чувашская Республика")),
        *_two_towns(_region("Удмуртская Республика")),
    ]
    assert places_phrase(places) == (
        "Донецкой, Луганской народных республик, Удмуртской, Чувашской республик"
    )
    assert places_phrase(
        [*_two_towns(_region("Донецкая Народная Республика")), place("Пенза", "Пензенская область")]
    ) == ("Пензы и Донецкой Народной Республики")


@pytest.mark.parametrize("region", all_regions(), ids=lambda region: region.code)
def test_an_organization_without_a_town_is_named_by_its_region(region: Region) -> None:
    """Even when the region's other organization has a town: it may be elsewhere."""
    elsewhere = place("Пенза", "Пензенская область") if region.code != "RU-PNZ" else None
    places = [Place(None, region), Place("Город", region), *([elsewhere] if elsewhere else [])]
    phrase = places_phrase(places)
    if region.type == "город федерального значения":
        assert phrase == (" и ".join(sorted([city_genitive(region.name), "Пензы"])))
        return
    # Oblasts and krais drop what follows a dash, as they do when they share their noun.
    shared = region.type in ("область", "край")
    named = region.name_genitive.split(" — ")[0] if shared else region.name_genitive
    assert phrase == (f"Пензы и {named}" if elsewhere else named)


def _region(name: str) -> Region:
    found = find_region(name)
    assert found is not None
    return found
