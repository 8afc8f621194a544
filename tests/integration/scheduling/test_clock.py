"""The meeting clock against real PostgreSQL and NATS: never early, exactly once (also
with two replicas), and what fell due while no replica ran happens at start."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import nats
from nats.js import JetStreamContext

from services.scheduling.app import create_app
from shared.events import SCHEDULING, OrganizationUpserted, new_id
from shared.settings import SchedulingSettings
from tests.support import OPERATOR, eventually, serving, settings_for, stream_events


async def known_organizations(js: JetStreamContext, count: int) -> list[UUID]:
    ids = [new_id() for _ in range(count)]
    for organization_id in ids:
        event = OrganizationUpserted(
            aggregate_id=organization_id,
            aggregate_version=1,
            name=f"Библиотека {organization_id}",
            region="Тульская область",
            timezone="Europe/Moscow",
        )
        await js.publish(event.subject, msgspec.json.encode(event))
    return ids


async def schedule(client: Any, organizations: list[UUID], starts: datetime, ends: datetime) -> str:
    async def attempt() -> Any:
        response = await client.post(
            "/meetings",
            json={
                "title": "Видеоконференция",
                "kind": "videoconference",
                "host_organization_id": str(organizations[0]),
                "sites": [{"organization_id": str(o)} for o in organizations[1:]],
                "starts_at": starts.isoformat(),
                "ends_at": ends.isoformat(),
                # Whenever the tests run: the clock does not care for working hours.
                "force": True,
                # The start is seconds away and may pass while the organizations arrive.
                "record_past": True,
            },
            headers=OPERATOR,
        )
        return response if response.status_code == 201 else None

    response = await eventually(attempt)
    meeting_id: str = response.json()["id"]
    return meeting_id


async def meeting_events(js: JetStreamContext, meeting_id: str) -> list[dict[str, Any]]:
    events = await stream_events(js, SCHEDULING)
    return [event for event in events if event["aggregate_id"] == meeting_id]


async def test_a_meeting_starts_and_ends_at_its_instants_and_never_early(
    database_url: str, nats_url: str
) -> None:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    app = create_app(settings_for(SchedulingSettings, database_url, nats_url))
    try:
        async with serving(app) as http:
            organizations = await known_organizations(js, 2)
            starts = datetime.now(UTC) + timedelta(seconds=2)
            ends = starts + timedelta(seconds=2)
            meeting_id = await schedule(http, organizations, starts, ends)

            async def ended() -> bool:
                response = await http.get(f"/meetings/{meeting_id}")
                return bool(response.json()["status"] == "ended")

            await eventually(ended, timeout=20)
            events = await eventually(lambda: _complete(js, meeting_id), timeout=10)
    finally:
        await client.close()
    started, finished = events[1], events[2]
    assert [event["type"] for event in events] == [
        "scheduling.meeting.scheduled",
        "scheduling.meeting.started",
        "scheduling.meeting.ended",
    ]
    assert [event["aggregate_version"] for event in events] == [1, 2, 3]
    assert datetime.fromisoformat(started["started_at"]) == starts
    assert datetime.fromisoformat(finished["ended_at"]) == ends
    # Never early: each event was recorded at or after its instant.
    assert datetime.fromisoformat(started["occurred_at"]) >= starts
    assert datetime.fromisoformat(finished["occurred_at"]) >= ends


async def _complete(js: JetStreamContext, meeting_id: str) -> list[dict[str, Any]] | None:
    events = await meeting_events(js, meeting_id)
    return events if len(events) >= 3 else None


async def test_two_replicas_fire_each_meeting_exactly_once(
    database_url: str, nats_url: str
) -> None:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    first = create_app(settings_for(SchedulingSettings, database_url, nats_url))
    second = create_app(settings_for(SchedulingSettings, database_url, nats_url))
    try:
        async with serving(first) as http, serving(second):
            organizations = await known_organizations(js, 2)
            starts = datetime.now(UTC) + timedelta(seconds=2)
            meetings = [
                await schedule(http, organizations, starts, starts + timedelta(seconds=1))
                for _ in range(10)
            ]
            for meeting_id in meetings:
                await eventually(lambda m=meeting_id: _complete(js, m), timeout=20)
            await asyncio.sleep(1)  # room for a second, wrong firing to show up
            events = [event for m in meetings for event in await meeting_events(js, m)]
    finally:
        await client.close()
    counts = Counter((event["aggregate_id"], event["type"]) for event in events)
    assert set(counts.values()) == {1}, counts
    assert len(counts) == 30


async def test_what_fell_due_while_down_happens_at_start(database_url: str, nats_url: str) -> None:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    settings = settings_for(SchedulingSettings, database_url, nats_url)
    try:
        async with serving(create_app(settings)) as http:
            organizations = await known_organizations(js, 2)
            starts = datetime.now(UTC) + timedelta(hours=1)
            meeting_id = await schedule(http, organizations, starts, starts + timedelta(hours=1))
        # While no replica runs, the meeting's whole time passes.
        database = await asyncpg.connect(database_url)
        try:
            await database.execute(
                "UPDATE scheduling.meetings SET starts_at = now() - interval '2 hours', "
                "ends_at = now() - interval '1 hour' WHERE id = $1::uuid",
                meeting_id,
            )
        finally:
            await database.close()
        async with serving(create_app(settings)) as http:
            events = await eventually(lambda: _complete(js, meeting_id), timeout=20)
            meeting = (await http.get(f"/meetings/{meeting_id}")).json()
    finally:
        await client.close()
    assert [event["type"] for event in events] == [
        "scheduling.meeting.scheduled",
        "scheduling.meeting.started",
        "scheduling.meeting.ended",
    ]
    assert meeting["status"] == "ended"
    assert meeting["started_at"] == meeting["starts_at"]
    assert meeting["ended_at"] == meeting["ends_at"]
