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

import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import msgspec.inspect as mi
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


@dataclass(frozen=True)
class CheckableRest:
    """What of an invalid agenda file can still be checked against its meeting: its items
    with each invalid field left out (or, where it is needed, stood in for), so that the
    server names the problems the file's own check cannot see (an item outside its
    session, overlapping another, an unknown speaker) in the same round."""

    meeting: UUID | None
    agenda: AgendaWrite
    lines: dict[str, int]
    reported: frozenset[str]
    """Fields already found invalid: what the server says about them adds nothing."""
    file_index: list[int] = field(default_factory=list)
    """The file's index of each item sent (items that are not mappings are left out)."""

    def line_of(self, field: str | None) -> int | None:
        return _line(self.lines, self.in_file(field))

    def in_file(self, field: str | None) -> str | None:
        """A field of the checked body as the file numbers it."""
        if field is None:
            return None
        return re.sub(r"^items\[(\d+)\]", lambda m: f"items[{self.file_index[int(m[1])]}]", field)


class AgendaFileError(ValueError):
    def __init__(self, problems: list[Problem], rest: CheckableRest | None = None) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems
        self.rest = rest


def parse_agenda_file(text: str) -> AgendaFile:
    """The agenda a file describes, or AgendaFileError with every problem the file has,
    each with its line, and what of the file can still be checked against its meeting."""
    data, lines = _mapping(text, "the file must be a mapping with `items`")
    problems: list[Problem] = []
    unknown = set(data) - {"meeting", "timezone", "items"}
    problems += [
        Problem(lines.get(name), name, "not a field of an agenda file (meeting, timezone, items)")
        for name in sorted(unknown, key=str)
    ]
    meeting = _meeting(data.get("meeting"), lines, problems)
    items = data.get("items")
    if not isinstance(items, list):
        problems.append(Problem(lines.get("items", 1), "items", "a list of items is needed"))
        raise AgendaFileError(_in_order(problems))
    zone = data.get("timezone")
    written = [_item(raw, zone, f"items[{n}]", lines, problems) for n, raw in enumerate(items)]
    checked: list[ItemWrite] = []
    file_index: list[int] = []
    for number, item in enumerate(written):
        found = _check_shape(item, ItemWrite, f"items[{number}]", lines, problems)
        if found is not None:
            checked.append(found)
            file_index.append(number)
    limit = _check_shape({"items": written}, AgendaWrite, "", lines, []) if not problems else None
    if problems or limit is None:
        rest = CheckableRest(
            meeting,
            AgendaWrite(items=checked),
            lines,
            frozenset(p.field for p in problems if p.field),
            file_index,
        )
        raise AgendaFileError(_in_order(problems), rest if checked else None)
    return AgendaFile(meeting, limit, lines)


def _in_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.field or ""))


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
        raise AgendaFileError(_in_order(problems))
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
    """`value` as `shape` once every invalid field is set aside, each named among
    `problems`; None when `value` cannot be read as `shape` at all. msgspec stops at the
    first error, so each is taken out (an optional field left out, a required one stood in
    for) and the value checked again, until nothing is left to find."""
    current = copy.deepcopy(value)
    reported: set[str | None] = set()
    for _ in range(_MAX_PROBLEMS):
        try:
            return msgspec.convert(current, shape)
        except msgspec.ValidationError as error:
            message, _, where = str(error).partition(" - at ")
            inner = _field_of(where) or ""
            if named := _UNKNOWN_FIELD.match(message) or _MISSING_FIELD.match(message):
                inner = ".".join(part for part in (inner, named["name"]) if part)
            field = ".".join(part for part in (path, inner) if part).replace(".[", "[") or None
            if field not in reported:
                reported.add(field)
                problems.append(Problem(_line(lines, field), field, _said(message, shape, inner)))
            if not inner or not _set_aside(current, shape, _segments(inner), message):
                return None
    return None


