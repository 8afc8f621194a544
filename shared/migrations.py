"""Apply numbered `.sql` files to one service's schema, once each, in order.

The kernel's own tables (outbox, inbox) come first as the `shared` source, then the
service's `migrations/` folder. A session-level advisory lock per schema makes it safe for
replicas that start at the same moment: the second waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import structlog

from shared.db import Connection

log = structlog.get_logger(__name__)

KERNEL_MIGRATIONS = Path(__file__).parent / "bus" / "migrations"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

_LOCK = "SELECT pg_advisory_lock(hashtextextended($1, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"
_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    source     text        NOT NULL,
    version    text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, version)
)
"""
_APPLIED = "SELECT source, version, checksum FROM schema_migrations"
_RECORD = "INSERT INTO schema_migrations (source, version, checksum) VALUES ($1, $2, $3)"


class MigrationError(RuntimeError):
    """A migration already applied was edited afterwards, or a file failed."""


@dataclass(frozen=True)
class Migration:
    source: str
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(source: str, directory: Path) -> list[Migration]:
    """The `.sql` files of `directory`, in the order their names sort."""
    return [
        Migration(source, path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.sql"))
    ]


async def pending(connection: Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """The migrations not yet applied in `schema`, without applying any or taking its lock.

    A migration applied with other contents raises `MigrationError`, as `migrate` would.
    """
    if not _IDENTIFIER.fullmatch(schema):
        raise MigrationError(f"not a plain schema name: {schema!r}")
    ledger = await connection.fetchval("SELECT to_regclass($1)", f'"{schema}".schema_migrations')
    applied: dict[tuple[str, str], str] = {}
    if ledger is not None:
        rows = await connection.fetch(
            f'SELECT source, version, checksum FROM "{schema}".schema_migrations'
        )
        applied = {(row["source"], row["version"]): row["checksum"] for row in rows}
    missing: list[str] = []
    for migration in migrations:
        checksum = applied.get((migration.source, migration.version))
        if checksum is None:
            missing.append(f"{migration.source}/{migration.version}")
        elif checksum != migration.checksum:
            raise MigrationError(
                f"{schema}: migration {migration.source}/{migration.version} "
                "was changed after it was applied; add a new migration instead"
            )
    return missing


async def migrate(connection: Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply what has not run yet in `schema`; returns the versions applied now."""
    if not _IDENTIFIER.fullmatch(schema):
        raise MigrationError(f"not a plain schema name: {schema!r}")
    lock_key = f"telebridge.migrations.{schema}"
    await connection.execute(_LOCK, lock_key)
    try:
        await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await connection.execute(f'SET search_path TO "{schema}"')
        await connection.execute(_CREATE_LEDGER)
        applied = {
            (row["source"], row["version"]): row["checksum"]
            for row in await connection.fetch(_APPLIED)
        }
        ran: list[str] = []
        for migration in migrations:
            key = (migration.source, migration.version)
            if key in applied:
                if applied[key] != migration.checksum:
                    raise MigrationError(
                        f"{schema}: migration {migration.source}/{migration.version} "
                        "was changed after it was applied; add a new migration instead"
                    )
                continue
            async with connection.transaction():
                try:
                    await connection.execute(migration.sql)
                except Exception as error:
                    raise MigrationError(
                        f"{schema}: migration {migration.source}/{migration.version} failed: "
                        f"{error}"
                    ) from error
                await connection.execute(_RECORD, *key, migration.checksum)
            log.info("migration applied", schema=schema, migration=f"{key[0]}/{key[1]}")
            ran.append(f"{migration.source}/{migration.version}")
        return ran
    finally:
        await connection.execute(_UNLOCK, lock_key)
