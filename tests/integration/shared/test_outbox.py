"""The outbox relay against real PostgreSQL and NATS: nothing lost, nothing reordered."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from shared.bus.jetstream import ensure_streams
from shared.bus.outbox import (
    EVENT_LIMIT,
    EventTooLargeError,
    OutboxRelay,
    add_event,
    stamped,
    unsent_count,
)
from shared.db import Pool, create_pool
from shared.events import REGISTRY, OrganizationUpserted, new_id
from shared.migrations import KERNEL_MIGRATIONS, discover, migrate
from shared.notify import Notifier
from shared.settings import DatabaseSettings
from shared.tracing import TRACER
from telebridge.embedded import EmbeddedNats
from tests.support import eventually, stream_messages
from tests.tracing import named, recorded_spans, trace_id

SCHEMA = "relaytest"
CHANNEL = f"{SCHEMA}.outbox"


@dataclass
class Relaying:
    pool: Pool
    nats: NATS
    js: JetStreamContext
    notifier: Notifier
    settings: DatabaseSettings

    def relay(self, **options: Any) -> OutboxRelay:
        return OutboxRelay(self.pool, self.js, self.notifier, CHANNEL, **options)


@pytest.fixture
async def relaying(database_url: str, nats_url: str) -> AsyncIterator[Relaying]:
    settings = DatabaseSettings(url=database_url)
    pool = await create_pool(settings, SCHEMA)
    async with pool.acquire() as connection:
        await migrate(connection, SCHEMA, discover("shared", KERNEL_MIGRATIONS))
    client = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = client.jetstream()
    await ensure_streams(js, replicas=1)
    notifier = Notifier(settings, SCHEMA, [CHANNEL])
    listening = asyncio.create_task(notifier.run())
    try:
        yield Relaying(pool, client, js, notifier, settings)
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await client.close()
        await pool.close()


def organization_event(aggregate: UUID, version: int) -> OrganizationUpserted:
    return OrganizationUpserted(
        aggregate_id=aggregate,
        aggregate_version=version,
        name=f"Библиотека, версия {version}",
        region="Липецкая область",
        timezone="Europe/Moscow",
    )


async def write_events(pool: Pool, events: list[OrganizationUpserted]) -> None:
    async with pool.acquire() as connection, connection.transaction():
        for event in events:
            await add_event(connection, event)


async def stream_contents(js: JetStreamContext) -> list[tuple[dict[str, Any], dict[str, str]]]:
    return [
        (msgspec.json.decode(message.data), dict(message.headers or {}))
        for message in await stream_messages(js, REGISTRY)
    ]


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_events_are_published_once_with_their_id_and_marked_sent(relaying: Relaying) -> None:
    aggregate = new_id()
    events = [organization_event(aggregate, version) for version in (1, 2, 3)]
    await write_events(relaying.pool, events)
    async with running(relaying.relay()):

        async def all_sent() -> bool:
            async with relaying.pool.acquire() as connection:
                return await unsent_count(connection) == 0

        await eventually(all_sent)
    published = await stream_contents(relaying.js)
    assert [body["aggregate_version"] for body, _ in published] == [1, 2, 3]
    assert [headers["Nats-Msg-Id"] for _, headers in published] == [
        str(event.event_id) for event in events
    ]
    assert all(body["producer"] == "registry" for body, _ in published)


async def test_a_rolled_back_change_publishes_nothing(relaying: Relaying) -> None:
    class AbandonedError(Exception):
        pass

    with contextlib.suppress(AbandonedError):
        async with relaying.pool.acquire() as connection, connection.transaction():
            await add_event(connection, organization_event(new_id(), 1))
            raise AbandonedError
    await relaying.relay().publish_pending()
    info = await relaying.js.stream_info(REGISTRY.name)
    assert info.state.messages == 0


async def test_a_lost_acknowledgement_does_not_publish_twice(relaying: Relaying) -> None:
    event = organization_event(new_id(), 1)
    await write_events(relaying.pool, [event])
    relay = relaying.relay()
    assert await relay.publish_pending() == 1
    # As if the ack had been lost: the row is unsent again and is published once more.
    async with relaying.pool.acquire() as connection:
        await connection.execute(f"UPDATE {SCHEMA}.outbox SET sent_at = NULL")
    assert await relay.publish_pending() == 1
    published = await stream_contents(relaying.js)
    assert len(published) == 1


async def test_the_relay_rides_out_a_nats_outage_in_order(
    relaying: Relaying, nats_server: EmbeddedNats | None
) -> None:
    if nats_server is None:
        pytest.skip("needs the embedded NATS server, which the test can stop and start")
    aggregates = [new_id() for _ in range(3)]
    await write_events(relaying.pool, [organization_event(aggregates[0], 1)])
    async with running(relaying.relay(publish_timeout=0.5)):
        await eventually(lambda: _stream_size(relaying.js, 1))
        nats_server.kill()
        # Written while NATS is down: the relay keeps them until it is back.
        for version in (1, 2, 3):
            await write_events(
                relaying.pool,
                [organization_event(aggregate, version) for aggregate in aggregates[1:]],
            )
        await write_events(relaying.pool, [organization_event(aggregates[0], 2)])
        await asyncio.sleep(2)
        async with relaying.pool.acquire() as connection:
            failures = await connection.fetchval(
                f"SELECT count(*) FROM {SCHEMA}.outbox WHERE attempts > 0"
            )
            assert await unsent_count(connection) == 7
        assert failures > 0, "the relay should have tried and recorded its failures"
        nats_server.start()
        await eventually(lambda: _stream_size(relaying.js, 8), timeout=30)
    published = await stream_contents(relaying.js)
    versions: dict[str, list[int]] = defaultdict(list)
    for body, _ in published:
        versions[body["aggregate_id"]].append(body["aggregate_version"])
    assert versions == {
        str(aggregates[0]): [1, 2],
        str(aggregates[1]): [1, 2, 3],
        str(aggregates[2]): [1, 2, 3],
    }
    ids = [headers["Nats-Msg-Id"] for _, headers in published]
    assert len(ids) == len(set(ids))


async def _stream_size(js: JetStreamContext, expected: int) -> bool:
    try:
        info = await js.stream_info(REGISTRY.name)
    except Exception:  # NATS may still be coming back
        return False
    return bool(info.state.messages == expected)


async def test_two_relays_keep_each_aggregates_order(relaying: Relaying, database_url: str) -> None:
    aggregates = [new_id() for _ in range(5)]
    for version in range(1, 21):
        await write_events(
            relaying.pool, [organization_event(aggregate, version) for aggregate in aggregates]
        )
    second_pool = await create_pool(DatabaseSettings(url=database_url), SCHEMA)
    second = OutboxRelay(second_pool, relaying.js, relaying.notifier, CHANNEL, batch_size=3)
    try:
        async with running(relaying.relay(batch_size=3)), running(second):
            await eventually(lambda: _stream_size(relaying.js, 100), timeout=30)
    finally:
        await second_pool.close()
    published = await stream_contents(relaying.js)
    versions: dict[str, list[int]] = defaultdict(list)
    for body, _ in published:
        versions[body["aggregate_id"]].append(body["aggregate_version"])
    assert all(order == list(range(1, 21)) for order in versions.values()), versions
    async with relaying.pool.acquire() as connection:
        assert await unsent_count(connection) == 0


async def test_unsent_rows_survive_a_relay_that_dies(relaying: Relaying, database_url: str) -> None:
    await write_events(relaying.pool, [organization_event(new_id(), 1)])
    # A relay that claimed the row and died before publishing leaves it unsent and unlocked.
    dying = await asyncpg.connect(database_url)
    await dying.transaction().start()
    claimed = await dying.fetch(
        f"SELECT position FROM {SCHEMA}.outbox WHERE sent_at IS NULL FOR UPDATE SKIP LOCKED"
    )
    assert len(claimed) == 1
    assert await relaying.relay().publish_pending() == 0  # skipped: another relay holds it
    dying.terminate()  # gone without commit or rollback, as a killed process goes
    await eventually(lambda: _publishes(relaying.relay()))


async def _publishes(relay: OutboxRelay) -> bool:
    return await relay.publish_pending() == 1


async def test_an_aggregates_run_of_events_goes_out_in_one_batch(relaying: Relaying) -> None:
    aggregate = new_id()
    await write_events(relaying.pool, [organization_event(aggregate, v) for v in (1, 2, 3)])
    assert await relaying.relay().publish_pending() == 3
    published = await stream_contents(relaying.js)
    assert [body["aggregate_version"] for body, _ in published] == [1, 2, 3]


async def test_a_refused_event_holds_back_its_aggregate_only(relaying: Relaying) -> None:
    refused, other = new_id(), new_id()
    await write_events(relaying.pool, [organization_event(refused, 1)])
    async with relaying.pool.acquire() as connection:
        # Larger than the server's max_payload: NATS refuses it however often it is sent.
        await connection.execute(
            f"UPDATE {SCHEMA}.outbox SET payload = $1", b"x" * (2 * 1024 * 1024)
        )
    await write_events(
        relaying.pool, [organization_event(refused, 2), organization_event(other, 1)]
    )
    assert await relaying.relay().publish_pending() == 1
    published = await stream_contents(relaying.js)
    assert [body["aggregate_id"] for body, _ in published] == [str(other)]
    async with relaying.pool.acquire() as connection:
        waiting = await connection.fetch(
            f"SELECT aggregate_version, attempts, last_error FROM {SCHEMA}.outbox "
            "WHERE sent_at IS NULL ORDER BY position"
        )
    assert [row["aggregate_version"] for row in waiting] == [1, 2]
    assert waiting[0]["attempts"] == 1
    assert "MaxPayload" in waiting[0]["last_error"]


async def test_an_event_too_large_for_a_message_is_refused_with_its_change(
    relaying: Relaying,
) -> None:
    spans = recorded_spans()
    # As in a request: the events carry a traceparent, and so do their messages' headers.
    with TRACER.start_as_current_span("request"):
        fitting = sized_event(EVENT_LIMIT.max_bytes)
        too_large = sized_event(EVENT_LIMIT.max_bytes + 1)
        with pytest.raises(EventTooLargeError) as refused:
            await write_events(relaying.pool, [organization_event(new_id(), 1), too_large])
        assert refused.value.size == EVENT_LIMIT.max_bytes + 1
        async with relaying.pool.acquire() as connection:
            assert await unsent_count(connection) == 0

        # The largest event taken still fits in a message, with its headers.
        await write_events(relaying.pool, [fitting])
    assert await relaying.relay().publish_pending() == 1
    [(published, headers)] = await stream_contents(relaying.js)
    assert published["event_id"] == str(fitting.event_id)
    # One trace: the request, the event's creation in the outbox, its publish.
    [request] = named(spans.get_finished_spans(), "request")
    [create] = named(spans.get_finished_spans(), f"create {fitting.subject}")[-1:]
    [send] = named(spans.get_finished_spans(), f"send {fitting.subject}")
    assert trace_id(request) == trace_id(create) == trace_id(send)
    assert send.parent is not None
    assert send.parent.span_id == create.context.span_id
    assert headers["traceparent"].split("-")[2] == format(send.context.span_id, "016x")


def sized_event(size: int) -> OrganizationUpserted:
    """An organization's event whose JSON, as the outbox writes it now, is `size` bytes."""
    event = organization_event(new_id(), 1)
    short = len(msgspec.json.encode(stamped(msgspec.structs.replace(event, city=""))))
    return msgspec.structs.replace(event, city="x" * (size - short))


