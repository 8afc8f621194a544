"""`telebridge agenda …`: operators check, compare and publish agenda files from scripts.

The server and the key come from `--server`/`--key`, else the environment
(TELEBRIDGE_AGENDA_URL, TELEBRIDGE_API_KEY), else the config file (`--config`,
TELEBRIDGE_CONFIG, or ~/.config/telebridge/config.toml with `agenda_url` and `key`), else
what `telebridge dev` uses (http://127.0.0.1:8003 and `.telebridge/operator-key`). So one
script works against `telebridge dev` and against a deployment.

Exit codes a script can act on: 0 done, 1 the file or its items are invalid, 2 a conflict
(someone published another version meanwhile), 3 the server cannot be reached, 4 the key
is refused, 5 no such meeting or agenda.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import msgspec
import typer
from rich.console import Console
from rich.table import Table

from services.agenda.diff import AgendaDiff, diff
from services.agenda.schemas import AgendaVersion
from telebridge.agenda_file import AgendaFile, AgendaFileError, parse_agenda_file

DEV_AGENDA_URL = "http://127.0.0.1:8003"
DEV_KEY_FILE = Path(".telebridge") / "operator-key"
DEFAULT_CONFIG = Path("~/.config/telebridge/config.toml")

agenda_app = typer.Typer(
    help="Agendas: check, compare and publish agenda files (YAML).", no_args_is_help=True
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


class ExitCode(IntEnum):
    OK = 0
    INVALID = 1
    CONFLICT = 2
    UNREACHABLE = 3
    REFUSED = 4
    NOT_FOUND = 5


class Stop(Exception):  # noqa: N818 - not an error: how a command ends with its exit code
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Connection:
    server: str
    key: str


FileArgument = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="The agenda file (YAML)."),
]
MeetingOption = Annotated[
    UUID | None,
    typer.Option("--meeting", help="The meeting's id; overrides `meeting:` in the file."),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server", envvar="TELEBRIDGE_AGENDA_URL", help="Where agenda publishing answers."
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="TELEBRIDGE_API_KEY",
        show_default=False,
        help="An operator key, or the host's.",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", envvar="TELEBRIDGE_CONFIG", help="A TOML file with agenda_url and key."
    ),
]


@agenda_app.command("validate")
def validate(
    file: FileArgument,
    meeting: MeetingOption = None,
    server: ServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Check a file; with a meeting (in the file or --meeting), also against the meeting."""
    with _ending():
        parsed = _read(file)
        meeting_id = meeting or parsed.meeting
        if meeting_id is None:
            out.print(f"{file}: {len(parsed.agenda.items)} items, well-formed")
            return
        connection = _connection(server, key, config)
        with _client(connection) as client:
            found = _put(client, meeting_id, parsed, file, publish=False, dry_run=True)
        out.print(f"{file}: {len(found.items)} items, valid for meeting {meeting_id}")


