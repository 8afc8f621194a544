"""The one client of every `telebridge` command that talks to a service: where the server
is and which key to use, the requests, what a refusal says, and the exit codes a script can
act on.

The server comes from `--server`, else the service's variable (TELEBRIDGE_REGISTRY_URL,
TELEBRIDGE_AGENDA_URL), else the config file's `registry_url` or `agenda_url`, else where
`telebridge dev` runs it (http://127.0.0.1:8001, :8003). The key comes from `--key`, else
TELEBRIDGE_API_KEY, else the config file's `key`, else `telebridge dev`'s operator key
(TELEBRIDGE_AUTH_OPERATOR_KEY, or `.telebridge/operator-key` in the working folder). The
config file is `--config`, else TELEBRIDGE_CONFIG, else ~/.config/telebridge/config.toml
when it exists. So one script works against `telebridge dev` and against a deployment.

Every command ends with one of `ExitCode`; the README has the same table.
"""

from __future__ import annotations

import os
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import httpx
import msgspec
import typer
from rich.console import Console

from shared.settings import AgendaSettings, RegistrySettings, ServiceSettings
from telebridge.agenda_file import AgendaFileError, Problem

if TYPE_CHECKING:
    from shared.http.problems import ProblemDetails

T = TypeVar("T")

DEV_KEY_FILE: Final = Path(".telebridge") / "operator-key"
DEFAULT_CONFIG: Final = Path("~/.config/telebridge/config.toml")
KEY_VARIABLE: Final = "TELEBRIDGE_API_KEY"

ASKED_AGAIN: Final = {429: ("rate-limited",), 503: ("not-yet-known",)}
"""Answers to a request the server did not act on and says when to send again (Retry-After):
too many requests from this key, or an id another service created a moment ago."""
RETRY_PATIENCE: Final = 60.0
"""Seconds a command waits in all for such answers before it reports the last one."""

NOT_YET: Final = ("no-summary-yet",)
"""Problem types that say the thing exists but is not ready: a conflict, not "no such"."""