async def test_two_relays_keep_each_aggregates_order_past_a_refused_event(
    relaying: Relaying, database_url: str
) -> None:
    aggregates = [new_id() for _ in range(20)]
    refused = aggregates[0]
    for version in range(1, 11):
        await write_events(
            relaying.pool, [organization_event(aggregate, version) for aggregate in aggregates]
        )
    async with relaying.pool.acquire() as connection:
        # Larger than the server's max_payload: NATS refuses it however often it is sent.
        await connection.execute(
            f"UPDATE {SCHEMA}.outbox SET payload = $1 WHERE aggregate_id = $2 "
            "AND aggregate_version = 3",
            b"x" * (2 * 1024 * 1024),
            refused,
        )
    second_pool = await create_pool(DatabaseSettings(url=database_url), SCHEMA)
    second = OutboxRelay(second_pool, relaying.js, relaying.notifier, CHANNEL, batch_size=7)
    try:
        async with running(relaying.relay(batch_size=5)), running(second):
            await eventually(lambda: _stream_size(relaying.js, 19 * 10 + 2), timeout=30)
            async with relaying.pool.acquire() as connection:
                waiting = await connection.fetch(
                    f"SELECT aggregate_id, aggregate_version FROM {SCHEMA}.outbox "
                    "WHERE sent_at IS NULL ORDER BY position"
                )
                assert [(row[0], row[1]) for row in waiting] == [
                    (refused, version) for version in range(3, 11)
                ]
                # Once the event is one the server takes, its aggregate follows in order.
                await connection.execute(
                    f"UPDATE {SCHEMA}.outbox SET payload = $1 WHERE aggregate_id = $2 "
                    "AND aggregate_version = 3",
                    msgspec.json.encode(stamped(organization_event(refused, 3))),
                    refused,
                )
            await eventually(lambda: _stream_size(relaying.js, 200), timeout=30)
    finally:
        await second_pool.close()
    versions = versions_by_aggregate(await all_published(relaying.js))
    assert versions == {str(aggregate): list(range(1, 11)) for aggregate in aggregates}


