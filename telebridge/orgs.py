"""Organizations from a spreadsheet, for `telebridge orgs import`.

`read_csv` and `parse_csv` turn a CSV file into the registry's import rows (pure): rows the
CLI can already tell are bad are reported with their row number as a spreadsheet shows it
(the header is row 1) and never sent. `import_rows` sends the rest in batches to
`POST /organizations/import` with any httpx client, so tests can pass their own.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, get_args

import httpx
import msgspec

from services.registry.schemas import ImportReport, OrganizationImport
from shared.events import OrganizationKind
from shared.regions import find_region
from telebridge.client import Stop, check_response, decoded, request

COLUMNS: Final = (
    "external_id",
    "name",
    "short_name",
    "kind",
    "region",
    "city",
    "timezone",
    "working_hours",
    "blackout_dates",
    "contact_name",
    "contact_email",
    "contact_phone",
    "public",
    "name_en",
    "city_en",
)
REQUIRED_COLUMNS: Final = ("external_id", "name", "region")
BATCH_SIZE: Final = 200
"""Rows per request; the endpoint takes up to 500."""
IMPORT_PATH: Final = "/organizations/import"

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NUMBERS: Final = {name: number for number, name in enumerate(WEEKDAYS)} | {
    name: number for number, name in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))
}
_KINDS: Final[tuple[str, ...]] = get_args(OrganizationKind)
_KIND_NAMES: Final = {kind: kind for kind in _KINDS} | {
    "библиотека": "library",
    "музей": "museum",
    "школа": "school",
    "университет": "university",
    "вуз": "university",
    "другое": "other",
}
_TRUE: Final = frozenset({"yes", "true", "1", "да", "y", "д"})
_FALSE: Final = frozenset({"no", "false", "0", "нет", "n", "н"})
# Spreadsheets like to turn a hyphen between two times into an en or em dash.
_DASH: Final = re.compile(r"\s*[-–—]\s*")
_TIME: Final = re.compile(r"(\d{1,2}):(\d{2})")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_SEPARATORS: Final = re.compile(r"[\s;,]+")
_ZIP_MAGIC: Final = b"PK\x03\x04"


class FileError(ValueError):
    """The file as a whole cannot be imported; the message says why."""


class RowError(ValueError):
    """One cell, or one row, that cannot be imported."""


@dataclass(frozen=True)
class RowProblem:
    """A row that was not imported, with its spreadsheet row number and why."""

    row: int
    reason: str
    external_id: str | None = None


@dataclass(frozen=True)
class ParsedFile:
    rows: list[dict[str, Any]]
    """`ImportRow` objects, good as far as the CLI can tell, in file order."""
    problems: list[RowProblem]
    """Rows the CLI already knows are bad."""
    ignored_columns: list[str] = field(default_factory=list)
    """Header columns that are not among `COLUMNS`."""

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.problems)


@dataclass
class ImportSummary:
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    """Every invalid row, the CLI's and the registry's, by row number."""

    @property
    def invalid(self) -> int:
        return len(self.problems)


# --- reading the file -----------------------------------------------------------------


def read_csv(path: Path, delimiter: str = ",") -> ParsedFile:
    """The rows of a CSV file in UTF-8 (with or without a BOM) whose first row names columns."""
    data = path.read_bytes()
    if data.startswith(_ZIP_MAGIC):
        raise FileError(f"{path} is a spreadsheet workbook, not CSV: save it as 'CSV UTF-8'")
    if b"\x00" in data:
        raise FileError(f"{path} is not a CSV file: it holds binary data")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileError(
            f"{path} is not UTF-8 text (byte {error.start} is not): save it as 'CSV UTF-8'"
        ) from error
    return parse_csv(text, delimiter)


def parse_csv(text: str, delimiter: str = ",") -> ParsedFile:
    """The import rows of CSV `text`; see `read_csv`."""
    text = text.removeprefix("\ufeff")
    records = _records(text, delimiter)
    try:
        _, header_cells = next(records)
    except StopIteration:
        raise FileError("the file is empty: its first row must name the columns") from None
    header = [cell.strip().lower() for cell in header_cells]
    _check_header(header, delimiter)
    known = {name: index for index, name in enumerate(header) if name in COLUMNS}
    rows: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    first_row_of: dict[str, int] = {}
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a row a spreadsheet exported with empty cells only
        values = {name: _cell(cells, index) for name, index in known.items()}
        external_id = values.get("external_id") or None
        try:
            _check_width(cells, len(header))
            row = parse_row(number, values)
            _check_first(external_id, first_row_of)
        except RowError as error:
            problems.append(RowProblem(number, str(error), external_id))
        else:
            rows.append(row)
        if external_id is not None:
            first_row_of.setdefault(external_id, number)
    ignored = [name for name in header if name and name not in COLUMNS]
    return ParsedFile(rows, problems, ignored)


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with its number as a spreadsheet shows it: a cell spanning lines is one row."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileError(f"not a CSV file: line {reader.line_num}: {error}") from error
        number += 1
        yield number, cells


def _check_header(header: list[str], delimiter: str) -> None:
    duplicated = sorted({name for name in header if name in COLUMNS and header.count(name) > 1})
    if duplicated:
        raise FileError(f"the header names {', '.join(duplicated)} more than once")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if not missing:
        return
    message = f"the header row lacks the required column{'s' if len(missing) > 1 else ''} " + (
        ", ".join(missing)
    )
    other = ";" if delimiter == "," else ","
    if len(header) == 1 and all(name in header[0] for name in REQUIRED_COLUMNS):
        message += f"; the columns look separated by {other!r}: try --delimiter '{other}'"
    elif not set(header) & set(COLUMNS):
        message += "; the first row must name the columns: " + ",".join(COLUMNS) + " (any order)"
    raise FileError(message)


def _check_width(cells: list[str], columns: int) -> None:
    if len(cells) > columns and any(cell.strip() for cell in cells[columns:]):
        raise RowError(f"{len(cells)} cells, but the header names {columns} columns")


def _check_first(external_id: str | None, first_row_of: dict[str, int]) -> None:
    if external_id is not None and external_id in first_row_of:
        raise RowError(
            f"external_id {external_id!r} was already given on row {first_row_of[external_id]}"
        )


def _cell(cells: list[str], index: int) -> str:
    # Spreadsheets leave out trailing empty cells, so a short row is not an error.
    return cells[index].strip() if index < len(cells) else ""


def parse_row(number: int, values: dict[str, str]) -> dict[str, Any]:
    """One `ImportRow` from a row's cells by column name; empty cells are left out.

    Raises RowError naming every cell the registry would refuse for sure; the time zone,
    lengths and e-mail addresses are left to the registry, which reports them per row too.
    """
    row: dict[str, Any] = {"row": number}
    reasons: list[str] = []
    for name in ("external_id", "name"):
        if values.get(name):
            row[name] = values[name]
        else:
            reasons.append(f"{name} is empty")
    for name in ("short_name", "city", "timezone", "name_en", "city_en"):
        if values.get(name):
            row[name] = values[name]
    parsers: dict[str, Callable[[str], Any]] = {
        "kind": parse_kind,
        "region": parse_region,
        "working_hours": parse_hours,
        "blackout_dates": parse_dates,
        "public": parse_boolean,
    }
    for name, parse in parsers.items():
        text = values.get(name, "")
        if not text:
            if name == "region":
                reasons.append("region is empty")
            continue
        try:
            row[name] = parse(text)
        except RowError as error:
            reasons.append(f"{name}: {error}")
    try:
        row |= _contacts(values)
    except RowError as error:
        reasons.append(str(error))
    if reasons:
        raise RowError("; ".join(reasons))
    return row


# --- cells ----------------------------------------------------------------------------


def parse_region(text: str) -> str:
    """The code of the region `text` names: a code, a number, a Russian or English name."""
    found = find_region(text)
    if found is None:
        raise RowError(
            f"{text!r} is not a region: give a code (RU-LIP), a number (48) or a name "
            "(Липецкая область, Lipetsk Oblast)"
        )
    return found.code


def parse_kind(text: str) -> str:
    kind = _KIND_NAMES.get(text.strip().casefold())
    if kind is None:
        raise RowError(f"{text!r} is not one of {', '.join(_KINDS)}")
    return kind


def parse_boolean(text: str) -> bool:
    """yes/no, true/false, 1/0, да/нет, in any case."""
    value = text.strip().casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RowError(f"{text!r} is neither yes nor no (yes/no, true/false, 1/0, да/нет)")


def parse_dates(text: str) -> list[str]:
    """ISO dates separated by spaces, `;` or `,`: each once, in order."""
    found: set[date] = set()
    for word in _DATE_SEPARATORS.split(text.strip()):
        if not word:
            continue
        found.add(_date(word))
    return [day.isoformat() for day in sorted(found)]


def _date(word: str) -> date:
    try:
        day = date.fromisoformat(word) if _DATE.fullmatch(word) else None
    except ValueError:
        day = None
    if day is None:
        raise RowError(f"{word!r} is not a date as YYYY-MM-DD")
    return day


def parse_hours(text: str) -> dict[str, list[dict[str, str]]]:
    """Weekly hours such as `mon-fri 09:00-18:00; sat 10:00-16:00` as `WorkingHours` JSON.

    Day specs are separated by `;`; each names days (`mon`, `mon-fri`, `sat, sun`; Russian
    `пн`..`вс` too) and then ranges separated by `,` (`09:00-13:00, 14:00-18:00`). Days not
    named are days off.
    """
    week: dict[int, list[tuple[int, int]]] = {}
    for spec in text.split(";"):
        if not spec.strip():
            continue
        days, ranges = _split_spec(spec.strip())
        for day in days:
            if day in week:
                raise RowError(f"{WEEKDAYS[day]} is given more than once")
            week[day] = ranges
    if not week:
        raise RowError(f"{text!r} names no days")
    return {
        WEEKDAYS[day]: [{"start": _clock(start), "end": _clock(end)} for start, end in ranges]
        for day, ranges in sorted(week.items())
    }


def _split_spec(spec: str) -> tuple[list[int], list[tuple[int, int]]]:
    first_digit = next((index for index, char in enumerate(spec) if char.isdigit()), None)
    if first_digit is None:
        raise RowError(f"{spec!r} has no hours: write them as 09:00-18:00")
    days_text = spec[:first_digit].strip().rstrip(":").strip()
    if not days_text:
        raise RowError(f"{spec!r} names no days: start it with mon, mon-fri, ...")
    days = _days(days_text)
    ranges = sorted(_range(part.strip()) for part in spec[first_digit:].split(","))
    for (_, end), (start, _) in pairwise(ranges):
        if start < end:
            raise RowError(f"{spec!r}: the hours overlap")
    return days, ranges


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        names = _DASH.split(part.strip())
        if len(names) > 2 or not all(names):
            raise RowError(f"{part.strip()!r} is not a day or a range of days such as mon-fri")
        numbers = [_weekday(name) for name in names]
        if numbers[0] > numbers[-1]:
            raise RowError(f"{part.strip()!r}: the first day must come before the last")
        days.extend(range(numbers[0], numbers[-1] + 1))
    return days


def _weekday(name: str) -> int:
    number = _WEEKDAY_NUMBERS.get(name.casefold())
    if number is None:
        raise RowError(f"{name!r} is not a weekday: use {', '.join(WEEKDAYS)}")
    return number


def _range(text: str) -> tuple[int, int]:
    times = _DASH.split(text)
    if len(times) != 2:
        raise RowError(f"{text!r} is not a range of hours such as 09:00-18:00")
    start, end = (_minutes(value) for value in times)
    if start >= end:
        raise RowError(f"{text!r}: the range must start before it ends")
    return start, end


def _minutes(text: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise RowError(f"{text!r} is not a time as HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        raise RowError(f"{text!r} is not a time of day (00:00 to 23:59)")
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    # The registry reads times as RFC 3339 partial times, which need seconds.
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _contacts(values: dict[str, str]) -> dict[str, Any]:
    contact = parse_contact(
        values.get("contact_name", ""),
        values.get("contact_email", ""),
        values.get("contact_phone", ""),
    )
    return {} if contact is None else {"contacts": [contact]}


def parse_contact(name: str, email: str, phone: str) -> dict[str, str] | None:
    """The one contact a row can name, or None when its cells are empty."""
    if not name:
        if email or phone:
            raise RowError("contact_email and contact_phone need a contact_name")
        return None
    contact = {"name": name}
    if email:
        contact["email"] = email
    if phone:
        contact["phone"] = phone
    return contact


# --- sending --------------------------------------------------------------------------


def import_rows(
    client: httpx.Client,
    parsed: ParsedFile,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Send the good rows in batches; the summary counts every row of the file.

    `client` has the registry's base URL and the `Authorization` header; `on_batch` hears
    how many rows each answered batch held. Raises the client's Stop if the registry
    cannot be reached or refuses a whole batch; the batches before it stay imported.
    """
    summary = ImportSummary(dry_run=dry_run, problems=list(parsed.problems))
    sent = 0
    for start in range(0, len(parsed.rows), batch_size):
        batch = parsed.rows[start : start + batch_size]
        try:
            report = _post(client, batch, dry_run=dry_run)
        except Stop as stop:
            if sent and not dry_run:
                note = f"the {sent} rows sent before this were imported"
                raise Stop(stop.code, f"{stop}\n{note}") from stop
            raise
        for result in report.results:
            if result.outcome == "created":
                summary.created += 1
            elif result.outcome == "updated":
                summary.updated += 1
            elif result.outcome == "unchanged":
                summary.unchanged += 1
            else:
                reason = result.error or f"the registry answered {result.outcome!r}"
                summary.problems.append(RowProblem(result.row, reason, result.external_id))
        sent += len(batch)
        if on_batch is not None:
            on_batch(len(batch))
    summary.problems.sort(key=lambda problem: problem.row)
    return summary


def import_file(
    path: Path,
    client: httpx.Client,
    *,
    dry_run: bool = False,
    delimiter: str = ",",
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Read a CSV file and import it: `read_csv`, then `import_rows`."""
    return import_rows(client, read_csv(path, delimiter), dry_run=dry_run, batch_size=batch_size)


def _post(client: httpx.Client, batch: list[dict[str, Any]], *, dry_run: bool) -> ImportReport:
    response = request(
        client,
        "POST",
        IMPORT_PATH,
        content=msgspec.json.encode(OrganizationImport(rows=batch, dry_run=dry_run)),
        headers={"Content-Type": "application/json"},
    )
    check_response(response)
    return decoded(response, ImportReport)
