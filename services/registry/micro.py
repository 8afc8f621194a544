"""The registry's `nats.micro` endpoints: what other services ask it over request-reply.

`attendance` answers a meeting's statistics to services that need them at once. The kernel
registers it with the registry's micro service (`shared.micro`), beside `status` and
`exists`.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

import msgspec
from nats.micro.request import ServiceError

from services.registry.attendance import statistics
from shared.db import acquire
from shared.micro import MicroEndpoint, endpoint_subject
from shared.readmodels import meetings
from shared.service import Runtime

STATISTICS_SUBJECT: Final = endpoint_subject("registry", "attendance")
"""Request subject of the statistics endpoint: the meeting id as text in, JSON out."""


async def answer_statistics(runtime: Runtime, data: bytes) -> bytes:
    try:
        meeting_id = UUID(data.decode().strip())
    except (UnicodeDecodeError, ValueError):
        raise ServiceError("400", "send a meeting id") from None
    async with acquire(runtime.pool) as connection:
        if await meetings.meeting(connection, meeting_id) is None:
            raise ServiceError("404", f"meeting {meeting_id} is not known")
        found = await statistics(connection, meeting_id)
    return msgspec.json.encode(found)


ATTENDANCE: Final = MicroEndpoint(
    "attendance",
    "A meeting's attendance statistics: its id as text in, JSON out",
    answer_statistics,
)
