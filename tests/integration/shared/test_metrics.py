"""`/metrics` moves when the service does: each test scrapes, makes one thing happen, and
waits until the scrape shows it (a scrape is the thing waited on, never a sleep).

Counters and histograms belong to the process, and the tests run several services in one
process one after another, so every check compares a scrape with an earlier one of the
same test, by labels that name the service or its consumers."""

from __future__ import annotations

import email
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from services.registry.app import create_app as create_registry
from shared.events import new_id
from shared.settings import (
    NatsSettings,
    RegistrySettings,
    WebhookSettings,
)
from tests import events
from tests.integration.api import body, publish
from tests.integration.registry.support import Registry
from tests.integration.registry.test_webhooks import Receiver
from tests.integration.scheduling.support import (
    STARTS,
    MoodyServer,
    scheduling_mailing_to,
    scheduling_service,
    sign_up,
)
from tests.support import ADMIN_KEY, OPERATOR, eventually, harness, settings_for

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
POISON = b'{"type": "registry.organization.upserted", "name": 42'


@dataclass(frozen=True)
class Scraped:
    """One answer of `/metrics`, parsed as Prometheus parses it."""

    text: str
    samples: list[Sample]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample.name == name and labels.items() <= sample.labels.items()
            for sample in self.samples
        )


async def scrape(client: AsyncTestClient[Litestar]) -> Scraped:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == PROMETHEUS_TEXT
    families = text_string_to_metric_families(response.text)
    return Scraped(response.text, [sample for family in families for sample in family.samples])


async def until(
    client: AsyncTestClient[Litestar], name: str, at_least: float, **labels: str
) -> Scraped:
    """The first scrape in which `name` (with `labels`) has reached `at_least`."""

    async def reached() -> Scraped | None:
        scraped = await scrape(client)
        return scraped if scraped.value(name, **labels) >= at_least else None

    return await eventually(reached)


