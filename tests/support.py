"""Helpers the tests share: settings for real servers, running apps, waiting for events."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import msgspec
import nats
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg

from shared.bus.jetstream import without_login
from shared.events import Stream
from shared.keys import generate_key
from shared.settings import (
    AgendaSettings,
    AuthSettings,
    DatabaseSettings,
    NatsSettings,
    RateLimitSettings,
    RegistrySettings,
    SchedulingSettings,
    ServiceSettings,
)
from telebridge.embedded import EmbeddedNats, free_port, new_nats_passwords
from telebridge.processes import ServiceProcess, stop_all
from tests.contract import contract_of

ROOT = Path(__file__).resolve().parents[1]
"""The checkout: tests find its files here, never in the folder they are run from."""

OPERATOR_KEY = "test-operator-key"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
ADMIN_KEY = generate_key().secret
"""The registry's first admin key (`TELEBRIDGE_REGISTRY_ADMIN_KEY`) in the tests."""
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


RATE_LIMIT = 100_000
"""Requests per minute of every role and address in the tests: many tests send hundreds
from one key and one address, none this many; every request is still counted in the
database (`tests/integration/shared/test_rate_limits.py` tests the limits themselves)."""
RATE_LIMITS = RateLimitSettings(
    partner=RATE_LIMIT, operator=RATE_LIMIT, admin=RATE_LIMIT, public=RATE_LIMIT
)

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
T = TypeVar("T")


NATS_PASSWORDS = new_nats_passwords()
"""The users of the tests' NATS servers: each service's, with its permissions, and the
admin the tests themselves connect as (`nats_url` carries the admin's login)."""
_SERVICE_OF: dict[type[ServiceSettings], str] = {
    RegistrySettings: "registry",
    SchedulingSettings: "scheduling",
    AgendaSettings: "agenda",
}


def embedded_nats(store_dir: Path) -> EmbeddedNats:
    """A NATS server (not started) that lets in the tests' users (`NATS_PASSWORDS`) only."""
    return EmbeddedNats(store_dir, passwords=NATS_PASSWORDS)


def nats_login(service: str) -> dict[str, str]:
    """The environment variables a service's process logs in to NATS with."""
    return {"TELEBRIDGE_NATS_USER": service, "TELEBRIDGE_NATS_PASSWORD": NATS_PASSWORDS[service]}


def service_process(name: str, environment: dict[str, str], logs: Path) -> ServiceProcess:
    """A service's process on a free port, logging in to NATS as that service."""
    return ServiceProcess(name, free_port(), environment | nats_login(name), logs / f"{name}.log")


@contextmanager
def running(service: ServiceProcess, timeout: float = 60.0) -> Iterator[ServiceProcess]:
    """The service's process, started and ready; stopped afterwards."""
    service.start()
    try:
        service.wait_ready(timeout=timeout)
        yield service
    finally:
        stop_all([service])


def service_environment(database_url: str, nats_url: str) -> dict[str, str]:
    """The environment tests run the services' processes with: quick retries, test keys.
    Each process adds its own NATS login (`service_process`)."""
    return {
        "TELEBRIDGE_DATABASE_URL": database_url,
        "TELEBRIDGE_DATABASE_POOL_MAX_SIZE": "5",
        "TELEBRIDGE_NATS_URL": without_login(nats_url),
        "TELEBRIDGE_NATS_ACK_WAIT": "2",
        "TELEBRIDGE_NATS_RETRY_BACKOFF": "0.1",
        "TELEBRIDGE_AUTH_OPERATOR_KEY": OPERATOR_KEY,
        "TELEBRIDGE_REGISTRY_ADMIN_KEY": ADMIN_KEY,
        **{
            f"TELEBRIDGE_RATE_LIMIT_{role.upper()}": str(RATE_LIMIT)
            for role in ("partner", "operator", "admin", "public")
        },
        "TELEBRIDGE_LOG_LEVEL": "debug",
        "TELEBRIDGE_AGENDA_SUMMARY_QUIET": "0.5",
        "TELEBRIDGE_REGISTRY_WEBHOOKS_PRIVATE_NETWORKS": "127.0.0.0/8",
    }


def settings_for(
    settings_type: type[SettingsT], database_url: str, nats_url: str, **overrides: Any
) -> SettingsT:
    return settings_type(
        database=DatabaseSettings(url=database_url, pool_max_size=5),
        nats=NatsSettings(
            url=without_login(nats_url),
            user=_SERVICE_OF[settings_type],
            password=NATS_PASSWORDS[_SERVICE_OF[settings_type]],
            ack_wait=2.0,
            retry_backoff=0.05,
            max_deliveries=3,
        ),
        auth=AuthSettings(operator_key=OPERATOR_KEY),
        outbox_poll_interval=0.2,
        **{"rate_limit": RATE_LIMITS, **overrides},
    )


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app with its lifespan (workers included) running, and a client for it; every
    answer it gets must be one the app's OpenAPI document lists (`tests.contract`)."""
    contract = contract_of(app)

    async def check(response: httpx.Response) -> None:
        violations = contract.violations(
            response.request.method,
            response.request.url.path,
            response.status_code,
            response.headers,
        )
        if violations:
            raise AssertionError("; ".join(violations))

    async with AsyncTestClient(app, timeout=10) as client:
        client.event_hooks = {"response": [check]}
        yield client


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The standard library's HTTP server with `handler`, on a free port of 127.0.0.1 in a
    thread of its own (it answers while the test's event loop is busy); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def json_of(response: Any) -> Any:
    return msgspec.json.decode(response.content)


async def stream_messages(js: JetStreamContext, stream: Stream) -> list[RawStreamMsg]:
    """Every message a stream holds, in order (none when it is empty)."""
    info = await js.stream_info(stream.name)
    if info.state.messages == 0:
        return []
    return [
        await js.get_msg(stream.name, sequence)
        for sequence in range(info.state.first_seq, info.state.last_seq + 1)
    ]


async def stream_events(js: JetStreamContext, stream: Stream) -> list[dict[str, Any]]:
    """The decoded bodies of every message in `stream`."""
    return [msgspec.json.decode(message.data) for message in await stream_messages(js, stream)]


@dataclass
class Harness:
    """A service app running in-process, with what a test uses to look behind its API."""

    client: AsyncTestClient[Litestar]
    js: JetStreamContext
    database: asyncpg.Connection
    """A connection of the test's own, outside the app's pool and event loop."""


@asynccontextmanager
async def harness(app: Litestar, database_url: str, nats_url: str) -> AsyncIterator[Harness]:
    connection = await nats.connect(nats_url)
    database = await asyncpg.connect(database_url)
    try:
        async with serving(app) as client:
            yield Harness(client, connection.jetstream(), database)
    finally:
        await database.close()
        await connection.close()


_QUOTES = {"«": "»", "„": "“"}


def nesting_failures(text: str) -> list[str]:
    """Where Russian quotation marks in `text` do not nest as Russian typography nests them
    («…„…“…»): a quotation opened inside one of the same marks (`«…«`), a mark that closes
    nothing, a quotation left open."""
    failures, open_marks = [], []
    for index, mark in enumerate(text):
        if open_marks and mark == _QUOTES[open_marks[-1]]:
            open_marks.pop()
        elif mark in _QUOTES:
            if open_marks and open_marks[-1] == mark:
                failures.append(f"{mark} inside {mark} at {index} of {text!r}")
            open_marks.append(mark)
        elif mark in "»“":
            failures.append(f"{mark} closes nothing at {index} of {text!r}")
    return failures + [f"{mark} left open in {text!r}" for mark in open_marks]
