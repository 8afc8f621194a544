"""The nats-server configurations of the deployments (deploy/nats/ for Docker Compose,
deploy/k8s/nats.yaml for Kubernetes), for their tests.

Both write the `authorization` block of `shared.bus.permissions.server_authorization`
with each password as a variable the server reads from its environment,
`$NATS_<USER>_PASSWORD`, and both are checked with the real `nats-server -t`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import nats.errors
import pytest

from shared.bus.jetstream import connect_nats, ensure_streams
from shared.bus.permissions import server_authorization
from shared.events import SERVICES, STREAMS
from shared.settings import NatsSettings
from telebridge.embedded import nats_server_binary

NATS_USERS = ("operator", *SERVICES)
"""Every user of the servers: a user per service, and operators' tools."""


def password_variable(user: str) -> str:
    """The environment variable a server reads `user`'s password from."""
    return f"NATS_{user.upper()}_PASSWORD"


def expected_authorization() -> str:
    """`server_authorization`'s block, each password as `$NATS_<USER>_PASSWORD`."""
    block = server_authorization({user: f"@{user}@" for user in NATS_USERS})
    for user in NATS_USERS:
        block = block.replace(f'"@{user}@"', f"${password_variable(user)}")
    return block


def authorization_of(conf: str) -> str:
    """From the first top-level `authorization {` of a configuration to its end."""
    return conf[conf.index("\nauthorization {") + 1 :] if "\nauthorization {" in conf else ""


def check_configuration(
    conf: Path, env: Mapping[str, str], arguments: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`nats-server -t -c conf [arguments]` with only `env` (and PATH) in its environment."""
    return subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), **env},
        check=False,
    )


async def until_healthy(monitor_ports: list[int], nodes: list[subprocess.Popen[bytes]]) -> None:
    """Until each server's /healthz answers 200 (JetStream up, and current in a cluster)."""
    deadline = asyncio.get_running_loop().time() + 60
    async with httpx.AsyncClient() as http:
        for port in monitor_ports:
            while True:
                assert all(node.poll() is None for node in nodes), "a NATS node stopped"
                try:
                    answer = await http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    if answer.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert asyncio.get_running_loop().time() < deadline, "no JetStream quorum"
                await asyncio.sleep(0.25)


async def publish_as_the_services(
    client_ports: Sequence[int], passwords: Mapping[str, str], replicas: int
) -> None:
    """On a cluster of these nodes, as the services log in: the registry declares the
    streams with `replicas` replicas each and publishes its own event; the agenda cannot
    publish the registry's."""
    urls = ",".join(f"nats://127.0.0.1:{port}" for port in client_ports)

    def login(name: str) -> NatsSettings:
        return NatsSettings(url=urls, user=name, password=passwords[name], connect_timeout=20)

    registry = await connect_nats(login("registry"), name="registry")
    agenda = await connect_nats(login("agenda"), name="agenda")
    try:
        js = registry.jetstream()
        await ensure_streams(js, replicas, "registry")
        for stream in STREAMS:
            info = await js.stream_info(stream.name)
            assert info.config.num_replicas == replicas
            assert info.cluster is not None
            assert len(info.cluster.replicas or []) == replicas - 1
        ack = await js.publish("registry.test.published", b"{}")
        assert ack.stream == "REGISTRY"
        with pytest.raises(nats.errors.Error):
            await agenda.jetstream().publish("registry.apikey.issued", b"{}", timeout=2)
        assert (await js.stream_info("REGISTRY")).state.messages == 1
    finally:
        await registry.close()
        await agenda.close()
