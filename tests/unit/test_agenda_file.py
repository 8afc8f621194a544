"""Agenda files as operators write them: the examples read, and every problem is named by
its line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from services.agenda.schemas import Outcomes
from telebridge.agenda_file import AgendaFileError, parse_agenda_file, parse_outcomes_file

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "agendas").glob("*.yaml"))


def test_there_is_an_example_for_each_seed_event() -> None:
    assert [path.stem for path in EXAMPLES] == [
        "donetsk-ulyanovsk",
        "georgievsk-antratsit",
        "lipetsk-workshop",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_reads(path: Path) -> None:
    parsed = parse_agenda_file(path.read_text(encoding="utf-8"))
    assert parsed.agenda.items
    assert all(item.timezone == "Europe/Moscow" for item in parsed.agenda.items)
    assert all(item.duration > timedelta(0) for item in parsed.agenda.items)
    assert parsed.line_of("items[0].title") is not None


def test_durations_times_and_the_files_zone() -> None:
    parsed = parse_agenda_file(
        """\
meeting: 01a203f3-c1bd-70d6-aa3e-c4f610480a9c
timezone: Asia/Vladivostok
items:
  - at: 2030-10-01 18:00
    duration: 1h30m
    title: Открытие
  - at: 2030-10-01T19:30:00+10:00
    duration: 45
    title: Квест
    timezone: Asia/Vladivostok
  - offset: 2h
    duration: PT10M
    title: Итоги
"""
    )
    assert parsed.meeting == UUID("01a203f3-c1bd-70d6-aa3e-c4f610480a9c")
    first, second, third = parsed.agenda.items
    assert (first.at, first.timezone, first.duration) == (
        "2030-10-01 18:00",
        "Asia/Vladivostok",
        timedelta(hours=1, minutes=30),
    )
    assert second.duration == timedelta(minutes=45)
    assert (third.at, third.offset, third.timezone) == (None, timedelta(hours=2), None)
    assert parsed.line_of("items[1].duration") == 8
    assert parsed.line_of("items[2].speakers[0].name") == 11  # the nearest it has


def problems_of(text: str) -> list[str]:
    with pytest.raises(AgendaFileError) as raised:
        parse_agenda_file(text)
    return [str(problem) for problem in raised.value.problems]


def test_every_problem_names_its_line_and_field() -> None:
    assert problems_of(
        """\
meeting: not-a-uuid
colour: blue
items:
  - at: 2023-08-25 11:00
    duration: ten minutes
    title: Открытие
  - at: 2023-08-25
    duration: 10m
    title: Только дата
  - at: 2023-08-25 12:00
    duration: 10m
    title: 42
  - at: 2023-08-25 12:10
    duration: 10m
    title: Доклад
    kind: speech
"""
    ) == [
        "line 1: meeting: 'not-a-uuid' is not a meeting id",
        "line 2: colour: not a field of an agenda file (meeting, timezone, items)",
        "line 5: items[0].duration: 'ten minutes' is not a duration such as 10m, 1h30m or PT10M",
        "line 7: items[1].at: a time is needed, not only a date",
        "line 12: items[2].title: Expected `str`, got `int`",
        "line 16: items[3].kind: Invalid enum value 'speech'",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("items: [\n", "line 2: not valid YAML"),
        ("- just\n- a list\n", "line 1: the file must be a mapping with `items`"),
        ("timezone: UTC\n", "line 1: items: a list of items is needed"),
        (
            "items:\n  - title: Без длительности\n",
            "line 2: items[0]: Object missing required field `duration`",
        ),
    ],
    ids=["broken-yaml", "not-a-mapping", "no-items", "missing-field"],
)
def test_a_file_of_the_wrong_shape_says_so(text: str, problem: str) -> None:
    [found] = problems_of(text)
    assert found.startswith(problem), found


# --- outcomes files ---------------------------------------------------------------------


def test_the_example_outcomes_read() -> None:
    folder = Path(__file__).parents[2] / "examples" / "summaries"
    examples = sorted(folder.glob("*.yaml"))
    assert examples
    for path in examples:
        parsed = parse_outcomes_file(path.read_text(encoding="utf-8"))
        assert parsed.outcomes.ru, path
        assert parsed.outcomes.en, path


def test_an_outcomes_file_gives_a_text_per_language_and_its_meeting() -> None:
    parsed = parse_outcomes_file(
        "meeting: 01a203f3-c1bd-70d6-aa3e-c4f610480a9c\n"
        "ru: |\n"
        "  Участники собрали «портфель» методических материалов.\n"
        "\n"
        "  Второй абзац.\n"
    )

    assert parsed.meeting == UUID("01a203f3-c1bd-70d6-aa3e-c4f610480a9c")
    assert parsed.outcomes.ru == (
        "Участники собрали «портфель» методических материалов.\n\nВторой абзац.\n"
    )
    assert parsed.outcomes.en is None
    assert parsed.line_of("outcomes.ru") == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ru: 5\n", "line 1: ru: Expected `str | null`, got `int`"),
        ("ru: Итоги\nde: Ergebnisse\n", "line 2: de: not a field of an outcomes file"),
        ("meeting: nope\nen: Outcomes\n", "line 1: meeting: 'nope' is not a meeting id"),
        ("{}\n", "line 1: give the outcomes in Russian (ru), English (en) or both"),
        ("- ru\n", "line 1: the file must be a mapping with `ru`, `en` or both"),
        ("ru: [\n", "line 2: not valid YAML"),
    ],
)
def test_an_outcomes_file_that_cannot_be_read_says_where(text: str, problem: str) -> None:
    with pytest.raises(AgendaFileError) as invalid:
        parse_outcomes_file(text)
    assert str(invalid.value).startswith(problem)


def test_an_outcomes_file_changes_only_the_languages_it_names() -> None:
    before = Outcomes(ru="Было", en="Was")
    assert parse_outcomes_file("ru: Стало\n").applied_to(before) == Outcomes(ru="Стало", en="Was")
    assert parse_outcomes_file("ru: Стало\nen: null\n").applied_to(before) == Outcomes(ru="Стало")
