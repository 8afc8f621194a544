"""From the event streams into the webhook queue: each event a partner may receive is
queued for every enabled endpoint that wants its type and may see it, in the consumer's
transaction (its inbox record makes a redelivered event queue nothing twice).

Who may see what is the REST API's rule: a meeting's events go to its host and sites, an
agenda's and a summary's to its meeting's, a registration's and an RSVP's to the person's
own organization.
"""

from __future__ import annotations

from uuid import UUID

from services.registry.webhooks import store
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import (
    AGENDA,
    REGISTRY,
    SCHEDULING,
    AgendaEvent,
    AgendaPublished,
    Event,
    MeetingEvent,
    RegistrationEvent,
    RegistryEvent,
    SchedulingEvent,
    SummaryPublished,
)
from shared.readmodels import meetings
from shared.webhooks import EVENT_TYPES, body_of, type_of


class MeetingNotKnownYetError(Exception):
    """An agenda's event came before its meeting's: the consumer tries again shortly."""


async def _audience(connection: Connection, event: Event) -> list[UUID]:
    if isinstance(event, MeetingEvent):
        return list(event.organization_ids)
    if isinstance(event, RegistrationEvent):
        return [event.organization_id]
    if isinstance(event, AgendaPublished | SummaryPublished):
        meeting = await meetings.meeting(connection, event.meeting_id)
        if meeting is None:
            raise MeetingNotKnownYetError(f"meeting {event.meeting_id} is not known here yet")
        return meeting.organization_ids
    return []


async def queue(connection: Connection, event: Event) -> None:
    event_type = type_of(type(event))
    if event_type not in EVENT_TYPES:
        return
    await store.fan_out(
        connection,
        event_id=event.event_id,
        event_type=event_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        body=body_of(event),
        organization_ids=await _audience(connection, event),
    )


REGISTRY_WEBHOOKS = EventConsumer[RegistryEvent](
    name="registry-webhooks-registry", stream=REGISTRY, events=RegistryEvent, apply=queue
)
SCHEDULING_WEBHOOKS = EventConsumer[SchedulingEvent](
    name="registry-webhooks-scheduling", stream=SCHEDULING, events=SchedulingEvent, apply=queue
)
AGENDA_WEBHOOKS = EventConsumer[AgendaEvent](
    name="registry-webhooks-agenda", stream=AGENDA, events=AgendaEvent, apply=queue
)
CONSUMERS = (REGISTRY_WEBHOOKS, SCHEDULING_WEBHOOKS, AGENDA_WEBHOOKS)
