"""What agenda publishing learns from scheduling and the registry.

A meeting's end, any registration for it or attendance at it, and any change to an
organization taking part request its summary (written once the changes stop arriving).
Attendance has a consumer of its own: added after the others, it reads the registry's
stream from its start, so attendance recorded before agenda kept it is not missed."""

from __future__ import annotations

from services.agenda.summaries import store
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import (
    REGISTRY,
    SCHEDULING,
    AttendanceRecorded,
    OrganizationUpserted,
    RegistrationEvent,
    RegistryEvent,
    SchedulingEvent,
)
from shared.readmodels import meetings, registry


async def apply_meeting(connection: Connection, event: SchedulingEvent) -> None:
    await meetings.apply(connection, event)
    if event.status == "ended":
        await store.request_summary(connection, event.aggregate_id)


async def apply_registry_event(connection: Connection, event: RegistryEvent) -> None:
    await registry.apply(connection, event)
    match event:
        case RegistrationEvent():
            await store.request_summary(connection, event.meeting_id)
        case OrganizationUpserted():
            # Its name or region may be in summaries written before the event arrived.
            await store.request_summaries_involving(connection, event.aggregate_id)


async def apply_attendance(connection: Connection, event: AttendanceRecorded) -> None:
    await store.record_attendance(connection, event)
    await store.request_summary(connection, event.meeting_id)


MEETINGS = EventConsumer[SchedulingEvent](
    name="agenda-meetings", stream=SCHEDULING, events=SchedulingEvent, apply=apply_meeting
)
REGISTRY_EVENTS = EventConsumer[RegistryEvent](
    name="agenda-registry", stream=REGISTRY, events=RegistryEvent, apply=apply_registry_event
)
ATTENDANCE = EventConsumer[AttendanceRecorded](
    name="agenda-attendance",
    stream=REGISTRY,
    events=AttendanceRecorded,
    apply=apply_attendance,
)
