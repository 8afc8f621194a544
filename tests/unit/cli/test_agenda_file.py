"""Agenda files as operators write them: the examples read, and every problem is named by
its line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import msgspec
import pytest

from services.agenda.schemas import ItemWrite, Outcomes
from telebridge.agenda_file import AgendaFileError, parse_agenda_file, parse_outcomes_file
from tests.support import ROOT

EXAMPLES = sorted((ROOT / "examples" / "agendas").glob("*.yaml"))


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
        "line 16: items[3].kind: 'speech' is not one of: break, closing, discussion, "
        "master-class, opening, other, presentation, quest-task, talk, tour, welcome",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("items: [\n", "line 2: not valid YAML"),
        ("- just\n- a list\n", "line 1: the file must be a mapping with `items`"),
        ("timezone: UTC\n", "line 1: items: a list of items is needed"),
        (
            "items:\n  - title: Без длительности\n",
            "line 2: items[0].duration: Object missing required field `duration`",
        ),
    ],
    ids=["broken-yaml", "not-a-mapping", "no-items", "missing-field"],
)
def test_a_file_of_the_wrong_shape_says_so(text: str, problem: str) -> None:
    [found] = problems_of(text)
    assert found.startswith(problem), found


# --- outcomes files ---------------------------------------------------------------------


def test_the_example_outcomes_read() -> None:
    folder = ROOT / "examples" / "summaries"
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


def raised_by(text: str) -> AgendaFileError:
    with pytest.raises(AgendaFileError) as raised:
        parse_agenda_file(text)
    return raised.value


def test_every_problem_of_an_item_is_reported_at_once() -> None:
    """msgspec stops at an item's first error; the file's check goes on to the others."""
    assert problems_of(
        """\
items:
  - at: 2023-08-25 11:00
    duration: 10m
    title: 42
    kind: speech
    colour: blue
    speakers:
      - name: 7
    materials:
      - title: Рисунки
  - at: not a time
    duration: 10m
    title: Доклад
    track: 12
"""
    ) == [
        "line 4: items[0].title: Expected `str`, got `int`",
        "line 5: items[0].kind: 'speech' is not one of: break, closing, discussion, "
        "master-class, opening, other, presentation, quest-task, talk, tour, welcome",
        "line 6: items[0].colour: Object contains unknown field `colour`",
        "line 8: items[0].speakers[0].name: Expected `str | null`, got `int`",
        "line 10: items[0].materials[0].url: Object missing required field `url`",
        "line 11: items[1].at: A wall-clock time, seconds optional; with an offset, an "
        "instant, such as '2020-10-01T10:00'",
        "line 14: items[1].track: Expected `str | null`, got `int`",
    ]


ENUMERATED = [
    (field.name, field.type.values)
    for field in msgspec.inspect.type_info(ItemWrite).fields  # type: ignore[attr-defined]
    if isinstance(field.type, msgspec.inspect.LiteralType)
]


@pytest.mark.parametrize(("name", "allowed"), ENUMERATED, ids=[name for name, _ in ENUMERATED])
def test_an_invalid_enumeration_names_every_allowed_value(name: str, allowed: tuple[str]) -> None:
    [problem] = problems_of(f"items:\n  - duration: 10m\n    title: Т\n    {name}: nonsense\n")
    assert problem.startswith(f"line 4: items[0].{name}: 'nonsense' is not one of: ")
    assert problem.split(": ", 3)[3].split(", ") == sorted(allowed)


def test_what_the_meeting_must_judge_is_still_sent_with_the_invalid_fields_set_aside() -> None:
    """An unknown kind must not hide that the item is outside its session: the item goes to
    the server without its kind, and the server's fields are renumbered as in the file."""
    error = raised_by(
        """\
meeting: 01a203f3-c1bd-70d6-aa3e-c4f610480a9c
items:
  - just a string
  - at: 2023-08-25 23:00
    duration: 10m
    title: Поздний доклад
    kind: speech
  - offset: 10m
    duration: 1 week
    title: Без длительности
"""
    )
    assert [p.field for p in error.problems] == ["items[0]", "items[1].kind", "items[2].duration"]
    rest = error.rest
    assert rest is not None
    assert rest.meeting == UUID("01a203f3-c1bd-70d6-aa3e-c4f610480a9c")
    late, untimed = rest.agenda.items
    assert (late.at, late.kind, late.title) == ("2023-08-25 23:00", "talk", "Поздний доклад")
    assert untimed.offset == timedelta(minutes=10)
    assert rest.in_file("items[0].at") == "items[1].at"
    assert rest.line_of("items[0].at") == 4
    assert rest.reported == {"items[0]", "items[1].kind", "items[2].duration"}


def test_every_problem_of_an_outcomes_file_is_reported_at_once() -> None:
    with pytest.raises(AgendaFileError) as raised:
        parse_outcomes_file("ru: 1\nen: [a]\nde: x\n")
    assert [str(p) for p in raised.value.problems] == [
        "line 1: ru: Expected `str | null`, got `int`",
        "line 2: en: Expected `str | null`, got `array`",
        "line 3: de: not a field of an outcomes file (meeting, ru, en)",
    ]
