"""What agenda publishing learns from scheduling and the registry.

A meeting's end, and any registration for it, request its summary (written once the
changes stop arriving)."""

from __future__ import annotations

from services.agenda import store
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import REGISTRY, SCHEDULING, RegistrationCreated, RegistryEvent, SchedulingEvent
from shared.readmodels import registry


async def apply_meeting(connection: Connection, event: SchedulingEvent) -> None:
    await store.upsert_meeting(connection, event)
    if event.status == "ended":
        await store.request_summary(connection, event.aggregate_id)


async def apply_registry_event(connection: Connection, event: RegistryEvent) -> None:
    await registry.apply(connection, event)
    if isinstance(event, RegistrationCreated):
        await store.request_summary(connection, event.meeting_id)


MEETINGS = EventConsumer[SchedulingEvent](
    name="agenda-meetings", stream=SCHEDULING, events=SchedulingEvent, apply=apply_meeting
)
REGISTRY_EVENTS = EventConsumer[RegistryEvent](
    name="agenda-registry", stream=REGISTRY, events=RegistryEvent, apply=apply_registry_event
)
