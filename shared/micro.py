"""Every service process as a `nats.micro` service: found by discovery, asked for its status.

Each replica registers one micro service named after its service, with the version and,
in its metadata, where it answers HTTP and which host and process it is; so
`$SRV.PING|INFO|STATS[.<service>[.<instance id>]]` finds every replica running. Its
endpoints:

- `status`, on `telebridge.<service>.status.<instance id>`: a subject per replica, so that
  `telebridge status` asks each replica about itself. It answers the replica's health (as
  `/health/ready`), its service's outbox backlog and the lag of its durable consumers;
- the service's own request-reply endpoints (`ServiceDefinition.micro`), on
  `telebridge.<service>.<name>`, answered by any one replica (the queue group is the
  service's name).

A handler raises `ServiceError(code, description)` for what the caller should know (a bad
request, an id that does not exist). Anything else is logged here and answered as a 503
(the database is away) or a 500, with a description that shows nothing of the internals:
nats.micro would otherwise answer the exception's repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec
import nats.errors
import structlog
from nats.micro import add_service
from nats.micro.request import Request as MicroRequest
from nats.micro.request import ServiceError
from nats.micro.service import Service

from shared.bus.jetstream import consumer_progress, flushed
from shared.bus.outbox import unsent_count
from shared.db import acquire, database_unavailable
from shared.http.health import CHECK_TIMEOUT, Status, check_dependencies, status_of
from shared.outages import OUTAGES
from shared.version import VERSION

if TYPE_CHECKING:
    from shared.bus.consumer import EventConsumer
    from shared.service import Runtime

log = structlog.get_logger(__name__)

STATUS: Final = "status"
"""The endpoint every replica has."""
UNAVAILABLE: Final = ("503", "the database is not available: ask again in a moment")
INTERNAL: Final = ("500", "the service failed to answer; its log says why")
"""The answers to an unexpected failure: a code and a description, nothing of the error."""

Handler = Callable[["Runtime", bytes], Awaitable[bytes]]
"""Takes the request's body, returns the answer's; raises `ServiceError` to refuse."""


@dataclass(frozen=True)
class MicroEndpoint:
    """A request-reply endpoint a service offers other services over NATS."""

    name: str
    """Endpoint name in `$SRV.INFO`; the subject is `telebridge.<service>.<name>`."""
    description: str
    handler: Handler


def endpoint_subject(service: str, name: str) -> str:
    return f"telebridge.{service}.{name}"


def status_subject(service: str, instance: str) -> str:
    return f"telebridge.{service}.{STATUS}.{instance}"


class ConsumerLag(msgspec.Struct, frozen=True):
    """How far one durable consumer is behind its stream (shared by every replica)."""

    name: str
    stream: str
    pending: int | None
    """Messages in the stream not delivered yet; None when JetStream did not say."""
    ack_pending: int | None
    """Delivered and not acknowledged yet: being applied, or waiting for a redelivery."""
    redelivered: int | None


class ReplicaStatus(msgspec.Struct, frozen=True):
    """What the `status` endpoint answers about the replica it reaches."""

    service: str
    instance: str
    version: str
    status: Status
    checks: dict[str, str]
    """PostgreSQL and NATS, as `/health/ready` says them: "ok" or the reason it is not."""
    outbox_backlog: int | None
    """Events of the service written and not yet published; None without the database."""
    consumers: list[ConsumerLag]
    uptime_s: float
    http: str
    """The replica's HTTP base URL."""

    @property
    def lag(self) -> int | None:
        """Every consumer's undelivered and unacknowledged messages together."""
        counts = [(each.pending, each.ack_pending) for each in self.consumers]
        if any(None in pair for pair in counts):
            return None
        return sum((pending or 0) + (ack_pending or 0) for pending, ack_pending in counts)


async def register(
    runtime: Runtime,
    name: str,
    description: str,
    endpoints: Sequence[MicroEndpoint],
    consumers: Sequence[EventConsumer[Any]],
) -> Service:
    """Register this replica's micro service with its `status` and the service's endpoints."""
    service = await add_service(
        runtime.nats,
        name=name,
        version=VERSION,
        description=description,
        metadata={
            "http": runtime.settings.http.base_url,
            "host": socket.gethostname(),
            "pid": str(os.getpid()),
        },
        queue_group=name,
    )
    started = time.monotonic()

    async def status(runtime: Runtime, _: bytes) -> bytes:
        checks = await check_dependencies(runtime.pool, runtime.nats)
        backlog = await _outbox_backlog(runtime) if checks["postgres"] == "ok" else None
        answer = ReplicaStatus(
            service=name,
            instance=service.id,
            version=VERSION,
            status=status_of(checks),
            checks=checks,
            outbox_backlog=backlog,
            consumers=[await _lag(runtime, consumer) for consumer in consumers],
            uptime_s=round(time.monotonic() - started, 1),
            http=runtime.settings.http.base_url,
        )
        return msgspec.json.encode(answer)

    own = MicroEndpoint(STATUS, "This replica's health, outbox backlog and consumer lag", status)
    await service.add_endpoint(
        name=STATUS,
        subject=status_subject(name, service.id),
        handler=_answering(runtime, name, own),
        metadata={"description": own.description},
    )
    for endpoint in endpoints:
        await service.add_endpoint(
            name=endpoint.name,
            subject=endpoint_subject(name, endpoint.name),
            handler=_answering(runtime, name, endpoint),
            metadata={"description": endpoint.description},
        )
    # Ready means answering: other services' requests may come the moment it says so.
    await flushed(runtime.nats)
    log.info("registered with nats.micro", instance=service.id)
    return service


async def unregister(service: Service) -> None:
    """Stop answering; a NATS that went away first is no reason to fail shutdown."""
    with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
        async with asyncio.timeout(CHECK_TIMEOUT):
            await service.stop()


def _answering(
    runtime: Runtime, service: str, endpoint: MicroEndpoint
) -> Callable[[MicroRequest], Awaitable[None]]:
    async def handle(request: MicroRequest) -> None:
        try:
            answer = await endpoint.handler(runtime, request.data)
        except ServiceError:
            raise  # nats.micro answers it with its code and description, and counts it
        except Exception as error:
            if database_unavailable(error):
                OUTAGES.failed("postgres", error)
                raise ServiceError(*UNAVAILABLE) from error
            log.exception("micro endpoint failed", endpoint=endpoint.name, service=service)
            raise ServiceError(*INTERNAL) from error
        await request.respond(answer)

    return handle


async def _outbox_backlog(runtime: Runtime) -> int | None:
    try:
        async with acquire(runtime.pool, CHECK_TIMEOUT) as connection:
            return await unsent_count(connection)
    except Exception as error:
        if database_unavailable(error):
            OUTAGES.failed("postgres", error)
        else:
            log.warning("outbox backlog unknown", error=str(error) or type(error).__name__)
        return None


async def _lag(runtime: Runtime, consumer: EventConsumer[Any]) -> ConsumerLag:
    stream = consumer.stream.name
    try:
        progress = await consumer_progress(runtime.js, stream, consumer.name, CHECK_TIMEOUT)
    except (nats.errors.Error, TimeoutError) as error:
        log.warning("consumer lag unknown", consumer=consumer.name, error=str(error) or "timeout")
        return ConsumerLag(consumer.name, stream, None, None, None)
    return ConsumerLag(consumer.name, stream, *progress)
