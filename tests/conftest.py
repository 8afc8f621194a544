"""Real servers for the tests: embedded PostgreSQL and NATS on free ports.

Set TELEBRIDGE_DATABASE_URL (a server where databases may be created) and
TELEBRIDGE_NATS_URL to run against servers of your own instead. Every test gets a database
of its own and a JetStream with no streams, and runs in a folder and a home of its own.
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
from tests.support import embedded_nats

EXTERNAL_DATABASE = os.environ.get("TELEBRIDGE_DATABASE_URL")
EXTERNAL_NATS = os.environ.get("TELEBRIDGE_NATS_URL")


@pytest.fixture(autouse=True)
def own_folder_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its tmp_path, with a home of its own and no TELEBRIDGE_* variable
    of the shell that started pytest; returns the home.

    The operator commands read the working folder (`telebridge dev`'s
    .telebridge/operator-key), the home (~/.config/telebridge/config.toml) and the
    environment, whether the test runs them in-process or as a subprocess, and so do the
    services the tests start: so a test sees what it put there, never what `telebridge dev`
    or the user left where pytest was started.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in list(os.environ):
        if name.startswith("TELEBRIDGE_"):
            monkeypatch.delenv(name)
    return home


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
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL this test may stop and start without disturbing the others."""
    server = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats | None]:
    """A NATS server of this test's own (None when an external one is configured)."""
    if EXTERNAL_NATS:
        yield None
        return
    server = embedded_nats(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def nats_url(nats_server: EmbeddedNats | None) -> AsyncIterator[str]:
    if nats_server is not None:
        yield nats_server.admin_url
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