async def test_scheduling_counts_requests_events_dead_letters_and_slot_searches(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with scheduling_service(database_url, nats_url, tmp_path) as scheduling:
        client = scheduling.client
        operator = client.headers.pop("Authorization")
        before = await scrape(client)  # no key: operators scrape from inside the cluster
        client.headers["Authorization"] = operator
        service = {"service": "scheduling"}
        consumer = {"consumer": "scheduling-registry"}

        # A consumer applies an event: its processing time is observed.
        applied = "telebridge_consumer_processing_seconds_count"
        moscow = await scheduling.moscow()
        vladivostok = await scheduling.vladivostok()
        new = {**consumer, "result": "new"}
        await until(client, applied, before.value(applied, **new) + 2, **new)

        # A request: counted under its route's template and status, never its path.
        requests = "telebridge_http_request_duration_seconds_count"
        created = {**service, "method": "POST", "route": "/meetings", "status": "201"}
        meeting = await scheduling.telebridge(moscow, vladivostok)
        read = {**service, "method": "GET", "route": "/meetings/{meeting_id}", "status": "200"}
        assert (await client.get(f"/meetings/{meeting['id']}")).status_code == 200
        missing = {**read, "status": "404"}
        assert (await client.get(f"/meetings/{new_id()}")).status_code == 404
        after = await until(client, requests, before.value(requests, **read) + 1, **read)
        assert after.value(requests, **created) == before.value(requests, **created) + 1
        assert after.value(requests, **missing) == before.value(requests, **missing) + 1
        assert meeting["id"] not in after.text, "an id in a label"
        assert str(moscow) not in after.text, "an id in a label"

        # What no route serves is counted too, under one route and a known method.
        unknown = {**service, "method": "GET", "route": "(unmatched)", "status": "404"}
        unmatched_path = f"/no-such-page/{new_id()}"
        assert (await client.get(unmatched_path)).status_code == 404
        not_taken = {**service, "method": "DELETE", "route": "(unmatched)", "status": "405"}
        assert (await client.delete("/slots")).status_code == 405
        made_up = {**service, "method": "_OTHER", "status": "405"}
        assert (await client.request("BREW", "/slots")).status_code == 405
        counted = await until(client, requests, before.value(requests, **unknown) + 1, **unknown)
        assert counted.value(requests, **not_taken) == before.value(requests, **not_taken) + 1
        assert counted.value(requests, **made_up) == before.value(requests, **made_up) + 1
        assert "BREW" not in counted.text
        assert unmatched_path not in counted.text

        # The relay publishes the meeting's event.
        published = "telebridge_outbox_published_total"
        await scheduling.events_of(meeting["id"], 1)
        await until(client, published, before.value(published, **service) + 1, **service)

        # A slot search is timed.
        searches = "telebridge_slot_search_duration_seconds_count"
        found = await client.post(
            "/slots",
            json={
                "organization_ids": [str(moscow), str(vladivostok)],
                "duration_minutes": 60,
                "window_start": STARTS.isoformat(),
                "window_end": (STARTS + timedelta(days=2)).isoformat(),
            },
        )
        assert found.status_code == 200, found.text
        await until(client, searches, before.value(searches) + 1)

        # A message no event can be read from goes to the dead letters, counted.
        dead = "telebridge_consumer_dead_letters_total"
        poisoned = {**consumer, "reason": "undecodable"}
        await scheduling.js.publish("registry.organization.upserted", POISON)
        await until(client, dead, before.value(dead, **poisoned) + 1, **poisoned)

        # Every consumer of the service is listed with its lag; none lags once all is applied.
        caught_up = await until(client, "telebridge_probe_success", 1, probe="consumers")
        for name in ("scheduling-registry", "scheduling-agenda"):
            assert caught_up.has("telebridge_consumer_pending_messages", consumer=name)
        assert caught_up.value("telebridge_probe_success", probe="outbox") == 1
        assert caught_up.value("telebridge_probe_success", probe="mail-queue") == 1


async def test_the_outbox_backlog_and_its_age_grow_while_an_event_cannot_be_published(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with scheduling_service(database_url, nats_url, tmp_path) as scheduling:
        client = scheduling.client
        service = {"service": "scheduling"}
        failures = "telebridge_outbox_publish_failures_total"
        before = await until(client, "telebridge_probe_success", 1, probe="outbox")
        assert before.value("telebridge_outbox_backlog") == 0
        assert before.value("telebridge_outbox_oldest_unsent_age_seconds") == 0

        # An event larger than any NATS message: the server refuses it every time, and it
        # stays in the outbox (a change too large is refused before it is written; this
        # one is written behind the service's back to stand for any event stuck there).
        await scheduling.database.execute(
            """
            INSERT INTO scheduling.outbox (event_id, subject, aggregate_type, aggregate_id,
                                           aggregate_version, payload, created_at)
            VALUES ($1, 'scheduling.meeting.updated', 'meeting', $2, 1, $3,
                    now() - interval '1 minute')
            """,
            new_id(),
            new_id(),
            b"x" * (2 * NatsSettings().max_payload),
        )
        stuck = await until(client, failures, before.value(failures, **service) + 1, **service)
        assert stuck.value("telebridge_outbox_backlog") == 1
        assert stuck.value("telebridge_outbox_oldest_unsent_age_seconds") >= 60


async def test_a_consumer_held_up_shows_unacknowledged_and_redelivered_messages(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with scheduling_service(database_url, nats_url, tmp_path) as scheduling:
        client = scheduling.client
        consumer = {"consumer": "scheduling-registry"}
        before = await scrape(client)
        redeliveries = "telebridge_consumer_redeliveries_total"
        duplicates = {**consumer, "result": "duplicate"}
        applied = "telebridge_consumer_processing_seconds_count"

        # The read model's table locked: the consumer cannot apply the organization until
        # the lock goes, and after `ack_wait` (2 s here) JetStream delivers it again.
        lock = scheduling.database.transaction()
        await lock.start()
        try:
            await scheduling.database.execute(
                "LOCK TABLE scheduling.organizations IN EXCLUSIVE MODE"
            )
            await publish(
                scheduling.js,
                events.organization("Библиотека", "Тульская область", "Europe/Moscow"),
            )
            held = await until(client, "telebridge_consumer_redelivered_messages", 1, **consumer)
            assert held.value("telebridge_consumer_ack_pending_messages", **consumer) >= 1
        finally:
            await lock.rollback()

        # Applied once the lock is gone; the second delivery is a redelivery, and a duplicate.
        after = await until(client, applied, before.value(applied, **duplicates) + 1, **duplicates)
        assert after.value(redeliveries, **consumer) >= before.value(redeliveries, **consumer) + 1

        async def acknowledged() -> bool:
            found = await scrape(client)
            unacknowledged = "telebridge_consumer_ack_pending_messages"
            return found.has(unacknowledged, **consumer) and not found.value(
                unacknowledged, **consumer
            )

        await eventually(acknowledged)


async def test_the_mail_queue_and_each_outcome_of_sending(database_url: str, nats_url: str) -> None:
    server = MoodyServer(
        ["451 4.3.0 Mailbox busy, try again later", "550 5.1.1 No such mailbox"], held=True
    )
    async with scheduling_mailing_to(server, database_url, nats_url, Path()) as scheduling:
        client = scheduling.client
        mail = "telebridge_mail_attempts_total"
        before = await scrape(client)
        meeting = await scheduling.telebridge(
            await scheduling.moscow(), await scheduling.vladivostok()
        )
        host = UUID(meeting["host_organization_id"])

        # The server holds the first mail: it waits in the queue, and ages.
        await sign_up(scheduling, meeting["id"], host, "Анна Андреевна Ахматова")
        waiting = await until(client, "telebridge_mail_queue_depth", 1)
        assert waiting.value("telebridge_mail_queue_depth") == 1

        # "Later", then "never": retried once, then given up; nothing waits.
        server.gate.set()
        given_up = await until(
            client, mail, before.value(mail, outcome="failed") + 1, outcome="failed"
        )
        assert given_up.value(mail, outcome="retry") == before.value(mail, outcome="retry") + 1
        assert given_up.value("telebridge_mail_queue_depth") == 0
        assert given_up.value(mail, outcome="sent") == before.value(mail, outcome="sent")

        # The next mail is taken.
        await sign_up(scheduling, meeting["id"], host, "Борис Леонидович Пастернак")
        sent = await until(client, mail, before.value(mail, outcome="sent") + 1, outcome="sent")
        assert sent.value("telebridge_mail_queue_depth") == 0
        assert len(server.received) == 1
        assert email.message_from_bytes(server.received[0])["To"]


async def test_webhook_deliveries_by_outcome(database_url: str, nats_url: str) -> None:
    receiver = Receiver(answers=[503])
    await receiver.start()
    settings = settings_for(
        RegistrySettings,
        database_url,
        nats_url,
        admin_key=ADMIN_KEY,
        webhooks=WebhookSettings(private_networks="127.0.0.0/8", retry_after=0.1, timeout=2.0),
    )
    try:
        async with harness(create_registry(settings), database_url, nats_url) as running:
            running.client.headers.update(OPERATOR)
            registry = Registry(running.client, running.js, running.database)
            client = registry.client
            deliveries = "telebridge_webhook_deliveries_total"
            before = await scrape(client)
            organization = await registry.organization()
            key = await registry.partner_key(organization)
            body(
                await client.post(
                    "/webhooks/endpoints",
                    json={"url": receiver.url, "event_types": ["meeting.scheduled"]},
                    headers=key,
                ),
                201,
            )
            await publish(registry.js, events.scheduled(UUID(organization["id"])))

            # A 503 first (failed, retried), then a 200 (delivered).
            delivered = await until(
                client,
                deliveries,
                before.value(deliveries, outcome="delivered") + 1,
                outcome="delivered",
            )
            failed = before.value(deliveries, outcome="failed") + 1
            assert delivered.value(deliveries, outcome="failed") == failed
            assert delivered.value("telebridge_webhook_delivery_duration_seconds_count") >= (
                before.value("telebridge_webhook_delivery_duration_seconds_count") + 2
            )
            assert delivered.value("telebridge_webhook_queue_depth") == 0
            assert len(receiver.received) == 2
            assert organization["id"] not in delivered.text, "an id in a label"
            assert delivered.value("telebridge_probe_success", probe="webhook-queue") == 1
    finally:
        await receiver.stop()
