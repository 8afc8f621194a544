"""Default display names follow the Russian convention: surname, then initials."""

from __future__ import annotations

import itertools

import pytest

from shared.names import display_name, initials, salutation

SURNAMES = ["Алехина", "Романенко-Куренная", "Ли", "Schmidt", "Ёлкин"]
GIVEN = ["Ирина", "И.", "и", "Анна-Мария", "Юлия", "Anna", "Эдуард"]
PATRONYMICS = ["Леонидовна", "Л.", "Сергеевич", "Оглы"]


def by_hand(name: str) -> str:
    """The initial written out: the first letter of each hyphenated part, with a dot."""
    return "-".join(part[0].upper() + "." for part in name.split("-"))


@pytest.mark.parametrize(
    ("surname", "given", "patronymic"), list(itertools.product(SURNAMES, GIVEN, PATRONYMICS))
)
def test_with_a_patronymic_the_name_is_surname_and_initials(
    surname: str, given: str, patronymic: str
) -> None:
    assert display_name(surname, given, patronymic) == (
        f"{surname} {by_hand(given)} {by_hand(patronymic)}"
    )


@pytest.mark.parametrize(("surname", "given"), list(itertools.product(SURNAMES, GIVEN)))
@pytest.mark.parametrize("patronymic", [None, "", "  "])
def test_without_a_patronymic_the_name_is_given_name_and_surname(
    surname: str, given: str, patronymic: str | None
) -> None:
    assert display_name(surname, given, patronymic) == f"{given} {surname}"


def test_the_seeds_speakers() -> None:
    assert display_name("Алехина", "Ирина", "Леонидовна") == "Алехина И. Л."
    assert display_name("Романенко-Куренная", "Светлана", "Сергеевна") == (
        "Романенко-Куренная С. С."
    )
    assert initials("Анна-Мария") == "А.-М."
    assert initials("И.") == "И."


@pytest.mark.parametrize(
    ("parts", "language", "expected"),
    [
        (("Алехина", "Ирина", "Леонидовна"), "ru", "Ирина Леонидовна"),
        (("Алехина", "Ирина", None), "ru", "Ирина Алехина"),
        (("Алехина", "Ирина", "  "), "ru", "Ирина Алехина"),
        (("Алехина", "Ирина", "Леонидовна"), "en", "Ирина Алехина"),
        (("Schmidt", " Anna ", None), "en", "Anna Schmidt"),
    ],
)
def test_a_letter_greets_by_name_and_patronymic_in_russian_else_by_name_and_surname(
    parts: tuple[str, str, str | None], language: str, expected: str
) -> None:
    assert salutation(*parts, language) == expected
