"""The three services as real processes against the test's PostgreSQL and NATS."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from telebridge.embedded import free_port
from telebridge.processes import SERVICES, ServiceProcess, stop_all
from tests.support import ADMIN_KEY, OPERATOR_KEY


@dataclass
class System:
    services: dict[str, ServiceProcess]
    database_url: str
    nats_url: str

    def url(self, name: str) -> str:
        return self.services[name].url

    def restart(self, name: str) -> None:
        service = self.services[name]
        service.start()
        service.wait_ready()


@pytest.fixture
def system(database_url: str, nats_url: str, tmp_path: Path) -> Iterator[System]:
    environment = {
        "TELEBRIDGE_DATABASE_URL": database_url,
        "TELEBRIDGE_DATABASE_POOL_MAX_SIZE": "5",
        "TELEBRIDGE_NATS_URL": nats_url,
        "TELEBRIDGE_NATS_ACK_WAIT": "2",
        "TELEBRIDGE_NATS_RETRY_BACKOFF": "0.1",
        "TELEBRIDGE_AUTH_OPERATOR_KEY": OPERATOR_KEY,
        "TELEBRIDGE_REGISTRY_ADMIN_KEY": ADMIN_KEY,
        "TELEBRIDGE_LOG_LEVEL": "debug",
        "TELEBRIDGE_AGENDA_SUMMARY_QUIET": "0.5",
    }
    services = {
        name: ServiceProcess(name, free_port(), environment, tmp_path / "logs" / f"{name}.log")
        for name in SERVICES
    }
    for service in services.values():
        service.start()
    try:
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(lambda service: service.wait_ready(), services.values()))
        yield System(services, database_url, nats_url)
    finally:
        stop_all(list(services.values()))
