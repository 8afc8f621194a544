"""The sequence-order trap of outboxes: positions are taken when a row is inserted, but
rows become visible when their transaction commits, so a later position can be seen before
an earlier one. A relay that remembers "published up to position N" skips the earlier row
that commits after it. Here 16 writers commit in random order, and the relay must publish
every one of their events, once, each writer's in order."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

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


async def published(js: JetStreamContext) -> list[dict[str, Any]]:
    """Every event in the registry's stream, in stream order, read in batches."""
    expected = (await js.stream_info(REGISTRY.name)).state.messages
    subscription = await js.pull_subscribe(
        f"{REGISTRY.prefix}.>",
        stream=REGISTRY.name,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE),
    )
    events: list[dict[str, Any]] = []
    try:
        while len(events) < expected:
            events.extend(
                msgspec.json.decode(message.data)
                for message in await subscription.fetch(1000, timeout=5)
            )
    finally:
        await subscription.unsubscribe()
    return events


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


@pytest.mark.timeout(600)
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

            await eventually(all_sent, timeout=400, interval=0.5)
        events = await published(js)
    finally:
        await client.close()
        await pool.close()
    assert len(written) == EVENTS
    ids = [event["event_id"] for event in events]
    assert len(ids) == len(set(ids)), "an event was published twice"
    missing = set(written) - set(ids)
    assert not missing, f"{len(missing)} events never published"
    versions: dict[str, list[int]] = defaultdict(list)
    for event in events:
        versions[event["aggregate_id"]].append(event["aggregate_version"])
    each = EVENTS // WRITERS
    assert all(order == list(range(1, each + 1)) for order in versions.values()), (
        "an organization's events were published out of order"
    )
