"""What the registry learns from other services: the meetings people may sign up for."""

from __future__ import annotations

from services.registry import store
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import SCHEDULING, SchedulingEvent


async def apply_meeting(connection: Connection, event: SchedulingEvent) -> None:
    await store.upsert_meeting(connection, event)


MEETINGS = EventConsumer[SchedulingEvent](
    name="registry-meetings", stream=SCHEDULING, events=SchedulingEvent, apply=apply_meeting
)
