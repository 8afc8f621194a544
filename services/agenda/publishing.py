"""Agenda publishing's use cases: versions of a meeting's agenda, published and withdrawn,
and the programme its pages show. Publishing or withdrawing one requests the meeting's
summary (see `services.agenda.summaries`), since the summary lists what was delivered."""

from __future__ import annotations

from functools import partial
from uuid import UUID

import asyncpg
import msgspec
import structlog

from services.agenda import store
from services.agenda.access import hosted_meeting, visible_meeting
from services.agenda.identities import KnownItem, SpeakerKey, identities, speaker_key
from services.agenda.items import InvalidAgendaError, MeetingFrame, Person, Session, schedule
from services.agenda.renderings import Programme, Site, speaker_text
from services.agenda.schemas import (
    AgendaItem,
    AgendaVersion,
    AgendaWrite,
    ItemWrite,
    ScheduledItem,
)
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.errors import Conflict, NotFound, invalid_fields
from shared.events import (
    AgendaEntry,
    AgendaPublished,
    AgendaUnpublished,
    MeetingSession,
    MeetingSite,
    new_id,
    utc_now,
)
from shared.http.auth import Caller
from shared.http.versions import require_version
from shared.readmodels import catchup

log = structlog.get_logger(__name__)


def agenda_url(base_url: str, meeting_id: UUID) -> str:
    return f"{base_url}/meetings/{meeting_id}/agenda"


async def meeting_frame(
    connection: Connection, meeting: asyncpg.Record, items: list[ItemWrite]
) -> MeetingFrame:
    """What the items are checked against: the meeting's sessions and tracks, the host's
    zone, and the registered people the items name as speakers."""
    sessions = [
        Session(s.id, s.starts_at, s.ends_at, title=s.title, track=s.track)
        for s in sessions_of(meeting)
        if s.status != "cancelled"
    ]
    person_ids = [s.person_id for item in items for s in item.speakers if s.person_id]
    host = meeting["host_organization_id"]
    # People and a host registered a moment ago may still be on their way from the registry.
    timezone = await catchup.find(
        "organization", host, partial(store.host_timezone, connection, host)
    )
    known = {row["id"] for row in await store.people(connection, person_ids)}
    for person_id in dict.fromkeys(person_ids):
        if person_id not in known:
            await catchup.find("person", person_id, partial(_person, connection, person_id))
    return MeetingFrame(
        timezone=timezone or "UTC",
        sessions=sessions,
        tracks=frozenset(s.track for s in sessions if s.track),
        people={
            row["id"]: Person(row["name"], row["organization"])
            for row in await store.people(connection, person_ids)
        },
    )


async def _person(connection: Connection, person_id: UUID) -> asyncpg.Record | None:
    found = await store.people(connection, [person_id])
    return found[0] if found else None


def sessions_of(meeting: asyncpg.Record) -> list[MeetingSession]:
    """The meeting's sessions; a meeting without sessions of its own has one."""
    listed = msgspec.convert(meeting["sessions"] or [], list[MeetingSession])
    return listed or [
        MeetingSession(id=meeting["id"], starts_at=meeting["starts_at"], ends_at=meeting["ends_at"])
    ]


def site_tracks(meeting: asyncpg.Record) -> dict[UUID, str]:
    """The workshop track of each site that takes part in one."""
    sites = msgspec.convert(meeting["sites"] or [], list[MeetingSite])
    return {site.organization_id: site.track for site in sites if site.track}


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
    head = await store.locked_agenda(connection, meeting_id, new_id())
    if head["latest_version"] or expected_version is not None:
        require_version(head["latest_version"], expected_version)
    if dry_run:
        return AgendaVersion(
            meeting_id=meeting_id,
            version=head["latest_version"] + 1,
            published=data.publish,
            latest=True,
            items=items,
            written=list(data.items),
            created_at=utc_now(),
            created_by=author(caller),
        )
    row = await store.add_version(connection, meeting_id, items, list(data.items), author(caller))
    if data.publish:
        await publish_version(connection, meeting_id, row["version"], caller, base_url)
    return await agenda_version(connection, meeting_id, row["version"])


async def publish_version(
    connection: Connection, meeting_id: UUID, number: int, caller: Caller, base_url: str
) -> AgendaVersion:
    """Make a version the published one: its items go into the invites and the pages."""
    await hosted_meeting(connection, caller, meeting_id)
    before = await store.locked_agenda(connection, meeting_id, new_id())
    found = await _version(connection, meeting_id, number)
    items = store.items_of(found)
    known = await store.published_items(connection, meeting_id)
    if not known and before["published_version"] is not None:
        known = await _published_before_identities_were_kept(connection, meeting_id)
    await store.put_published_items(
        connection, meeting_id, items, identities(meeting_id, known, items)
    )
    await store.number_speakers(connection, _speaker_keys(items))
    head = await store.publish(connection, meeting_id, number)
    await add_event(
        connection,
        AgendaPublished(
            aggregate_id=head["id"],
            aggregate_version=head["event_version"],
            meeting_id=meeting_id,
            version=number,
            items=len(items),
            url=agenda_url(base_url, meeting_id),
            entries=[_entry(item) for item in items],
        ),
    )
    await store.request_summary(connection, meeting_id)
    return await agenda_version(connection, meeting_id, number)


