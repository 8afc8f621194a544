"""What counts as the database being away, and an outage logged once however often it fails."""

from __future__ import annotations

import asyncpg
import pytest
from structlog.testing import capture_logs

from shared.db import PoolExhausted, database_unavailable
from shared.outages import Outages


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        ConnectionResetError(104, "Connection reset by peer"),
        asyncpg.ObjectNotInPrerequisiteStateError(
            'database "telebridge" is not currently accepting connections'
        ),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash of another server"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        PoolExhausted("no database connection free within 5s"),
    ],
)
def test_the_database_being_away_is_recognised(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        TimeoutError(),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.ObjectNotInPrerequisiteStateError("cannot refresh materialized view concurrently"),
        asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
        ValueError("not the database"),
    ],
)
def test_a_mistake_is_not_taken_for_an_outage(error: Exception) -> None:
    assert not database_unavailable(error)


def test_an_outage_is_logged_when_it_begins_and_when_it_ends() -> None:
    outages = Outages()
    with capture_logs() as logs:
        outages.answered("postgres")
        for _ in range(100):
            outages.failed("postgres", ConnectionRefusedError(111, "refused"))
        outages.failed("nats", "disconnected")
        assert outages.down("postgres")
        for _ in range(100):
            outages.answered("postgres")
    assert [(entry["event"], entry["dependency"]) for entry in logs] == [
        ("outage begins", "postgres"),
        ("outage begins", "nats"),
        ("outage ends", "postgres"),
    ]
    assert logs[-1]["failures"] == 100
    assert not outages.down("postgres")
    assert outages.down("nats")
