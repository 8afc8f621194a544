"""A service that starts before its NATS cluster has a quorum waits for JetStream instead
of failing: in Kubernetes the service replicas and the NATS pods start together, and
JetStream answers nothing (or "temporarily unavailable") until a meta leader is elected."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.bus.jetstream import connect_nats, ensure_streams
from shared.db import StartupError
from shared.events import STREAMS
from shared.settings import NatsSettings
from telebridge.embedded import EmbeddedNats
from tests.cluster.cluster import NODES, nats_cluster
from tests.support import NATS_PASSWORDS

pytestmark = pytest.mark.cluster


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    nodes = nats_cluster(tmp_path)
    nodes[0].start()  # alone: one of three is no quorum
    yield nodes
    for node in nodes:
        node.kill()


def registry_settings(node: EmbeddedNats) -> NatsSettings:
    return NatsSettings(url=node.url, user="registry", password=NATS_PASSWORDS["registry"])


async def test_the_streams_are_declared_once_the_cluster_has_a_quorum(
    nodes: list[EmbeddedNats],
) -> None:
    client = await connect_nats(registry_settings(nodes[0]), "registry")
    try:
        js = client.jetstream(timeout=1.0)
        declaring = asyncio.create_task(ensure_streams(js, NODES, "registry", patience=120))
        await asyncio.sleep(3)
        assert not declaring.done(), "declared streams on a cluster without a quorum"

        await asyncio.gather(*(asyncio.to_thread(node.start) for node in nodes[1:]))
        await asyncio.wait_for(declaring, timeout=120)

        for stream in STREAMS:
            info = await js.stream_info(stream.name)
            assert info.config.num_replicas == NODES
            assert info.cluster is not None
            assert info.cluster.leader is not None
    finally:
        await client.close()


async def test_a_cluster_that_never_forms_fails_the_start_saying_why(
    nodes: list[EmbeddedNats],
) -> None:
    client = await connect_nats(registry_settings(nodes[0]), "registry")
    try:
        with pytest.raises(StartupError) as failure:
            await ensure_streams(client.jetstream(timeout=1.0), NODES, "registry", patience=3)
    finally:
        await client.close()
    message = str(failure.value)
    assert f"stream {STREAMS[0].name} ({NODES} replica(s)) within 3s" in message
    assert "quorum" in message
