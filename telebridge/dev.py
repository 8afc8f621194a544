"""`telebridge dev`: the whole system on one machine, with nothing to install or configure.

Starts an embedded PostgreSQL and an embedded NATS with JetStream (unless
TELEBRIDGE_DATABASE_URL / TELEBRIDGE_NATS_URL name servers to use), keeping their data
under one folder so a restart finds it again; then the three services as processes of
their own. Whatever of these dies is started again, after a pause that grows while it keeps
dying; one that dies too often stops everything, saying which. Ctrl-C stops them all,
services first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar

import httpx
from rich.console import Console
from rich.table import Table

from shared.backoff import Backoff
from shared.events import SERVICES
from telebridge.demo import DemoLoadError, Services, load_demo
from telebridge.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
    free_port,
    new_nats_passwords,
    port_is_free,
)
from telebridge.mailsink import DEFAULT_PORT as DEFAULT_SMTP_PORT
from telebridge.mailsink import HOST as SMTP_HOST
from telebridge.mailsink import mail_sink
from telebridge.processes import DEFAULT_PORTS, Interrupted, ServiceProcess, stop_all
from telebridge.webhooksink import DEFAULT_PORT as DEFAULT_WEBHOOK_PORT
from telebridge.webhooksink import HOST as WEBHOOK_HOST
from telebridge.webhooksink import webhook_sink

DATABASE = "telebridge"
T = TypeVar("T")


class DevError(RuntimeError):
    """Something the user can fix stops `telebridge dev`; the message says what."""


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path
    demo: bool


@dataclass(frozen=True)
class Running:
    services: list[ServiceProcess]
    database_url: str
    nats_url: str
    operator_key: str
    data_dir: Path
    mail: MailSink | None
    webhooks: str
    """The URL of the webhook receiver: endpoints registered under it are printed here."""

    def url(self, name: str) -> str:
        return next(service.url for service in self.services if service.name == name)


def operator_key(data_dir: Path) -> str:
    """The operator key from the environment, or one made once and kept in the data folder."""
    if key := os.environ.get("TELEBRIDGE_AUTH_OPERATOR_KEY"):
        return key
    path = data_dir / "operator-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def service_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    for name in SERVICES:
        variable = f"TELEBRIDGE_{name.upper()}_HTTP_PORT"
        value = os.environ.get(variable, str(DEFAULT_PORTS[name]))
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise DevError(f"{variable}={value!r} is not a port number")
        ports[name] = int(value)
    busy = [f"{name} ({port})" for name, port in ports.items() if not port_is_free(port)]
    if busy:
        raise DevError(
            f"port(s) in use: {', '.join(busy)}. Stop what uses them, or choose others with "
            "TELEBRIDGE_<SERVICE>_HTTP_PORT, e.g. TELEBRIDGE_REGISTRY_HTTP_PORT=9001."
        )
    return ports


def run_dev(options: DevOptions, console: Console) -> None:
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = service_ports()
    try:
        _run(options, console, data_dir, ports)
    except Interrupted:
        return
    except EmbeddedServerError as error:
        raise DevError(str(error)) from error
    except (DemoLoadError, httpx.HTTPError) as error:
        raise DevError(f"loading the demo failed: {error}") from error


def _run(options: DevOptions, console: Console, data_dir: Path, ports: dict[str, int]) -> None:
    with _stop_on_signals() as stopping, ExitStack() as stack:
        stack.callback(console.print, "stopped.")
        watched: list[Watched] = []
        database_url = os.environ.get("TELEBRIDGE_DATABASE_URL")
        if not database_url:
            postgres = _postgres(data_dir, stack, console)
            database_url = postgres.url(DATABASE)
            watched.append(
                Watched("PostgreSQL", postgres.log_path, _exit_status_of(postgres), postgres.start)
            )
        nats_url = os.environ.get("TELEBRIDGE_NATS_URL")
        status_url = nats_url
        logins: Callable[[str], dict[str, str]] = _login_from_environment
        if not nats_url:
            nats = _nats(data_dir, stack, console)
            nats_url, status_url, logins = nats.url, nats.admin_url, nats.login
            watched.append(Watched("NATS", nats.log_path, _exit_status_of(nats), nats.start))
        # `telebridge status` finds the NATS to ask here when not told; the URL carries the
        # operators' credentials when the server wants some, so only this user reads it.
        status_file = data_dir / "nats-url"
        status_file.touch(mode=0o600)
        status_file.chmod(0o600)
        status_file.write_text(f"{status_url}\n", encoding="utf-8")
        key = operator_key(data_dir)
        environment = {
            "TELEBRIDGE_DATABASE_URL": database_url,
            "TELEBRIDGE_NATS_URL": nats_url,
            "TELEBRIDGE_AUTH_OPERATOR_KEY": key,
        }
        mail = None
        if not os.environ.get("TELEBRIDGE_SCHEDULING_SMTP_HOST"):
            mail = _mail_sink(data_dir, stack, console)
            environment |= {
                "TELEBRIDGE_SCHEDULING_SMTP_HOST": mail.host,
                "TELEBRIDGE_SCHEDULING_SMTP_PORT": str(mail.port),
            }
        webhooks = _webhook_sink(data_dir, stack, console, database_url)
        environment["TELEBRIDGE_REGISTRY_WEBHOOKS_PRIVATE_NETWORKS"] = os.environ.get(
            "TELEBRIDGE_REGISTRY_WEBHOOKS_PRIVATE_NETWORKS", "127.0.0.0/8"
        )
        console.print("[dim]starting registry, scheduling, agenda…[/]")
        services = [
            ServiceProcess(
                name, ports[name], environment | logins(name), data_dir / "logs" / f"{name}.log"
            )
            for name in SERVICES
        ]
        stack.callback(stop_all, services)
        for service in services:
            service.start()
        stack.callback(console.print, "[dim]stopping…[/]")
        for service in services:
            service.wait_ready(stopping=stopping)
        running = Running(services, database_url, nats_url, key, data_dir, mail, webhooks)
        _print_urls(console, running)
        if options.demo:
            _load_demo(console, running, stopping)
        console.print("\n[bold]Running.[/] Press Ctrl-C to stop everything.")
        watched += [
            Watched(service.name, service.log_path, _exit_status_of(service), service.restart)
            for service in services
        ]
        while not stopping.wait(0.5):
            for each in watched:
                each.check(console)


CRASHES_TOLERATED = 5
"""Deaths of one process within `CRASH_WINDOW` seconds that are still restarted."""
CRASH_WINDOW = 60.0


@dataclass
class Watched:
    """A server or service `telebridge dev` started, restarted when it dies."""

    name: str
    log_path: Path
    exit_status: Callable[[], int | None]
    """How it ended, None while it runs."""
    start: Callable[[], None]
    backoff: Backoff = field(default_factory=lambda: Backoff(first=1.0, longest=30.0))
    """The pauses before each restart."""
    _deaths: list[float] = field(default_factory=list, init=False, repr=False)
    """When it died, within the last `CRASH_WINDOW` seconds."""
    _restart_at: float | None = field(default=None, init=False, repr=False)

    def check(self, console: Console) -> None:
        if self._restart_at is not None:
            if time.monotonic() >= self._restart_at:
                self._restart(console)
            return
        status = self.exit_status()
        if status is not None:
            self._died(console, f"exit status {status}")

    def _died(self, console: Console, how: str) -> None:
        now = time.monotonic()
        self._deaths = [*(death for death in self._deaths if now - death < CRASH_WINDOW), now]
        if len(self._deaths) > CRASHES_TOLERATED:
            raise DevError(
                f"{self.name} died {len(self._deaths)} times within {CRASH_WINDOW:g}s "
                f"({how}); stopping everything. See {self.log_path}"
            )
        if len(self._deaths) == 1:
            self.backoff.reset()
        delay = self.backoff.delay()
        self._restart_at = now + delay
        console.print(f"[yellow]{self.name} died ({how}); restarting it in {delay:.1f}s[/]")

    def _restart(self, console: Console) -> None:
        self._restart_at = None
        try:
            self.start()
        except EmbeddedServerError as error:
            self._died(console, f"restart failed: {error}")
            return
        console.print(f"{self.name} restarted")


class _Exits(Protocol):
    @property
    def exit_status(self) -> int | None: ...


def _exit_status_of(process: _Exits) -> Callable[[], int | None]:
    return lambda: process.exit_status


def _postgres(data_dir: Path, stack: ExitStack, console: Console) -> EmbeddedPostgres:
    console.print("[dim]starting PostgreSQL…[/]")
    postgres = EmbeddedPostgres(data_dir / "postgres")
    stack.callback(postgres.stop)
    postgres.start()
    postgres.create_database(DATABASE)
    return postgres


@dataclass(frozen=True)
class MailSink:
    host: str
    port: int
    maildir: Path


def _mail_sink(data_dir: Path, stack: ExitStack, console: Console) -> MailSink:
    console.print("[dim]starting the mail sink…[/]")
    port = DEFAULT_SMTP_PORT if port_is_free(DEFAULT_SMTP_PORT) else free_port()
    maildir = data_dir / "mail"
    stack.enter_context(mail_sink(maildir, port))
    return MailSink(SMTP_HOST, port, maildir)


def _webhook_sink(data_dir: Path, stack: ExitStack, console: Console, database_url: str) -> str:
    """The receiver partners can point webhook endpoints at; its URL."""
    port = DEFAULT_WEBHOOK_PORT if port_is_free(DEFAULT_WEBHOOK_PORT) else free_port()
    stack.enter_context(webhook_sink(data_dir / "webhooks", database_url, console.print, port=port))
    return f"http://{WEBHOOK_HOST}:{port}/"


def _login_from_environment(service: str) -> dict[str, str]:
    """Nothing to add: with a server of their own, operators give TELEBRIDGE_NATS_USER …"""
    return {}


def _nats(data_dir: Path, stack: ExitStack, console: Console) -> EmbeddedNats:
    console.print("[dim]starting NATS…[/]")
    # Each service logs in as itself, with the permissions of `shared.bus.permissions`.
    nats = EmbeddedNats(data_dir / "nats", passwords=new_nats_passwords())
    stack.callback(nats.stop)
    nats.start()
    return nats


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM set the event instead of interrupting whatever runs."""
    stopping = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _until_stopped(work: Coroutine[Any, Any, T], stopping: threading.Event) -> T:
    """Run `work`, cancelling it if Ctrl-C arrives meanwhile."""
    task = asyncio.ensure_future(work)
    while not task.done():
        if stopping.is_set():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise Interrupted
        await asyncio.wait({task}, timeout=0.2)
    return task.result()