# No emoji codes: «:thumbs_up:» in an operator's outcomes is text, not a picture.
out = Console(soft_wrap=True, highlight=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


class ExitCode(IntEnum):
    """How every `telebridge` command ends, for scripts to act on."""

    OK = 0
    """Done."""
    INVALID = 1
    """The input is invalid: each problem is printed with its line (or row) and field."""
    USAGE = 2
    """Click's own usage error: an unknown option, an argument or option value that cannot
    be parsed, a file that does not exist, a required one not given. Never used for
    anything a server answers."""
    UNREACHABLE = 3
    """The server cannot be reached: nothing answers at its URL, or not in time."""
    REFUSED = 4
    """The key is refused (401, 403), or there is no key to send."""
    NOT_FOUND = 5
    """No such meeting, agenda, summary or version (404, 410)."""
    CONFLICT = 6
    """Someone changed it meanwhile, or it is not in a state to do this (409, 412, 428)."""
    SERVER_ERROR = 7
    """The server failed (5xx), or answered something this command cannot read."""


LABELS: Final = {
    ExitCode.OK: "done",
    ExitCode.INVALID: "invalid",
    ExitCode.USAGE: "usage error",
    ExitCode.UNREACHABLE: "unreachable",
    ExitCode.REFUSED: "refused",
    ExitCode.NOT_FOUND: "not found",
    ExitCode.CONFLICT: "conflict",
    ExitCode.SERVER_ERROR: "server error",
}
"""How a command's message starts, by its exit code."""
EXIT_CODES: Final = "Exit codes: " + ", ".join(f"{code} {LABELS[code]}" for code in ExitCode) + "."
STATUSES: Final = {
    400: ExitCode.INVALID,
    413: ExitCode.INVALID,
    415: ExitCode.INVALID,
    422: ExitCode.INVALID,
    401: ExitCode.REFUSED,
    403: ExitCode.REFUSED,
    404: ExitCode.NOT_FOUND,
    410: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    412: ExitCode.CONFLICT,
    428: ExitCode.CONFLICT,
}
"""Each refusal a script can act on; any other answer that is not a success is a server
error (a 5xx, or a 4xx such as 405 that only a command out of step with the server gets)."""


class Stop(Exception):  # noqa: N818 - not an error: how a command ends with its exit code
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Service:
    """A service a command talks to, and where to find it."""

    name: str
    settings: type[ServiceSettings]

    @property
    def variable(self) -> str:
        return f"TELEBRIDGE_{self.name.upper()}_URL"

    @property
    def config_name(self) -> str:
        return f"{self.name}_url"

    @property
    def dev_url(self) -> str:
        """Where `telebridge dev` runs it: the port its settings default to."""
        return f"http://127.0.0.1:{self.settings().http.port}"


REGISTRY: Final = Service("registry", RegistrySettings)
AGENDA: Final = Service("agenda", AgendaSettings)
CONFIG_NAMES: Final = ("key", REGISTRY.config_name, AGENDA.config_name)


@dataclass(frozen=True)
class Connection:
    server: str
    key: str


def check_server(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


def _server_option(service: Service) -> Any:
    return typer.Option(
        "--server",
        envvar=service.variable,
        show_default=False,
        callback=check_server,
        help=f"The {service.name} service's URL; else `{service.config_name}` in the config file, "
        f"else {service.dev_url} as `telebridge dev` runs it.",
    )


AgendaServerOption = Annotated[str | None, _server_option(AGENDA)]
RegistryServerOption = Annotated[str | None, _server_option(REGISTRY)]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar=KEY_VARIABLE,
        show_default=False,
        help="An operator key (or the host's, where the host may act); else `key` in the "
        "config file, else `telebridge dev`'s operator key.",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="TELEBRIDGE_CONFIG",
        exists=True,
        dir_okay=False,
        show_default=False,
        help=f"A TOML file with {', '.join(CONFIG_NAMES)}; else {DEFAULT_CONFIG} if it exists.",
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


def usage_error(message: str, param_hint: str) -> typer.BadParameter:
    """Click's own usage error (exit 2), for what the command line leaves out. (Typer
    carries a Click of its own: `click.UsageError` would not be Click's here.)"""
    return typer.BadParameter(message, param_hint=param_hint)


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


# --- where and with which key ---------------------------------------------------------


def connection(
    service: Service,
    server: str | None,
    key: str | None,
    config: Path | None,
    *,
    key_needed: bool = True,
) -> Connection:
    """Where `service` answers and which key to send; `key_needed` False for what is public."""
    settings = _config(config)
    found_key = key or settings.get("key") or _dev_key() or ""
    if not found_key and key_needed:
        raise Stop(
            ExitCode.REFUSED,
            f"no key: pass --key, set {KEY_VARIABLE}, put `key` in the config file, "
            f"or run where `telebridge dev` keeps {DEV_KEY_FILE}",
        )
    found_server = server or settings.get(service.config_name) or service.dev_url
    return Connection(found_server, found_key)


def _config(path: Path | None) -> dict[str, str]:
    chosen = (path or DEFAULT_CONFIG).expanduser()
    if path is None and not chosen.exists():
        return {}
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise Stop(ExitCode.INVALID, f"{chosen}: {error}") from error
    except OSError as error:
        raise Stop(ExitCode.INVALID, f"{chosen}: {error.strerror or error}") from error
    found = {name: data[name] for name in CONFIG_NAMES if name in data}
    for name, value in found.items():
        if not isinstance(value, str) or not value:
            raise Stop(ExitCode.INVALID, f"{chosen}: {name}: not a string")
        if name.endswith("_url") and not value.startswith(("http://", "https://")):
            raise Stop(ExitCode.INVALID, f"{chosen}: {name}: {value!r} is not an http(s) URL")
    return found


def _dev_key() -> str | None:
    if os.environ.get("TELEBRIDGE_AUTH_OPERATOR_KEY"):
        return os.environ["TELEBRIDGE_AUTH_OPERATOR_KEY"]
    return DEV_KEY_FILE.read_text(encoding="utf-8").strip() if DEV_KEY_FILE.exists() else None


# --- requests and answers -------------------------------------------------------------


def client_for(connection: Connection, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        base_url=connection.server,
        headers={"Accept": "application/json"}
        | ({"Authorization": f"Bearer {connection.key}"} if connection.key else {}),
        timeout=httpx.Timeout(timeout, connect=5.0),
    )


def request(
    client: httpx.Client,
    method: str,
    url: str,
    patience: float = RETRY_PATIENCE,
    **options: Any,
) -> httpx.Response:
    """The server's answer, whatever it is; a Stop when nothing answers. An answer that
    asks to send again later (`ASKED_AGAIN`) is followed, for `patience` seconds in all."""
    waited = 0.0
    while True:
        response = _send(client, method, url, **options)
        wait = _asked_to_wait(response)
        if wait is None or waited + wait > patience:
            return response
        time.sleep(wait)
        waited += wait


def _asked_to_wait(response: httpx.Response) -> float | None:
    """The seconds of the answer's Retry-After, if it is one of `ASKED_AGAIN`."""
    kinds = ASKED_AGAIN.get(response.status_code)
    if kinds is None or not problem_type(response).endswith(kinds):
        return None
    try:
        wait = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None  # absent, or an HTTP date: not a server of ours
    return wait if 0 <= wait < float("inf") else None


def _send(client: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    try:
        return client.request(method, url, **options)
    except httpx.TransportError as error:
        where = str(client.base_url).rstrip("/")
        reason = str(error) or type(error).__name__
        message = f"{LABELS[ExitCode.UNREACHABLE]}: {where} did not answer: {reason}"
        raise Stop(ExitCode.UNREACHABLE, message) from error


def check_response(
    response: httpx.Response,
    line_of: Callable[[str | None], int | None] | None = None,
    file: Path | None = None,
) -> None:
    """Nothing for a success; otherwise the Stop a script can act on, which says what the
    server's problem document says, each invalid field included. With `line_of` (which
    finds a field's line in `file`), the fields of a 422 are named at their lines."""
    if response.is_success:
        return
    if line_of is not None and (found := field_problems(response, line_of)):
        raise Stop(ExitCode.INVALID, "\n".join(f"{file}: {p}" for p in found))
    code = STATUSES.get(response.status_code, ExitCode.SERVER_ERROR)
    if problem_type(response).endswith(NOT_YET):
        code = ExitCode.CONFLICT  # it exists, but not in a state to do this yet
    raise Stop(code, refusal(code, response))


def refusal(code: ExitCode, response: httpx.Response) -> str:
    """`conflict: 412 Precondition Failed: <detail>`, then a line for each invalid field."""
    document = problem(response)
    title = document.title if document else response.reason_phrase
    said = f"{response.status_code} {title}".strip()
    if document is None:
        if text := response.text.strip():
            said += f": {text[:200]}"  # not a problem document: a proxy's page, perhaps
    elif document.detail:
        said += f": {document.detail}"
    if retry := response.headers.get("Retry-After"):
        said += f" (retry after {retry} s)"
    lines = [f"{LABELS[code]}: {said}"]
    errors = (document.errors if document else None) or []
    lines += [f"  {error.field or '(request)'}: {error.message}" for error in errors]
    return "\n".join(lines)


def field_problems(
    response: httpx.Response,
    line_of: Callable[[str | None], int | None],
    in_file: Callable[[str | None], str | None] = lambda field: field,
) -> list[Problem]:
    """The fields a 422 names, each at its line of the file (`in_file` renames a field of
    the body sent as the file numbers it); none for any other answer."""
    document = problem(response) if response.status_code == 422 else None
    return [
        Problem(line_of(error.field), in_file(error.field), error.message)
        for error in (document.errors if document else None) or []
    ]


def problem(response: httpx.Response) -> ProblemDetails | None:
    """The answer's RFC 9457 problem document, if it is one."""
    from shared.http.problems import ProblemDetails  # noqa: PLC0415 - only for a refusal

    try:
        return msgspec.json.decode(response.content, type=ProblemDetails)
    except msgspec.DecodeError:
        return None


def problem_type(response: httpx.Response) -> str:
    document = problem(response)
    return document.type if document else ""


def decoded(response: httpx.Response, into: type[T]) -> T:
    """A success's body as `into`; a server error if it is not one."""
    try:
        return msgspec.json.decode(response.content, type=into)
    except msgspec.DecodeError as error:
        raise Stop(
            ExitCode.SERVER_ERROR,
            f"{LABELS[ExitCode.SERVER_ERROR]}: {response.url} answered something unexpected: "
            f"{error}",
        ) from error
