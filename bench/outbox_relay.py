"""How fast the outbox relay publishes: events a second, for one relay and for two.

    uv run python bench/outbox_relay.py [--events 5000] [--aggregates 500]

Starts its own embedded PostgreSQL and NATS, writes the events in batches of 100 per
transaction, then times relays draining the outbox. Numbers, not assertions: compare runs
on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import nats

from shared.bus.jetstream import ensure_streams
from shared.bus.outbox import OutboxRelay, add_event, unsent_count
from shared.db import create_pool
from shared.events import OrganizationUpserted, new_id
from shared.migrations import KERNEL_MIGRATIONS, discover, migrate
from shared.notify import Notifier
from shared.observability import configure_logging
from shared.settings import DatabaseSettings, LogSettings
from telebridge.embedded import EmbeddedNats, EmbeddedPostgres

SCHEMA = "bench"


async def run(events: int, aggregates: int, relays: int, database_url: str, nats_url: str) -> float:
    settings = DatabaseSettings(url=database_url, pool_max_size=10)
    pool = await create_pool(settings, SCHEMA)
    async with pool.acquire() as connection:
        await migrate(connection, SCHEMA, discover("shared", KERNEL_MIGRATIONS))
        await connection.execute("TRUNCATE outbox")
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await ensure_streams(js, replicas=1)
    await js.purge_stream("REGISTRY")
    ids = [new_id() for _ in range(aggregates)]
    versions = dict.fromkeys(ids, 0)
    for start in range(0, events, 100):
        async with pool.acquire() as connection, connection.transaction():
            for index in range(start, min(start + 100, events)):
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
    notifier = Notifier(settings, SCHEMA, [f"{SCHEMA}.outbox"])
    tasks = [
        asyncio.create_task(OutboxRelay(pool, js, notifier, f"{SCHEMA}.outbox").run())
        for _ in range(relays)
    ]
    started = time.perf_counter()
    while True:
        async with pool.acquire() as connection:
            if await unsent_count(connection) == 0:
                break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await client.close()
    await pool.close()
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--aggregates", type=int, default=500)
    arguments = parser.parse_args()
    configure_logging(LogSettings(level="warning"), "bench")
    with tempfile.TemporaryDirectory() as folder:
        postgres = EmbeddedPostgres(Path(folder) / "postgres")
        server = EmbeddedNats(Path(folder) / "nats")
        postgres.start()
        server.start()
        try:
            for relays in (1, 2):
                rate = asyncio.run(
                    run(arguments.events, arguments.aggregates, relays, postgres.url(), server.url)
                )
                print(
                    f"{relays} relay(s): {rate:,.0f} events/s "
                    f"({arguments.events} events over {arguments.aggregates} aggregates)"
                )
        finally:
            server.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
