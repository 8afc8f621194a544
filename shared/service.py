"""What the three services share at run time: one factory builds each Litestar app.

A service describes itself with a `ServiceDefinition` (routes, migrations, consumers,
background workers); `build_app` wires the rest. The lifespan opens the pool and the NATS
connection (unless a test passes its own), applies migrations, declares the streams,
starts the outbox relay, the consumers and the service's workers, and undoes all of it in
reverse order on shutdown: the consumers settle what they fetched and the relay publishes
what is unsent before the connections close (`Background.stop`).
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
)
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from shared.bus.consumer import ConsumerWorker, EventConsumer
from shared.bus.jetstream import connect_nats, ensure_streams
from shared.bus.outbox import EVENT_LIMIT, OutboxRelay, outbox_readings
from shared.db import Connection, Pool, StartupError, acquire, create_pool
from shared.http.auth import authentication_middleware, provide_caller, provide_visitor
from shared.http.bodies import body_middleware, check_body
from shared.http.contract import KEY_SCHEME, describe
from shared.http.health import HealthController
from shared.http.idempotency import TRANSACTION, idempotency_middleware
from shared.http.metrics import SCRAPE, MetricsController
from shared.http.middleware import around_every_request, options_middleware
from shared.http.params import AnyRequest
from shared.http.problems import EXCEPTION_HANDLERS
from shared.http.ratelimit import rate_limit_middleware
from shared.http.tracing import http_tracing
from shared.metrics import Probe, Scrape
from shared.micro import MicroEndpoint, register, unregister
from shared.migrations import KERNEL_MIGRATIONS, Migration, discover, migrate
from shared.notify import Notifier
from shared.outages import OUTAGES
from shared.readmodels.catchup import EXISTS, Answer, CatchUp, Kind, answer_exists
from shared.settings import ServiceSettings
from shared.version import VERSION
from shared.workers import cancel_all, stop_all, supervise

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """The live resources of one service process, kept on `app.state.runtime`."""

    settings: ServiceSettings
    pool: Pool
    nats: NATS
    js: JetStreamContext
    notifier: Notifier
    catch_up: CatchUp


Worker = Callable[[Runtime], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    """Service name: also its schema and the prefix of the subjects it publishes."""
    description: str
    route_handlers: Sequence[ControllerRouterHandler]
    migrations: Path
    """The service's own `.sql` files."""
    read_models: Sequence[tuple[str, Path]] = ()
    """Migration sources of shared read models it keeps, applied before its own."""
    consumers: Sequence[EventConsumer[Any] | Callable[[Any], EventConsumer[Any]]] = ()
    """Consumers, or functions making one from the service's settings when it needs them."""
    workers: Sequence[tuple[str, Worker]] = ()
    """Named background loops, each restarted if it fails."""
    on_start: Sequence[Worker] = ()
    """Run once after migrations, before the service takes requests; a failure stops it."""
    notify_channels: Sequence[str] = ()
    """PostgreSQL channels its workers wait on, besides the outbox's."""
    ids: Mapping[Kind, Answer] = field(default_factory=dict)
    """The kinds of id the service creates, and how to tell whether one exists: other
    services ask before they wait for their read models (`shared.readmodels.catchup`)."""
    micro: Sequence[MicroEndpoint] = ()
    """Its NATS request-reply endpoints besides `status` and `exists` (`shared.micro`)."""
    probes: Sequence[tuple[str, Probe]] = ()
    """Figures of its own tables read when `/metrics` is scraped, besides the outbox's
    (`shared.metrics`), each with its name."""

    @property
    def schema(self) -> str:
        return self.name

    def all_migrations(self) -> list[Migration]:
        """What its schema is built from, in order: the kernel's tables (outbox, inbox),
        then the shared read models it keeps, then its own."""
        sources = [("shared", KERNEL_MIGRATIONS), *self.read_models, (self.name, self.migrations)]
        return [migration for source in sources for migration in discover(*source)]

    @property
    def outbox_channel(self) -> str:
        return f"{self.schema}.outbox"

    @property
    def applied_channel(self) -> str:
        """Notified whenever a consumer of the service has applied an event."""
        return f"{self.schema}.applied"


