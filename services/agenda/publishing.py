"""Agenda publishing's use cases: put an agenda, and keep each meeting's summary current.

The summary is written when the meeting ends and rewritten whenever something it says
changes afterwards (a registration or an agenda that arrived late); each new version is
published as `agenda.summary.published`.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.agenda import store
from services.agenda.schemas import Agenda, AgendaPut
from services.agenda.summary import MeetingFacts, OrganizationFacts, write_summary
from shared.bus.outbox import add_event
from shared.db import Connection
from shared.events import AgendaPublished, SummaryPublished, new_id
from shared.http.problems import FieldError, Problem


def summary_url(base_url: str, meeting_id: UUID) -> str:
    return f"{base_url}/meetings/{meeting_id}/summary"


def agenda_url(base_url: str, meeting_id: UUID) -> str:
    return f"{base_url}/meetings/{meeting_id}/agenda"


async def known_meeting(connection: Connection, meeting_id: UUID) -> asyncpg.Record:
    meeting = await store.meeting(connection, meeting_id)
    if meeting is None:
        raise Problem(
            404,
            "unknown-meeting",
            f"meeting {meeting_id} is not known to agenda publishing: it was never scheduled, "
            "or scheduling's event has not arrived yet",
            title="No such meeting",
        )
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
        raise Problem(
            422,
            "validation",
            "; ".join(f"{error.field}: {error.message}" for error in outside),
            title="Request is not valid",
            errors=outside,
        )
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
        ),
    )
    await refresh_summary(connection, meeting_id, base_url)
    return Agenda(
        meeting_id=meeting_id, items=items, version=row["version"], updated_at=row["updated_at"]
    )


async def refresh_summary(connection: Connection, meeting_id: UUID, base_url: str) -> None:
    """Write or rewrite the summary of an ended meeting if what it says has changed."""
    # Taken before reading anything, so a registration and the meeting's end arriving in
    # two transactions at once cannot both miss each other.
    await store.lock_meeting(connection, meeting_id)
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
