"""Idempotent consumers against real PostgreSQL and NATS, through scheduling's read model
of the registry's organizations: duplicates, stale versions, poison messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import nats
import nats.js.errors
import pytest
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry.trace import StatusCode

from services.scheduling.app import create_app
from shared.bus.consumer import (
    CONSUMER_HEADER,
    DELIVERIES_HEADER,
    ERROR_HEADER,
    SUBJECT_HEADER,
    ConsumerWorker,
    EventConsumer,
)
from shared.bus.jetstream import ensure_streams
from shared.db import Connection, create_pool
from shared.events import DEADLETTER, REGISTRY, OrganizationUpserted, RegistryEvent, new_id
from shared.settings import DatabaseSettings, NatsSettings, SchedulingSettings
from shared.workers import supervise
from tests.support import eventually, harness, serving, settings_for
from tests.tracing import named, recorded_spans, trace_id

SUBJECT = "registry.organization.upserted"


@dataclass
class Scheduling:
    client: AsyncTestClient[Any]
    js: JetStreamContext
    database: asyncpg.Connection

    async def publish(
        self, payload: bytes, *, message_id: str | None = None, traceparent: str | None = None
    ) -> None:
        headers = {"Nats-Msg-Id": message_id} if message_id else {}
        if traceparent:
            headers["traceparent"] = traceparent
        await self.js.publish(SUBJECT, payload, headers=headers or None)

    async def organization(self, organization_id: UUID) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.database.fetchrow(
            "SELECT * FROM scheduling.organizations WHERE id = $1", organization_id
        )
        return row

    async def all_acknowledged(self) -> bool:
        try:
            info = await self.js.consumer_info(REGISTRY.name, "scheduling-registry")
        except nats.js.errors.NotFoundError:  # not declared yet
            return False
        return info.num_pending == 0 and info.num_ack_pending == 0

    async def inbox_size(self) -> int:
        count: int = await self.database.fetchval("SELECT count(*) FROM scheduling.inbox")
        return count


@pytest.fixture
async def scheduling(database_url: str, nats_url: str) -> AsyncIterator[Scheduling]:
    app = create_app(settings_for(SchedulingSettings, database_url, nats_url))
    async with harness(app, database_url, nats_url) as running:
        yield Scheduling(running.client, running.js, running.database)


def upserted(organization_id: UUID, version: int, name: str) -> OrganizationUpserted:
    return OrganizationUpserted(
        aggregate_id=organization_id,
        aggregate_version=version,
        name=name,
        region="Приморский край",
        timezone="Asia/Vladivostok",
    )


async def test_the_same_event_twice_is_applied_once(scheduling: Scheduling) -> None:
    organization_id = new_id()
    event = upserted(organization_id, 1, "Приморская краевая библиотека")
    payload = msgspec.json.encode(event)
    # No Nats-Msg-Id: JetStream stores both copies, as after a redelivery.
    await scheduling.publish(payload)
    await scheduling.publish(payload)
    # Both copies acknowledged, so both settled: an event of another aggregate applied
    # says nothing of them, since aggregates are applied side by side.
    await eventually(scheduling.all_acknowledged)

    row = await scheduling.organization(organization_id)
    assert row is not None
    assert row["name"] == "Приморская краевая библиотека"
    inbox = await scheduling.database.fetch(
        "SELECT event_id, applied FROM scheduling.inbox WHERE aggregate_id = $1", organization_id
    )
    assert [(r["event_id"], r["applied"]) for r in inbox] == [(event.event_id, True)]


async def test_an_event_is_applied_in_the_trace_its_message_carries(
    scheduling: Scheduling,
) -> None:
    spans = recorded_spans()
    event = upserted(new_id(), 1, "Приморская краевая библиотека")
    # The body's traceparent is the request's; the header's, the publish's, is the parent.
    event = msgspec.structs.replace(
        event, traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
    )
    await scheduling.publish(
        msgspec.json.encode(event),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    await eventually(lambda: scheduling.organization(event.aggregate_id))

    async def processed() -> bool:
        return bool(named(spans.get_finished_spans(), f"process {SUBJECT}"))

    await eventually(processed)
    [process] = named(spans.get_finished_spans(), f"process {SUBJECT}")
    assert trace_id(process) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert process.parent is not None
    assert format(process.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert process.attributes is not None
    assert process.attributes["messaging.consumer.group.name"] == "scheduling-registry"


async def test_an_older_version_after_a_newer_one_changes_nothing(scheduling: Scheduling) -> None:
    organization_id = new_id()
    await scheduling.publish(msgspec.json.encode(upserted(organization_id, 2, "Новое название")))
    await eventually(lambda: scheduling.organization(organization_id))
    stale = upserted(organization_id, 1, "Старое название")
    await scheduling.publish(msgspec.json.encode(stale))

    async def stale_recorded() -> bool:
        applied = await scheduling.database.fetchval(
            "SELECT applied FROM scheduling.inbox WHERE event_id = $1", stale.event_id
        )
        return applied is False

    await eventually(stale_recorded)
    row = await scheduling.organization(organization_id)
    assert row is not None
    assert (row["name"], row["version"]) == ("Новое название", 2)


async def test_a_malformed_message_is_dead_lettered_and_the_next_one_applied(
    scheduling: Scheduling,
) -> None:
    published_in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await scheduling.publish(
        b'{"type": "registry.organization.upserted", "name": 42', traceparent=published_in
    )
    valid = upserted(new_id(), 1, "Курская областная детская библиотека")
    await scheduling.publish(msgspec.json.encode(valid))

    row = await eventually(lambda: scheduling.organization(valid.aggregate_id))
    assert row["name"] == "Курская областная детская библиотека"
    letter = await scheduling.js.get_last_msg(
        DEADLETTER.name, f"deadletter.scheduling-registry.{SUBJECT}"
    )
    headers = dict(letter.headers or {})
    assert letter.data == b'{"type": "registry.organization.upserted", "name": 42'
    assert headers[ERROR_HEADER].startswith("cannot decode")
    assert headers[CONSUMER_HEADER] == "scheduling-registry"
    assert headers[SUBJECT_HEADER] == SUBJECT
    assert headers["traceparent"] == published_in, "never processed: in the publish's trace"


async def test_an_event_that_does_not_fit_its_schema_is_dead_lettered(
    scheduling: Scheduling,
) -> None:
    wrong = {**msgspec.to_builtins(upserted(new_id(), 1, "x")), "aggregate_version": 0}
    await scheduling.publish(msgspec.json.encode(wrong))
    letter = await eventually(
        lambda: _last_dead_letter(scheduling.js, f"deadletter.scheduling-registry.{SUBJECT}")
    )
    assert "aggregate_version" in dict(letter.headers or {})[ERROR_HEADER]


async def _last_dead_letter(js: JetStreamContext, subject: str) -> Any:
    try:
        return await js.get_last_msg(DEADLETTER.name, subject)
    except nats.js.errors.NotFoundError:
        return None


PUBLISHED_IN = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_an_effect_that_keeps_failing_is_retried_then_dead_lettered(
    database_url: str, nats_url: str
) -> None:
    """A consumer whose effect fails every time: bounded retries, then the dead letter with
    the error, and the consumer goes on with the next message."""
    settings = NatsSettings(url=nats_url, ack_wait=2, max_deliveries=3, retry_backoff=0.05)
    pool = await create_pool(DatabaseSettings(url=database_url), "scheduling")
    app = create_app(settings_for(SchedulingSettings, database_url, nats_url))
    client = await nats.connect(nats_url)
    attempts: dict[str, int] = {}

    async def fragile(connection: Connection, event: RegistryEvent) -> None:
        assert isinstance(event, OrganizationUpserted)
        attempts[event.name] = attempts.get(event.name, 0) + 1
        if event.name == "всегда сбоит":
            raise RuntimeError("the effect failed")

    consumer = EventConsumer[RegistryEvent](
        name="fragile", stream=REGISTRY, events=RegistryEvent, apply=fragile
    )
    spans = recorded_spans()
    try:
        async with serving(app):  # migrates the schema the consumer writes its inbox to
            js = client.jetstream()
            await ensure_streams(js, replicas=1)
            await js.publish(
                SUBJECT,
                msgspec.json.encode(upserted(new_id(), 1, "всегда сбоит")),
                headers={"traceparent": PUBLISHED_IN},
            )
            await js.publish(SUBJECT, msgspec.json.encode(upserted(new_id(), 1, "после сбоя")))
            worker = ConsumerWorker(pool, js, consumer, settings)
            task = asyncio.create_task(worker.run())
            try:
                letter = await eventually(
                    lambda: _last_dead_letter(js, f"deadletter.fragile.{SUBJECT}"), timeout=20
                )
                await eventually(lambda: _done(attempts, "после сбоя"))
            finally:
                task.cancel()
    finally:
        await client.close()
        await pool.close()
    headers = dict(letter.headers or {})
    assert headers[ERROR_HEADER] == "RuntimeError: the effect failed"
    assert headers[DELIVERIES_HEADER] == "3"
    assert attempts["всегда сбоит"] == 3
    # In the trace of its last, failed processing, a child of the publish.
    [last] = [
        span
        for span in named(spans.get_finished_spans(), f"process {SUBJECT}")
        if span.status.status_code == StatusCode.ERROR
    ][-1:]
    assert last.context is not None
    assert headers["traceparent"] == f"00-{trace_id(last)}-{last.context.span_id:016x}-01"
    assert trace_id(last) == PUBLISHED_IN.split("-")[1]


async def _done(attempts: dict[str, int], name: str) -> bool:
    return attempts.get(name, 0) == 1


async def test_a_durable_with_an_old_configuration_is_brought_up_to_date(
    database_url: str, nats_url: str
) -> None:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    try:
        await ensure_streams(js, replicas=1)
        await js.add_consumer(
            REGISTRY.name,
            ConsumerConfig(
                durable_name="scheduling-registry",
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
                max_deliver=10,
                filter_subject="registry.>",
            ),
        )
        app = create_app(settings_for(SchedulingSettings, database_url, nats_url))
        async with serving(app):

            async def updated() -> bool:
                info = await js.consumer_info(REGISTRY.name, "scheduling-registry")
                return bool(info.config.ack_wait == 2 and info.config.max_deliver == 4)

            await eventually(updated)
    finally:
        await client.close()


async def test_a_consumer_asked_to_stop_settles_the_event_it_is_applying(
    database_url: str, nats_url: str
) -> None:
    """Asked to stop while an effect runs, a consumer lets it finish, acknowledges the
    event (no other replica receives it again) and returns; its supervisor does not start
    it again. A worker cancelled instead would roll the effect back and leave it pending."""
    settings = NatsSettings(url=nats_url, ack_wait=2, max_deliveries=3, retry_backoff=0.05)
    pool = await create_pool(DatabaseSettings(url=database_url), "scheduling")
    app = create_app(settings_for(SchedulingSettings, database_url, nats_url))
    client = await nats.connect(nats_url)
    applying, may_finish = asyncio.Event(), asyncio.Event()
    applied: list[UUID] = []

    async def slow(connection: Connection, event: RegistryEvent) -> None:
        applying.set()
        await may_finish.wait()
        await connection.execute("SELECT pg_sleep(0.2)")  # still busy when the wait ends
        applied.append(event.event_id)

    consumer = EventConsumer[RegistryEvent](
        name="slow", stream=REGISTRY, events=RegistryEvent, apply=slow
    )
    stopping = asyncio.Event()
    runs = 0

    async def run() -> None:
        nonlocal runs
        runs += 1
        await ConsumerWorker(pool, js, consumer, settings, stopping=stopping).run()

    try:
        async with serving(app):  # migrates the schema the consumer writes its inbox to
            js = client.jetstream()
            await ensure_streams(js, replicas=1)
            event = upserted(new_id(), 1, "Тамбовская областная библиотека")
            ack = await js.publish(SUBJECT, msgspec.json.encode(event))
            supervised = asyncio.create_task(supervise("slow", run, stopping))
            try:
                await asyncio.wait_for(applying.wait(), timeout=15)
                stopping.set()
                may_finish.set()
                await asyncio.wait_for(supervised, timeout=10)  # returns, not restarted
            finally:
                supervised.cancel()

            async def acknowledged() -> bool:
                info = await js.consumer_info(REGISTRY.name, "slow")
                return bool(info.num_ack_pending == 0 and info.ack_floor.stream_seq == ack.seq)

            await eventually(acknowledged)
            inbox = await pool.fetch(
                "SELECT event_id, applied FROM scheduling.inbox WHERE consumer = 'slow'"
            )
    finally:
        await client.close()
        await pool.close()
    assert runs == 1
    assert applied == [event.event_id]
    assert [(row["event_id"], row["applied"]) for row in inbox] == [(event.event_id, True)]
