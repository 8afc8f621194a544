"""Real servers for the tests: embedded PostgreSQL and NATS on free ports.

Set TELEBRIDGE_DATABASE_URL (a server where databases may be created) and
TELEBRIDGE_NATS_URL to run against servers of your own instead. Every test gets a database
of its own and a JetStream with no streams.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest
from uuid_utils.compat import uuid7

from telebridge.embedded import EmbeddedNats, EmbeddedPostgres

EXTERNAL_DATABASE = os.environ.get("TELEBRIDGE_DATABASE_URL")
EXTERNAL_NATS = os.environ.get("TELEBRIDGE_NATS_URL")


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if EXTERNAL_DATABASE:
        yield EXTERNAL_DATABASE
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "data", durable=False)
    server.start()
    try:
        yield server.url()
    finally:
        server.stop()


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
async def database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A new, empty database for this test."""
    name = f"test_{uuid7().hex}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(postgres_admin_url, name)
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats | None]:
    """A NATS server of this test's own (None when an external one is configured)."""
    if EXTERNAL_NATS:
        yield None
        return
    server = EmbeddedNats(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def nats_url(nats_server: EmbeddedNats | None) -> AsyncIterator[str]:
    if nats_server is not None:
        yield nats_server.url
        return
    assert EXTERNAL_NATS
    await _delete_streams(EXTERNAL_NATS)
    yield EXTERNAL_NATS


async def _delete_streams(url: str) -> None:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        for info in await js.streams_info():
            await js.delete_stream(info.config.name)
    finally:
        await client.close()
