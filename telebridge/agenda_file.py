"""The files operators keep next to their scripts, agendas and a summary's outcomes: YAML,
read with line numbers so that every problem names the line and the field.

    meeting: 01a203f3-c1bd-70d6-aa3e-c4f610480a9c   # or --meeting on the command line
    timezone: Europe/Moscow                          # the items' zone unless they name one
    items:
      - at: 2023-08-25 11:00                         # a local time of that zone
        duration: 10m                                # 10m, 1h30m, 90 (minutes) or PT10M
        kind: opening
        title: Открытие онлайн-встречи
        speakers:
          - name: Умеренко Светлана Вячеславовна
            organization: Управление культуры и туризма Георгиевского округа
            external: true
      - offset: 1h10m                                # or: from the start of the session
        duration: 20m
        title: Перспективы сотрудничества

Pure: text in, the request body or the problems out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import yaml

from services.agenda.schemas import AgendaWrite, ItemWrite, Outcomes

T = TypeVar("T")
_DURATION = re.compile(r"^(?:(?P<hours>\d+)\s*h)?\s*(?:(?P<minutes>\d+)\s*m(?:in)?)?$")
_PATH = re.compile(r"\$\.?(?P<path>[^`]*)`?$")


@dataclass(frozen=True)
class Problem:
    line: int | None
    """1-based; None when the problem is not at one place of the file."""
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class AgendaFile:
    meeting: UUID | None
    agenda: AgendaWrite
    lines: dict[str, int]
    """The line of each field by its path, such as "items[2].at"."""

    def line_of(self, field: str | None) -> int | None:
        """The line of a field, or of the nearest enclosing one the file has."""
        return _line(self.lines, field)


class AgendaFileError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def parse_agenda_file(text: str) -> AgendaFile:
    """The agenda a file describes, or AgendaFileError with each problem's line."""
    data, lines = _mapping(text, "the file must be a mapping with `items`")
    problems: list[Problem] = []
    items = data.get("items")
    if not isinstance(items, list):
        raise AgendaFileError(
            [Problem(lines.get("items", 1), "items", "a list of items is needed")]
        )
    zone = data.get("timezone")
    body = {
        "items": [_item(raw, zone, f"items[{n}]", lines, problems) for n, raw in enumerate(items)]
    }
    unknown = set(data) - {"meeting", "timezone", "items"}
    problems += [
        Problem(lines.get(name), name, "not a field of an agenda file (meeting, timezone, items)")
        for name in sorted(unknown, key=str)
    ]
    meeting = _meeting(data.get("meeting"), lines, problems)
    for number, item in enumerate(body["items"]):
        _check_shape(item, ItemWrite, f"items[{number}]", lines, problems)
    agenda = _check_shape(body, AgendaWrite, "", lines, problems) if not problems else None
    if problems or agenda is None:
        raise AgendaFileError(sorted(problems, key=lambda p: (p.line or 0, p.field or "")))
    return AgendaFile(meeting, agenda, lines)


@dataclass(frozen=True)
class OutcomesFile:
    """A summary's outcomes as an operator writes them, one text per language:

    meeting: 01a203f3-c1bd-70d6-aa3e-c4f610480a9c   # or the command line's MEETING
    ru: |
      Участники собрали «портфель» методических материалов.
    en: |
      The participants gathered a portfolio of methodological materials.
    """

    meeting: UUID | None
    outcomes: Outcomes
    lines: dict[str, int]
    languages: frozenset[str]
    """Those the file names: a language it leaves out keeps the text it had; one it gives
    as `null` loses it."""

    def line_of(self, field: str | None) -> int | None:
        return _line(self.lines, field.removeprefix("outcomes.") if field else None)

    def applied_to(self, outcomes: Outcomes) -> Outcomes:
        """`outcomes` with the texts this file gives in place of theirs."""
        return Outcomes(
            ru=self.outcomes.ru if "ru" in self.languages else outcomes.ru,
            en=self.outcomes.en if "en" in self.languages else outcomes.en,
        )


