"""The system the bench measures, started as `telebridge dev` starts it, in a temporary
folder on free ports: PostgreSQL, NATS, a mail sink noting when each message arrives, and
the three services as processes; plus the baselines' servers (the bare app, Radicale)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import logging
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import asyncpg
import psutil
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.events import SERVICES
from shared.keys import generate_key
from shared.orphans import die_with_parent
from telebridge.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    answers_ok,
    free_port,
    tail,
)
from telebridge.processes import ServiceProcess, stop_all
from tests.readers.radicale import CONFIG as RADICALE_CONFIG

DATABASE = "telebridge"
_WAITING = """
SELECT (SELECT count(*) FROM registry.outbox WHERE sent_at IS NULL)
     + (SELECT count(*) FROM scheduling.outbox WHERE sent_at IS NULL)
     + (SELECT count(*) FROM agenda.outbox WHERE sent_at IS NULL)
     + (SELECT count(*) FROM scheduling.outgoing_mail
        WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL)
"""
"""Events not yet published and mail not yet sent: the stack is settled at 0."""


@dataclass
class Arrival:
    at: float
    """time.perf_counter() when the message was accepted."""
    recipients: list[str]
    content: bytes

    def text(self) -> str:
        """Every text part decoded, to find the meeting a message is about."""
        message: Message = email.message_from_bytes(self.content)
        parts = []
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode("utf-8", "replace"))
        return "\n".join(parts)


@dataclass
class MailLog:
    """Messages the sink received, in order, with when they arrived."""

    arrivals: list[Arrival] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        del server, session
        self.arrivals.append(
            Arrival(time.perf_counter(), list(envelope.rcpt_tos), envelope.original_content or b"")
        )
        return "250 Message kept"

    def wait_quiet(self, quiet: float = 2.0, timeout: float = 300.0) -> None:
        """Until no message has arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            if len(self.arrivals) == seen:
                return
            seen = len(self.arrivals)
            time.sleep(quiet)


@dataclass
class Stack:
    folder: Path
    services: dict[str, ServiceProcess]
    environment: dict[str, str]
    operator_key: str
    admin_key: str
    mail: MailLog
    postgres: EmbeddedPostgres
    nats: EmbeddedNats

    def url(self, name: str) -> str:
        return self.services[name].url

    def port(self, name: str) -> int:
        return self.services[name].port

    def wait_settled(self, timeout: float = 600.0) -> None:
        """Until every service has published what it wrote and no mail waits to be sent:
        the work one scenario caused must not be measured with the next."""
        asyncio.run(self._settled(timeout))

    async def _settled(self, timeout: float) -> None:
        connection = await asyncpg.connect(self.postgres.url(DATABASE))
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                waiting = await connection.fetchval(_WAITING)
                if waiting == 0:
                    return
                await asyncio.sleep(0.5)
        finally:
            await connection.close()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user and system) used so far by each service, PostgreSQL and NATS,
        each with its children (workers, backends, mail writers)."""
        processes = {name: service.pid for name, service in self.services.items()}
        processes |= {"PostgreSQL": self.postgres.pid, "NATS": self.nats.pid}
        used = {}
        for name, pid in processes.items():
            if pid is None:
                continue
            try:
                parent = psutil.Process(pid)
                family = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            total = 0.0
            for member in family:
                # A backend or worker may end while it is counted.
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = member.cpu_times()
                    total += times.user + times.system
            used[name] = total
        return used

    def rss(self) -> dict[str, int]:
        """Resident memory of each service, with its children (workers), in bytes."""
        sizes = {}
        for name, service in self.services.items():
            if service.pid is None:
                continue
            parent = psutil.Process(service.pid)
            sizes[name] = sum(
                found.memory_info().rss for found in [parent, *parent.children(recursive=True)]
            )
        return sizes


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each part used between two `Stack.cpu_seconds`."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


@contextmanager
def running_stack(folder: Path, workers: int) -> Iterator[Stack]:
    with ExitStack() as stack:
        postgres = EmbeddedPostgres(folder / "postgres")
        stack.callback(postgres.stop)
        postgres.start()
        postgres.create_database(DATABASE)
        nats = EmbeddedNats(folder / "nats")
        stack.callback(nats.stop)
        nats.start()
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        mail = MailLog()
        smtp = Controller(mail, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
        smtp.start()
        stack.callback(smtp.stop)
        operator_key = secrets.token_urlsafe(24)
        admin_key = generate_key().secret
        environment = {
            "TELEBRIDGE_DATABASE_URL": postgres.url(DATABASE),
            "TELEBRIDGE_NATS_URL": nats.url,
            "TELEBRIDGE_AUTH_OPERATOR_KEY": operator_key,
            "TELEBRIDGE_REGISTRY_ADMIN_KEY": admin_key,
            "TELEBRIDGE_SCHEDULING_SMTP_HOST": "127.0.0.1",
            "TELEBRIDGE_SCHEDULING_SMTP_PORT": str(smtp.port),
            "TELEBRIDGE_LOG_LEVEL": "warning",
            # The load comes from one address and a few keys: limits no load reaches,
            # every request still counted, as it is in production.
            **{
                f"TELEBRIDGE_RATE_LIMIT_{role}": str(10**9)
                for role in ("PARTNER", "OPERATOR", "ADMIN", "PUBLIC")
            },
        } | {f"TELEBRIDGE_{name.upper()}_HTTP_WORKERS": str(workers) for name in SERVICES}
        services = {
            name: ServiceProcess(name, free_port(), environment, folder / "logs" / f"{name}.log")
            for name in SERVICES
        }
        stack.callback(lambda: stop_all(list(services.values())))
        for service in services.values():
            service.start()
        for service in services.values():
            service.wait_ready()
        yield Stack(folder, services, environment, operator_key, admin_key, mail, postgres, nats)


@contextmanager
def server_process(command: list[str], port: int, log: Path, ready_path: str) -> Iterator[int]:
    """A baseline's server as a child process, until it answers `ready_path`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not answers_ok(f"http://127.0.0.1:{port}{ready_path}"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[2:4]} did not start:\n{tail(log)}")
            time.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def bare_server(server: str, feeds: Path, workers: int, log: Path) -> Iterator[int]:
    port = free_port()
    command = [sys.executable, "-m", "bench.bare", server, str(port), str(feeds), str(workers)]
    with server_process(command, port, log, "/health/ready"):
        yield port


RADICALE_USER = "bench"


@contextmanager
def radicale(folder: Path, calendars: dict[str, list[bytes]]) -> Iterator[int]:
    """Radicale serving each calendar as a collection of one file per event, as a CalDAV
    client stores them: `GET /bench/<name>/` answers the whole collection."""
    port = free_port()
    root = folder / "collections" / "collection-root" / RADICALE_USER
    for name, objects in calendars.items():
        collection = root / name
        collection.mkdir(parents=True, exist_ok=True)
        (collection / ".Radicale.props").write_text('{"tag": "VCALENDAR"}')
        for number, text in enumerate(objects):
            (collection / f"event-{number}.ics").write_bytes(text)
    config = folder / "config"
    config.write_text(RADICALE_CONFIG.format(port=port, folder=folder / "collections"))
    command = [sys.executable, "-m", "radicale", "--config", str(config)]
    with server_process(command, port, folder / "radicale.log", "/.web/"):
        yield port