async def test_no_event_is_skipped_when_writers_commit_out_of_order(
    relaying: Relaying, database_url: str
) -> None:
    """Positions are taken when a row is written but rows appear when their writer commits,
    later than rows written after them: a relay that read by position would skip these."""
    writers, transactions, per_transaction, aggregates_each = 16, 25, 50, 10
    randomness = random.Random(15)  # noqa: S311 (commit delays, not secrets)
    writing_pool = await create_pool(
        DatabaseSettings(url=database_url, pool_max_size=writers), SCHEMA
    )

    async def writer() -> None:
        versions = dict.fromkeys([new_id() for _ in range(aggregates_each)], 0)
        aggregates = list(versions)
        for _ in range(transactions):
            async with writing_pool.acquire() as connection, connection.transaction():
                for index in range(per_transaction):
                    aggregate = aggregates[index % aggregates_each]
                    versions[aggregate] += 1
                    await add_event(connection, organization_event(aggregate, versions[aggregate]))
                await asyncio.sleep(randomness.uniform(0, 0.05))

    second_pool = await create_pool(DatabaseSettings(url=database_url), SCHEMA)
    second = OutboxRelay(second_pool, relaying.js, relaying.notifier, CHANNEL)
    total = writers * transactions * per_transaction
    try:
        async with running(relaying.relay()), running(second):
            await asyncio.gather(*(writer() for _ in range(writers)))
            await eventually(lambda: _stream_size(relaying.js, total), timeout=120)
    finally:
        await second_pool.close()
        await writing_pool.close()
    async with relaying.pool.acquire() as connection:
        assert await unsent_count(connection) == 0
        written = {
            row[0] for row in await connection.fetch(f"SELECT event_id FROM {SCHEMA}.outbox")
        }
    published = await all_published(relaying.js)
    assert len(published) == total
    assert {UUID(body["event_id"]) for body, _ in published} == written
    each = transactions * per_transaction // aggregates_each
    versions = versions_by_aggregate(published)
    assert len(versions) == writers * aggregates_each
    assert all(order == list(range(1, each + 1)) for order in versions.values())


