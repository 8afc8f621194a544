"""Agenda publishing's use cases: versions of a meeting's agenda, published and withdrawn,
and the programme its pages show. Publishing or withdrawing one requests the meeting's
summary (see `services.agenda.summaries`), since the summary lists what was delivered.

Versions are kept, published and withdrawn by `services.agenda.versions`, as summaries'
are."""

from __future__ import annotations

from functools import partial
from uuid import UUID

import msgspec
import structlog

from services.agenda import store
from services.agenda.access import hosted_meeting, visible_meeting
from services.agenda.agendas import store as agenda_store
from services.agenda.agendas.diff import AgendaDiff, diff
from services.agenda.agendas.identities import KnownItem, SpeakerKey, identities, speaker_key
from services.agenda.agendas.items import (
    InvalidAgendaError,
    MeetingFrame,
    Person,
    schedule,
)
from services.agenda.agendas.renderings import Programme, Site, speaker_text
from services.agenda.agendas.store import AGENDAS, StoredVersion
from services.agenda.meetings import held_sessions, site_tracks
from services.agenda.schemas import (
    AgendaVersion,
    AgendaWrite,
    ItemWrite,
    ScheduledItem,
)
from services.agenda.store import RegisteredPerson
from services.agenda.summaries import store as summary_store
from services.agenda.versions import versions
from services.agenda.versions.versions import Head, author
from shared.access import Caller
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.errors import NotFound, invalid_fields
from shared.events import (
    AgendaEntry,
    AgendaPublished,
    AgendaUnpublished,
    utc_now,
)
from shared.readmodels import catchup
from shared.readmodels.meetings import Meeting

log = structlog.get_logger(__name__)


def agenda_url(base_url: str, meeting_id: UUID) -> str:
    """The agenda's page, for people: invites, mails and calendars link to it (the JSON at
    `/agenda` is for programs)."""
    return f"{base_url}/meetings/{meeting_id}/agenda.html"


async def meeting_frame(
    connection: Connection, meeting: Meeting, items: list[ItemWrite]
) -> MeetingFrame:
    """What the items are checked against: the meeting's sessions and tracks, the host's
    zone, and the registered people the items name as speakers."""
    sessions = held_sessions(meeting)
    person_ids = [s.person_id for item in items for s in item.speakers if s.person_id]
    host = meeting.host_organization_id
    # People and a host registered a moment ago may still be on their way from the registry.
    timezone = await catchup.find(
        "organization", host, partial(store.host_timezone, connection, host)
    )
    found = await store.people(connection, person_ids) if person_ids else []
    missing = set(person_ids) - {person.id for person in found}
    for person_id in dict.fromkeys(person_ids):
        if person_id in missing:
            await catchup.find("person", person_id, partial(_person, connection, person_id))
    if missing:
        found = await store.people(connection, person_ids)
    return MeetingFrame(
        timezone=timezone or "UTC",
        sessions=sessions,
        tracks=frozenset(s.track for s in sessions if s.track),
        people={person.id: Person(person.name, person.organization) for person in found},
    )


async def _person(connection: Connection, person_id: UUID) -> RegisteredPerson | None:
    found = await store.people(connection, [person_id])
    return found[0] if found else None


async def put_agenda(
    connection: Connection,
    meeting_id: UUID,
    data: AgendaWrite,
    *,
    caller: Caller,
    expected_version: int | None,
    base_url: str,
    dry_run: bool = False,
) -> AgendaVersion:
    """A new version of the meeting's agenda, published at once if asked.

    `expected_version` is the latest version the caller read (None: it has read none); a
    stale one is refused, so that no one's version is lost. A dry run checks everything
    and answers with the version it would write, writing nothing.
    """
    meeting = await hosted_meeting(connection, caller, meeting_id)
    try:
        items = schedule(data.items, await meeting_frame(connection, meeting, data.items))
    except InvalidAgendaError as invalid:
        raise invalid_fields(invalid.errors) from invalid
    head = await versions.locked_head(connection, AGENDAS, meeting_id)
    versions.check_expected(head, expected_version)
    if dry_run:
        return AgendaVersion(
            meeting_id=meeting_id,
            version=head.latest_version + 1,
            published=data.publish,
            latest=True,
            items=items,
            written=list(data.items),
            created_at=utc_now(),
            created_by=author(caller),
        )
    row = await versions.add(
        connection, AGENDAS, meeting_id, items, list(data.items), created_by=author(caller)
    )
    if data.publish:
        return version_view(row, await _publish(connection, head, row, base_url))
    return version_view(row, msgspec.structs.replace(head, latest_version=row.version))


async def publish_version(
    connection: Connection, meeting_id: UUID, number: int, caller: Caller, base_url: str
) -> AgendaVersion:
    """Make a version the published one: its items go into the invites and the pages."""
    await hosted_meeting(connection, caller, meeting_id)
    before = await versions.locked_head(connection, AGENDAS, meeting_id)
    row = await versions.found(connection, AGENDAS, meeting_id, number)
    return version_view(row, await _publish(connection, before, row, base_url))


