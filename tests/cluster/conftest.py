"""The cluster the proof runs on: its own NATS nodes and service replicas, the session's
PostgreSQL with a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster, running_cluster


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(database_url, tmp_path / "cluster") as running:
        yield running
