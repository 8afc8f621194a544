"""PostgreSQL or NATS going away, as the three services' clients and operators see it.

Each service runs as a process of its own against a PostgreSQL and a NATS that belong to
this test, so the test may stop and kill them. While PostgreSQL is away every API answers
503 problem+json with Retry-After and readiness names it; while only NATS is away the
services stay ready and take writes; after each, everything answers again, and each
process has logged the outage once when it began and once when it ended.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest

from shared.events import REGISTRY, SERVICES
from telebridge.embedded import EmbeddedNats, EmbeddedPostgres
from telebridge.processes import ServiceProcess, stop_all
from tests.support import OPERATOR, OPERATOR_KEY, embedded_nats, service_process

OUTAGE = 3.0
"""Seconds each dependency stays away while requests keep coming."""


@dataclass
class Stack:
    postgres: EmbeddedPostgres
    nats: EmbeddedNats
    services: dict[str, ServiceProcess]

    def url(self, service: str) -> str:
        return self.services[service].url


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    postgres = EmbeddedPostgres(tmp_path / "postgres" / "data", durable=False)
    nats = embedded_nats(tmp_path / "nats" / "jetstream")
    postgres.start()
    nats.start()
    environment = {
        "TELEBRIDGE_DATABASE_URL": postgres.url(),
        "TELEBRIDGE_DATABASE_POOL_MAX_SIZE": "5",
        "TELEBRIDGE_NATS_URL": nats.url,
        "TELEBRIDGE_AUTH_OPERATOR_KEY": OPERATOR_KEY,
        "TELEBRIDGE_LOG_JSON": "true",
        # One process per service: its log file is that process's log.
        **{f"TELEBRIDGE_{name.upper()}_HTTP_WORKERS": "1" for name in SERVICES},
    }
    services = {name: service_process(name, environment, tmp_path / "logs") for name in SERVICES}
    try:
        for service in services.values():
            service.start()
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(lambda service: service.wait_ready(), services.values()))
        yield Stack(postgres, nats, services)
    finally:
        stop_all(list(services.values()))
        nats.kill()
        postgres.stop()


READS = {
    "registry": "/organizations/{id}",
    "scheduling": "/meetings",
    "agenda": "/meetings/{id}/agenda/versions",
}
"""A request of each service that reads its database."""


def read(client: httpx.Client, stack: Stack, service: str) -> httpx.Response:
    path = READS[service].format(id=uuid.uuid4())
    return client.get(stack.url(service) + path, headers=OPERATOR)


def create_organization(client: httpx.Client, stack: Stack) -> httpx.Response:
    return client.post(
        stack.url("registry") + "/organizations",
        headers={**OPERATOR, "Idempotency-Key": str(uuid.uuid4())},
        json={
            "name": f"Библиотека {uuid.uuid4().hex[:8]}",
            "region": "RU-LIP",
            "timezone": "Europe/Moscow",
        },
    )


def ready(client: httpx.Client, stack: Stack, service: str) -> httpx.Response:
    return client.get(stack.url(service) + "/health/ready")


def missing(client: httpx.Client, stack: Stack, service: str) -> list[str]:
    """The dependencies readiness says are missing."""
    answer: list[str] = ready(client, stack, service).json().get("missing", [])
    return answer


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not so within {timeout}s")


def outage_lines(service: ServiceProcess, dependency: str) -> list[str]:
    """The "outage begins" and "outage ends" events the service logged for `dependency`."""
    events = []
    for line in service.log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("dependency") == dependency and entry.get("event", "").startswith("outage"):
            events.append(entry["event"])
    return events


def assert_logged_once(service: ServiceProcess, dependency: str) -> None:
    """The outage is logged once as it began and once as it ended, whatever it cost."""
    wait_until(lambda: "outage ends" in outage_lines(service, dependency))
    assert outage_lines(service, dependency) == ["outage begins", "outage ends"], service.name


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    assert problem["status"] == 503
    assert problem["type"].endswith("/unavailable")


def test_while_postgres_is_away_every_api_answers_503_and_logs_the_outage_once(
    stack: Stack,
) -> None:
    with httpx.Client(timeout=15) as client:
        for service in SERVICES:
            assert read(client, stack, service).status_code in {200, 404}
        stack.postgres.stop()

        refused = 0
        away_until = time.monotonic() + OUTAGE
        while time.monotonic() < away_until:
            for service in SERVICES:
                assert_unavailable(read(client, stack, service))
                refused += 1
            assert_unavailable(create_organization(client, stack))
            for service in SERVICES:
                health = ready(client, stack, service)
                assert health.status_code == 503
                assert health.json()["status"] == "unavailable"
                assert health.json()["missing"] == ["postgres"]
        assert refused > 3 * len(SERVICES)

        stack.postgres.start()
        for service in SERVICES:
            wait_until(lambda service=service: read(client, stack, service).status_code != 503)
            assert ready(client, stack, service).json()["status"] == "ok"
        assert create_organization(client, stack).status_code == 201

    for service in SERVICES:
        wait_until(
            lambda service=service: (
                "outage ends" in outage_lines(stack.services[service], "postgres")
            )
        )
        assert outage_lines(stack.services[service], "postgres") == [
            "outage begins",
            "outage ends",
        ], service


def test_while_nats_is_away_the_services_stay_ready_and_take_writes(stack: Stack) -> None:
    with httpx.Client(timeout=15) as client:
        stack.nats.kill()
        created = []
        away_until = time.monotonic() + OUTAGE
        while time.monotonic() < away_until:
            response = create_organization(client, stack)
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
            for service in SERVICES:
                health = ready(client, stack, service)
                assert health.status_code == 200
                assert health.json()["status"] in {"ok", "degraded"}
        for service in SERVICES:
            wait_until(
                lambda service=service: ready(client, stack, service).json()["missing"] == ["nats"]
            )

        stack.nats.start()
        for service in SERVICES:
            wait_until(
                lambda service=service: ready(client, stack, service).json()["status"] == "ok"
            )
        # What was written meanwhile reaches the other services once NATS is back.
        wait_until(lambda: asyncio.run(_events_published(stack.nats.admin_url)) >= len(created))

    for service in SERVICES:
        wait_until(
            lambda service=service: "outage ends" in outage_lines(stack.services[service], "nats")
        )
        assert outage_lines(stack.services[service], "nats") == [
            "outage begins",
            "outage ends",
        ], service


async def _events_published(nats_url: str) -> int:
    """How many events the registry's stream holds."""
    client = await nats.connect(nats_url)
    try:
        info = await client.jetstream().stream_info(REGISTRY.name)
    finally:
        await client.close()
    return int(info.state.messages)
