"""`telebridge migrate`: bring the services' schemas up to date, or check that they are.

Each service applies its own migrations when it starts (`shared.service`, under a lock per
schema, so replicas starting together are safe). In Kubernetes a Job runs this command
once per release instead, and each replica waits in an init container
(`telebridge migrate --check --wait`) until its schema has every migration its image
knows: so a schema change runs once, before any replica of the new version takes a
request. The migrations are those of each service's `ServiceDefinition`, applied with
`shared.migrations`, exactly as the service would apply them.

The image leaves out what only `telebridge dev` needs, which the `telebridge` command
imports; there the Job runs this module alone: `python -m telebridge.migrate`, with the
same options.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import asyncpg
import msgspec
import typer
from rich.console import Console

from shared.db import connect
from shared.events import SERVICES
from shared.migrations import MigrationError, migrate, pending
from shared.settings import DatabaseSettings, LogSettings, SettingsError, load_settings
from telebridge.client import ExitCode, Stop, ending

if TYPE_CHECKING:
    from shared.service import ServiceDefinition


class MigrationSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What the command reads: `TELEBRIDGE_DATABASE_*` and `TELEBRIDGE_LOG_*`, as the
    services do."""

    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()


def definition_of(service: str) -> ServiceDefinition:
    # Imported when asked: each brings its service's whole code.
    if service == "registry":
        from services.registry.app import DEFINITION  # noqa: PLC0415

        return DEFINITION
    if service == "scheduling":
        from services.scheduling.app import DEFINITION  # noqa: PLC0415

        return DEFINITION
    if service == "agenda":
        from services.agenda.app import DEFINITION  # noqa: PLC0415

        return DEFINITION
    raise ValueError(f"no such service: {service!r}")


async def apply_migrations(
    database: DatabaseSettings, services: Sequence[str]
) -> dict[str, list[str]]:
    """Apply what each service's schema lacks; the migrations applied now, by schema."""
    return await _each(database, services, apply=True)


async def pending_migrations(
    database: DatabaseSettings, services: Sequence[str]
) -> dict[str, list[str]]:
    """The migrations each service's schema still lacks, applying none."""
    return await _each(database, services, apply=False)


async def wait_until_migrated(
    database: DatabaseSettings, services: Sequence[str], timeout: float, interval: float = 2.0
) -> dict[str, list[str]]:
    """Check until every schema is up to date (the empty lists) or `timeout` seconds have
    passed (what is still missing); an unreachable database counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            missing = await pending_migrations(database, services)
        except Stop as stop:
            if stop.code != ExitCode.UNREACHABLE or time.monotonic() >= deadline:
                raise
        else:
            if not any(missing.values()) or time.monotonic() >= deadline:
                return missing
        await asyncio.sleep(max(0.0, min(interval, deadline - time.monotonic())))


async def _each(
    database: DatabaseSettings, services: Sequence[str], *, apply: bool
) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for service in services:
        definition = definition_of(service)
        try:
            connection = await connect(database, definition.schema)
        except (OSError, asyncpg.PostgresError) as error:
            raise Stop(
                ExitCode.UNREACHABLE,
                f"cannot reach the database: {error} (is TELEBRIDGE_DATABASE_URL right?)",
            ) from error
        try:
            step = migrate if apply else pending
            result[service] = await step(connection, definition.schema, definition.all_migrations())
        except MigrationError as error:
            raise Stop(ExitCode.SERVER_ERROR, str(error)) from error
        except (OSError, asyncpg.PostgresError) as error:
            raise Stop(ExitCode.UNREACHABLE, f"{service}: the database failed: {error}") from error
        finally:
            await connection.close()
    return result


class Service(StrEnum):
    REGISTRY = "registry"
    SCHEDULING = "scheduling"
    AGENDA = "agenda"


def migrate_command(
    service: Annotated[
        list[Service] | None,
        typer.Option(
            show_default=False,
            help="Only this service's schema (repeat for several); all three if not given.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Apply nothing: exit 0 if every schema has every migration, else 6."
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            min=0, metavar="SECONDS", help="With --check: keep checking for up to this long."
        ),
    ] = 0.0,
) -> None:
    """Apply the services' database migrations and exit, or check that they are applied.

    The database is found with the TELEBRIDGE_DATABASE_* variables the services read.
    The services also apply their migrations when they start; a deployment runs this once
    first (a Job), and each replica waits with --check --wait until it has.
    """
    from shared.observability import configure_logging  # noqa: PLC0415 - keeps `--help` quick

    console = Console()
    names = [str(name) for name in service] if service else list(SERVICES)
    with ending():
        try:
            settings = load_settings(MigrationSettings, "migrate")
        except SettingsError as error:
            raise Stop(ExitCode.INVALID, str(error)) from error
        configure_logging(settings.log, "migrate")
        if not check:
            for name, applied in asyncio.run(apply_migrations(settings.database, names)).items():
                console.print(f"{name}: applied {len(applied)} migration(s)", markup=False)
            return
        missing = asyncio.run(wait_until_migrated(settings.database, names, wait))
        for name, versions in missing.items():
            state = f"missing {', '.join(versions)}" if versions else "up to date"
            console.print(f"{name}: {state}", markup=False, soft_wrap=True)
        if any(missing.values()):
            raise Stop(ExitCode.CONFLICT, "the schemas lack migrations: run `telebridge migrate`")


def main() -> None:
    """`python -m telebridge.migrate`: the command alone, as the image runs it."""
    typer.run(migrate_command)


if __name__ == "__main__":
    main()
