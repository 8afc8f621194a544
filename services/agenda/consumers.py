"""What agenda publishing learns from scheduling and the registry, and when it writes
summaries: when a meeting ends, and when a late registration changes one."""

from __future__ import annotations

from services.agenda import store
from services.agenda.publishing import refresh_summary
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import REGISTRY, SCHEDULING, RegistrationCreated, RegistryEvent, SchedulingEvent
from shared.readmodels import registry


def consumers(base_url: str) -> list[EventConsumer[SchedulingEvent] | EventConsumer[RegistryEvent]]:
    async def apply_meeting(connection: Connection, event: SchedulingEvent) -> None:
        await store.upsert_meeting(connection, event)
        await refresh_summary(connection, event.aggregate_id, base_url)

    async def apply_registry_event(connection: Connection, event: RegistryEvent) -> None:
        await registry.apply(connection, event)
        if isinstance(event, RegistrationCreated):
            await refresh_summary(connection, event.meeting_id, base_url)

    return [
        EventConsumer[SchedulingEvent](
            name="agenda-meetings", stream=SCHEDULING, events=SchedulingEvent, apply=apply_meeting
        ),
        EventConsumer[RegistryEvent](
            name="agenda-registry",
            stream=REGISTRY,
            events=RegistryEvent,
            apply=apply_registry_event,
        ),
    ]
