"""What scheduling learns from the registry (organizations, people, registrations and
their RSVPs, API keys) and from agenda publishing (the agenda its invites carry)."""

from __future__ import annotations

from uuid import UUID

from services.scheduling import invitations, store
from services.scheduling.mail.compose import MailKind
from services.scheduling.meetings import Context, load, publish
from services.scheduling.views import calendar_of
from shared.bus.consumer import EventConsumer
from shared.db import Connection
from shared.events import (
    AGENDA,
    REGISTRY,
    AgendaEvent,
    AgendaPublished,
    AgendaUnpublished,
    MeetingUpdated,
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


async def apply_agenda(
    connection: Connection, event: AgendaPublished | AgendaUnpublished, context: Context
) -> None:
    """Keep a meeting's published agenda (none once unpublished): its invites carry it and
    are sent again."""
    row = await store.meeting(connection, event.meeting_id, for_update=True)
    if row is None:
        return
    entries, url = (event.entries, event.url) if isinstance(event, AgendaPublished) else ([], None)
    changed = await store.set_agenda(
        connection, event.meeting_id, entries, url, event.aggregate_version
    )
    if changed is None or changed.status == "draft":
        return
    state = await load(connection, changed)
    await publish(connection, MeetingUpdated, state, context)


async def apply_summary(connection: Connection, event: SummaryPublished, context: Context) -> None:
    """Link the meeting's calendar event to its post-event summary. Nobody is mailed: the
    meeting is over; calendars that subscribe see the link on their next refresh."""
    row = await store.meeting(connection, event.meeting_id, for_update=True)
    if row is None or row.summary_url == event.url:
        return  # a new version of the summary at the same address: calendars see no change
    changed = await store.set_summary(
        connection, event.meeting_id, event.url, event.aggregate_version
    )
    if changed is not None:
        state = await load(connection, changed)
        await publish(connection, MeetingUpdated, state, context, mail=False)