@agenda_app.command("diff")
def diff_file(
    file: FileArgument,
    meeting: MeetingOption = None,
    server: ServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """What publishing the file would change in the published agenda."""
    with _ending():
        parsed = _read(file)
        meeting_id = _meeting_of(parsed, meeting)
        with _client(_connection(server, key, config)) as client:
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
    server: ServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Publish the file as the meeting's agenda: a new version, unless nothing changed."""
    with _ending():
        parsed = _read(file)
        meeting_id = _meeting_of(parsed, meeting)
        with _client(_connection(server, key, config)) as client:
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
    server: ServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """The published agenda of a meeting."""
    with _ending():
        with _client(_connection(server, key, config)) as client:
            published = _published(client, meeting)
        if published is None:
            raise Stop(ExitCode.NOT_FOUND, f"meeting {meeting} has no published agenda")
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


@contextmanager
def _ending() -> Iterator[None]:
    """Ends a command: a Stop becomes its message on stderr and its exit code."""
    try:
        yield
    except Stop as stop:
        err.print(str(stop), markup=False)
        raise typer.Exit(int(stop.code)) from None


def _read(file: Path) -> AgendaFile:
    try:
        return parse_agenda_file(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise Stop(ExitCode.INVALID, f"{file}: not UTF-8 text ({error.reason})") from error
    except AgendaFileError as invalid:
        raise Stop(
            ExitCode.INVALID, "\n".join(f"{file}: {p}" for p in invalid.problems)
        ) from invalid


def _meeting_of(parsed: AgendaFile, meeting: UUID | None) -> UUID:
    found = meeting or parsed.meeting
    if found is None:
        raise Stop(ExitCode.INVALID, "which meeting? give --meeting ID or `meeting:` in the file")
    return found


def _connection(server: str | None, key: str | None, config: Path | None) -> Connection:
    settings = _config(config)
    found_key = key or settings.get("key") or _dev_key()
    if not found_key:
        raise Stop(
            ExitCode.REFUSED,
            "no key: pass --key, set TELEBRIDGE_API_KEY, put `key` in the config file, "
            "or run where `telebridge dev` keeps .telebridge/operator-key",
        )
    return Connection(server or settings.get("agenda_url") or DEV_AGENDA_URL, found_key)


def _config(path: Path | None) -> dict[str, str]:
    chosen = (path or DEFAULT_CONFIG).expanduser()
    if not chosen.exists():
        if path is not None:
            raise Stop(ExitCode.INVALID, f"{chosen}: no such config file")
        return {}
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise Stop(ExitCode.INVALID, f"{chosen}: {error}") from error
    return {name: str(value) for name, value in data.items() if name in ("agenda_url", "key")}


def _dev_key() -> str | None:
    if os.environ.get("TELEBRIDGE_AUTH_OPERATOR_KEY"):
        return os.environ["TELEBRIDGE_AUTH_OPERATOR_KEY"]
    return DEV_KEY_FILE.read_text(encoding="utf-8").strip() if DEV_KEY_FILE.exists() else None


def _client(connection: Connection) -> httpx.Client:
    return httpx.Client(
        base_url=connection.server,
        headers={"Authorization": f"Bearer {connection.key}", "Accept": "application/json"},
        timeout=httpx.Timeout(30.0, connect=5.0),
    )


def _request(client: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    try:
        return client.request(method, url, **options)
    except httpx.TransportError as error:
        raise Stop(
            ExitCode.UNREACHABLE, f"cannot reach {client.base_url}: {error or type(error).__name__}"
        ) from error


def _published(client: httpx.Client, meeting_id: UUID) -> AgendaVersion | None:
    response = _request(client, "GET", f"/meetings/{meeting_id}/agenda")
    if response.status_code == 404 and _problem_type(response).endswith("no-agenda"):
        return None
    check_response(response, None, None)
    return msgspec.json.decode(response.content, type=AgendaVersion)


def _latest(client: httpx.Client, meeting_id: UUID) -> dict[str, str]:
    """If-Match for the latest version (none before the first), read once per command so
    that a version someone writes meanwhile is a conflict rather than lost."""
    latest = _request(client, "GET", f"/meetings/{meeting_id}/agenda/versions/latest")
    if latest.status_code == 404 and _problem_type(latest).endswith("no-agenda"):
        return {}
    check_response(latest, None, None)
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
    response = _request(
        client,
        "PUT",
        f"/meetings/{meeting_id}/agenda",
        json=body,
        headers=headers,
        params={"dry_run": str(dry_run).lower()},
    )
    check_response(response, parsed, file)
    return msgspec.json.decode(response.content, type=AgendaVersion)


def check_response(response: httpx.Response, parsed: AgendaFile | None, file: Path | None) -> None:
    """Nothing for a success; otherwise the Stop a script can act on, with the lines of the
    file the server's 422 names."""
    if response.is_success:
        return
    document = _problem(response)
    detail = document.get("detail") or response.reason_phrase
    status = response.status_code
    if status == 422 and parsed is not None and document.get("errors"):
        raise Stop(
            ExitCode.INVALID,
            "\n".join(
                f"{file}: line {parsed.line_of(e.get('field')) or '?'}: {e.get('field')}: "
                f"{e.get('message')}"
                for e in document["errors"]
            ),
        )
    codes = {
        401: ExitCode.REFUSED,
        403: ExitCode.REFUSED,
        404: ExitCode.NOT_FOUND,
        409: ExitCode.CONFLICT,
        412: ExitCode.CONFLICT,
        428: ExitCode.CONFLICT,
        422: ExitCode.INVALID,
        400: ExitCode.INVALID,
    }
    raise Stop(codes.get(status, ExitCode.UNREACHABLE), f"{status}: {detail}")


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _problem_type(response: httpx.Response) -> str:
    return str(_problem(response).get("type", ""))


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
