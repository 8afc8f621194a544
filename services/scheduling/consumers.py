"""What scheduling learns from the registry (organizations, people, registrations and
their RSVPs, API keys) and from agenda publishing (the agenda its invites carry)."""

from __future__ import annotations

from services.scheduling import invitations, store
from services.scheduling.mail.compose import MailKind
from services.scheduling.meetings import Context, apply_agenda, calendar_of, load
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import (
    AGENDA,
    REGISTRY,
    AgendaEvent,
    AgendaPublished,
    RegistrationEvent,
    RegistryEvent,
    RsvpChanged,
)
from shared.readmodels import registry
from shared.settings import SchedulingSettings


def registry_events(settings: SchedulingSettings) -> EventConsumer[RegistryEvent]:
    context = Context.of(settings)

    async def apply(connection: Connection, event: RegistryEvent) -> None:
        await registry.apply(connection, event)
        if isinstance(event, RegistrationEvent) and not isinstance(event, RsvpChanged):
            await _mail_registration(connection, event, context)

    return EventConsumer[RegistryEvent](
        name="scheduling-registry", stream=REGISTRY, events=RegistryEvent, apply=apply
    )


async def _mail_registration(
    connection: Connection, event: RegistrationEvent, context: Context
) -> None:
    """Invite a person once registered (not while waitlisted); cancel theirs once not."""
    kinds: dict[str, MailKind] = {
        "registered": "invitation",
        "cancelled": "cancellation",
    }
    kind = kinds.get(event.status)
    row = await store.meeting(connection, event.meeting_id)
    if kind is None or row is None or row["status"] not in ("scheduled", "live"):
        return
    person = await store.attendee(connection, event.meeting_id, event.person_id)
    if person is None:
        return
    calendar = calendar_of(await load(connection, row), context)
    await invitations.send_all(
        connection,
        calendar,
        kind,
        cause=f"registration-v{event.aggregate_version}",
        to=[invitations.Recipient.of(person, calendar.timezone)],
    )


def agenda_events(settings: SchedulingSettings) -> EventConsumer[AgendaEvent]:
    context = Context.of(settings)

    async def apply(connection: Connection, event: AgendaEvent) -> None:
        if isinstance(event, AgendaPublished):
            await apply_agenda(connection, event, context)

    return EventConsumer[AgendaEvent](
        name="scheduling-agenda", stream=AGENDA, events=AgendaEvent, apply=apply
    )
