"""A service served by several worker processes, as `http.workers` asks: each worker runs
the service whole and answers on the one port; SIGTERM stops them all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from telebridge.processes import ServiceProcess, stop_all
from tests.support import OPERATOR_KEY, running, service_environment, service_process

WORKERS = 2


@pytest.fixture
def registry(database_url: str, nats_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    environment = {
        **service_environment(database_url, nats_url),
        "TELEBRIDGE_REGISTRY_HTTP_WORKERS": str(WORKERS),
    }
    # Each spawned worker imports the whole service before it serves.
    with running(service_process("registry", environment, tmp_path), timeout=180) as service:
        yield service


def spawned_workers(supervisor: psutil.Process) -> list[psutil.Process]:
    """The supervisor's workers, not multiprocessing's resource tracker."""
    return [child for child in supervisor.children() if "spawn_main" in " ".join(child.cmdline())]


def test_every_worker_serves_the_port_and_stops_on_sigterm(registry: ServiceProcess) -> None:
    assert registry.pid is not None
    workers = spawned_workers(psutil.Process(registry.pid))
    assert len(workers) == WORKERS

    headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    with httpx.Client(base_url=registry.url, headers=headers) as client:
        created = client.post(
            "/organizations",
            json={"name": "Библиотека", "region": "RU-MOW"},
        )
        assert created.status_code == 201, created.text
        # New connections land on either worker; every one sees what another wrote.
        for _ in range(20):
            with httpx.Client(base_url=registry.url, headers=headers) as fresh:
                found = fresh.get(f"/organizations/{created.json()['id']}")
                assert found.status_code == 200

    stop_all([registry])
    assert not registry.running
    assert not any(worker.is_running() and worker.status() != "zombie" for worker in workers)


def test_workers_end_with_a_supervisor_killed_outright(registry: ServiceProcess) -> None:
    assert registry.pid is not None
    workers = spawned_workers(psutil.Process(registry.pid))
    registry.kill()
    _gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, "a worker outlived its supervisor and keeps the port"
