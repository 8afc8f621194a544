"""The whole flow through the REST APIs of the three running services.

Two organizations nine hours apart link up in a telebridge; two people sign up; the invite
lists both; an agenda is put; the meeting is ended; the summary counts them. The second
test kills services with SIGKILL in the middle and checks that nothing was lost and nothing
applied twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg
import httpx
import icalendar
import nats
from ical.calendar_stream import IcsCalendarStream

from shared.events import AGENDA, REGISTRY, SCHEDULING
from tests.e2e.conftest import System
from tests.e2e.partners import retry_until_known
from tests.support import OPERATOR, eventually, stream_events


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


class Services(Protocol):
    """Where each service answers: its one process (`System`), or a replica of several
    (`tests.cluster.cluster.Cluster`)."""

    def url(self, name: str) -> str: ...


class Flow:
    """The steps of the end-to-end story, each through one service's REST API."""

    def __init__(self, system: Services, client: httpx.AsyncClient) -> None:
        self.system = system
        self.client = client
        self.client.headers.update(OPERATOR)
        self.people: list[dict[str, Any]] = []

    def url(self, service: str, path: str) -> str:
        return f"{self.system.url(service)}{path}"

    async def organizations(self) -> None:
        self.moscow = ok(
            await self.client.post(
                self.url("registry", "/organizations"),
                json={
                    "name": "Межпоселенческая центральная библиотека Георгиевского округа",
                    "region": "RU-STA",
                    "timezone": "Europe/Moscow",
                },
            ),
            201,
        )
        self.vladivostok = ok(
            await self.client.post(
                self.url("registry", "/organizations"),
                json={
                    "name": "Приморская краевая публичная библиотека им. А. М. Горького",
                    "region": "RU-PRI",
                    "timezone": "Asia/Vladivostok",
                },
            ),
            201,
        )

    async def people_of_both(self) -> None:
        for organization, name, email in [
            (self.moscow, "Светлана Умеренко", "umerenko@georgievsk.example"),
            (self.vladivostok, "Анна Ким", "kim@pkpb.example"),
        ]:
            self.people.append(
                ok(
                    await self.client.post(
                        self.url("registry", "/people"),
                        json={
                            "organization_id": organization["id"],
                            "given_name": name.split()[0],
                            "surname": name.split()[1],
                            "email": email,
                        },
                    ),
                    201,
                )
            )

    async def schedule(self) -> None:
        # Under way already, so that the agenda's items have been delivered when it ends.
        starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        self.meeting = ok(
            await retry_until_known(
                self.client,
                "POST",
                self.url("scheduling", "/meetings"),
                {
                    "title": "Телемост «От сердца к сердцу»",
                    "kind": "telebridge",
                    "host_organization_id": self.moscow["id"],
                    "sites": [{"organization_id": self.vladivostok["id"]}],
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=2)).isoformat(),
                    "force": True,
                    "record_past": True,
                },
            ),
            201,
        )
        self.meeting_id = self.meeting["id"]

    async def sign_up(self, person: dict[str, Any]) -> None:
        ok(
            await retry_until_known(
                self.client,
                "POST",
                self.url("registry", f"/meetings/{self.meeting_id}/registrations"),
                {"person_id": person["id"]},
            ),
            201,
        )

    async def invite_lists_everyone(self) -> icalendar.Calendar:
        async def invite() -> icalendar.Calendar | None:
            response = await self.client.get(
                self.url("scheduling", f"/meetings/{self.meeting_id}/invite.ics")
            )
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/calendar")
            calendar = icalendar.Calendar.from_ical(response.content)
            [event] = calendar.walk("VEVENT")
            attendees = event.get("attendee", [])
            attendees = attendees if isinstance(attendees, list) else [attendees]
            return calendar if len(attendees) == len(self.people) else None

        return await eventually(invite)

    async def put_agenda(self) -> None:
        starts = datetime.fromisoformat(self.meeting["starts_at"])
        ok(
            await retry_until_known(
                self.client,
                "PUT",
                self.url("agenda", f"/meetings/{self.meeting_id}/agenda"),
                {
                    "items": [
                        {
                            "at": starts.isoformat(),
                            "duration": "PT5M",
                            "title": "Открытие телемоста",
                            "kind": "opening",
                            "speakers": [{"name": "Светлана Умеренко", "external": True}],
                        },
                        {
                            "at": (starts + timedelta(minutes=5)).isoformat(),
                            "duration": "PT30M",
                            "title": "Виртуальное путешествие по Георгиевску",
                            "kind": "tour",
                        },
                    ],
                    "publish": True,
                },
            )
        )

    async def end(self) -> None:
        ended = ok(
            await self.client.post(
                self.url("scheduling", f"/meetings/{self.meeting_id}/end"), headers=OPERATOR
            )
        )
        assert ended["status"] == "ended"

    async def summary(self) -> dict[str, Any]:
        """Wait for the draft that counts both people and both items, add outcomes to it
        and publish it as an operator does; the public summary."""
        path = f"/meetings/{self.meeting_id}/summary"

        async def complete() -> dict[str, Any] | None:
            response = await self.client.get(
                self.url("agenda", f"{path}/versions/latest"), headers=OPERATOR
            )
            if response.status_code != 200:
                return None
            draft: dict[str, Any] = response.json()
            content = draft["content"]
            done = content["participants"] == 2 and len(content["items_delivered"]) == 2
            return draft if done else None

        draft = await eventually(complete, timeout=30)
        ok(
            await self.client.put(
                self.url("agenda", path),
                json={"outcomes": {"ru": "Дети обменялись рисунками."}, "publish": True},
                headers={**OPERATOR, "If-Match": f'"{draft["version"]}"'},
            )
        )
        summary: dict[str, Any] = ok(await self.client.get(self.url("agenda", path)))
        return summary

    async def summary_linked(self) -> None:
        """Wait until scheduling links the meeting to its summary."""

        async def linked() -> bool:
            response = await self.client.get(self.url("scheduling", f"/meetings/{self.meeting_id}"))
            return response.status_code == 200 and response.json()["summary_url"] is not None

        await eventually(linked, timeout=30)


