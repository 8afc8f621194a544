"""The registry's `nats.micro` service: what other services ask it over request-reply.

`attendance` answers a meeting's statistics to services that need them at once.
"""

from __future__ import annotations

import asyncio
from typing import Final
from uuid import UUID

import msgspec
from nats.micro import add_service
from nats.micro.request import Request as MicroRequest

from services.registry.attendance import statistics
from shared.db import acquire
from shared.readmodels import meetings
from shared.service import Runtime
from shared.version import VERSION

STATISTICS_SUBJECT: Final = "telebridge.registry.attendance"
"""Request subject of the statistics endpoint: the meeting id as text in, JSON out."""


async def serve_statistics(runtime: Runtime) -> None:
    """The `registry` micro service: `attendance` answers statistics over NATS request-reply."""

    async def answer(request: MicroRequest) -> None:
        try:
            meeting_id = UUID(request.data.decode().strip())
        except ValueError:
            await request.respond_error("400", "send a meeting id")
            return
        async with acquire(runtime.pool) as connection:
            if await meetings.meeting(connection, meeting_id) is None:
                await request.respond_error("404", f"meeting {meeting_id} is not known")
                return
            found = await statistics(connection, meeting_id)
        await request.respond(msgspec.json.encode(found))

    service = await add_service(
        runtime.nats,
        name="registry",
        version=VERSION,
        description="Attendance statistics of meetings",
    )
    await service.add_endpoint(
        name="attendance", subject=STATISTICS_SUBJECT, handler=answer, queue_group="registry"
    )
    try:
        await asyncio.Event().wait()
    finally:
        await service.stop()
