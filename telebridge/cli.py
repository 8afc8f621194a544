"""The `telebridge` command: run the system locally, and the operators' tools."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from telebridge.agenda_cli import agenda_app
from telebridge.client import (
    EXIT_CODES,
    REGISTRY,
    ConfigOption,
    ExitCode,
    KeyOption,
    RegistryServerOption,
    Stop,
    check_server,
    client_for,
    connection,
    ending,
    err,
)
from telebridge.migrate import migrate_command
from telebridge.summary_cli import summary_app

if TYPE_CHECKING:
    from telebridge.orgs import ImportSummary

app = typer.Typer(
    help="Telebridge: online meetings between institutions across regions and time zones.",
    epilog=EXIT_CODES + " See the README.",
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
    # Imported here: the embedded servers are in the `local` group only, and the image
    # (which leaves it out) runs the other commands (`status`, `migrate`).
    from telebridge.dev import DevError, DevOptions, run_dev  # noqa: PLC0415

    try:
        run_dev(DevOptions(data_dir=data_dir, demo=demo), console)
    except DevError as error:
        console.print(f"[red]error:[/] {escape(str(error))}")
        raise typer.Exit(ExitCode.INVALID) from error


@app.command()
def status(
    nats_url: Annotated[
        str | None,
        typer.Option(
            "--nats-url",
            show_default=False,
            help="NATS server URLs, comma-separated; else TELEBRIDGE_NATS_URL, else the NATS "
            "of `telebridge dev` (found in --data-dir), else nats://127.0.0.1:4222. Credentials "
            "and TLS come from the TELEBRIDGE_NATS_* variables the services read.",
        ),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            show_default=False,
            help="A service that must be running (repeat for several); all three if not given.",
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds to wait for the replicas to answer discovery."),
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: Annotated[
        Path,
        typer.Option(envvar="TELEBRIDGE_DATA_DIR", help="`telebridge dev`'s data folder."),
    ] = Path(".telebridge"),
) -> None:
    """List the running replicas of each service: version, health, outbox and consumer lag.

    Replicas are found through nats.micro discovery ($SRV.INFO.<service>), so this works against
    `telebridge dev` or any NATS the services use. Exit code 3 when NATS cannot be reached
    or a service has no replica, 7 when a replica does not answer or is not healthy.
    """
    from shared.events import SERVICES  # noqa: PLC0415
    from shared.observability import configure_logging  # noqa: PLC0415 - keeps `--help` quick
    from shared.settings import LogSettings, SettingsError  # noqa: PLC0415
    from telebridge import status as replicas  # noqa: PLC0415

    expected = service or list(SERVICES)
    unknown = [name for name in expected if name not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"no such service: {', '.join(unknown)}", param_hint="--service")
    configure_logging(LogSettings(level="error"), "telebridge-status")
    with ending():
        try:
            settings = replicas.nats_settings(nats_url, data_dir)
            report = asyncio.run(replicas.collect(settings, expected, wait))
        except SettingsError as error:
            raise Stop(ExitCode.INVALID, str(error)) from error
        except replicas.Unreachable as error:
            raise Stop(ExitCode.UNREACHABLE, str(error)) from error
        if as_json:
            console.print(replicas.as_json(report), markup=False, highlight=False, soft_wrap=True)
        else:
            replicas.render(report, console)
        if report.missing:
            raise Stop(ExitCode.UNREACHABLE, f"not running: {', '.join(report.missing)}")
        if report.unhealthy:
            raise Stop(ExitCode.SERVER_ERROR, f"{len(report.unhealthy)} replica(s) not healthy")


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
            raise typer.Exit(ExitCode.INVALID)
        console.print("contracts are up to date")
        return
    written = generated.write()
    for path in written:
        console.print(f"wrote contracts/{path}")
    if not written:
        console.print("contracts are up to date")


app.command("migrate", epilog=EXIT_CODES)(migrate_command)


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
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; change nothing.")
    ] = False,
    delimiter: Annotated[
        Delimiter, typer.Option(help="What separates the cells of a row.")
    ] = Delimiter.COMMA,
    server: RegistryServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
    registry_url: Annotated[
        str | None,
        typer.Option(
            "--registry-url", hidden=True, callback=check_server, help="Deprecated: --server."
        ),
    ] = None,
) -> None:
    """Create or update organizations from a CSV file, matched by external_id.

    Every row that can go in goes in; each one that cannot is named with its row number
    and field, and the command then ends with exit code 1. The exit codes of every
    command are in the README.
    """
    from telebridge import orgs  # noqa: PLC0415 - imports the registry's Structs

    with ending():
        try:
            parsed = orgs.read_csv(file, delimiter.value)
        except orgs.FileError as error:
            raise Stop(ExitCode.INVALID, f"{file}: {error}") from error
        except OSError as error:
            raise Stop(ExitCode.INVALID, f"{file}: {error.strerror or error}") from error
        if parsed.ignored_columns:
            err.print(f"ignoring unknown columns: {', '.join(parsed.ignored_columns)}")
        if registry_url is not None:
            err.print("--registry-url is deprecated: use --server")
        registry = connection(REGISTRY, server or registry_url, key, config)
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        with client_for(registry, timeout=60.0) as client, progress:
            task = progress.add_task("checking" if dry_run else "importing", total=parsed.total)
            progress.advance(task, len(parsed.problems))
            summary = orgs.import_rows(
                client,
                parsed,
                dry_run=dry_run,
                on_batch=lambda count: progress.advance(task, count),
            )
        _print_summary(summary, file)
        if summary.problems:
            raise Stop(ExitCode.INVALID, f"{file}: {summary.invalid} invalid rows")


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


def _key_name(name: str) -> str:
    """A key name as the registry's API takes one: one line of 1 to 200 characters."""
    name = name.strip()
    if not name or len(name) > 200 or any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise typer.BadParameter("must be one line of 1 to 200 characters")
    return name


@keys_app.command("create-admin")
def create_admin(
    name: Annotated[
        str,
        typer.Option(callback=_key_name, help="What the key is for, as the key list shows it."),
    ] = "admin key from telebridge keys create-admin",
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
    from shared.keys import generate_key  # noqa: PLC0415 - keeps `--help` quick

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

    with ending():
        try:
            settings = load_settings(RegistrySettings, "registry")
        except SettingsError as error:
            raise Stop(ExitCode.INVALID, str(error)) from error
        issued = asyncio.run(keys.create_admin_key(settings, name))
        notes.print(
            f"Issued admin key {issued.key.prefix} ({issued.key.name}) with every scope:",
            markup=False,
        )
        console.print(issued.secret, markup=False, soft_wrap=True)
        notes.print("Keep it now: it will not be shown again.", markup=False)


def main() -> None:
    app()
