"""Read your writes across services: an id a service has not heard of yet is waited for.

A partner who creates an organization in the registry and at once schedules a meeting with
it in scheduling must not be told the organization is unknown because the registry's event
is still on its way. So when a lookup in a read model finds nothing, the service asks the
owner of that kind of id over NATS request-reply (`telebridge.<owner>.exists`):

- the owner has never heard of it: it does not exist, and the caller gets the usual 404;
- the owner has it (or does not answer in time): the service waits, woken each time one of
  its consumers applies an event (`Notifier.watch`, no busy polling), until the read model
  has it, for at most `catch_up_timeout` seconds; still missing, the caller gets a 503
  with `Retry-After`, never a 404 that looks permanent;
- nobody serves the owner's subject (the owner is down altogether): nothing to wait for.

Requests find the service's `CatchUp` in a context variable the kernel's middleware sets;
code that runs outside a request (consumers, workers) looks up without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeVar

import msgspec
import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.micro.request import ServiceError

from shared.db import Connection, acquire
from shared.errors import NotYetKnown
from shared.notify import Notifier
from shared.outages import OUTAGES

if TYPE_CHECKING:
    from shared.service import Runtime

log = structlog.get_logger(__name__)

Kind = Literal["organization", "person", "key", "meeting"]
OWNERS: Final[Mapping[Kind, str]] = {
    "organization": "registry",
    "person": "registry",
    "key": "registry",
    "meeting": "scheduling",
}
"""Which service each kind of id is created in."""

EXISTS: Final = "exists"
_ASK_TIMEOUT: Final = 1.0
_POLL: Final = 0.5
"""Seconds between lookups when no notification comes: a lost one costs at most this."""

T = TypeVar("T")


class ExistsQuery(msgspec.Struct, frozen=True):
    kind: Kind
    id: str
    """The id, or an API key's prefix."""


class ExistsAnswer(msgspec.Struct, frozen=True):
    exists: bool


def exists_subject(service: str) -> str:
    """The subject of the owner's `exists` endpoint (`shared.micro` registers it)."""
    return f"telebridge.{service}.{EXISTS}"


@dataclass(frozen=True)
class CatchUp:
    """How one service waits for its read models: whom to ask, what wakes it, how long."""

    service: str
    nats: NATS
    notifier: Notifier
    applied_channel: str
    timeout: float

    async def find(
        self, kind: Kind, identifier: str, lookup: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        found = await lookup()
        owner = OWNERS[kind]
        if found is not None or owner == self.service or self.timeout <= 0:
            return found
        if await self._owner_has(owner, kind, identifier) is False:
            return None
        started = time.monotonic()
        deadline = started + self.timeout
        with self.notifier.watch(self.applied_channel) as applied:
            while (remaining := deadline - time.monotonic()) > 0:
                applied.clear()
                found = await lookup()
                if found is not None:
                    log.debug(
                        "read model caught up",
                        kind=kind,
                        id=identifier,
                        waited_ms=round((time.monotonic() - started) * 1000, 1),
                    )
                    return found
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(applied.wait(), min(remaining, _POLL))
        found = await lookup()
        if found is None:
            raise not_yet_known(kind, identifier, self.service)
        return found

    async def _owner_has(self, owner: str, kind: Kind, identifier: str) -> bool | None:
        """True or False as the owner answers; None when it could not say in time."""
        try:
            reply = await self.nats.request(
                exists_subject(owner),
                msgspec.json.encode(ExistsQuery(kind, identifier)),
                timeout=_ASK_TIMEOUT,
            )
        except nats.errors.NoRespondersError:
            return False
        except (nats.errors.Error, TimeoutError) as error:
            if self.nats.is_connected:
                log.warning("owner did not answer", owner=owner, error=str(error) or "timeout")
            else:
                OUTAGES.failed("nats", error)
            return None
        try:
            return msgspec.json.decode(reply.data, type=ExistsAnswer).exists
        except msgspec.DecodeError:
            return None  # an error reply: the owner could not look


CURRENT: ContextVar[CatchUp | None] = ContextVar("telebridge_catch_up", default=None)
"""The catch-up of the service whose request is being answered."""


async def find(
    kind: Kind, identifier: object, lookup: Callable[[], Awaitable[T | None]]
) -> T | None:
    """`lookup()`, waiting for the read model to catch up when answering a request."""
    catch_up = CURRENT.get()
    if catch_up is None:
        return await lookup()
    return await catch_up.find(kind, str(identifier), lookup)


def not_yet_known(kind: str, identifier: str, service: str) -> NotYetKnown:
    return NotYetKnown(
        "not-yet-known",
        f"{kind} {identifier} was created a moment ago and {service} has not heard of it "
        "yet: send the request again in a moment",
        retry_after=1,
    )


Answer = Callable[[Connection, str], Awaitable[bool]]


def answer_exists(
    service: str, answers: Mapping[Kind, Answer]
) -> Callable[[Runtime, bytes], Awaitable[bytes]]:
    """The handler of the `exists` endpoint: other services' questions about the ids this
    service creates (`shared.micro` registers it on `exists_subject(service)`)."""

    async def answer(runtime: Runtime, data: bytes) -> bytes:
        try:
            query = msgspec.json.decode(data, type=ExistsQuery)
            exists = answers[query.kind]
        except (msgspec.DecodeError, KeyError):
            raise ServiceError("400", f"{service} creates no such kind of id") from None
        async with acquire(runtime.pool) as connection:
            found = await exists(connection, query.id)
        return msgspec.json.encode(ExistsAnswer(found))

    return answer
