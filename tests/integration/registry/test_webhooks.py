"""Signed webhooks as a partner receives them, verified with the `standardwebhooks` package
as the partner's own code would.

The rules: an endpoint gets every event of the types it asked for about meetings its
organization takes part in and about its own people, and nothing else; each message is
signed with every secret in use and carries the event id as `webhook-id`, the same on every
retry and replay; a message is retried until the endpoint takes it, across a restart of the
registry and of the receiver; a 410 disables the endpoint, and so does a day of failures.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
import uvicorn
from standardwebhooks import Webhook

from services.registry.app import create_app
from shared.events import MeetingCancelled, MeetingUpdated, new_id
from shared.settings import RegistrySettings, WebhookSettings
from telebridge.embedded import free_port
from tests import events
from tests.integration.api import body, problem, publish
from tests.integration.registry.support import Registry
from tests.support import ADMIN_KEY, OPERATOR, eventually, harness, settings_for

ALL_TYPES = [
    "meeting.scheduled",
    "meeting.updated",
    "meeting.cancelled",
    "registration.created",
    "registration.cancelled",
    "rsvp.changed",
]


@dataclass
class Receiver:
    """A partner's webhook endpoint on this machine: it answers each POST with the next
    status of `answers` (200 when none is left) and keeps what it got."""

    port: int = field(default_factory=free_port)
    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    delay: float = 0.0
    """Seconds to wait before answering."""
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telebridge/webhooks"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        content = b""
        more = True
        while more:
            message = await receive()
            content += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.received.append((headers, content))
        status = self.answers.pop(0) if self.answers else 200
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"thanks" * 1000})

    async def start(self) -> None:
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, lifespan="off")
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        await eventually(self._started)

    async def _started(self) -> bool:
        return self.server is not None and self.server.started

    async def stop(self) -> None:
        assert self.server is not None
        assert self.task is not None
        self.server.should_exit = True
        await self.task

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(content) for _, content in self.received]


def _settings(database_url: str, nats_url: str, **webhooks: Any) -> RegistrySettings:
    return settings_for(
        RegistrySettings,
        database_url,
        nats_url,
        admin_key=ADMIN_KEY,
        webhooks=WebhookSettings(
            **{"private_networks": "127.0.0.0/8", "retry_after": 0.1, "timeout": 2.0, **webhooks}
        ),
    )


@asynccontextmanager
async def _registry(database_url: str, nats_url: str, **webhooks: Any) -> AsyncIterator[Registry]:
    app = create_app(_settings(database_url, nats_url, **webhooks))
    async with harness(app, database_url, nats_url) as running:
        running.client.headers.update(OPERATOR)
        yield Registry(running.client, running.js, running.database)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = Receiver()
    await started.start()
    yield started
    if started.server is not None and not started.server.should_exit:
        await started.stop()


async def _partner(registry: Registry) -> tuple[dict[str, Any], dict[str, str]]:
    organization = await registry.organization()
    return organization, await registry.partner_key(organization)


async def _endpoint(
    registry: Registry, key: dict[str, str], url: str, **fields: Any
) -> dict[str, Any]:
    created: dict[str, Any] = body(
        await registry.client.post(
            "/webhooks/endpoints",
            json={"url": url, "event_types": ALL_TYPES, **fields},
            headers=key,
        ),
        201,
    )
    return created


async def _disabled(
    registry: Registry, key: dict[str, str], endpoint: dict[str, Any]
) -> dict[str, Any] | None:
    """The endpoint once it is disabled, else None."""
    found: dict[str, Any] = body(
        await registry.client.get(f"/webhooks/endpoints/{endpoint['id']}", headers=key)
    )
    return None if found["enabled"] else found


async def _settled_log(
    registry: Registry, key: dict[str, str], endpoint: dict[str, Any]
) -> list[dict[str, Any]]:
    """The endpoint's delivery log once no delivery in it is pending: the receiver keeps a
    message before it answers, and the sender records the answer after."""

    async def settled() -> list[dict[str, Any]] | None:
        log: list[dict[str, Any]] = body(
            await registry.client.get(
                f"/webhooks/endpoints/{endpoint['id']}/deliveries", headers=key
            )
        )
        return log if log and all(entry["state"] != "pending" for entry in log) else None

    return await eventually(settled)


def _verified(secret: str, headers: dict[str, str], content: bytes) -> Any:
    return Webhook(secret).verify(content, headers)


async def test_a_partner_gets_signed_events_of_its_meetings_and_people_only(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    async with _registry(database_url, nats_url) as registry:
        ours, key = await _partner(registry)
        theirs, _ = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url)
        assert endpoint["secret"].startswith("whsec_")

        our_meeting = events.scheduled(UUID(ours["id"]))
        their_meeting = events.scheduled(UUID(theirs["id"]))
        await publish(registry.js, their_meeting, our_meeting)
        await registry.meeting_known(our_meeting)
        person = await registry.person(ours, "Алехина Ирина", "alekhina@lodb.example", headers=key)
        signed_up = body(
            await registry.client.post(
                f"/meetings/{our_meeting.aggregate_id}/registrations",
                json={"person_id": person["id"]},
                headers=key,
            ),
            201,
        )

        async def both() -> bool:
            return len(receiver.received) >= 2

        await eventually(both)
        await asyncio.sleep(0.5)  # nothing else is on its way
        kinds = []
        for headers, content in receiver.received:
            message = _verified(endpoint["secret"], headers, content)
            kinds.append((message["type"], message["data"]["aggregate_id"]))
            assert headers["webhook-id"] == message["data"]["event_id"]
            assert headers["content-type"] == "application/json"
        assert sorted(kinds) == sorted(
            [
                ("meeting.scheduled", str(our_meeting.aggregate_id)),
                ("registration.created", signed_up["id"]),
            ]
        )

        log = body(
            await registry.client.get(
                f"/webhooks/endpoints/{endpoint['id']}/deliveries", headers=key
            )
        )
        assert {entry["state"] for entry in log} == {"delivered"}
        assert all(entry["attempts"][0]["status_code"] == 200 for entry in log)
        assert all(len(entry["attempts"][0]["response_excerpt"]) == 1024 for entry in log)


async def test_a_message_is_retried_with_its_id_across_restarts_until_taken(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    receiver.answers = [503]
    async with _registry(database_url, nats_url, retry_after=0.5) as registry:
        ours, key = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url, event_types=["meeting.scheduled"])
        await receiver.stop()
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        async def refused() -> list[Any] | None:
            log = body(
                await registry.client.get(
                    f"/webhooks/endpoints/{endpoint['id']}/deliveries", headers=key
                )
            )
            return log if log and log[0]["attempts"] else None

        [delivery] = await eventually(refused)
        assert delivery["attempts"][0]["status_code"] is None
        assert delivery["attempts"][0]["error"]
    receiver.server = None
    await receiver.start()
    async with _registry(database_url, nats_url, retry_after=0.5) as registry:

        async def taken() -> bool:
            return len(receiver.received) == 2

        await eventually(taken, timeout=30)
        assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 1
        for headers, content in receiver.received:
            _verified(endpoint["secret"], headers, content)
        [delivery] = await _settled_log(registry, key, endpoint)
        assert delivery["state"] == "delivered"
        assert len(receiver.received) == 2
        statuses = [attempt["status_code"] for attempt in delivery["attempts"]]
        assert statuses[-2:] == [503, 200]
        assert set(statuses[:-2]) == {None}


async def test_gone_disables_the_endpoint_and_says_why(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    receiver.answers = [410]
    async with _registry(database_url, nats_url) as registry:
        ours, key = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url)
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        found = await eventually(lambda: _disabled(registry, key, endpoint))
        assert "410" in found["disabled_reason"]


async def test_an_endpoint_failing_for_its_limit_is_disabled(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    receiver.answers = [500] * 100
    async with _registry(database_url, nats_url, disable_after=1.0) as registry:
        ours, key = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url)
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        found = await eventually(lambda: _disabled(registry, key, endpoint), timeout=30)
        assert "failed for" in found["disabled_reason"]
        assert "status 500" in found["disabled_reason"]


async def test_a_rotated_secret_signs_beside_the_new_one_until_it_expires(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    async with _registry(database_url, nats_url) as registry:
        ours, key = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url)
        rotated = body(
            await registry.client.post(
                f"/webhooks/endpoints/{endpoint['id']}/secret/rotate",
                json={"overlap_seconds": 3600},
                headers=key,
            ),
            201,
        )
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        async def one() -> bool:
            return len(receiver.received) == 1

        await eventually(one)
        headers, content = receiver.received[0]
        assert len(headers["webhook-signature"].split()) == 2
        _verified(endpoint["secret"], headers, content)
        _verified(rotated["secret"], headers, content)


async def test_an_ordered_endpoint_gets_a_meeting_s_versions_in_order(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    receiver.answers = [503, 503]
    async with _registry(database_url, nats_url) as registry:
        ours, key = await _partner(registry)
        await _endpoint(registry, key, receiver.url, ordered=True)
        meeting = events.scheduled(UUID(ours["id"]))
        moved = events.later(meeting, MeetingUpdated)
        cancelled = events.later(moved, MeetingCancelled)
        await publish(registry.js, meeting, moved, cancelled)

        async def all_three() -> bool:
            return len({h["webhook-id"] for h, _ in receiver.received}) == 3

        await eventually(all_three, timeout=30)
        versions = [message["data"]["aggregate_version"] for message in receiver.messages()]
        assert versions == [1, 1, 1, 2, 3]


async def test_a_delivery_is_sent_again_on_request_with_its_id(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    async with _registry(database_url, nats_url) as registry:
        ours, key = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url)
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        async def one() -> bool:
            return len(receiver.received) == 1

        await eventually(one)
        [delivery] = body(
            await registry.client.get(
                f"/webhooks/endpoints/{endpoint['id']}/deliveries", headers=key
            )
        )
        body(
            await registry.client.post(
                f"/webhooks/endpoints/{endpoint['id']}/deliveries/{delivery['id']}/replay",
                headers=key,
            ),
            202,
        )

        async def twice() -> bool:
            return len(receiver.received) == 2

        await eventually(twice)
        replayed = body(
            await registry.client.post(
                f"/webhooks/endpoints/{endpoint['id']}/replay",
                json={"since": "2020-01-01T00:00:00Z"},
                headers=key,
            ),
            202,
        )
        assert replayed == {"queued": 1}

        async def again() -> bool:
            return len(receiver.received) == 3

        await eventually(again)
        assert {headers["webhook-id"] for headers, _ in receiver.received} == {
            delivery["webhook_id"]
        }


async def test_an_endpoint_of_another_partner_reads_as_one_that_does_not_exist(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    async with _registry(database_url, nats_url) as registry:
        _, ours = await _partner(registry)
        _, theirs = await _partner(registry)
        endpoint = await _endpoint(registry, ours, receiver.url)
        missing = f"/webhooks/endpoints/{new_id()}"
        for path in (f"/webhooks/endpoints/{endpoint['id']}", missing):
            problem(await registry.client.get(path, headers=theirs), 404, "not-found")
            problem(
                await registry.client.get(f"{path}/deliveries", headers=theirs), 404, "not-found"
            )
        listed = body(await registry.client.get("/webhooks/endpoints", headers=theirs))
        assert listed["items"] == []
        assert [
            item["id"] for item in body(await registry.client.get("/webhooks/endpoints"))["items"]
        ] == [endpoint["id"]]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
    ],
)
async def test_a_private_address_is_refused_unless_the_operator_allowed_it(
    registry: Registry, url: str
) -> None:
    organization = await registry.organization()
    key = await registry.partner_key(organization)
    refused = problem(
        await registry.client.post(
            "/webhooks/endpoints",
            json={"url": url, "event_types": ["meeting.scheduled"]},
            headers=key,
        ),
        422,
        "validation",
        field="url",
    )
    assert "address" in refused["detail"]


async def test_an_endpoint_removed_with_messages_waiting_takes_them_with_it(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    async with _registry(database_url, nats_url) as registry:
        ours, key = await _partner(registry)
        doomed = await _endpoint(registry, key, "http://127.0.0.1:9/nobody-listens")
        kept = await _endpoint(registry, key, receiver.url)
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        async def tried() -> bool:
            log = body(
                await registry.client.get(
                    f"/webhooks/endpoints/{doomed['id']}/deliveries", headers=key
                )
            )
            return bool(log and log[0]["attempts"])

        await eventually(tried)
        removed = await registry.client.delete(f"/webhooks/endpoints/{doomed['id']}", headers=key)
        assert removed.status_code == 204
        problem(
            await registry.client.get(f"/webhooks/endpoints/{doomed['id']}", headers=key),
            404,
            "not-found",
        )
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        async def both_to_the_other() -> bool:
            return len(receiver.received) == 2

        await eventually(both_to_the_other)
        assert (await _settled_log(registry, key, kept))[0]["state"] == "delivered"


async def test_an_endpoint_too_slow_to_answer_is_a_failed_attempt(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    receiver.delay = 3.0
    async with _registry(database_url, nats_url, timeout=0.5, retry_after=60.0) as registry:
        ours, key = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url)
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        async def tried() -> list[Any] | None:
            log = body(
                await registry.client.get(
                    f"/webhooks/endpoints/{endpoint['id']}/deliveries", headers=key
                )
            )
            return log[0]["attempts"] if log and log[0]["attempts"] else None

        [attempt] = await eventually(tried)
        assert attempt["status_code"] is None
        assert attempt["error"] == "no whole answer within 0.5 seconds"


@pytest.fixture
def receiver_apart() -> Iterator[Receiver]:
    """A receiver with an event loop of its own: it answers while the test waits for the
    registry's shutdown, which holds the test's loop."""
    receiver = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=receiver.port, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the receiver did not start"
        time.sleep(0.05)
    yield receiver
    server.should_exit = True
    thread.join(timeout=15)


async def test_a_registry_stopped_while_an_endpoint_answers_records_the_delivery_once(
    database_url: str, nats_url: str, receiver_apart: Receiver
) -> None:
    """Stopped between the endpoint's answer and the record of it, the message would be
    sent again by the next sender: the stop waits for the answer."""
    receiver = receiver_apart
    receiver.delay = 1.5
    registry_running = _registry(database_url, nats_url)
    registry = await registry_running.__aenter__()
    try:
        ours, key = await _partner(registry)
        endpoint = await _endpoint(registry, key, receiver.url, event_types=["meeting.scheduled"])
        await publish(registry.js, events.scheduled(UUID(ours["id"])))

        async def arrived() -> bool:
            return len(receiver.received) == 1

        await eventually(arrived)
    except BaseException:
        await registry_running.__aexit__(None, None, None)
        raise
    await registry_running.__aexit__(None, None, None)  # while the receiver still answers
    async with _registry(database_url, nats_url) as registry:
        [delivery] = body(
            await registry.client.get(
                f"/webhooks/endpoints/{endpoint['id']}/deliveries", headers=key
            )
        )
        await asyncio.sleep(1.0)  # a sender that would send it again has had its chance
    assert delivery["state"] == "delivered", delivery["attempts"]
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [200]
    assert len(receiver.received) == 1