_MAX_PROBLEMS = 200
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_STAND_INS: dict[type[mi.Type], Any] = {
    mi.StrType: "?",
    mi.TimeDeltaType: "PT1M",
    mi.IntType: 0,
    mi.BoolType: False,
}
"""What stands in for a required field that is invalid or missing, so that the rest of its
item can still be checked."""


@dataclass(frozen=True)
class _Described:
    description: str | None
    examples: list[Any]


def _said(message: str, shape: type, inner: str) -> str:
    """msgspec's message, with what it leaves out for an operator: the values an enumeration
    allows, and what a text that fails its pattern should look like."""
    found = _type_at(shape, _segments(inner))
    if found is None:
        return message
    kind, meta = found
    if message.startswith("Invalid enum value") and isinstance(kind, mi.LiteralType):
        allowed = ", ".join(map(str, kind.values))
        return f"{message.removeprefix('Invalid enum value ')} is not one of: {allowed}"
    if "matching regex" in message and meta is not None and meta.examples:
        said = meta.description or "of the expected form"
        return f"{said.rstrip('.')}, such as {meta.examples[0]!r}"
    return message


def _type_at(shape: type, segments: list[str | int]) -> tuple[mi.Type, _Described | None] | None:
    """The type of the field `segments` lead to in `shape`, with the metadata it was
    declared with (its description and examples)."""
    node: mi.Type = mi.type_info(shape)
    meta: mi.Metadata | None = None
    for segment in [*segments, None]:
        while True:
            if isinstance(node, mi.Metadata):
                meta = node if node.extra_json_schema or node.extra else meta
                node = node.type
            elif isinstance(node, mi.UnionType):
                others = [t for t in node.types if not isinstance(t, mi.NoneType)]
                if len(others) != 1:
                    break
                node = others[0]
            else:
                break
        if segment is None:
            return node, _with_examples(meta)
        if isinstance(segment, int) and isinstance(node, mi.ListType):
            node, meta = node.item_type, None
        elif isinstance(segment, str) and isinstance(node, mi.StructType):
            fields = {f.name: f for f in node.fields}
            if segment not in fields:
                return None
            node, meta = fields[segment].type, None
        else:
            return None
    return None


def _with_examples(meta: mi.Metadata | None) -> _Described | None:
    if meta is None:
        return None
    schema = meta.extra_json_schema or {}
    return _Described(schema.get("description"), list(schema.get("examples") or []))


def _set_aside(value: Any, shape: type, segments: list[str | int], message: str) -> bool:
    """Take the invalid field out of `value`: left out when it may be, stood in for when it
    is required; False when there is nothing that can be done about it."""
    *parents, last = segments
    holder = _at(value, parents)
    if isinstance(last, int):
        if isinstance(holder, list) and last < len(holder):
            del holder[last]
            return True
        return False
    if not isinstance(holder, dict):
        return False
    if _UNKNOWN_FIELD.match(message) or not _required(shape, parents, last):
        return holder.pop(last, _ABSENT) is not _ABSENT
    field_type = _type_at(shape, segments)
    stand_in = _STAND_INS.get(type(field_type[0])) if field_type else None
    if stand_in is None or holder.get(last) == stand_in:
        return False
    holder[last] = stand_in
    return True


_ABSENT = object()


def _at(value: Any, segments: list[str | int]) -> Any:
    """What `segments` lead to in `value`; None where they lead nowhere."""
    for segment in segments:
        try:
            value = value[segment]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _required(shape: type, parents: list[str | int], name: str) -> bool:
    found = _type_at(shape, parents)
    struct = found[0] if found else None
    fields = {f.name: f for f in struct.fields} if isinstance(struct, mi.StructType) else {}
    return name not in fields or fields[name].required


def _segments(path: str) -> list[str | int]:
    """«speakers[0].name» as ["speakers", 0, "name"]."""
    return [
        int(part[1:-1]) if part.startswith("[") else part
        for part in re.findall(r"\[\d+\]|[^.\[\]]+", path)
    ]


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
