"""What every operator command shares: where the server is and which key to use, the
requests, and the exit codes a script can act on.

The server and the key come from `--server`/`--key`, else the environment
(TELEBRIDGE_AGENDA_URL, TELEBRIDGE_API_KEY), else the config file (`--config`,
TELEBRIDGE_CONFIG, or ~/.config/telebridge/config.toml with `agenda_url` and `key`), else
what `telebridge dev` uses (http://127.0.0.1:8003 and `.telebridge/operator-key`). So one
script works against `telebridge dev` and against a deployment.

Exit codes: 0 done, 1 the input is invalid, 2 a conflict (someone changed the resource
meanwhile, or it is not in a state to do this), 3 the server cannot be reached, 4 the key
is refused, 5 no such meeting, agenda or summary.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console

from telebridge.agenda_file import AgendaFileError, Problem

T = TypeVar("T")

DEV_AGENDA_URL = "http://127.0.0.1:8003"
DEV_KEY_FILE = Path(".telebridge") / "operator-key"
DEFAULT_CONFIG = Path("~/.config/telebridge/config.toml")

NOT_YET = ("no-summary-yet",)
"""Problem types that say the thing exists but is not ready: a conflict, not "no such"."""

# No emoji codes: «:thumbs_up:» in an operator's outcomes is text, not a picture.
out = Console(soft_wrap=True, highlight=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


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


@contextmanager
def ending() -> Iterator[None]:
    """Ends a command: a Stop becomes its message on stderr and its exit code."""
    try:
        yield
    except Stop as stop:
        err.print(str(stop), markup=False)
        raise typer.Exit(int(stop.code)) from None


def read_file(
    file: Path,
    parse: Callable[[str], T],
    more: Callable[[AgendaFileError], list[Problem]] | None = None,
) -> T:
    """What an operator's file holds, or the Stop that names each problem's line: those
    the file's own check finds, and those `more` finds of what could still be checked, so
    that one round reports them all."""
    try:
        return parse(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise Stop(ExitCode.INVALID, f"{file}: not UTF-8 text ({error.reason})") from error
    except AgendaFileError as invalid:
        problems = [*invalid.problems, *(more(invalid) if more else [])]
        problems.sort(key=lambda p: (p.line is None, p.line or 0, p.field or ""))
        raise Stop(ExitCode.INVALID, "\n".join(f"{file}: {p}" for p in problems)) from invalid


def connection(
    server: str | None, key: str | None, config: Path | None, *, key_needed: bool = True
) -> Connection:
    """Where to send requests and with which key; `key_needed` False for what is public."""
    settings = _config(config)
    found_key = key or settings.get("key") or _dev_key() or ""
    if not found_key and key_needed:
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


def client_for(connection: Connection) -> httpx.Client:
    return httpx.Client(
        base_url=connection.server,
        headers={"Accept": "application/json"}
        | ({"Authorization": f"Bearer {connection.key}"} if connection.key else {}),
        timeout=httpx.Timeout(30.0, connect=5.0),
    )


def request(client: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    try:
        return client.request(method, url, **options)
    except httpx.TransportError as error:
        raise Stop(
            ExitCode.UNREACHABLE, f"cannot reach {client.base_url}: {error or type(error).__name__}"
        ) from error


def check_response(
    response: httpx.Response,
    line_of: Callable[[str | None], int | None] | None = None,
    file: Path | None = None,
) -> None:
    """Nothing for a success; otherwise the Stop a script can act on, with the lines of the
    file the server's 422 names (`line_of` finds a field's line in it)."""
    if response.is_success:
        return
    document = problem(response)
    detail = document.get("detail") or response.reason_phrase
    status = response.status_code
    if line_of is not None and (found := field_problems(response, line_of)):
        raise Stop(ExitCode.INVALID, "\n".join(f"{file}: {p}" for p in found))
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
    code = codes.get(status, ExitCode.UNREACHABLE)
    if str(document.get("type", "")).endswith(NOT_YET):
        code = ExitCode.CONFLICT  # it exists, but not in a state to do this yet
    raise Stop(code, f"{status}: {detail}")


def field_problems(
    response: httpx.Response,
    line_of: Callable[[str | None], int | None],
    in_file: Callable[[str | None], str | None] = lambda field: field,
) -> list[Problem]:
    """The fields a 422 names, each at its line of the file (`in_file` renames a field of
    the body sent as the file numbers it); none for any other answer."""
    errors = problem(response).get("errors") if response.status_code == 422 else None
    if not isinstance(errors, list):
        return []
    return [
        Problem(line_of(error.get("field")), in_file(error.get("field")), str(error.get("message")))
        for error in errors
        if isinstance(error, dict)
    ]


def problem(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def problem_type(response: httpx.Response) -> str:
    return str(problem(response).get("type", ""))
