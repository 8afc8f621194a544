"""Post-event summaries' use cases: a draft kept current from the data, outcomes the host or
an operator adds, and the version they publish.

Whatever may change what a summary says (the meeting's end, a late registration, a
check-in, a new agenda) only requests it, in its own transaction. The writer takes a
request once no change has touched it for a few seconds, so a burst of late registrations
makes one new version, not one each. A new version is a draft, carrying the outcomes of
the version before it; only publishing one emits `agenda.summary.published`. Versions are
kept and published by `services.agenda.versions`, as agendas' are.
"""

from __future__ import annotations

from uuid import UUID

import msgspec
import structlog

from services.agenda import store
from services.agenda.access import hosted_meeting, visible_meeting
from services.agenda.agendas.renderings import speaker_text
from services.agenda.agendas.store import AGENDAS
from services.agenda.meetings import held_sessions, site_tracks
from services.agenda.schemas import (
    AgendaItem,
    Outcomes,
    ScheduledItem,
    SummaryContent,
    SummaryLinks,
    SummaryVersion,
    SummaryWrite,
)
from services.agenda.summaries import store as summary_store
from services.agenda.summaries.content import (
    MeetingFacts,
    OrganizationFacts,
    write_summary,
)
from services.agenda.summaries.store import SUMMARIES, StoredVersion
from services.agenda.summaries.text import SummaryText
from services.agenda.versions import versions
from services.agenda.versions.versions import Head, author
from shared.access import Caller
from shared.bus.outbox import add_event
from shared.db import Connection, Pool, acquire, database_unavailable
from shared.errors import Conflict, NotFound
from shared.events import SummaryPublished
from shared.readmodels import meetings
from shared.readmodels.meetings import Meeting

log = structlog.get_logger(__name__)

WRITER = "writer"
"""Who wrote a version from the data alone."""


def summary_links(base_url: str, meeting_id: UUID) -> SummaryLinks:
    json = f"{base_url}/meetings/{meeting_id}/summary"
    return SummaryLinks(html=f"{json}.html", markdown=f"{json}.md", json=json)


# --- the draft, from the data ----------------------------------------------------------


async def refresh_summary(connection: Connection, meeting_id: UUID) -> None:
    """Add a version to the summary of an ended meeting if what the data says has changed."""
    meeting = await meetings.meeting(connection, meeting_id)
    if meeting is None or meeting.status != "ended":
        return
    content = await _written_from_data(connection, meeting)
    head = await versions.locked_head(connection, SUMMARIES, meeting_id)
    latest = await versions.latest(connection, SUMMARIES, head)
    if latest is not None and latest.content == content:
        return
    outcomes = latest.outcomes if latest is not None else Outcomes()
    await versions.add(connection, SUMMARIES, meeting_id, content, outcomes, created_by=WRITER)


async def _written_from_data(connection: Connection, meeting: Meeting) -> SummaryContent:
    meeting_id = meeting.id
    participant_organizations = await summary_store.participant_organizations(
        connection, meeting_id
    )
    attendance = await summary_store.attendance(connection, meeting_id)
    organization_ids = list(
        {
            *meeting.organization_ids,
            *participant_organizations,
            *(record.organization_id for record in attendance),
        }
    )
    published = await versions.published(connection, AGENDAS, meeting_id)
    organizations = {
        org.id: OrganizationFacts(**msgspec.structs.asdict(org))
        for org in await store.organizations(connection, organization_ids)
    }
    return write_summary(
        MeetingFacts(
            id=meeting_id,
            title=meeting.title,
            kind=meeting.kind,
            host_organization_id=meeting.host_organization_id,
            site_ids=list(meeting.organization_ids),
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            started_at=meeting.started_at,
            ended_at=meeting.ended_at,
            sessions=held_sessions(meeting),
            site_tracks=site_tracks(meeting),
        ),
        organizations,
        participant_organizations,
        None if published is None else [delivered_item(item) for item in published.items],
        attendance,
    )


async def write_requested_summaries(pool: Pool, quiet: float) -> None:
    """Write the summaries requested at least `quiet` seconds ago, each in a transaction
    that also takes the request off the table. One that fails is tried again later, with
    a growing pause, so that it does not hold up the others."""
    while True:
        due: list[UUID] = []
        try:
            async with acquire(pool) as connection, connection.transaction():
                due = await summary_store.due_summary_requests(connection, quiet, limit=1)
                for meeting_id in due:
                    await refresh_summary(connection, meeting_id)
                    await summary_store.done_summary_request(connection, meeting_id)
        except Exception as error:
            if not due or database_unavailable(error):
                raise
            log.exception("summary failed; will try again later", meeting_id=str(due[0]))
            async with acquire(pool) as connection:
                await summary_store.postpone_summary_request(connection, due[0])
            continue
        if not due:
            return


# --- outcomes and publishing -----------------------------------------------------------


