"""The three services as real processes against the test's PostgreSQL and NATS."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.events import SERVICES
from telebridge.embedded import free_port
from telebridge.mailsink import HOST as SMTP_HOST
from telebridge.mailsink import mail_sink
from telebridge.processes import ServiceProcess, stop_all
from tests.support import service_environment, service_process


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
    # Messages are written when they are sent: the services send to a sink of the test's.
    smtp_port = free_port()
    environment = {
        **service_environment(database_url, nats_url),
        "TELEBRIDGE_SCHEDULING_SMTP_HOST": SMTP_HOST,
        "TELEBRIDGE_SCHEDULING_SMTP_PORT": str(smtp_port),
    }
    services = {name: service_process(name, environment, tmp_path / "logs") for name in SERVICES}
    with mail_sink(tmp_path / "mail", smtp_port):
        yield from _running(services, database_url, nats_url)


def _running(
    services: dict[str, ServiceProcess], database_url: str, nats_url: str
) -> Iterator[System]:
    for service in services.values():
        service.start()
    try:
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(lambda service: service.wait_ready(), services.values()))
        yield System(services, database_url, nats_url)
    finally:
        stop_all(list(services.values()))
