"""`/metrics` of a service served by several worker processes: each worker keeps its
figures in the multiprocess folder, and whichever worker answers a scrape answers the sum
of them all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from telebridge.processes import ServiceProcess
from tests.support import running, service_environment, service_process

WORKERS = 2
REQUESTS = 30
ROUTE = {"service": "registry", "method": "GET", "route": "/health/live", "status": "200"}
COUNT = "telebridge_http_request_duration_seconds_count"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "metrics"


@pytest.fixture
def registry(
    database_url: str, nats_url: str, tmp_path: Path, folder: Path
) -> Iterator[ServiceProcess]:
    environment = {
        **service_environment(database_url, nats_url),
        "TELEBRIDGE_REGISTRY_HTTP_WORKERS": str(WORKERS),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    with running(service_process("registry", environment, tmp_path), timeout=180) as service:
        yield service


def served(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == COUNT and ROUTE.items() <= sample.labels.items()
    )


def served_by_each(folder: Path) -> list[float]:
    """What each process's own file says it served."""
    counts = []
    for path in sorted(folder.glob("histogram_*.db")):
        merged = MultiProcessCollector.merge([str(path)], accumulate=True)  # type: ignore[no-untyped-call]
        counts.append(
            sum(
                sample.value
                for family in merged
                for sample in family.samples
                if sample.name == COUNT and ROUTE.items() <= sample.labels.items()
            )
        )
    return counts


def test_every_worker_answers_what_all_workers_served(
    registry: ServiceProcess, folder: Path
) -> None:
    # A new connection for each request: each lands on whichever worker accepts it.
    for _ in range(REQUESTS):
        with httpx.Client(base_url=registry.url) as fresh:
            assert fresh.get("/health/live").status_code == 200
    by_process = served_by_each(folder)
    assert sum(by_process) == REQUESTS
    for _ in range(10):
        with httpx.Client(base_url=registry.url) as fresh:
            scraped = fresh.get("/metrics")
        assert scraped.status_code == 200
        assert served(scraped.text) == REQUESTS, by_process
        assert 'telebridge_probe_success{probe="consumers"} 1.0' in scraped.text
        assert 'telebridge_probe_success{probe="outbox"} 1.0' in scraped.text
