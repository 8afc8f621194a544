"""Liveness and readiness: ready means PostgreSQL answers.

NATS away does not make a service unready: every write puts its events in the outbox, in
the same transaction, and the relay publishes them once NATS is back; only the read models
fed by other services' events fall behind meanwhile. So a service without NATS answers
200 with `status: degraded` and `missing: ["nats"]`; without PostgreSQL it can neither
read nor write, and answers 503 with `missing: ["postgres"]`. Liveness never looks at
either: a restart would not bring them back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from nats.aio.client import Client as NATS

from shared.db import Pool, acquire
from shared.http.auth import KEYLESS
from shared.http.ratelimit import UNLIMITED
from shared.outages import OUTAGES

CHECK_TIMEOUT = 2.0

Status = Literal["ok", "degraded", "unavailable"]


class Health(msgspec.Struct, frozen=True, omit_defaults=True):
    status: Status
    service: str
    checks: dict[str, str]
    """Each dependency and what it answered: "ok" or the reason it is not."""
    missing: list[str] = msgspec.field(default_factory=list)
    """The dependencies that did not answer: "postgres", "nats"."""


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {KEYLESS: True, UNLIMITED: True}

    @get("/live", summary="The process is up")
    async def live(self, state: State) -> Health:
        return Health(status="ok", service=state.service, checks={})

    @get(
        "/ready",
        summary="PostgreSQL answers (NATS away only degrades: writes wait in the outbox)",
        responses={
            503: ResponseSpec(
                Health,
                description="PostgreSQL does not answer: send this replica no requests.",
            )
        },
    )
    async def ready(self, state: State) -> Response[Health]:
        runtime = getattr(state, "runtime", None)
        checks: dict[str, str] = {"postgres": "not started", "nats": "not started"}
        if runtime is not None:
            checks = await check_dependencies(runtime.pool, runtime.nats)
        missing = [dependency for dependency, answer in checks.items() if answer != "ok"]
        status = status_of(checks)
        return Response(
            Health(status=status, service=state.service, checks=checks, missing=missing),
            status_code=503 if status == "unavailable" else 200,
        )


async def check_dependencies(pool: Pool, nats: NATS) -> dict[str, str]:
    """What PostgreSQL and NATS answer now, each "ok" or the reason it is not; a PostgreSQL
    that does not answer is counted as an outage, as a failed request would be."""
    checks = {"postgres": await _check(_postgres(pool)), "nats": await _check(_nats(nats))}
    if checks["postgres"] == "ok":
        OUTAGES.answered("postgres")
    else:
        OUTAGES.failed("postgres", checks["postgres"])
    return checks


def status_of(checks: dict[str, str]) -> Status:
    """Unavailable without PostgreSQL, degraded without NATS only (writes wait in the outbox)."""
    missing = [dependency for dependency, answer in checks.items() if answer != "ok"]
    return "unavailable" if "postgres" in missing else "degraded" if missing else "ok"


async def _postgres(pool: Pool) -> None:
    async with acquire(pool) as connection:
        await connection.fetchval("SELECT 1")


async def _nats(client: NATS) -> None:
    # While the client reconnects, `flush` succeeds without reaching any server.
    if not client.is_connected:
        raise ConnectionError("reconnecting" if client.is_reconnecting else "not connected")
    await client.flush(timeout=int(CHECK_TIMEOUT))


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT)
    except Exception as error:
        return f"{type(error).__name__}: {error}".strip(": ")
    return "ok"
