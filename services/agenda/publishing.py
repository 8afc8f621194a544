"""Agenda publishing's use cases: put an agenda, and keep each meeting's summary current.

Whatever may change a summary (the meeting's end, a late registration, a new agenda)
only requests it, in its own transaction. The summary writer takes a request once no
change has touched it for a few seconds, so a burst of late registrations makes one new
version, not one each. A version is published as `agenda.summary.published` only when
what the summary says has changed.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec
import structlog

from services.agenda import store
from services.agenda.items import InvalidAgendaError, MeetingFrame, Person, Session, schedule
from services.agenda.renderings import Programme, Site, speaker_text
from services.agenda.schemas import (
    AgendaItem,
    AgendaVersion,
    AgendaWrite,
    ItemWrite,
    ScheduledItem,
)
from services.agenda.summary import MeetingFacts, OrganizationFacts, write_summary
from shared.bus.outbox import add_event
from shared.db import Connection, Pool, database_unavailable
from shared.events import (
    AgendaEntry,
    AgendaPublished,
    AgendaUnpublished,
    MeetingSession,
    SummaryPublished,
    new_id,
    utc_now,
)
from shared.http.auth import Caller
from shared.http.problems import Problem, invalid_fields, unknown_meeting
from shared.http.versions import require_version

log = structlog.get_logger(__name__)


def summary_url(base_url: str, meeting_id: UUID) -> str:
    return f"{base_url}/meetings/{meeting_id}/summary"


def agenda_url(base_url: str, meeting_id: UUID) -> str:
    return f"{base_url}/meetings/{meeting_id}/agenda"


async def known_meeting(connection: Connection, meeting_id: UUID) -> asyncpg.Record:
    meeting = await store.meeting(connection, meeting_id)
    if meeting is None:
        raise unknown_meeting(meeting_id, "agenda publishing")
    return meeting


def require_host(caller: Caller, meeting: asyncpg.Record) -> None:
    host = meeting["host_organization_id"]
    if not caller.acts_for(host):
        raise Problem(
            403, "not-the-host", f"only the host organization {host} or an operator may do this"
        )


async def meeting_frame(
    connection: Connection, meeting: asyncpg.Record, items: list[ItemWrite]
) -> MeetingFrame:
    """What the items are checked against: the meeting's sessions and tracks, the host's
    zone, and the registered people the items name as speakers."""
    sessions = [
        Session(s.id, s.starts_at, s.ends_at, title=s.title, track=s.track)
        for s in _sessions_of(meeting)
        if s.status != "cancelled"
    ]
    person_ids = [s.person_id for item in items for s in item.speakers if s.person_id]
    return MeetingFrame(
        timezone=await store.host_timezone(connection, meeting["host_organization_id"]) or "UTC",
        sessions=sessions,
        tracks=frozenset(s.track for s in sessions if s.track),
        people={
            row["id"]: Person(row["name"], row["organization"])
            for row in await store.people(connection, person_ids)
        },
    )


def _sessions_of(meeting: asyncpg.Record) -> list[MeetingSession]:
    """The meeting's sessions; a meeting without sessions of its own has one."""
    listed = msgspec.convert(meeting["sessions"] or [], list[MeetingSession])
    return listed or [
        MeetingSession(id=meeting["id"], starts_at=meeting["starts_at"], ends_at=meeting["ends_at"])
    ]


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
    meeting = await known_meeting(connection, meeting_id)
    require_host(caller, meeting)
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
            created_by=_by(caller),
        )
    row = await store.add_version(connection, meeting_id, items, list(data.items), _by(caller))
    if data.publish:
        await publish_version(connection, meeting_id, row["version"], caller, base_url)
    return await agenda_version(connection, meeting_id, row["version"])


async def publish_version(
    connection: Connection, meeting_id: UUID, number: int, caller: Caller, base_url: str
) -> AgendaVersion:
    """Make a version the published one: its items go into the invites and the pages."""
    meeting = await known_meeting(connection, meeting_id)
    require_host(caller, meeting)
    await store.locked_agenda(connection, meeting_id, new_id())
    found = await _version(connection, meeting_id, number)
    head = await store.publish(connection, meeting_id, number)
    items = store.items_of(found)
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