def parse_outcomes_file(text: str) -> OutcomesFile:
    """The outcomes a file gives, or AgendaFileError with each problem's line."""
    data, lines = _mapping(text, "the file must be a mapping with `ru`, `en` or both")
    problems: list[Problem] = []
    problems += [
        Problem(lines.get(name), name, "not a field of an outcomes file (meeting, ru, en)")
        for name in sorted(set(data) - {"meeting", "ru", "en"}, key=str)
    ]
    texts = {language: data[language] for language in ("ru", "en") if language in data}
    if not texts and not problems:
        problems.append(Problem(1, None, "give the outcomes in Russian (ru), English (en) or both"))
    meeting = _meeting(data.get("meeting"), lines, problems)
    outcomes = _check_shape(texts, Outcomes, "", lines, problems)
    if problems or outcomes is None:
        raise AgendaFileError(sorted(problems, key=lambda p: (p.line or 0, p.field or "")))
    return OutcomesFile(meeting, outcomes, lines, frozenset(texts))


def _mapping(text: str, expected: str) -> tuple[dict[Any, Any], dict[str, int]]:
    """The YAML mapping a file holds, and the line of every field in it."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise AgendaFileError([Problem(line, None, f"not valid YAML: {error}")]) from error
    if not isinstance(root, yaml.MappingNode):
        raise AgendaFileError([Problem(1, None, expected)])
    data: dict[Any, Any] = yaml.safe_load(text)
    return data, _lines(root, "")


def _check_shape(
    value: Any, shape: type[T], path: str, lines: dict[str, int], problems: list[Problem]
) -> T | None:
    """`value` as `shape`, or None with the first problem msgspec finds in it."""
    try:
        return msgspec.convert(value, shape)
    except msgspec.ValidationError as error:
        message, _, where = str(error).partition(" - at ")
        inner = _field_of(where) if where else None
        field = ".".join(part for part in (path, inner) if part).replace(".[", "[") or None
        problems.append(Problem(_line(lines, field), field, message))
        return None


def _item(raw: Any, zone: Any, path: str, lines: dict[str, int], problems: list[Problem]) -> Any:
    if not isinstance(raw, dict):
        return raw
    item = dict(raw)
    if "duration" in item:
        item["duration"] = _duration(item["duration"], f"{path}.duration", lines, problems)
    if "offset" in item:
        item["offset"] = _duration(item["offset"], f"{path}.offset", lines, problems)
    if isinstance(item.get("at"), datetime):
        item["at"] = item["at"].isoformat()
    elif isinstance(item.get("at"), date):
        problems.append(
            Problem(_line(lines, f"{path}.at"), f"{path}.at", "a time is needed, not only a date")
        )
        del item["at"]
    if zone is not None and "timezone" not in item and "at" in item:
        item["timezone"] = zone
    return item


def _duration(value: Any, path: str, lines: dict[str, int], problems: list[Problem]) -> Any:
    """«10m», «1h30m», «90» (minutes) or an ISO 8601 duration («PT10M»)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"PT{value}M"
    if isinstance(value, str):
        text = value.strip().lower()
        if text.upper().startswith("P"):
            return text.upper()
        match = _DURATION.fullmatch(text)
        if match and (match["hours"] or match["minutes"]):
            return f"PT{int(match['hours'] or 0)}H{int(match['minutes'] or 0)}M"
    problems.append(
        Problem(
            _line(lines, path), path, f"{value!r} is not a duration such as 10m, 1h30m or PT10M"
        )
    )
    return "PT0S"


def _meeting(value: Any, lines: dict[str, int], problems: list[Problem]) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        problems.append(Problem(lines.get("meeting"), "meeting", f"{value!r} is not a meeting id"))
        return None


def _field_of(message: str) -> str | None:
    found = _PATH.search(message)
    return found["path"] if found else None


def _line(lines: dict[str, int], field: str | None) -> int | None:
    """The line of a field, or of the nearest enclosing one the file has."""
    path = field or ""
    while path:
        if path in lines:
            return lines[path]
        path = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", path)
    return None


def _lines(node: yaml.Node, path: str) -> dict[str, int]:
    """The 1-based line of every mapping key and sequence entry below `node`."""
    found: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            found[child] = key.start_mark.line + 1
            found.update(_lines(value, child))
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            child = f"{path}[{index}]"
            found[child] = value.start_mark.line + 1
            found.update(_lines(value, child))
    return found