def _print_urls(console: Console, running: Running) -> None:
    table = Table(title="Telebridge", header_style="bold")
    table.add_column("service")
    table.add_column("API")
    table.add_column("OpenAPI")
    for service in running.services:
        table.add_row(service.name, service.url, f"{service.url}/schema")
    console.print(table)
    console.print(f"PostgreSQL   {running.database_url}")
    console.print(f"NATS         {running.nats_url}")
    console.print(f"operator key {running.operator_key}   (Authorization: Bearer …)")
    console.print(f"data, logs   {running.data_dir}")
    if running.mail:
        console.print(
            f"mail         smtp://{running.mail.host}:{running.mail.port} keeps every message "
            f"in the Maildir {running.mail.maildir}"
        )
    console.print(
        f"webhooks     {running.webhooks} takes, checks and keeps every webhook sent to an "
        f"endpoint under it, in {running.data_dir / 'webhooks'}"
    )


def _load_demo(console: Console, running: Running, stopping: threading.Event) -> None:
    services = Services(
        running.url("registry"), running.url("scheduling"), running.url("agenda"),
        running.operator_key,
    )  # fmt: skip
    with console.status("loading the demo…") as status:
        report = asyncio.run(
            _until_stopped(
                load_demo(
                    services,
                    progress=lambda step: status.update(f"loading the demo: {step[:60]}"),
                ),
                stopping,
            )
        )
    created = ", ".join(f"{count} {what}" for what, count in report.created.items())
    console.print(f"demo loaded ({created or 'it was there already'}):")
    for meeting_id in report.meetings.values():
        console.print(
            f"  {services.scheduling}/meetings/{meeting_id}\n"
            f"    summary: {services.agenda}/meetings/{meeting_id}/summary.md"
        )
