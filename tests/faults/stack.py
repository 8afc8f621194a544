"""The whole system as a deployment runs it, with a handle on every part a fault can hit:
PostgreSQL, NATS with JetStream, the SMTP server and the three services, each a process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.events import SERVICES
from telebridge.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from telebridge.processes import ServiceProcess, stop_all
from tests.faults.mailbox import HOST, Mailbox, smtp_server
from tests.support import embedded_nats, service_environment, service_process

KEEPER = ThreadPoolExecutor(1, thread_name_prefix="faults-keeper")
"""The thread that restarts servers during a test. Children die with the thread that started
them (PR_SET_PDEATHSIG), so it must not be a short-lived one such as asyncio.to_thread's: it
lives as long as the test session."""


async def in_keeper(action: Callable[[Stack], None], stack: Stack) -> None:
    """Run a blocking `action` on the stack without stopping the event loop (the traffic)."""
    await asyncio.get_running_loop().run_in_executor(KEEPER, action, stack)


@dataclass
class Stack:
    postgres: EmbeddedPostgres
    database: str
    nats: EmbeddedNats
    mailbox: Mailbox
    services: dict[str, ServiceProcess]

    @property
    def database_url(self) -> str:
        return self.postgres.url(self.database)

    def url(self, name: str) -> str:
        return self.services[name].url

    def kill_service(self, name: str) -> None:
        self.services[name].kill()

    def start_service(self, name: str) -> None:
        service = self.services[name]
        service.start()
        service.wait_ready()

    def kill_nats(self) -> None:
        self.nats.kill()

    def start_nats(self) -> None:
        """On the same port and store folder: what JetStream had written is there again."""
        self.nats.start()

    def restart_postgres(self) -> None:
        """A fast shutdown (clients cut off, data kept) and a start on the same port."""
        self.postgres.stop()
        self.postgres.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Every service ready again, or fail saying which was not."""
        deadline = time.monotonic() + timeout
        for service in self.services.values():
            while not service.ready:
                assert time.monotonic() < deadline, f"{service.name} not ready: {service.log_path}"
                time.sleep(0.1)


def stack_environment(database_url: str, nats_url: str, smtp_port: int) -> dict[str, str]:
    environment = {
        **service_environment(database_url, nats_url),
        # Refusals and outages are retried, never given up on, within a run.
        "TELEBRIDGE_NATS_MAX_DELIVERIES": "50",
        "TELEBRIDGE_LOG_LEVEL": "info",
        "TELEBRIDGE_SCHEDULING_SMTP_HOST": HOST,
        "TELEBRIDGE_SCHEDULING_SMTP_PORT": str(smtp_port),
        "TELEBRIDGE_SCHEDULING_SMTP_RETRY_AFTER": "0.2",
        "TELEBRIDGE_SCHEDULING_SMTP_MAX_ATTEMPTS": "1000",
    }
    for name in SERVICES:
        environment[f"TELEBRIDGE_{name.upper()}_OUTBOX_POLL_INTERVAL"] = "0.2"
    return environment


@contextmanager
def running_stack(postgres: EmbeddedPostgres, database: str, folder: Path) -> Iterator[Stack]:
    """A database of its own on `postgres`, a NATS server, an SMTP server and the services."""
    postgres.create_database(database)
    with ExitStack() as stack:
        nats = embedded_nats(folder / "jetstream")
        nats.start()
        stack.callback(nats.kill)
        smtp_port = free_port()
        mailbox = stack.enter_context(smtp_server(smtp_port))
        environment = stack_environment(postgres.url(database), nats.url, smtp_port)
        services = {name: service_process(name, environment, folder / "logs") for name in SERVICES}
        stack.callback(stop_all, list(services.values()))
        for service in services.values():
            service.start()
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(lambda service: service.wait_ready(), services.values()))
        yield Stack(postgres, database, nats, mailbox, services)
