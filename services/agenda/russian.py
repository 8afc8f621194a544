"""Russian as an editor writes it in a press release: numbers agreeing with their nouns,
dates in words, and places in the genitive, grouped the way the seed lists them.

Pure: no I/O beyond pymorphy3's dictionaries, loaded once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import pymorphy3
from babel.dates import format_date

from shared.regions import Region

_REPUBLIC = "Республика"
_NAME_SUFFIX = re.compile(r"\s+[—–]\s+|\s+\(")


@cache
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


# --- numbers ----------------------------------------------------------------------------


_COUNTED_PLURALS = {"человек": "человек", "год": "лет"}
"""Nouns whose plural after a number is not their ordinary genitive plural (5 человек, not
5 людей; 5 лет, not 5 годов)."""


def agreed(number: int, noun: str, *, genitive: bool = False) -> str:
    """The noun in the form the number asks for: участник, участника, участников; after a
    preposition such as «из», in the genitive: региона, регионов."""
    counted_plural = _COUNTED_PLURALS.get(noun)
    if counted_plural and _counted_form(abs(number), genitive=genitive) == "many":
        return counted_plural
    parsed = _noun_parse(noun)
    if parsed is not None and genitive:
        parsed = parsed.inflect({"gent"})
    if parsed is None:
        return noun
    form = parsed.make_agree_with_number(abs(number))
    return _cased_like(noun, form.word) if form is not None else noun


def _counted_form(number: int, *, genitive: bool) -> str:
    """Which plural the number asks for: after 5, 11 or 100, and after any number but one
    in the genitive, the genitive plural ("many")."""
    last, last_two = number % 10, number % 100
    if last == 1 and last_two != 11:
        return "one"
    if 2 <= last <= 4 and not 12 <= last_two <= 14 and not genitive:
        return "few"
    return "many"


def counted(number: int, noun: str, *, genitive: bool = False) -> str:
    """«1 участник», «3 участника», «105 участников», «12 000 участников»; «из 21 региона»."""
    return f"{_digits(number)} {agreed(number, noun, genitive=genitive)}"


_ROUND_GENITIVE = {
    10: "десяти",
    20: "двадцати",
    30: "тридцати",
    40: "сорока",
    50: "пятидесяти",
    60: "шестидесяти",
    70: "семидесяти",
    80: "восьмидесяти",
    90: "девяноста",
    100: "ста",
    200: "двухсот",
    300: "трёхсот",
    400: "четырёхсот",
    500: "пятисот",
    600: "шестисот",
    700: "семисот",
    800: "восьмисот",
    900: "девятисот",
    1000: "тысячи",
}


def more_than(number: int, noun: str) -> str:
    """A count rounded down as an editor rounds it: «более ста участников» for 105,
    «более пятидесяти участников» for 57; small and round counts stay exact."""
    rounded = round_down(number)
    if rounded is None or rounded == number:
        return counted(number, noun)
    many = _noun_parse(noun)
    plural = many.inflect({"plur", "gent"}) if many is not None else None
    word = _cased_like(noun, plural.word) if plural is not None else noun
    return f"более {_ROUND_GENITIVE[rounded]} {word}"


ROUNDED_FROM = 50
"""Smaller counts are given exactly: «27 участников» says more than «более двадцати»."""


def round_down(number: int) -> int | None:
    """The largest round number (50…90, 100…900, 1000) below or at `number`, from 50 on."""
    if number < ROUNDED_FROM:
        return None
    if number >= 1000:
        return 1000
    magnitude = 100 if number >= 100 else 10
    return number // magnitude * magnitude


def _digits(number: int) -> str:
    """Thousands set apart by a no-break space from 10 000 on; four digits stay together,
    as Russian typography writes them."""
    return f"{number:,}".replace(",", "\u00a0") if abs(number) >= 10_000 else str(number)


def capitalized(text: str) -> str:
    """The first letter upper-cased, the rest as it is («с 1 по 9 октября» at a start)."""
    return text[:1].upper() + text[1:]


# --- dates ------------------------------------------------------------------------------


def day_and_month(day: date) -> str:
    """«25 августа»."""
    return format_date(day, "d MMMM", locale="ru")


def date_in_words(day: date) -> str:
    """«25 августа 2023 года»."""
    return f"{day_and_month(day)} {day.year} года"


def date_range(first: date, last: date) -> str:
    """«с 1 по 9 октября 2020 года», «с 28 сентября по 2 октября 2020 года»,
    «с 28 декабря 2020 года по 3 января 2021 года»; one day is just the date."""
    if first == last:
        return date_in_words(first)
    if first.year != last.year:
        return f"с {date_in_words(first)} по {date_in_words(last)}"
    if first.month != last.month:
        return f"с {day_and_month(first)} по {date_in_words(last)}"
    return f"с {first.day} по {date_in_words(last)}"


# --- places -----------------------------------------------------------------------------


def region_genitive(region_name: str) -> str:
    """The official name of a federal subject in the genitive: «Липецкой области»,
    «Ханты-Мансийского автономного округа — Югры», «Республики Саха (Якутия)».

    After «Республика» the name stays as it is, as in «Республики Тыва».
    """
    if region_name.startswith(f"{_REPUBLIC} "):
        return "Республики" + region_name.removeprefix(_REPUBLIC)
    return _genitive_phrase(region_name)


def city_genitive(city: str) -> str:
    """«Астрахани», «Иванова», «Орла», «Нижнего Новгорода», «Ростова-на-Дону»."""
    return _genitive_phrase(city, place=True)


@dataclass(frozen=True)
class Place:
    """Where an organization that took part is: its town, when it is known, and its region."""

    city: str | None
    region: Region


def places_phrase(places: Iterable[Place]) -> str:
    """The places people came from, in the genitive, as after «из»: a region whose
    organizations are all in one town is named by the town; one with several towns, or
    with an organization whose town is not known, by itself. Towns come first, then oblasts
    sharing one plural noun, then krais, then republics, then autonomous okrugs and
    oblasts, each group in alphabetical order: «Астрахани, Брянска, Липецкой, Саратовской
    областей, Приморского края, республик Крым, Тыва»; two places alone are joined by «и»:
    «Донецка и Ульяновска»."""
    towns_by_region: dict[str, set[str | None]] = {}
    regions: dict[str, Region] = {}
    for place in places:
        towns_by_region.setdefault(place.region.code, set()).add(place.city)
        regions[place.region.code] = place.region
    towns: list[str] = []
    named: dict[str, list[Region]] = {}
    for code, found in towns_by_region.items():
        region = regions[code]
        if region.type == "город федерального значения":
            towns.append(region.name)
        elif len(found) == 1 and (town := next(iter(found))) is not None:
            towns.append(town)
        else:
            named.setdefault(_group(region), []).append(region)
    parts = [city_genitive(town) for town in _alphabetical(towns)]
    parts += _shared_noun(named.get("область", []), "областей")
    parts += _shared_noun(named.get("край", []), "краёв")
    parts += _republics(named.get("республика", []))
    parts += [
        region_genitive(region.name) for region in _alphabetical_regions(named.get("автономия", []))
    ]
    if len(parts) == 2:
        return " и ".join(parts)  # «из Донецка и Ульяновска»; longer lists as the seed's
    return ", ".join(parts)


def _group(region: Region) -> str:
    if region.type in ("область", "край", "республика"):
        return region.type
    return "автономия"


def _shared_noun(regions: Sequence[Region], plural: str) -> list[str]:
    """«Липецкой, Саратовской областей»; one alone keeps its singular: «Приморского края».
    Names with a word between the adjective and the noun share it too, in the plural:
    «Донецкой, Луганской народных республик»; those that differ in it are listed apart."""
    by_qualifier: dict[str, list[Region]] = {}
    for region in _alphabetical_regions(regions):
        by_qualifier.setdefault(_qualifier(region.name), []).append(region)
    parts: list[str] = []
    for qualifier, group in by_qualifier.items():
        if len(group) == 1:
            parts.append(_main_part(region_genitive(group[0].name)))
            continue
        adjectives = [_main_part(region_genitive(region.name)).split(" ", 1)[0] for region in group]
        shared = " ".join([*map(_plural_genitive, qualifier.split()), plural])
        parts += [*adjectives[:-1], f"{adjectives[-1]} {shared}"]
    return parts


def _qualifier(name: str) -> str:
    """The words between a name's first and its last: «Народная» in «Донецкая Народная
    Республика», nothing in «Липецкая область»."""
    return " ".join(_main_part(name).split()[1:-1])


def _plural_genitive(word: str) -> str:
    """«народных» for «Народная»: lower case, since the plural is no longer a proper name."""
    parses = [p for p in _morph().parse(word) if p.tag.case == "nomn" and p.tag.POS == "ADJF"]
    inflected = parses[0].inflect({"plur", "gent"}) if parses else None
    return inflected.word if inflected is not None else word.lower()


def _republics(regions: Sequence[Region]) -> list[str]:
    """«республик Крым, Саха (Якутия), Тыва» for republics named after the word, each name
    whole as the official name has it; «Удмуртской, Чувашской республик» for those named by
    an adjective; one alone as its genitive."""
    parts: list[str] = []
    called = [region for region in regions if region.name.startswith(f"{_REPUBLIC} ")]
    adjectival = [region for region in regions if region not in called]
    if len(called) == 1:
        parts.append(region_genitive(called[0].name))
    elif called:
        names = [r.name.removeprefix(f"{_REPUBLIC} ") for r in called]
        parts.append("республик " + ", ".join(_alphabetical(names)))
    parts += _shared_noun(adjectival, "республик")
    return parts


def _main_part(name: str) -> str:
    """A name without what follows a dash or a bracket: «Кемеровской области — Кузбасса»
    becomes «Кемеровской области» in a list."""
    return _NAME_SUFFIX.split(name, maxsplit=1)[0]


def _alphabetical(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda name: name.replace("ё", "е").replace("Ё", "Е").casefold())


def _alphabetical_regions(regions: Iterable[Region]) -> list[Region]:
    by_name = {region.name: region for region in regions}
    return [by_name[name] for name in _alphabetical(by_name)]


# --- words ------------------------------------------------------------------------------

_WORD = re.compile(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)*")


def _genitive_phrase(phrase: str, *, place: bool = False) -> str:
    """Every declinable word of the phrase in the genitive, keeping number and gender,
    punctuation and capitals. Hyphenated names are declined as the dictionary knows them
    («Ростова-на-Дону», «Улан-Удэ», «Петропавловска-Камчатского»)."""
    return _WORD.sub(lambda match: _genitive_word(match.group(), place=place), phrase)


def _genitive_word(word: str, *, place: bool) -> str:
    parses = _morph().parse(word)
    nominative = [
        p for p in parses if p.tag.case == "nomn" and p.tag.POS in ("NOUN", "ADJF") and p.is_known
    ]
    if place:
        nominative.sort(key=lambda p: "Geox" not in p.tag)
    if not nominative:
        return word
    inflected = nominative[0].inflect({"gent"})
    return _cased_like(word, inflected.word) if inflected is not None else word


def _noun_parse(noun: str) -> pymorphy3.analyzer.Parse | None:
    for parsed in _morph().parse(noun):
        if parsed.tag.POS == "NOUN" and parsed.tag.case == "nomn":
            return parsed
    return None


def _cased_like(original: str, word: str) -> str:
    """pymorphy3 answers in lower case: give each hyphenated part its capital back."""
    parts = word.split("-")
    originals = original.split("-")
    if len(parts) != len(originals):
        return word.capitalize() if original[:1].isupper() else word
    return "-".join(
        part.upper()
        if source.isupper() and len(source) > 1
        else part.capitalize()
        if source[:1].isupper()
        else part
        for part, source in zip(parts, originals, strict=True)
    )