def attendee_emails(calendar: icalendar.Calendar) -> set[str]:
    [event] = calendar.walk("VEVENT")
    return {str(attendee).removeprefix("mailto:") for attendee in event["attendee"]}


async def test_telebridge_from_registration_to_summary(system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        flow = Flow(system, client)
        await flow.organizations()
        await flow.people_of_both()
        await flow.schedule()
        for person in flow.people:
            await flow.sign_up(person)

        calendar = await flow.invite_lists_everyone()
        assert attendee_emails(calendar) == {person["email"] for person in flow.people}
        assert calendar.get_missing_tzids() == set()
        assert all(not component.errors for component in calendar.walk())
        # A second reader that shares no code with the writer sees the same meeting.
        raw = await client.get(flow.url("scheduling", f"/meetings/{flow.meeting_id}/invite.ics"))
        [event] = IcsCalendarStream.calendar_from_ics(raw.text).events
        assert event.dtstart.astimezone(UTC) == datetime.fromisoformat(flow.meeting["starts_at"])
        assert {attendee.uri for attendee in event.attendees} == {
            f"mailto:{person['email']}" for person in flow.people
        }

        await flow.put_agenda()
        await flow.end()
        summary = await flow.summary()
        content = summary["content"]
        assert content["participants"] == 2
        assert content["regions"] == ["Приморский край", "Ставропольский край"]
        assert len(content["organizations"]) == 2

        markdown = await client.get(flow.url("agenda", f"/meetings/{flow.meeting_id}/summary.md"))
        assert markdown.status_code == 200
        assert "- **Откуда:** 2 организации из 2 регионов" in markdown.text
        assert "Дети обменялись рисунками." in markdown.text


async def test_nothing_lost_or_applied_twice_when_services_are_killed(system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        flow = Flow(system, client)
        await flow.organizations()
        await flow.people_of_both()
        await flow.schedule()

        await flow.sign_up(flow.people[0])
        # The registration is committed; the registry dies before or while relaying it.
        system.services["registry"].kill()
        system.restart("registry")

        # Scheduling is down while the second registration is made, and dies again while
        # it catches up with the backlog.
        system.services["scheduling"].kill()
        await flow.sign_up(flow.people[1])
        system.restart("scheduling")
        system.services["scheduling"].kill()
        system.restart("scheduling")
        calendar = await flow.invite_lists_everyone()
        assert attendee_emails(calendar) == {person["email"] for person in flow.people}

        await flow.put_agenda()
        # Agenda publishing is down when the meeting ends, and dies again while catching up.
        system.services["agenda"].kill()
        await flow.end()
        system.restart("agenda")
        system.services["agenda"].kill()
        system.restart("agenda")
        summary = await flow.summary()
        assert summary["content"]["participants"] == 2
        assert len(summary["content"]["regions"]) == 2
        await flow.summary_linked()

    published = await published_events(system.nats_url)
    ids = [event["event_id"] for event in published]
    assert len(ids) == len(set(ids)), "an event was published twice"
    meeting_events = Counter(
        event["type"] for event in published if event["aggregate_id"] == flow.meeting_id
    )
    assert meeting_events == {
        "scheduling.meeting.scheduled": 1,
        # The published agenda goes into the invites once, however often agenda restarts,
        # and the summary's link into the calendar once, however many versions it has.
        "scheduling.meeting.updated": 2,
        "scheduling.meeting.started": 1,
        "scheduling.meeting.ended": 1,
    }
    registrations = [e for e in published if e["type"] == "registry.registration.created"]
    assert len(registrations) == 2
    summaries = [e for e in published if e["type"] == "agenda.summary.published"]
    versions = [e["aggregate_version"] for e in summaries]
    assert versions == list(range(1, len(versions) + 1)), "summary versions skip or repeat"
    assert summaries[-1]["participants"] == 2

    connection = await asyncpg.connect(system.database_url)
    try:
        for schema in ("scheduling", "agenda"):
            count = await connection.fetchval(
                f"SELECT count(*) FROM {schema}.registrations WHERE meeting_id = $1::uuid",
                flow.meeting_id,
            )
            assert count == 2, schema
        unsent = await connection.fetchval(
            "SELECT (SELECT count(*) FROM registry.outbox WHERE sent_at IS NULL)"
            " + (SELECT count(*) FROM scheduling.outbox WHERE sent_at IS NULL)"
            " + (SELECT count(*) FROM agenda.outbox WHERE sent_at IS NULL)"
        )
        assert unsent == 0
    finally:
        await connection.close()


async def published_events(nats_url: str) -> list[dict[str, Any]]:
    """Every event in the three event streams, in stream order."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        return [
            event for s in (REGISTRY, SCHEDULING, AGENDA) for event in await stream_events(js, s)
        ]
    finally:
        await client.close()
