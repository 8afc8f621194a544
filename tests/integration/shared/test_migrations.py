"""The migration runner against a real PostgreSQL: order, once only, replicas at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from shared.migrations import MigrationError, discover, migrate


def write_migrations(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


async def test_applies_in_order_once_and_records_what_ran(
    database_url: str, tmp_path: Path
) -> None:
    folder = write_migrations(
        tmp_path / "m",
        {
            "0002_add_column.sql": "ALTER TABLE things ADD COLUMN label text;",
            "0001_create.sql": "CREATE TABLE things (id int PRIMARY KEY);",
        },
    )
    connection = await asyncpg.connect(database_url)
    try:
        first = await migrate(connection, "demo", discover("demo", folder))
        second = await migrate(connection, "demo", discover("demo", folder))
        columns = await connection.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'demo' AND table_name = 'things' ORDER BY ordinal_position"
        )
        ledger = await connection.fetch(
            "SELECT source, version FROM demo.schema_migrations ORDER BY version"
        )
    finally:
        await connection.close()
    assert first == ["demo/0001_create", "demo/0002_add_column"]
    assert second == []
    assert [row["column_name"] for row in columns] == ["id", "label"]
    assert [tuple(row) for row in ledger] == [("demo", "0001_create"), ("demo", "0002_add_column")]


async def test_replicas_starting_at_once_apply_each_migration_once(
    database_url: str, tmp_path: Path
) -> None:
    # Without the lock, the second CREATE TABLE (no IF NOT EXISTS) would fail.
    folder = write_migrations(
        tmp_path / "m",
        {
            f"{n:04d}_t{n}.sql": f"CREATE TABLE t{n} (id int); SELECT pg_sleep(0.05);"
            for n in range(1, 6)
        },
    )
    migrations = discover("svc", folder)
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(migrate(connection, "svc", migrations) for connection in connections)
        )
        applied = await connections[0].fetchval("SELECT count(*) FROM svc.schema_migrations")
    finally:
        for connection in connections:
            await connection.close()
    assert sorted(len(ran) for ran in results) == [0, 0, 0, 5]
    assert applied == 5


async def test_an_edited_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"0001_create.sql": "CREATE TABLE a (id int);"})
    connection = await asyncpg.connect(database_url)
    try:
        await migrate(connection, "edited", discover("edited", folder))
        (folder / "0001_create.sql").write_text("CREATE TABLE a (id bigint);", encoding="utf-8")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(connection, "edited", discover("edited", folder))
    finally:
        await connection.close()


async def test_a_failing_migration_leaves_nothing_half_done(
    database_url: str, tmp_path: Path
) -> None:
    folder = write_migrations(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE ok (id int);",
            "0002_broken.sql": "CREATE TABLE half (id int); SELECT no_such_function();",
        },
    )
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError, match="0002_broken failed"):
            await migrate(connection, "broken", discover("broken", folder))
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'broken' "
            "ORDER BY table_name"
        )
    finally:
        await connection.close()
    assert [row["table_name"] for row in tables] == ["ok", "schema_migrations"]
