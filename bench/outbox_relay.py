"""How fast the outbox relay publishes: events a second, for one relay and for two, beside a
relay that awaits each publish in turn (the baseline).

    uv run python bench/outbox_relay.py [--events 20000] [--aggregates 2000] [--batch-size 500]

Starts its own embedded PostgreSQL and NATS, writes the events in batches of 1,000 per
transaction, then times relays draining the outbox into an emptied stream. Numbers, not
assertions: compare runs on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import nats
from nats.js import JetStreamContext

from shared.bus.jetstream import ensure_streams
from shared.bus.outbox import (
    _CLAIM_HEADS,
    _CLAIM_RUNS,
    _MARK_SENT,
    OutboxRelay,
    PendingEvent,
    add_event,
    unsent_count,
)
from shared.db import Pool, acquire, as_structs, create_pool
from shared.events import OrganizationUpserted, new_id, stream_of
from shared.migrations import KERNEL_MIGRATIONS, discover, migrate
from shared.notify import Notifier
from shared.observability import configure_logging
from shared.settings import DatabaseSettings, LogSettings
from telebridge.embedded import EmbeddedNats, EmbeddedPostgres

SCHEMA = "bench"


class AwaitingEachPublish(OutboxRelay):
    """The baseline: claims as the relay does, but waits for each acknowledgement in turn."""

    def __init__(self, pool: Pool, js: JetStreamContext, *args: object, **kwargs: object) -> None:
        super().__init__(pool, js, *args, **kwargs)  # type: ignore[arg-type]
        self._bench_pool = pool
        self._bench_js = js

    async def publish_pending(self) -> int:
        async with acquire(self._bench_pool) as connection, connection.transaction():
            heads = await connection.fetch(_CLAIM_HEADS, 100)
            rows = as_structs(
                await connection.fetch(
                    _CLAIM_RUNS,
                    [head["aggregate_type"] for head in heads],
                    [head["aggregate_id"] for head in heads],
                    100,
                ),
                PendingEvent,
            )
            for row in rows:
                await self._bench_js.publish(
                    row.subject,
                    row.payload,
                    stream=stream_of(row.subject).name,
                    headers={"Nats-Msg-Id": str(row.event_id)},
                )
            await connection.execute(_MARK_SENT, [row.position for row in rows])
        return len(rows)


async def write(pool: Pool, events: int, aggregates: int) -> None:
    ids = [new_id() for _ in range(aggregates)]
    versions = dict.fromkeys(ids, 0)
    for start in range(0, events, 1000):
        async with pool.acquire() as connection, connection.transaction():
            for index in range(start, min(start + 1000, events)):
                aggregate = ids[index % aggregates]
                versions[aggregate] += 1
                await add_event(
                    connection,
                    OrganizationUpserted(
                        aggregate_id=aggregate,
                        aggregate_version=versions[aggregate],
                        name="Библиотека",
                        region="Липецкая область",
                        timezone="Europe/Moscow",
                    ),
                )


def relay_process(
    database_url: str, nats_url: str, batch_size: int, baseline: bool, ready: Event
) -> None:
    """One relay in a process of its own, as each replica of a service runs it."""
    configure_logging(LogSettings(level="warning"), "bench")

    async def relay() -> None:
        settings = DatabaseSettings(url=database_url, pool_max_size=2)
        pool = await create_pool(settings, SCHEMA)
        client = await nats.connect(nats_url)
        notifier = Notifier(settings, SCHEMA, [f"{SCHEMA}.outbox"])
        relay_type = AwaitingEachPublish if baseline else OutboxRelay
        ready.set()
        await asyncio.gather(
            notifier.run(),
            relay_type(
                pool, client.jetstream(), notifier, f"{SCHEMA}.outbox", batch_size=batch_size
            ).run(),
        )

    asyncio.run(relay())


async def run(
    *,
    events: int,
    aggregates: int,
    relays: int,
    batch_size: int,
    baseline: bool,
    database_url: str,
    nats_url: str,
) -> float:
    settings = DatabaseSettings(url=database_url, pool_max_size=10)
    pool = await create_pool(settings, SCHEMA)
    async with pool.acquire() as connection:
        await migrate(connection, SCHEMA, discover("shared", KERNEL_MIGRATIONS))
        await connection.execute("TRUNCATE outbox")
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await ensure_streams(js, replicas=1)
    await js.purge_stream("REGISTRY")
    await write(pool, events, aggregates)
    spawn = multiprocessing.get_context("spawn")
    readiness = [spawn.Event() for _ in range(relays)]
    processes = [
        spawn.Process(
            target=relay_process,
            args=(database_url, nats_url, batch_size, baseline, ready),
            daemon=True,
        )
        for ready in readiness
    ]
    for process in processes:
        process.start()
    try:
        for ready in readiness:
            await asyncio.to_thread(ready.wait)
        started = time.perf_counter()
        while True:
            async with pool.acquire() as connection:
                if await unsent_count(connection) == 0:
                    break
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
            process.join()
    stored = (await js.stream_info("REGISTRY")).state.messages
    assert stored == events, f"{stored} of {events} events in the stream"
    await client.close()
    await pool.close()
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--aggregates", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=500)
    arguments = parser.parse_args()
    configure_logging(LogSettings(level="warning"), "bench")
    with tempfile.TemporaryDirectory() as folder:
        postgres = EmbeddedPostgres(Path(folder) / "postgres")
        server = EmbeddedNats(Path(folder) / "nats")
        postgres.start()
        server.start()
        try:
            for name, relays, baseline in (
                ("awaiting each publish (baseline)", 1, True),
                ("one relay", 1, False),
                ("two relays", 2, False),
            ):
                rate = asyncio.run(
                    run(
                        events=arguments.events,
                        aggregates=arguments.aggregates,
                        relays=relays,
                        batch_size=arguments.batch_size,
                        baseline=baseline,
                        database_url=postgres.url(),
                        nats_url=server.url,
                    )
                )
                print(
                    f"{name}: {rate:,.0f} events/s ({arguments.events:,} events over "
                    f"{arguments.aggregates:,} aggregates, batches of {arguments.batch_size})"
                )
        finally:
            server.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
