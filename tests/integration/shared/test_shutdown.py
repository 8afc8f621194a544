"""A service that shuts down leaves no work behind for the next replica (`Background.stop`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import UUID

import asyncpg
import msgspec
import nats
import nats.errors
import pytest
from nats.aio.client import Client as NATS

from services.registry.app import create_app
from shared.bus.outbox import OutboxRelay
from shared.events import REGISTRY, OrganizationUpserted, new_id, subject_of
from shared.settings import RegistrySettings
from tests.integration.api import body
from tests.integration.registry.support import LIPETSK
from tests.support import (
    OPERATOR,
    eventually,
    service_environment,
    service_process,
    serving,
    settings_for,
    stream_events,
)

UPSERTED = subject_of(OrganizationUpserted)


async def test_a_service_shut_down_right_after_a_write_leaves_nothing_unsent(
    database_url: str, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay's loop stands still here, as one does whose wake-up was lost and whose
    next poll is far away: only the flush at shutdown can publish the write's event."""

    async def asleep(_relay: OutboxRelay) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(OutboxRelay, "run", asleep)
    app = create_app(settings_for(RegistrySettings, database_url, nats_url))
    database = await asyncpg.connect(database_url)
    client = await nats.connect(nats_url)
    try:
        async with serving(app) as api:
            created = body(await api.post("/organizations", json=LIPETSK, headers=OPERATOR), 201)
            organization_id = UUID(created["id"])
            assert await _unsent(database, organization_id) == 1
        assert await _unsent(database, organization_id) == 0
        assert (
            await database.fetchval("SELECT count(*) FROM registry.outbox WHERE sent_at IS NULL")
            == 0
        )
        published = await stream_events(client.jetstream(), REGISTRY)
        assert str(organization_id) in {event["aggregate_id"] for event in published}
    finally:
        await client.close()
        await database.close()


async def _unsent(database: asyncpg.Connection, aggregate_id: UUID) -> int:
    count: int = await database.fetchval(
        "SELECT count(*) FROM registry.outbox WHERE sent_at IS NULL AND aggregate_id = $1",
        aggregate_id,
    )
    return count


async def test_a_service_told_to_stop_while_it_applies_an_event_applies_it_first(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """SIGTERM reaches the scheduling service while its consumer waits for a row the test
    holds: the event is applied and acknowledged before the process ends, not rolled back
    and left to be received again after `ack_wait`."""
    process = service_process(
        "scheduling", service_environment(database_url, nats_url), tmp_path / "logs"
    )
    database = await asyncpg.connect(database_url)
    holder = await asyncpg.connect(database_url)
    client = await nats.connect(nats_url)
    js = client.jetstream()
    organization_id = new_id()
    process.start()
    try:
        await asyncio.to_thread(process.wait_ready, 120)
        await js.publish(UPSERTED, msgspec.json.encode(_organization(organization_id, 1)))
        await eventually(lambda: _version(database, organization_id))
        holding = holder.transaction()
        await holding.start()
        await holder.execute(
            "SELECT 1 FROM scheduling.organizations WHERE id = $1 FOR UPDATE", organization_id
        )
        ack = await js.publish(UPSERTED, msgspec.json.encode(_organization(organization_id, 2)))
        await eventually(lambda: _waiting_for_a_lock(database))

        process.terminate()
        await eventually(lambda: _unlisted(client))  # its shutdown has begun
        await holding.rollback()
        await asyncio.to_thread(process.reap, time.monotonic() + 30)

        assert await _version(database, organization_id) == 2

        async def acknowledged() -> bool:
            info = await js.consumer_info(REGISTRY.name, "scheduling-registry")
            return bool(info.num_ack_pending == 0 and info.ack_floor.stream_seq == ack.seq)

        await eventually(acknowledged)
    finally:
        process.reap(time.monotonic())
        await client.close()
        await holder.close()
        await database.close()


def _organization(organization_id: UUID, version: int) -> OrganizationUpserted:
    return OrganizationUpserted(
        aggregate_id=organization_id,
        aggregate_version=version,
        name=f"Тамбовская областная библиотека, версия {version}",
        region="Тамбовская область",
        timezone="Europe/Moscow",
    )


async def _version(database: asyncpg.Connection, organization_id: UUID) -> int | None:
    version: int | None = await database.fetchval(
        "SELECT version FROM scheduling.organizations WHERE id = $1", organization_id
    )
    return version


async def _waiting_for_a_lock(database: asyncpg.Connection) -> bool:
    waiting: bool = await database.fetchval(
        "SELECT EXISTS (SELECT FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock')"
    )
    return waiting


async def _unlisted(client: NATS) -> bool:
    """Whether no instance of the scheduling service answers `nats.micro`'s ping."""
    try:
        await client.request("$SRV.PING.scheduling", b"", timeout=1)
    except nats.errors.NoRespondersError:
        return True
    return False