async def provide_transaction(request: AnyRequest) -> AsyncGenerator[Connection, None]:
    """A connection in a transaction for one request: committed on success, else rolled back.

    A POST with an `Idempotency-Key` already runs in one, opened by the idempotency
    middleware, which commits it together with the answer it keeps.
    """
    opened: Connection | None = request.scope.get("state", {}).get(TRANSACTION)
    if opened is not None:
        OUTAGES.answered("postgres")
        yield opened
        return
    runtime: Runtime = request.app.state.runtime
    timeout = runtime.settings.database.acquire_timeout
    async with acquire(runtime.pool, timeout) as connection, connection.transaction():
        OUTAGES.answered("postgres")  # BEGIN went through
        yield connection


def build_app(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    pool: Pool | None = None,
    nats: NATS | None = None,
) -> Litestar:
    consumers = consumers_of(definition, settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            try:
                runtime = await _start(definition, settings, consumers, stack, pool=pool, nats=nats)
            except StartupError as error:
                # One clear line; uvicorn prints the traceback after it.
                log.error("cannot start", reason=str(error))  # noqa: TRY400
                raise
            app.state.runtime = runtime
            yield

    app = Litestar(
        route_handlers=[HealthController, MetricsController, *definition.route_handlers],
        lifespan=[lifespan],
        state=State({"settings": settings, "service": definition.name}),
        dependencies={
            "connection": Provide(provide_transaction),
            "caller": Provide(provide_caller, sync_to_thread=False),
            "visitor": Provide(provide_visitor, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        # Bodies are checked before the idempotency middleware reads them.
        middleware=[
            options_middleware,
            body_middleware,
            authentication_middleware,
            rate_limit_middleware,
            idempotency_middleware,
        ],
        request_max_body_size=settings.http.max_body_size,
        before_request=check_body,
        openapi_config=OpenAPIConfig(
            title=f"Telebridge {definition.name}",
            version=VERSION,
            description=definition.description,
            path="/schema",
            components=Components(
                security_schemes={
                    KEY_SCHEME: SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="tb_<prefix>_<secret>",
                        description="An API key the registry issued: admin, operator, or "
                        "partner (acting for one organization), limited to its scopes. "
                        "`TELEBRIDGE_AUTH_OPERATOR_KEY` is accepted as an operator key.",
                    )
                }
            ),
        ),
        debug=False,
        logging_config=None,  # logging is configured once per process: shared.observability
        plugins=[http_tracing()],
    )
    app.state[SCRAPE] = Scrape(
        probes=[("outbox", outbox_readings), *definition.probes],
        consumers=[(consumer.stream.name, consumer.name) for consumer in consumers],
    )
    around_every_request(app)
    describe(app)
    return app


async def _start(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    consumers: list[EventConsumer[Any]],
    stack: AsyncExitStack,
    *,
    pool: Pool | None,
    nats: NATS | None,
) -> Runtime:
    if pool is None:
        pool = await create_pool(settings.database, definition.schema)
        stack.push_async_callback(pool.close)
        bus_pool = await create_pool(
            settings.database, definition.schema, max_size=settings.database.consumer_pool_size
        )
        stack.push_async_callback(bus_pool.close)
    else:
        bus_pool = pool  # a test's own pool serves both
    async with acquire(pool) as connection:
        await migrate(connection, definition.schema, definition.all_migrations())

    if nats is None:
        nats = await connect_nats(settings.nats, name=definition.name)
        stack.push_async_callback(_close_nats, nats)
    js = nats.jetstream()
    await ensure_streams(
        js, settings.nats.stream_replicas, definition.name, patience=settings.nats.connect_timeout
    )
    EVENT_LIMIT.fit_to(min(settings.nats.max_payload, nats.max_payload))

    notifier = Notifier(
        settings.database,
        definition.schema,
        [definition.outbox_channel, definition.applied_channel, *definition.notify_channels],
    )
    catch_up = CatchUp(
        service=definition.name,
        nats=nats,
        notifier=notifier,
        applied_channel=definition.applied_channel,
        timeout=settings.catch_up_timeout,
    )
    runtime = Runtime(
        settings=settings, pool=pool, nats=nats, js=js, notifier=notifier, catch_up=catch_up
    )
    for step in definition.on_start:
        await step(runtime)
    relay = OutboxRelay(
        bus_pool,
        js,
        notifier,
        definition.outbox_channel,
        poll_interval=settings.outbox_poll_interval,
        service=definition.name,
    )
    consumers_stopping = asyncio.Event()
    background = Background(
        relay=relay,
        notifier=_supervised("notifier", notifier.run),
        relaying=_supervised("outbox-relay", relay.run),
        consumers=[
            _supervised(
                consumer.name,
                ConsumerWorker(
                    bus_pool,
                    js,
                    consumer,
                    settings.nats,
                    applied_channel=definition.applied_channel,
                    stopping=consumers_stopping,
                ).run,
                consumers_stopping,
            )
            for consumer in consumers
        ],
        consumers_stopping=consumers_stopping,
        workers=[_supervised(name, _bind(worker, runtime)) for name, worker in definition.workers],
    )
    stack.push_async_callback(background.stop, settings.http.graceful_shutdown)
    endpoints = list(definition.micro)
    if definition.ids:
        endpoints.append(
            MicroEndpoint(
                EXISTS,
                f"Whether {definition.name} has created an id (read your writes for others)",
                answer_exists(definition.name, definition.ids),
            )
        )
    micro = await register(runtime, definition.name, definition.description, endpoints, consumers)
    stack.push_async_callback(unregister, micro)  # first out: discovery stops finding it
    return runtime


def _supervised(
    name: str,
    loop: Callable[[], Coroutine[Any, Any, None]],
    stopping: asyncio.Event | None = None,
) -> asyncio.Task[None]:
    return asyncio.create_task(supervise(name, loop, stopping), name=name)


@dataclass
class Background:
    """A service's background tasks, stopped in the order that leaves least undone."""

    relay: OutboxRelay
    notifier: asyncio.Task[None]
    relaying: asyncio.Task[None]
    """The relay's loop."""
    consumers: list[asyncio.Task[None]]
    consumers_stopping: asyncio.Event
    workers: list[asyncio.Task[None]]
    """The service's own (`ServiceDefinition.workers`)."""

    async def stop(self, grace: float) -> None:
        """Stop everything within `grace` seconds, once HTTP requests have finished.

        The consumers fetch no more and settle the events they fetched (so no other replica
        receives them again after `ack_wait`), within half of `grace`; the service's own
        workers are cancelled, as is the relay's loop, and a mail or webhook in hand may
        finish until three quarters of `grace`; then the relay publishes every event still
        unsent, those the consumers and workers wrote up to the end included, within the
        rest; the notifier goes last. Whatever still runs at its deadline is cancelled.
        """
        end = asyncio.get_running_loop().time() + grace
        try:
            await stop_all(self.consumers, self.consumers_stopping, deadline=end - grace / 2)
            await cancel_all([*self.workers, self.relaying], deadline=end - grace / 4)
            await self.relay.flush(deadline=end)
        finally:
            await cancel_all(
                [*self.consumers, *self.workers, self.relaying, self.notifier], deadline=end
            )


def consumers_of(
    definition: ServiceDefinition, settings: ServiceSettings
) -> list[EventConsumer[Any]]:
    """The service's consumers, made for these settings where they need them."""
    return [
        entry if isinstance(entry, EventConsumer) else entry(settings)
        for entry in definition.consumers
    ]


async def _close_nats(client: NATS) -> None:
    """Close the connection; a server that went away first is no reason to fail shutdown."""
    try:
        await client.close()
    except (OSError, NatsError) as error:
        log.warning("nats connection closed uncleanly", error=str(error) or type(error).__name__)


def _bind(worker: Worker, runtime: Runtime) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        await worker(runtime)

    return run
