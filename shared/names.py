"""People's names as lists, programmes and badges write them. Pure."""

from __future__ import annotations


def display_name(surname: str, given_name: str, patronymic: str | None = None) -> str:
    """How a person is named when they have not said: «Алехина И. Л.», the Russian
    convention of surname and initials, when the patronymic is known; otherwise given name
    and surname, «Ирина Алехина» or «Anna Schmidt», since initials alone would say too
    little."""
    surname, given_name = surname.strip(), given_name.strip()
    if patronymic and patronymic.strip():
        return f"{surname} {initials(given_name)} {initials(patronymic.strip())}"
    return f"{given_name} {surname}"


def initials(name: str) -> str:
    """«И.» for «Ирина» (and for «И.» or «и»), «А.-М.» for «Анна-Мария»: each hyphenated
    part's first letter, upper-cased, with its dot."""
    parts = [part.strip(" .") for part in name.split("-")]
    return "-".join(f"{part[0].upper()}." for part in parts if part) or name


def salutation(surname: str, given_name: str, patronymic: str | None, language: str) -> str:
    """How a letter greets the person: in Russian by name and patronymic when it is known
    («Ирина Леонидовна»), else by name and surname; in English by name and surname."""
    given_name, surname = given_name.strip(), surname.strip()
    if language == "ru" and patronymic and patronymic.strip():
        return f"{given_name} {patronymic.strip()}"
    return f"{given_name} {surname}"
