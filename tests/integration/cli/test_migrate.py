"""`telebridge migrate`, the deployment's migration Job and its replicas' wait, on real
PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from shared.migrations import pending
from shared.settings import DatabaseSettings
from telebridge import migrate as migrations
from telebridge.cli import app as cli
from telebridge.client import ExitCode


@pytest.fixture(autouse=True)
def logging_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command configures structlog for the process, bound to the streams it has then:
    here the runner's, closed after each run, which later tests would still write to."""
    monkeypatch.setattr("shared.observability.configure_logging", lambda *_: None)


async def run(database_url: str, *args: str) -> Result:
    env = {"TELEBRIDGE_DATABASE_URL": database_url}
    return await asyncio.to_thread(CliRunner().invoke, cli, ["migrate", *args], env=env)


async def test_migrate_builds_every_schema_and_check_then_passes(database_url: str) -> None:
    before = await run(database_url, "--check")
    assert before.exit_code == ExitCode.CONFLICT, before.output
    for service in migrations.SERVICES:
        assert f"{service}: missing shared/" in before.output

    applied = await run(database_url)
    assert applied.exit_code == ExitCode.OK, applied.output
    connection = await asyncpg.connect(database_url)
    try:
        for service in migrations.SERVICES:
            definition = migrations.definition_of(service)
            count = await connection.fetchval(f'SELECT count(*) FROM "{service}".schema_migrations')
            assert count == len(definition.all_migrations())
            assert await pending(connection, service, definition.all_migrations()) == []
    finally:
        await connection.close()

    after = await run(database_url, "--check")
    assert after.exit_code == ExitCode.OK, after.output
    assert after.output.count("up to date") == 3

    again = await run(database_url)
    assert again.exit_code == ExitCode.OK
    assert again.output.count("applied 0 migration(s)") == 3


async def test_one_service_can_be_migrated_and_checked_alone(database_url: str) -> None:
    assert (await run(database_url, "--service", "agenda")).exit_code == ExitCode.OK
    assert (await run(database_url, "--check", "--service", "agenda")).exit_code == ExitCode.OK
    other = await run(database_url, "--check", "--service", "registry")
    assert other.exit_code == ExitCode.CONFLICT


async def test_a_waiting_check_passes_once_the_job_has_migrated(database_url: str) -> None:
    database = DatabaseSettings(url=database_url)
    waiting = asyncio.create_task(
        migrations.wait_until_migrated(database, migrations.SERVICES, 60, 0.2)
    )
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await migrations.apply_migrations(database, migrations.SERVICES)
    missing = await asyncio.wait_for(waiting, 30)
    assert missing == {service: [] for service in migrations.SERVICES}


async def test_a_waiting_check_gives_up_after_its_time(database_url: str) -> None:
    result = await run(database_url, "--check", "--wait", "0.5", "--service", "scheduling")
    assert result.exit_code == ExitCode.CONFLICT


async def test_an_unreachable_database_is_reported_with_its_exit_code() -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["migrate", "--check"],
        env={"TELEBRIDGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "TELEBRIDGE_DATABASE_URL" in result.output


@pytest.mark.parametrize("service", migrations.SERVICES)
def test_the_command_migrates_what_the_service_itself_would(service: str) -> None:
    definition = migrations.definition_of(service)
    assert definition.name == service
    sources = {migration.source for migration in definition.all_migrations()}
    assert {"shared", service} <= sources
