"""`telebridge agenda …`: operators check, compare and publish agenda files from scripts.

Where the server is, which key, and the exit codes: see `telebridge.client`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import msgspec
import typer
from rich.table import Table

from services.agenda.agendas.diff import AgendaDiff, diff
from services.agenda.schemas import AgendaVersion
from telebridge.agenda_file import (
    AgendaFile,
    AgendaFileError,
    CheckableRest,
    Problem,
    parse_agenda_file,
)
from telebridge.client import (
    AGENDA,
    AgendaServerOption,
    ConfigOption,
    Connection,
    ExitCode,
    KeyOption,
    Stop,
    check_response,
    client_for,
    connection,
    decoded,
    ending,
    field_problems,
    out,
    problem_type,
    read_file,
    request,
    usage_error,
)

agenda_app = typer.Typer(
    help="Agendas: check, compare and publish agenda files (YAML).", no_args_is_help=True
)


FileArgument = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="The agenda file (YAML)."),
]
MeetingOption = Annotated[
    UUID | None,
    typer.Option("--meeting", help="The meeting's id; overrides `meeting:` in the file."),
]


@agenda_app.command("validate")
def validate(
    file: FileArgument,
    meeting: MeetingOption = None,
    server: AgendaServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Check a file; with a meeting (in the file or --meeting), also against the meeting."""
    with ending():
        parsed = _read(file, meeting, lambda: connection(AGENDA, server, key, config))
        meeting_id = meeting or parsed.meeting
        if meeting_id is None:
            out.print(f"{file}: {len(parsed.agenda.items)} items, well-formed")
            return
        with client_for(connection(AGENDA, server, key, config)) as client:
            found = _put(client, meeting_id, parsed, file, publish=False, dry_run=True)
        out.print(f"{file}: {len(found.items)} items, valid for meeting {meeting_id}")