async def all_published(js: JetStreamContext) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Every message of the registry's stream in order, read in batches through a consumer."""
    expected = (await js.stream_info(REGISTRY.name)).state.messages
    subscription = await js.pull_subscribe(
        f"{REGISTRY.prefix}.>",
        stream=REGISTRY.name,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE),
    )
    contents: list[tuple[dict[str, Any], dict[str, str]]] = []
    try:
        while len(contents) < expected:
            contents.extend(
                (msgspec.json.decode(message.data), dict(message.headers or {}))
                for message in await subscription.fetch(1000, timeout=5)
            )
    finally:
        await subscription.unsubscribe()
    return contents


def versions_by_aggregate(
    published: list[tuple[dict[str, Any], dict[str, str]]],
) -> dict[str, list[int]]:
    versions: dict[str, list[int]] = defaultdict(list)
    for body, _ in published:
        versions[body["aggregate_id"]].append(body["aggregate_version"])
    return dict(versions)


async def test_a_stopped_relay_flushes_what_was_written_after_its_loop(
    relaying: Relaying,
) -> None:
    """At shutdown the relay's loop stops first; what is written after it (by a consumer
    finishing its event) is published by the flush, batch after batch, in order."""
    relay = relaying.relay(batch_size=2)
    await write_events(relaying.pool, [organization_event(new_id(), 1)])
    async with running(relay):
        await eventually(lambda: _stream_size(relaying.js, 1))
    aggregates = [new_id(), new_id()]
    for version in (1, 2, 3):
        await write_events(
            relaying.pool, [organization_event(aggregate, version) for aggregate in aggregates]
        )

    left = await relay.flush(deadline=asyncio.get_running_loop().time() + 30)

    assert left == 0
    published = await stream_contents(relaying.js)
    assert len(published) == 7
    versions = versions_by_aggregate(published)
    assert all(versions[str(aggregate)] == [1, 2, 3] for aggregate in aggregates)
    async with relaying.pool.acquire() as connection:
        assert await unsent_count(connection) == 0


async def test_a_flush_out_of_time_publishes_nothing_and_counts_what_is_left(
    relaying: Relaying,
) -> None:
    await write_events(relaying.pool, [organization_event(new_id(), 1) for _ in range(3)])

    left = await relaying.relay().flush(deadline=asyncio.get_running_loop().time())

    assert left == 3
    assert await stream_contents(relaying.js) == []


async def test_a_flush_ends_when_nats_is_away_and_counts_what_is_left(
    relaying: Relaying, nats_server: EmbeddedNats | None
) -> None:
    if nats_server is None:
        pytest.skip("needs the embedded NATS server, which the test can stop and start")
    await write_events(relaying.pool, [organization_event(new_id(), 1) for _ in range(3)])
    nats_server.kill()
    clock = asyncio.get_running_loop().time
    started = clock()
    try:
        left = await relaying.relay(publish_timeout=0.5).flush(deadline=started + 30)
    finally:
        nats_server.start()

    assert left == 3
    assert clock() - started < 10, "a flush does not wait for NATS to come back"