async def put_outcomes(
    connection: Connection,
    meeting_id: UUID,
    data: SummaryWrite,
    *,
    caller: Caller,
    expected_version: int | None,
    base_url: str,
) -> SummaryVersion:
    """A new version with the operator's outcomes and the latest facts, published at once
    if asked. `expected_version` is the latest version the caller read; a stale one is
    refused, so that no one's outcomes are lost. Outcomes equal to the latest version's
    make no new version."""
    meeting = await hosted_meeting(connection, caller, meeting_id)
    head = await versions.locked_head(connection, SUMMARIES, meeting_id)
    latest = await versions.latest(connection, SUMMARIES, head)
    if latest is None:
        raise _not_written(meeting, conflict=True)
    versions.check_expected(head, expected_version)
    found = latest
    if latest.outcomes != data.outcomes:
        found = await versions.add(
            connection,
            SUMMARIES,
            meeting_id,
            latest.content,
            data.outcomes,
            created_by=author(caller),
        )
    if data.publish:
        await _publish(connection, head, found, base_url)
    return await summary_version(connection, meeting_id, found.version, base_url)


async def publish_version(
    connection: Connection, meeting_id: UUID, number: int, caller: Caller, base_url: str
) -> SummaryVersion:
    """Make a version the one the public summary shows."""
    await hosted_meeting(connection, caller, meeting_id)
    head = await versions.locked_head(connection, SUMMARIES, meeting_id)
    found = await versions.found(connection, SUMMARIES, meeting_id, number)
    await _publish(connection, head, found, base_url)
    return await summary_version(connection, meeting_id, number, base_url)


async def _publish(connection: Connection, head: Head, found: StoredVersion, base_url: str) -> None:
    """Publish `found` under its locked `head`, and tell the other services where it is.
    Publishing the version already published changes nothing."""
    meeting_id, number = found.meeting_id, found.version
    if head.published_version == number:
        return
    head = await versions.publish(connection, SUMMARIES, meeting_id, number)
    content = found.content
    await add_event(
        connection,
        SummaryPublished(
            aggregate_id=head.id,
            aggregate_version=head.event_version,
            meeting_id=meeting_id,
            version=number,
            participants=content.participants,
            attended=content.attended + content.headcount,
            organizations=len(content.organizations),
            regions=len(content.regions),
            url=summary_links(base_url, meeting_id).html,
        ),
    )


# --- reading ---------------------------------------------------------------------------


async def summary_version(
    connection: Connection, meeting_id: UUID, number: int, base_url: str
) -> SummaryVersion:
    found = await versions.found(connection, SUMMARIES, meeting_id, number)
    head = await versions.head(connection, SUMMARIES, meeting_id)
    assert head is not None
    return version_view(found, head, base_url)


async def every_version(
    connection: Connection, meeting_id: UUID, base_url: str
) -> list[SummaryVersion]:
    """Every version, newest first."""
    return [
        version_view(found, head, base_url)
        for found, head in await versions.every(connection, SUMMARIES, meeting_id)
    ]


async def latest_version(connection: Connection, meeting: Meeting, base_url: str) -> SummaryVersion:
    meeting_id = meeting.id
    head = await versions.head(connection, SUMMARIES, meeting_id)
    if head is None or not head.latest_version:
        raise _not_written(meeting)
    return await summary_version(connection, meeting_id, head.latest_version, base_url)


async def published_version(
    connection: Connection, meeting_id: UUID, base_url: str, visitor: Caller | None
) -> SummaryVersion:
    """The version the public summary shows; 404 saying why there is none."""
    meeting = await visible_meeting(connection, visitor, meeting_id)
    head = await versions.head(connection, SUMMARIES, meeting_id)
    if head is None or not head.latest_version:
        raise _not_written(meeting)
    if head.published_version is None:
        raise NotFound(
            "summary-not-published",
            f"meeting {meeting_id}: its summary is written and waits for the host or an "
            "operator to publish it",
        )
    return await summary_version(connection, meeting_id, head.published_version, base_url)


def text_of(found: SummaryVersion) -> SummaryText:
    return SummaryText(content=found.content, outcomes=found.outcomes, version=found.version)


def version_view(found: StoredVersion, head: Head, base_url: str) -> SummaryVersion:
    return SummaryVersion(
        meeting_id=found.meeting_id,
        version=found.version,
        published=versions.is_published(head, found.version),
        latest=versions.is_latest(head, found.version),
        content=found.content,
        outcomes=found.outcomes,
        created_at=found.created_at,
        created_by=found.created_by,
        links=summary_links(base_url, found.meeting_id),
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


def _not_written(meeting: Meeting, *, conflict: bool = False) -> Conflict | NotFound:
    status = meeting.status
    detail = (
        "it has ended; its summary is being written"
        if status == "ended"
        else f"it is {status}: its summary is written when it ends"
    )
    kind = Conflict if conflict else NotFound
    return kind("no-summary-yet", f"meeting {meeting.id}: {detail}")