@agenda_app.command("diff")
def diff_file(
    file: FileArgument,
    meeting: MeetingOption = None,
    server: AgendaServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """What publishing the file would change in the published agenda."""
    with ending():
        parsed = _read(file, meeting, lambda: connection(AGENDA, server, key, config))
        meeting_id = _meeting_of(parsed, meeting)
        with client_for(connection(AGENDA, server, key, config)) as client:
            published = _published(client, meeting_id)
            found = _put(client, meeting_id, parsed, file, publish=True, dry_run=True)
        _print_diff(diff(published.items if published else [], found.items), published)


@agenda_app.command("publish")
def publish(
    file: FileArgument,
    *,
    meeting: MeetingOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show the changes; publish nothing.")
    ] = False,
    server: AgendaServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Publish the file as the meeting's agenda: a new version, unless nothing changed."""
    with ending():
        parsed = _read(file, meeting, lambda: connection(AGENDA, server, key, config))
        meeting_id = _meeting_of(parsed, meeting)
        with client_for(connection(AGENDA, server, key, config)) as client:
            base = _latest(client, meeting_id)
            published = _published(client, meeting_id)
            preview = _put(client, meeting_id, parsed, file, publish=True, dry_run=True, base=base)
            changes = diff(published.items if published else [], preview.items)
            if published is not None and changes.empty:
                out.print(f"meeting {meeting_id}: version {published.version} says it already")
                return
            _print_diff(changes, published)
            if dry_run:
                out.print(f"dry run: version {preview.version} would be published")
                return
            written = _put(client, meeting_id, parsed, file, publish=True, dry_run=False, base=base)
        out.print(f"meeting {meeting_id}: version {written.version} published")


@agenda_app.command("show")
def show(
    meeting: Annotated[UUID, typer.Argument(help="The meeting's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="The version as JSON.")] = False,
    server: AgendaServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """The published agenda of a meeting."""
    with ending():
        with client_for(connection(AGENDA, server, key, config)) as client:
            published = _published(client, meeting)
        if published is None:
            raise Stop(ExitCode.NOT_FOUND, f"not found: meeting {meeting} has no published agenda")
        if as_json:
            out.print(msgspec.json.encode(published).decode(), markup=False)
            return
        table = Table(title=f"version {published.version}", title_justify="left")
        for column in ("when", "kind", "title", "speakers"):
            table.add_column(column)
        for item in published.items:
            zone = ZoneInfo(item.timezone)
            starts, ends = item.starts_at.astimezone(zone), item.ends_at.astimezone(zone)
            when = f"{starts:%d.%m %H:%M}–{ends:%H:%M} {item.timezone}"
            speakers = "; ".join(s.name or s.organization or "" for s in item.speakers)
            table.add_row(when, item.kind, item.title, speakers)
        out.print(table)


# --- helpers ----------------------------------------------------------------------------


def _read(file: Path, meeting: UUID | None, connect: Callable[[], Connection]) -> AgendaFile:
    """The file's agenda; if the file is invalid, every problem it has at once: what the
    file's own check finds and, when the meeting is known, what the meeting's check finds
    in the rest (an item with an unknown kind may also be outside its session)."""

    def against_meeting(invalid: AgendaFileError) -> list[Problem]:
        rest = invalid.rest
        meeting_id = meeting or (rest.meeting if rest else None)
        if rest is None or meeting_id is None:
            return []
        try:
            with client_for(connect()) as client:
                return _checked_by_server(client, meeting_id, rest)
        except Stop as stop:
            return [Problem(None, None, f"not checked against meeting {meeting_id}: {stop}")]

    return read_file(file, parse_agenda_file, against_meeting)


def _checked_by_server(
    client: httpx.Client, meeting_id: UUID, rest: CheckableRest
) -> list[Problem]:
    """What the server finds in the checkable rest of a file (a dry run writes nothing),
    leaving out what it says of fields the file's check has named already."""
    body = msgspec.to_builtins(rest.agenda)
    response = request(
        client,
        "PUT",
        f"/meetings/{meeting_id}/agenda",
        json=body,
        headers=_latest(client, meeting_id),
        params={"dry_run": "true"},
    )
    if response.is_success:
        return []
    found = field_problems(response, rest.line_of, rest.in_file)
    if not found:
        check_response(response)
    return [p for p in found if not _within(p.field, rest.reported)]


def _within(field: str | None, reported: frozenset[str]) -> bool:
    """Whether `field` is one of `reported` or inside one of them."""
    return field is not None and any(
        field == name or field.startswith((f"{name}.", f"{name}[")) for name in reported
    )


def _meeting_of(parsed: AgendaFile, meeting: UUID | None) -> UUID:
    found = meeting or parsed.meeting
    if found is None:
        raise usage_error("which meeting? give --meeting ID or `meeting:` in the file", "--meeting")
    return found


def _published(client: httpx.Client, meeting_id: UUID) -> AgendaVersion | None:
    response = request(client, "GET", f"/meetings/{meeting_id}/agenda")
    if response.status_code == 404 and problem_type(response).endswith("no-agenda"):
        return None
    check_response(response)
    return decoded(response, AgendaVersion)


def _latest(client: httpx.Client, meeting_id: UUID) -> dict[str, str]:
    """If-Match for the latest version (none before the first), read once per command so
    that a version someone writes meanwhile is a conflict rather than lost."""
    latest = request(client, "GET", f"/meetings/{meeting_id}/agenda/versions/latest")
    if latest.status_code == 404 and problem_type(latest).endswith("no-agenda"):
        return {}
    check_response(latest)
    return {"If-Match": latest.headers["ETag"]}


def _put(
    client: httpx.Client,
    meeting_id: UUID,
    parsed: AgendaFile,
    file: Path,
    *,
    publish: bool,
    dry_run: bool,
    base: dict[str, str] | None = None,
) -> AgendaVersion:
    """PUT the file's items as a new version based on `base` (the latest, if not given)."""
    headers = base if base is not None else _latest(client, meeting_id)
    body = msgspec.to_builtins(msgspec.structs.replace(parsed.agenda, publish=publish))
    response = request(
        client,
        "PUT",
        f"/meetings/{meeting_id}/agenda",
        json=body,
        headers=headers,
        params={"dry_run": str(dry_run).lower()},
    )
    check_response(response, parsed.line_of, file)
    return decoded(response, AgendaVersion)


def _print_diff(changes: AgendaDiff, published: AgendaVersion | None) -> None:
    base = f"version {published.version}" if published else "nothing published"
    if changes.empty:
        out.print(f"no change from {base}")
        return
    out.print(f"changes from {base}:", markup=False)
    for item in changes.added:
        out.print(f"+ {_when(item.starts_at, item.timezone)} {item.title}", markup=False)
    for item in changes.removed:
        out.print(f"- {_when(item.starts_at, item.timezone)} {item.title}", markup=False)
    for change in changes.changed:
        fields = ", ".join(c.field for c in change.changes)
        when = _when(change.after.starts_at, change.after.timezone)
        out.print(f"~ {when} {change.after.title} ({fields})", markup=False)


def _when(moment: Any, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"
