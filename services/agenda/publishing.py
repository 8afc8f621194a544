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
import structlog

from services.agenda import store
from services.agenda.schemas import Agenda, AgendaPut
from services.agenda.summary import MeetingFacts, OrganizationFacts, write_summary
from shared.bus.outbox import add_event
from shared.db import Connection, Pool, database_unavailable
from shared.events import AgendaEntry, AgendaPublished, SummaryPublished, new_id
from shared.http.problems import FieldError, invalid_fields, unknown_meeting

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


async def put_agenda(
    connection: Connection, meeting_id: UUID, data: AgendaPut, base_url: str
) -> Agenda:
    meeting = await known_meeting(connection, meeting_id)
    outside = [
        FieldError(
            message=f"starts at {item.starts_at.isoformat()}, outside the meeting "
            f"({meeting['starts_at'].isoformat()} – {meeting['ends_at'].isoformat()})",
            field=f"items[{index}].starts_at",
            source="body",
        )
        for index, item in enumerate(data.items)
        if not meeting["starts_at"] <= item.starts_at < meeting["ends_at"]
    ]
    if outside:
        raise invalid_fields(outside)
    items = sorted(data.items, key=lambda item: item.starts_at)
    current = await store.agenda(connection, meeting_id)
    row = await store.put_agenda(
        connection, meeting_id, current["id"] if current else new_id(), items
    )
    await add_event(
        connection,
        AgendaPublished(
            aggregate_id=row["id"],
            aggregate_version=row["version"],
            meeting_id=meeting_id,
            items=len(items),
            url=agenda_url(base_url, meeting_id),
            entries=[
                AgendaEntry(starts_at=item.starts_at, title=item.title, speakers=item.speakers)
                for item in items
            ],
        ),
    )
    await store.request_summary(connection, meeting_id)
    return Agenda(
        meeting_id=meeting_id, items=items, version=row["version"], updated_at=row["updated_at"]
    )


async def refresh_summary(connection: Connection, meeting_id: UUID, base_url: str) -> None:
    """Write or rewrite the summary of an ended meeting if what it says has changed."""
    meeting = await store.meeting(connection, meeting_id)
    if meeting is None or meeting["status"] != "ended":
        return
    participant_organizations = await store.participant_organizations(connection, meeting_id)
    organization_ids = list({*meeting["organization_ids"], *participant_organizations})
    organizations = {
        row["id"]: OrganizationFacts(row["id"], row["name"], row["region"], row["timezone"])
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
        store.items_of(await store.agenda(connection, meeting_id)),
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
