"""What scheduling learns from the registry (organizations, people, registrations and
their RSVPs, API keys) and from agenda publishing (the agenda its invites carry)."""

from __future__ import annotations

from uuid import UUID

from services.scheduling import invitations, store
from services.scheduling.mail.compose import MailKind
from services.scheduling.meetings import Context, apply_agenda, apply_summary, load
from services.scheduling.views import calendar_of
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import (
    AGENDA,
    REGISTRY,
    AgendaEvent,
    AgendaPublished,
    AgendaUnpublished,
    PersonUpserted,
    RegistrationEvent,
    RegistryEvent,
    RsvpChanged,
    SummaryPublished,
)
from shared.readmodels import registry
from shared.settings import SchedulingSettings


def registry_events(settings: SchedulingSettings) -> EventConsumer[RegistryEvent]:
    context = Context.of(settings)

    async def apply(connection: Connection, event: RegistryEvent) -> None:
        if isinstance(event, PersonUpserted):
            await store.lock_person(connection, event.aggregate_id)
            newcomer = not await store.person_known(connection, event.aggregate_id)
            await registry.apply(connection, event)
            if newcomer:
                await _mail_registrations_waiting_for(connection, event.aggregate_id, context)
            return
        if isinstance(event, RegistrationEvent):
            await store.lock_person(connection, event.person_id)
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
    if kind is not None:
        await _mail(
            connection,
            event.meeting_id,
            event.person_id,
            kind=kind,
            registration_version=event.aggregate_version,
            context=context,
        )


async def _mail_registrations_waiting_for(
    connection: Connection, person_id: UUID, context: Context
) -> None:
    """Invite a person whose registrations arrived before the person did: their
    invitations could not be written without a name and an address."""
    for registration in await store.registrations_of(connection, person_id):
        await _mail(
            connection,
            registration.meeting_id,
            person_id,
            kind="invitation",
            registration_version=registration.version,
            context=context,
        )


async def _mail(
    connection: Connection,
    meeting_id: UUID,
    person_id: UUID,
    *,
    kind: MailKind,
    registration_version: int,
    context: Context,
) -> None:
    row = await store.meeting(connection, meeting_id)
    if row is None or row.status not in ("scheduled", "live"):
        return
    person = await store.attendee(connection, meeting_id, person_id)
    if person is None:
        return  # mailed once the person arrives
    calendar = calendar_of(await load(connection, row), context)
    await invitations.send_all(
        connection,
        calendar,
        kind,
        cause=f"registration-v{registration_version}",
        to=[invitations.Recipient.of(person, calendar.timezone)],
    )


def agenda_events(settings: SchedulingSettings) -> EventConsumer[AgendaEvent]:
    context = Context.of(settings)

    async def apply(connection: Connection, event: AgendaEvent) -> None:
        if isinstance(event, AgendaPublished | AgendaUnpublished):
            await apply_agenda(connection, event, context)
        elif isinstance(event, SummaryPublished):
            await apply_summary(connection, event, context)

    return EventConsumer[AgendaEvent](
        name="scheduling-agenda", stream=AGENDA, events=AgendaEvent, apply=apply
    )
