"""Telebridge as a cluster runs it, on this machine: a 3-node NATS JetStream cluster, two
replicas of each service (each its own process, port and log) and an SMTP server, with a
load balancer's rotation in front of the replicas and a handle on every node and replica."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.agenda.app import DEFINITION as AGENDA
from services.registry.app import DEFINITION as REGISTRY
from services.scheduling.app import DEFINITION as SCHEDULING
from shared.events import SERVICES
from shared.service import consumers_of
from shared.settings import AgendaSettings, RegistrySettings, SchedulingSettings
from telebridge.embedded import EmbeddedNats, answers_ok, free_port
from telebridge.processes import ServiceProcess, stop_all
from tests.faults.mailbox import Mailbox, smtp_server
from tests.faults.stack import stack_environment
from tests.support import NATS_PASSWORDS, nats_login

NODES = 3
REPLICAS = 2
CONSUMERS = {
    definition.name: [consumer.name for consumer in consumers_of(definition, settings())]
    for definition, settings in (
        (REGISTRY, RegistrySettings),
        (SCHEDULING, SchedulingSettings),
        (AGENDA, AgendaSettings),
    )
}
"""Each service's durable consumers, as its definition declares them."""
APPLIED = "telebridge_consumer_processing_seconds_count"
"""Events a consumer handled (`shared.metrics`); with `result="new"`, those it applied."""


def nats_cluster(folder: Path) -> list[EmbeddedNats]:
    """Three NATS servers (not started) routed to each other as one JetStream cluster, each
    with its own client, cluster and monitoring port and store folder, letting in the
    tests' users only (`NATS_PASSWORDS`)."""
    routes = [free_port() for _ in range(NODES)]
    route_list = ", ".join(f"nats-route://127.0.0.1:{port}" for port in routes)
    return [
        EmbeddedNats(
            folder / f"nats-{number}" / "jetstream",
            passwords=NATS_PASSWORDS,
            configuration=(
                f"cluster {{\n  name: telebridge\n  listen: 127.0.0.1:{port}\n"
                f"  routes: [{route_list}]\n}}\n"
            ),
        )
        for number, port in enumerate(routes)
    ]


def cluster_ready(nodes: list[EmbeddedNats], timeout: float = 30.0) -> None:
    """Until every running node answers `/healthz` (a JetStream meta leader is known)."""
    deadline = time.monotonic() + timeout
    for node in nodes:
        while node.running and not answers_ok(f"http://127.0.0.1:{node.monitor_port}/healthz"):
            assert time.monotonic() < deadline, f"NATS node {node.port} not healthy"
            time.sleep(0.1)


@dataclass
class Replica:
    """One process of a service, and what its consumers did before it was last started."""

    process: ServiceProcess
    serving: bool = False
    """In the rotation: the load balancer sends it requests."""
    applied_before: Counter[str] = field(default_factory=Counter)
    """Events each consumer applied in the replica's earlier lives (a restart starts its
    counters at 0)."""

    def applied_now(self) -> Counter[str]:
        """Events each consumer applied in this life, from the replica's `/metrics`."""
        text = httpx.get(f"{self.process.url}/metrics", timeout=10).text
        return Counter(
            {
                sample.labels["consumer"]: int(sample.value)
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == APPLIED and sample.labels.get("result") == "new"
            }
        )


@dataclass
class Cluster:
    nodes: list[EmbeddedNats]
    database_url: str
    mailbox: Mailbox
    replicas: dict[str, list[Replica]]
    _turn: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)

    def url(self, service: str) -> str:
        """A replica in the rotation, each in turn, as a load balancer picks one."""
        serving = [replica for replica in self.replicas[service] if replica.serving]
        assert serving, f"no replica of {service} in the rotation"
        return serving[next(self._turn) % len(serving)].process.url

    @property
    def nats_url(self) -> str:
        """A running node's URL with the admin's login, for the test's own looks."""
        return next(node for node in self.nodes if node.running).admin_url

    def stop_replicas(self, number: int) -> None:
        """Replica `number` of every service, as a deployment replaces one: out of the
        rotation first, then SIGTERM (its requests finish, its consumers stop fetching, its
        relay flushes). Stopped when nothing is left to do, so its counters say all it did."""
        stopping = [self.replicas[service][number] for service in SERVICES]
        for replica in stopping:
            replica.serving = False
        for replica in stopping:
            replica.applied_before += replica.applied_now()
        stop_all([replica.process for replica in stopping])

    def start_replicas(self, number: int) -> None:
        """Replica `number` of every service, each put back into the rotation once all are
        ready. Call it from a thread that outlives them: children die with the thread that
        started them (`tests.faults.stack.KEEPER`)."""
        starting = [self.replicas[service][number] for service in SERVICES]
        for replica in starting:
            replica.process.start()
        wait_ready([replica.process for replica in starting])
        for replica in starting:
            replica.serving = True

    def applied(self) -> dict[tuple[str, int], Counter[str]]:
        """Events each consumer applied, by replica (service, number), over all its lives."""
        return {
            (service, number): replica.applied_before + replica.applied_now()
            for service, replicas in self.replicas.items()
            for number, replica in enumerate(replicas)
        }


def wait_ready(processes: list[ServiceProcess]) -> None:
    """Until every one of `processes` answers /health/ready."""
    with ThreadPoolExecutor(len(processes)) as pool:
        # Six services importing at once on a small machine take longer than one alone.
        list(pool.map(lambda process: process.wait_ready(timeout=120), processes))


@contextmanager
def running_cluster(database_url: str, folder: Path) -> Iterator[Cluster]:
    """The NATS cluster, an SMTP server and two replicas of each service on `database_url`,
    every replica ready and in the rotation."""
    with ExitStack() as stack:
        nodes = nats_cluster(folder)
        for node in nodes:
            node.start()
            stack.callback(node.kill)
        cluster_ready(nodes)
        smtp_port = free_port()
        mailbox = stack.enter_context(smtp_server(smtp_port))
        environment = {
            **stack_environment(database_url, ",".join(node.url for node in nodes), smtp_port),
            "TELEBRIDGE_NATS_STREAM_REPLICAS": str(NODES),
            # One process per replica, so that its /metrics counts its own work only.
            **{f"TELEBRIDGE_{name.upper()}_HTTP_WORKERS": "1" for name in SERVICES},
        }
        replicas = {
            name: [
                Replica(
                    ServiceProcess(
                        name,
                        free_port(),
                        environment | nats_login(name),
                        folder / "logs" / f"{name}-{number}.log",
                    )
                )
                for number in range(REPLICAS)
            ]
            for name in SERVICES
        }
        processes = [replica.process for group in replicas.values() for replica in group]
        stack.callback(stop_all, processes)
        for process in processes:
            process.start()
        wait_ready(processes)
        for group in replicas.values():
            for replica in group:
                replica.serving = True
        yield Cluster(nodes, database_url, mailbox, replicas)