async def _published_before_identities_were_kept(
    connection: Connection, meeting_id: UUID
) -> list[KnownItem]:
    """The items of a version published before identities were kept, with those they had
    then (by key or place, never changed), so that the next publication continues them."""
    items = store.items_of(await store.published_version(connection, meeting_id))
    return [
        KnownItem(identity, item, in_last_publication=True)
        for item, identity in zip(items, identities(meeting_id, [], items), strict=True)
    ]


def _speaker_keys(items: list[ScheduledItem]) -> list[SpeakerKey]:
    return [speaker_key(speaker) for item in items for speaker in item.speakers]


async def unpublish(connection: Connection, meeting_id: UUID, caller: Caller) -> None:
    """Withdraw the published version; every version stays kept."""
    await hosted_meeting(connection, caller, meeting_id)
    head = await store.agenda(connection, meeting_id, for_update=True)
    if head is None or head["published_version"] is None:
        raise Conflict("not-published", f"meeting {meeting_id} has no published agenda")
    head = await store.unpublish(connection, meeting_id)
    await add_event(
        connection,
        AgendaUnpublished(
            aggregate_id=head["id"],
            aggregate_version=head["event_version"],
            meeting_id=meeting_id,
        ),
    )
    await store.request_summary(connection, meeting_id)


async def agenda_version(connection: Connection, meeting_id: UUID, number: int) -> AgendaVersion:
    found = await _version(connection, meeting_id, number)
    head = await store.agenda(connection, meeting_id)
    assert head is not None
    return version_view(found, head)


async def _version(connection: Connection, meeting_id: UUID, number: int) -> asyncpg.Record:
    found = await store.version(connection, meeting_id, number)
    if found is None:
        raise NotFound("no-such-version", f"the agenda of {meeting_id} has no version {number}")
    return found


def version_view(found: asyncpg.Record, head: asyncpg.Record) -> AgendaVersion:
    return AgendaVersion(
        meeting_id=found["meeting_id"],
        version=found["version"],
        published=head["published_version"] == found["version"],
        latest=head["latest_version"] == found["version"],
        items=store.items_of(found),
        written=store.written_of(found),
        created_at=found["created_at"],
        created_by=found["created_by"],
    )


async def published_programme(
    connection: Connection, meeting_id: UUID, base_url: str, visitor: Caller | None
) -> Programme:
    """The published agenda with what its pages show beside it: the meeting, its sites."""
    meeting = await visible_meeting(connection, visitor, meeting_id)
    found = await store.publication(connection, meeting_id)
    if found is None:
        raise NotFound("no-agenda", f"meeting {meeting_id} has no published agenda")
    items = store.items_of(found)
    published = store.identities_of(found)
    if not published:  # published before identities were kept, or with no items
        published = identities(meeting_id, [], items)
    tracks = site_tracks(meeting)
    sites = {
        row["id"]: Site(row["name"], row["region"], row["timezone"], tracks.get(row["id"]))
        for row in await store.organizations(connection, list(meeting["organization_ids"]))
    }
    return Programme(
        meeting_id=meeting_id,
        title=meeting["title"],
        kind=meeting["kind"],
        timezone=await store.host_timezone(connection, meeting["host_organization_id"]) or "UTC",
        version=found["version"],
        items=items,
        sites=[sites[org] for org in meeting["organization_ids"] if org in sites],
        url=agenda_url(base_url, meeting_id),
        starts_at=meeting["starts_at"],
        ends_at=meeting["ends_at"],
        published_at=found["published_at"],
        identities=published,
        speaker_numbers=await store.speaker_numbers(connection, _speaker_keys(items)),
    )


def _entry(item: ScheduledItem) -> AgendaEntry:
    return AgendaEntry(
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        title=item.title,
        track=item.track,
        speakers=[speaker_text(speaker) for speaker in item.speakers],
    )


def delivered_item(item: ScheduledItem) -> AgendaItem:
    """An item as the summary lists it: when, what, and who."""
    return AgendaItem(
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        title=item.title,
        kind=item.kind,
        track=item.track,
        speakers=[speaker_text(speaker) for speaker in item.speakers],
        materials=item.materials,
    )


def author(caller: Caller) -> str:
    """Who made a version, as the version records it."""
    return f"key {caller.key_id}" if caller.key_id else "operator"