async def _publish(connection: Connection, before: Head, row: StoredVersion, base_url: str) -> Head:
    """Publish the version `row` of the meeting whose head, `before`, the caller has locked;
    the head as it is then."""
    meeting_id, number, items = row.meeting_id, row.version, row.items
    known = await agenda_store.published_items(connection, meeting_id)
    if not known and before.published_version is not None:
        known = await _published_before_identities_were_kept(connection, meeting_id)
    await agenda_store.put_published_items(
        connection, meeting_id, items, identities(meeting_id, known, items)
    )
    await agenda_store.number_speakers(connection, _speaker_keys(items))
    head = await versions.publish(connection, AGENDAS, meeting_id, number)
    await add_event(
        connection,
        AgendaPublished(
            aggregate_id=head.id,
            aggregate_version=head.event_version,
            meeting_id=meeting_id,
            version=number,
            items=len(items),
            url=agenda_url(base_url, meeting_id),
            entries=[_entry(item) for item in items],
        ),
    )
    await summary_store.request_summary(connection, meeting_id)
    return head


async def _published_before_identities_were_kept(
    connection: Connection, meeting_id: UUID
) -> list[KnownItem]:
    """The items of a version published before identities were kept, with those they had
    then (by key or place, never changed), so that the next publication continues them."""
    published = await versions.published(connection, AGENDAS, meeting_id)
    items = published.items if published else []
    return [
        KnownItem(identity, item, in_last_publication=True)
        for item, identity in zip(items, identities(meeting_id, [], items), strict=True)
    ]


def _speaker_keys(items: list[ScheduledItem]) -> list[SpeakerKey]:
    return [speaker_key(speaker) for item in items for speaker in item.speakers]


async def unpublish(connection: Connection, meeting_id: UUID, caller: Caller) -> None:
    """Withdraw the published version; every version stays kept."""
    await hosted_meeting(connection, caller, meeting_id)
    head = await versions.unpublish(connection, AGENDAS, meeting_id)
    await add_event(
        connection,
        AgendaUnpublished(
            aggregate_id=head.id, aggregate_version=head.event_version, meeting_id=meeting_id
        ),
    )
    await summary_store.request_summary(connection, meeting_id)


async def agenda_version(connection: Connection, meeting_id: UUID, number: int) -> AgendaVersion:
    found = await versions.found(connection, AGENDAS, meeting_id, number)
    head = await versions.head(connection, AGENDAS, meeting_id)
    assert head is not None
    return version_view(found, head)


async def every_version(connection: Connection, meeting_id: UUID) -> list[AgendaVersion]:
    """Every version, newest first."""
    return [
        version_view(found, head)
        for found, head in await versions.every(connection, AGENDAS, meeting_id)
    ]


async def latest_version(connection: Connection, meeting_id: UUID) -> AgendaVersion:
    head = await versions.head(connection, AGENDAS, meeting_id)
    if head is None or not head.latest_version:
        raise NotFound("no-agenda", f"meeting {meeting_id} has no agenda yet")
    return await agenda_version(connection, meeting_id, head.latest_version)


async def published_version(
    connection: Connection, meeting_id: UUID, visitor: Caller | None
) -> AgendaVersion:
    """The published version; 404 if the caller may not see the meeting or there is none."""
    await visible_meeting(connection, visitor, meeting_id)
    found = await versions.published(connection, AGENDAS, meeting_id)
    if found is None:
        raise _no_agenda(meeting_id)
    return await agenda_version(connection, meeting_id, found.version)


def _no_agenda(meeting_id: UUID) -> NotFound:
    return NotFound("no-agenda", f"meeting {meeting_id} has no published agenda")


def version_view(found: StoredVersion, head: Head) -> AgendaVersion:
    return AgendaVersion(
        meeting_id=found.meeting_id,
        version=found.version,
        published=versions.is_published(head, found.version),
        latest=versions.is_latest(head, found.version),
        items=found.items,
        written=found.written,
        created_at=found.created_at,
        created_by=found.created_by,
    )


async def published_programme(
    connection: Connection, meeting_id: UUID, base_url: str, visitor: Caller | None
) -> Programme:
    """The published agenda with what its pages show beside it: the meeting, its sites."""
    meeting = await visible_meeting(connection, visitor, meeting_id)
    found = await agenda_store.publication(connection, meeting_id)
    if found is None:
        raise _no_agenda(meeting_id)
    items = found.items
    published = found.item_identities()
    if not published:  # published before identities were kept, or with no items
        published = identities(meeting_id, [], items)
    tracks = site_tracks(meeting)
    sites = {
        org.id: Site(org.name, org.region, org.timezone, tracks.get(org.id))
        for org in await store.organizations(connection, meeting.organization_ids)
    }
    return Programme(
        meeting_id=meeting_id,
        title=meeting.title,
        kind=meeting.kind,
        timezone=await store.host_timezone(connection, meeting.host_organization_id) or "UTC",
        version=found.version,
        items=items,
        sites=[sites[org] for org in meeting.organization_ids if org in sites],
        url=agenda_url(base_url, meeting_id),
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        published_at=found.published_at,
        identities=published,
        speaker_numbers=await agenda_store.speaker_numbers(connection, _speaker_keys(items)),
    )


def _entry(item: ScheduledItem) -> AgendaEntry:
    return AgendaEntry(
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        title=item.title,
        track=item.track,
        speakers=[speaker_text(speaker) for speaker in item.speakers],
    )


async def changes(
    connection: Connection, meeting_id: UUID, from_version: int, to_version: int
) -> AgendaDiff:
    """What changed between two versions, item by item."""
    before = await agenda_version(connection, meeting_id, from_version)
    after = await agenda_version(connection, meeting_id, to_version)
    return diff(before.items, after.items)