async def unpublish(connection: Connection, meeting_id: UUID, caller: Caller) -> None:
    """Withdraw the published version; every version stays kept."""
    meeting = await known_meeting(connection, meeting_id)
    require_host(caller, meeting)
    head = await store.agenda(connection, meeting_id, for_update=True)
    if head is None or head["published_version"] is None:
        raise Problem(409, "not-published", f"meeting {meeting_id} has no published agenda")
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
        raise Problem(404, "no-such-version", f"the agenda of {meeting_id} has no version {number}")
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


async def published_programme(connection: Connection, meeting_id: UUID, base_url: str) -> Programme:
    """The published agenda with what its pages show beside it: the meeting, its sites."""
    meeting = await known_meeting(connection, meeting_id)
    found = await store.published_version(connection, meeting_id)
    if found is None:
        raise Problem(404, "no-agenda", f"meeting {meeting_id} has no published agenda")
    sites = {
        row["id"]: Site(row["name"], row["region"], row["timezone"])
        for row in await store.organizations(connection, list(meeting["organization_ids"]))
    }
    return Programme(
        meeting_id=meeting_id,
        title=meeting["title"],
        kind=meeting["kind"],
        timezone=await store.host_timezone(connection, meeting["host_organization_id"]) or "UTC",
        version=found["version"],
        items=store.items_of(found),
        sites=[sites[org] for org in meeting["organization_ids"] if org in sites],
        url=agenda_url(base_url, meeting_id),
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
        title=item.title,
        speakers=[speaker_text(speaker) for speaker in item.speakers],
    )


def _by(caller: Caller) -> str:
    return f"key {caller.key_id}" if caller.key_id else "operator"


async def refresh_summary(connection: Connection, meeting_id: UUID, base_url: str) -> None:
    """Write or rewrite the summary of an ended meeting if what it says has changed."""
    meeting = await store.meeting(connection, meeting_id)
    if meeting is None or meeting["status"] != "ended":
        return
    participant_organizations = await store.participant_organizations(connection, meeting_id)
    organization_ids = list({*meeting["organization_ids"], *participant_organizations})
    organizations = {
        row["id"]: OrganizationFacts(
            row["id"],
            row["name"],
            row["region"],
            row["timezone"],
            city=row["city"],
            region_code=row["region_code"],
        )
        for row in await store.organizations(connection, organization_ids)
    }
    content = write_summary(
        MeetingFacts(
            id=meeting["id"],
            title=meeting["title"],
            kind=meeting["kind"],
            host_organization_id=meeting["host_organization_id"],
            site_ids=list(meeting["organization_ids"]),
            starts_at=meeting["starts_at"],
            ends_at=meeting["ends_at"],
            started_at=meeting["started_at"],
            ended_at=meeting["ended_at"],
        ),
        organizations,
        participant_organizations,
        [
            delivered_item(item)
            for item in store.items_of(await store.published_version(connection, meeting_id))
        ],
    )
    current = await store.summary(connection, meeting_id)
    if current is not None and store.content_of(current) == content:
        return
    row = await store.put_summary(
        connection, meeting_id, current["id"] if current else new_id(), content
    )
    await add_event(
        connection,
        SummaryPublished(
            aggregate_id=row["id"],
            aggregate_version=row["version"],
            meeting_id=meeting_id,
            participants=content.participants,
            organizations=len(content.organizations),
            regions=len(content.regions),
            url=summary_url(base_url, meeting_id),
        ),
    )


async def write_requested_summaries(pool: Pool, base_url: str, quiet: float) -> None:
    """Write the summaries requested at least `quiet` seconds ago, each in a transaction
    that also takes the request off the table. One that fails is tried again later, with
    a growing pause, so that it does not hold up the others."""
    while True:
        due: list[UUID] = []
        try:
            async with pool.acquire() as connection, connection.transaction():
                due = await store.due_summary_requests(connection, quiet, limit=1)
                for meeting_id in due:
                    await refresh_summary(connection, meeting_id, base_url)
                    await store.done_summary_request(connection, meeting_id)
        except Exception as error:
            if not due or database_unavailable(error):
                raise
            log.exception("summary failed; will try again later", meeting_id=str(due[0]))
            async with pool.acquire() as connection:
                await store.postpone_summary_request(connection, due[0])
            continue
        if not due:
            return
