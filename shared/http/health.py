"""Liveness and readiness: ready means PostgreSQL answers and NATS is connected."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from nats.aio.client import Client as NATS

from shared.db import Pool, acquire

CHECK_TIMEOUT = 2.0


class Health(msgspec.Struct, frozen=True):
    status: Literal["ok", "unavailable"]
    service: str
    checks: dict[str, str]
    """Each dependency and what it answered: "ok" or the reason it is not."""


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", summary="The process is up")
    async def live(self, state: State) -> Health:
        return Health(status="ok", service=state.service, checks={})

    @get("/ready", summary="PostgreSQL and NATS are reachable", responses={})
    async def ready(self, state: State) -> Response[Health]:
        runtime = getattr(state, "runtime", None)
        checks = {"postgres": "not started", "nats": "not started"}
        if runtime is not None:
            checks["postgres"] = await _check(_postgres(runtime.pool))
            checks["nats"] = await _check(_nats(runtime.nats))
        healthy = all(value == "ok" for value in checks.values())
        return Response(
            Health(status="ok" if healthy else "unavailable", service=state.service, checks=checks),
            status_code=200 if healthy else 503,
        )


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
