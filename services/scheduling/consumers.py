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
        meeting = None
        if isinstance(event, RegistrationEvent):
            # The person first, then the meeting: the order every transaction takes them in.
            await store.lock_person(connection, event.person_id, shared=True)
            meeting = await store.meeting(connection, event.meeting_id, for_update=True)
        await registry.apply(connection, event)
        if isinstance(event, RegistrationEvent) and not isinstance(event, RsvpChanged):
            await _mail_registration(connection, event, meeting, context)

    return EventConsumer[RegistryEvent](
        name="scheduling-registry",
        stream=REGISTRY,
        events=RegistryEvent,
        apply=apply,
        order_key=_meeting_of_registration,
    )


def _meeting_of_registration(event: RegistryEvent) -> UUID:
    """A registration is applied in turn with the other events of its meeting."""
    return event.meeting_id if isinstance(event, RegistrationEvent) else event.aggregate_id


async def _mail_registration(
    connection: Connection,
    event: RegistrationEvent,
    meeting: store.StoredMeeting | None,
    context: Context,
) -> None:
    """Invite a person once registered (not while waitlisted); cancel theirs once not."""
    kinds: dict[str, MailKind] = {
        "registered": "invitation",
        "cancelled": "cancellation",
    }
    kind = kinds.get(event.status)
    if kind is not None and meeting is not None:
        await _mail(
            connection,
            meeting,
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
        meeting = await store.meeting(connection, registration.meeting_id, for_update=True)
        if meeting is not None:
            await _mail(
                connection,
                meeting,
                person_id,
                kind="invitation",
                registration_version=registration.version,
                context=context,
            )


async def _mail(
    connection: Connection,
    meeting: store.StoredMeeting,
    person_id: UUID,
    *,
    kind: MailKind,
    registration_version: int,
    context: Context,
) -> None:
    """Queue the person's mail of the meeting, which the caller holds locked: its SEQUENCE
    and the order of its mails are those of the meeting's changes."""
    if meeting.status not in ("scheduled", "live"):
        return
    person = await store.attendee(connection, meeting.id, person_id)
    if person is None:
        return  # mailed once the person arrives
    calendar = calendar_of(await load(connection, meeting), context)
    await invitations.send_all(
        connection, calendar, kind, cause=f"registration-v{registration_version}", to=[person]
    )


def agenda_events(settings: SchedulingSettings) -> EventConsumer[AgendaEvent]:
    context = Context.of(settings)

    async def apply(connection: Connection, event: AgendaEvent) -> None:
        if isinstance(event, AgendaPublished | AgendaUnpublished):
            await apply_agenda(connection, event, context)
        elif isinstance(event, SummaryPublished):
            await apply_summary(connection, event, context)

    return EventConsumer[AgendaEvent](
        name="scheduling-agenda",
        stream=AGENDA,
        events=AgendaEvent,
        apply=apply,
        order_key=_meeting_of_agenda,
    )


def _meeting_of_agenda(event: AgendaEvent) -> UUID:
    """An agenda or summary is applied in turn with the other events of its meeting."""
    return event.meeting_id


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
