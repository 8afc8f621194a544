"""The `telebridge` command: run the system locally, and the operators' tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telebridge.dev import DevError, DevOptions, run_dev

app = typer.Typer(
    help="Telebridge: online meetings between institutions across regions and time zones.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def telebridge() -> None:
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


def main() -> None:
    app()
