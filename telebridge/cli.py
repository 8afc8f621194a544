"""The `telebridge` command: run the system locally, and the operators' tools."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from telebridge.agenda_cli import agenda_app
from telebridge.dev import DevError, DevOptions, run_dev
from telebridge.summary_cli import summary_app

if TYPE_CHECKING:
    from telebridge.orgs import ImportSummary

app = typer.Typer(
    help="Telebridge: online meetings between institutions across regions and time zones.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
notes = Console(stderr=True)
"""For what accompanies output meant for scripts, such as a key's secret."""

orgs_app = typer.Typer(
    help="Organizations: import them in bulk from a spreadsheet.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys: make the first admin key.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(keys_app, name="keys")
app.add_typer(agenda_app, name="agenda")
app.add_typer(summary_app, name="summary")

DEFAULT_REGISTRY_URL = "http://127.0.0.1:8001"


class Delimiter(StrEnum):
    """What separates cells: a comma, or a semicolon as Excel writes CSV in Russian locales."""

    COMMA = ","
    SEMICOLON = ";"


def _print_version(asked: bool) -> None:
    if asked:
        from shared.version import VERSION  # noqa: PLC0415 - only when asked

        console.print(f"telebridge {VERSION}", markup=False)
        raise typer.Exit


@app.callback()
def telebridge(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Telebridge: online meetings between institutions across regions and time zones."""


@app.command()
def dev(
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the three seed events (idempotent).")
    ] = False,
    data_dir: Annotated[
        Path,
        typer.Option(
            envvar="TELEBRIDGE_DATA_DIR", help="Where PostgreSQL, NATS and the logs keep data."
        ),
    ] = Path(".telebridge"),
) -> None:
    """Run the whole system here: embedded PostgreSQL and NATS, then the three services."""
    try:
        run_dev(DevOptions(data_dir=data_dir, demo=demo), console)
    except DevError as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error


@app.command()
def contracts(
    check: Annotated[
        bool, typer.Option("--check", help="Only report drift; exit 1 if there is any.")
    ] = False,
) -> None:
    """Regenerate contracts/ (event JSON Schemas, AsyncAPI, OpenAPI) from the code."""
    from telebridge import contracts as generated  # noqa: PLC0415 - imports all three apps

    if check:
        stale = generated.drifted()
        for path in stale:
            console.print(f"out of date: contracts/{path}")
        if stale:
            console.print("run `uv run telebridge contracts` and commit the result")
            raise typer.Exit(1)
        console.print("contracts are up to date")
        return
    written = generated.write()
    for path in written:
        console.print(f"wrote contracts/{path}")
    if not written:
        console.print("contracts are up to date")


@orgs_app.command("import")
def import_organizations(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
            help="CSV in UTF-8 whose first row names the columns: external_id, name, region "
            "are required; short_name, kind, city, timezone, working_hours (mon-fri "
            "09:00-18:00; sat 10:00-16:00), blackout_dates, contact_name, contact_email, "
            "contact_phone and public may follow, in any order.",
        ),
    ],
    registry_url: Annotated[
        str, typer.Option(envvar="TELEBRIDGE_REGISTRY_URL", help="Where the registry answers.")
    ] = DEFAULT_REGISTRY_URL,
    key: Annotated[
        str,
        typer.Option(
            envvar="TELEBRIDGE_API_KEY", show_default=False, help="An operator or admin key."
        ),
    ] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; change nothing.")
    ] = False,
    delimiter: Annotated[
        Delimiter, typer.Option(help="What separates the cells of a row.")
    ] = Delimiter.COMMA,
) -> None:
    """Create or update organizations from a CSV file, matched by external_id.

    Exit code 0: every row went in. 1: some rows were invalid; the others went in.

    2: nothing could be imported (a wrong file, key or URL).
    """
    import httpx  # noqa: PLC0415 - only this command talks HTTP

    from telebridge import orgs  # noqa: PLC0415

    if not key:
        _usage_error("no API key: pass --key or set TELEBRIDGE_API_KEY (operator or admin)")
    try:
        parsed = orgs.read_csv(file, delimiter.value)
    except (orgs.FileError, OSError) as error:
        _usage_error(str(error))
    if parsed.ignored_columns:
        console.print(
            f"ignoring unknown columns: {', '.join(parsed.ignored_columns)}",
            markup=False,
            soft_wrap=True,
        )
    client = httpx.Client(
        base_url=registry_url,
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
        timeout=httpx.Timeout(60.0, connect=10.0),
    )
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        with client, progress:
            task = progress.add_task("checking" if dry_run else "importing", total=parsed.total)
            progress.advance(task, len(parsed.problems))
            summary = orgs.import_rows(
                client,
                parsed,
                dry_run=dry_run,
                on_batch=lambda count: progress.advance(task, count),
            )
    except orgs.RegistryError as error:
        message = str(error)
        if error.status not in (None, 401, 403):
            message = f"{message} ({error.status})"
        if error.sent and not dry_run:
            message += f"; the {error.sent} rows sent before this were imported"
        _usage_error(message)
    _print_summary(summary, file)
    if summary.problems:
        raise typer.Exit(1)


def _print_summary(summary: ImportSummary, file: Path) -> None:
    counts = (
        f"created {summary.created}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, invalid {summary.invalid}"
    )
    if summary.dry_run:
        console.print(
            f"{file}: dry run, nothing was changed; it would be {counts}",
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print(f"{file}: {counts}", markup=False, soft_wrap=True)
    for problem in summary.problems:
        console.print(f"row {problem.row}: {problem.reason}", markup=False, soft_wrap=True)


@keys_app.command("create-admin")
def create_admin(
    name: Annotated[str, typer.Option(help="What the key is for, as the key list shows it.")] = (
        "admin key from telebridge keys create-admin"
    ),
    print_only: Annotated[
        bool,
        typer.Option(
            "--print-only",
            help="Only generate a key and print it, for TELEBRIDGE_REGISTRY_ADMIN_KEY; the "
            "database is not touched.",
        ),
    ] = False,
) -> None:
    """Issue an admin key with every scope in the registry's database, and print it once.

    The database is found with the TELEBRIDGE_* variables the registry itself reads.

    The secret goes alone to standard output, the notes to standard error.
    """
    from shared.http.auth import generate_key  # noqa: PLC0415 - keeps `--help` quick

    if print_only:
        console.print(generate_key().secret, markup=False, soft_wrap=True)
        notes.print(
            "Put it in TELEBRIDGE_REGISTRY_ADMIN_KEY: the registry registers it as an admin key "
            "on start. It is stored nowhere, so it will not be shown again.",
            markup=False,
        )
        return

    from shared.settings import RegistrySettings, SettingsError, load_settings  # noqa: PLC0415
    from telebridge import keys  # noqa: PLC0415 - imports the registry's code

    try:
        settings = load_settings(RegistrySettings, "registry")
        issued = asyncio.run(keys.create_admin_key(settings, keys.check_name(name)))
    except (SettingsError, keys.KeysError) as error:
        _usage_error(str(error))
    notes.print(
        f"Issued admin key {issued.key.prefix} ({issued.key.name}) with every scope:",
        markup=False,
    )
    console.print(issued.secret, markup=False, soft_wrap=True)
    notes.print("Keep it now: it will not be shown again.", markup=False)


def _usage_error(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def main() -> None:
    app()
