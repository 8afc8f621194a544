"""The sequence-order trap of outboxes: positions are taken when a row is inserted, but
rows become visible when their transaction commits, so a later position can be seen before
an earlier one. A relay that remembers "published up to position N" skips the earlier row
that commits after it. Here 16 writers commit in random order, and the relay must publish
every one of 100,000 events, once."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import msgspec
import nats
import pytest
from nats.js import JetStreamContext

from shared.bus.jetstream import ensure_streams
from shared.bus.outbox import OutboxRelay, add_event, unsent_count
from shared.db import Pool, create_pool
from shared.events import REGISTRY, OrganizationUpserted, new_id
from shared.migrations import KERNEL_MIGRATIONS, discover, migrate
from shared.notify import Notifier
from shared.settings import DatabaseSettings
from tests.support import eventually

pytestmark = pytest.mark.faults

SCHEMA = "writers"
CHANNEL = f"{SCHEMA}.outbox"
WRITERS = 16
EVENTS = 100_000
LARGEST_TRANSACTION = 200


async def write(pool: Pool, rng: random.Random, count: int, written: list[str]) -> None:
    """`count` events of one organization, in transactions of random size that wait a
    random moment before they commit."""
    aggregate = new_id()
    version = 0
    while version < count:
        size = min(rng.randint(1, LARGEST_TRANSACTION), count - version)
        async with pool.acquire() as connection, connection.transaction():
            for _ in range(size):
                version += 1
                event = OrganizationUpserted(
                    aggregate_id=aggregate,
                    aggregate_version=version,
                    name=f"Библиотека, версия {version}",
                    region="Липецкая область",
                    timezone="Europe/Moscow",
                )
                await add_event(connection, event)
                written.append(str(event.event_id))
            await asyncio.sleep(rng.random() * 0.02)


async def published_ids(js: JetStreamContext) -> list[str]:
    subscription = await js.pull_subscribe("registry.>", durable="faults-writers-check")
    ids: list[str] = []
    while True:
        try:
            messages = await subscription.fetch(1000, timeout=2)
        except nats.errors.TimeoutError:
            return ids
        for message in messages:
            ids.append(msgspec.json.decode(message.data)["event_id"])
            await message.ack()


@contextlib.asynccontextmanager
async def relaying(
    pool: Pool, js: JetStreamContext, settings: DatabaseSettings
) -> AsyncIterator[None]:
    notifier = Notifier(settings, SCHEMA, [CHANNEL])
    tasks = [
        asyncio.create_task(notifier.run()),
        asyncio.create_task(OutboxRelay(pool, js, notifier, CHANNEL, poll_interval=0.2).run()),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.timeout(240)
async def test_writers_committing_out_of_order_lose_no_event(
    database_url: str, nats_url: str
) -> None:
    settings = DatabaseSettings(url=database_url, pool_max_size=WRITERS + 2)
    pool = await create_pool(settings, SCHEMA)
    client = await nats.connect(nats_url)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, SCHEMA, discover("shared", KERNEL_MIGRATIONS))
        js = client.jetstream()
        await ensure_streams(js, replicas=1)
        written: list[str] = []
        rng = random.Random(15)  # noqa: S311 - a fixed sequence, not a secret
        async with relaying(pool, js, settings):
            await asyncio.gather(
                *(
                    write(pool, random.Random(rng.random()), EVENTS // WRITERS, written)  # noqa: S311
                    for _ in range(WRITERS)
                )
            )

            async def all_sent() -> bool:
                async with pool.acquire() as connection:
                    return await unsent_count(connection) == 0

            await eventually(all_sent, timeout=180, interval=0.5)
        published = await published_ids(js)
    finally:
        await client.close()
        await pool.close()
    assert len(written) == EVENTS
    assert len(published) == len(set(published)), "an event was published twice"
    missing = set(written) - set(published)
    assert not missing, f"{len(missing)} events never published"
    assert (await js_count(nats_url)) == EVENTS


async def js_count(nats_url: str) -> int:
    client = await nats.connect(nats_url)
    try:
        info = await client.jetstream().stream_info(REGISTRY.name)
        count: int = info.state.messages
        return count
    finally:
        await client.close()
