"""Agenda publishing's REST API as operators and readers see it: agendas and summaries.

Scheduling and the registry do not run here: the meetings, organizations, people and
registrations agenda publishing learns from their events, the tests publish themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from services.agenda.app import create_app
from shared.events import (
    AGENDA,
    MeetingEnded,
    MeetingScheduled,
    OrganizationUpserted,
    PersonUpserted,
    RegistrationCreated,
    new_id,
)
from shared.settings import AgendaSettings
from tests.integration.api import (
    Published,
    assert_live_and_ready,
    body,
    later,
    openapi_operations,
    problem,
    publish,
    published,
    served_operations,
)
from tests.support import eventually, harness, json_of, settings_for

STARTS = datetime(2030, 10, 1, 8, 0, tzinfo=UTC)
"""11:00 in Moscow, 18:00 in Vladivostok."""
ENDS = STARTS + timedelta(hours=2)
TITLE = "Телемост «От сердца к сердцу»"


@dataclass
class Agenda:
    client: AsyncTestClient[Any]
    js: JetStreamContext
    database: asyncpg.Connection

    async def meeting_known(self, meeting: MeetingScheduled) -> None:
        """Publish scheduling's event; return once agenda publishing knows the meeting."""
        await publish(self.js, meeting)

        async def known() -> bool:
            response = await self.client.get(f"/meetings/{meeting.aggregate_id}/agenda")
            found = response.status_code == 200
            return found or not json_of(response)["type"].endswith("unknown-meeting")

        await eventually(known)

    async def put(self, meeting_id: UUID, items: list[dict[str, Any]]) -> Any:
        return await self.client.put(f"/meetings/{meeting_id}/agenda", json={"items": items})

    async def summary(self, meeting_id: UUID, *, participants: int) -> dict[str, Any]:
        """The summary, once it counts `participants`."""

        async def written() -> dict[str, Any] | None:
            response = await self.client.get(f"/meetings/{meeting_id}/summary")
            if response.status_code == 404:
                return None
            summary: dict[str, Any] = body(response)
            return summary if summary["content"]["participants"] == participants else None

        return await eventually(written)

    async def registrations_known(self, meeting_id: UUID, count: int) -> None:
        """Wait until the registry's registrations for the meeting have been applied."""

        async def applied() -> bool:
            found = await self.database.fetchval(
                "SELECT count(*) FROM agenda.registrations WHERE meeting_id = $1", meeting_id
            )
            return bool(found == count)

        await eventually(applied)

    async def events(self, subject: str, count: int) -> list[Published]:
        """The AGENDA stream's events with `subject`, once `count` have been relayed."""

        async def relayed() -> list[Published] | None:
            found = [m for m in await published(self.js, AGENDA) if m.subject == subject]
            return found if len(found) >= count else None

        return await eventually(relayed)


@pytest.fixture
async def agenda(database_url: str, nats_url: str) -> AsyncIterator[Agenda]:
    app = create_app(settings_for(AgendaSettings, database_url, nats_url, summary_quiet=0.2))
    async with harness(app, database_url, nats_url) as running:
        yield Agenda(running.client, running.js, running.database)


def organization(name: str, region: str, timezone: str) -> OrganizationUpserted:
    return OrganizationUpserted(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        name=name,
        region=region,
        timezone=timezone,
    )


MOSCOW = organization(
    "Межпоселенческая центральная библиотека Георгиевского округа",
    "Ставропольский край",
    "Europe/Moscow",
)
VLADIVOSTOK = organization(
    "Приморская краевая публичная библиотека им. А. М. Горького",
    "Приморский край",
    "Asia/Vladivostok",
)


def scheduled() -> MeetingScheduled:
    return MeetingScheduled(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="scheduling",
        title=TITLE,
        kind="telebridge",
        status="scheduled",
        host_organization_id=MOSCOW.aggregate_id,
        organization_ids=[MOSCOW.aggregate_id, VLADIVOSTOK.aggregate_id],
        starts_at=STARTS,
        ends_at=ENDS,
    )


def ended(meeting: MeetingScheduled, at: datetime) -> MeetingEnded:
    return later(
        meeting, MeetingEnded, versions=2, status="ended", started_at=meeting.starts_at, ended_at=at
    )


def signed_up(
    meeting: MeetingScheduled, organization: OrganizationUpserted, name: str, email: str
) -> tuple[PersonUpserted, RegistrationCreated]:
    person = PersonUpserted(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        organization_id=organization.aggregate_id,
        name=name,
        email=email,
    )
    registration = RegistrationCreated(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        meeting_id=meeting.aggregate_id,
        person_id=person.aggregate_id,
        organization_id=organization.aggregate_id,
    )
    return person, registration


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- agendas --------------------------------------------------------------------------


async def test_an_agenda_is_put_in_order_of_time_and_each_put_is_a_new_version(
    agenda: Agenda,
) -> None:
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    items = [
        {"starts_at": "2030-10-01T12:30:00+03:00", "title": "Подведение итогов"},
        {
            "starts_at": "2030-10-01T11:00:00+03:00",
            "title": "Открытие телемоста",
            "speakers": ["Светлана Умеренко", "Анна Ким"],
        },
        # 11:15 in Moscow, given on Vladivostok's clock.
        {
            "starts_at": "2030-10-01T18:15:00+10:00",
            "title": "Виртуальная экскурсия по Владивостоку",
        },
    ]

    first = body(await agenda.put(meeting.aggregate_id, items))
    assert first["meeting_id"] == str(meeting.aggregate_id)
    assert first["version"] == 1
    assert [item["title"] for item in first["items"]] == [
        "Открытие телемоста",
        "Виртуальная экскурсия по Владивостоку",
        "Подведение итогов",
    ]
    assert [instant(item["starts_at"]) for item in first["items"]] == [
        STARTS,
        STARTS + timedelta(minutes=15),
        STARTS + timedelta(minutes=90),
    ]
    assert first["items"][0]["speakers"] == ["Светлана Умеренко", "Анна Ким"]
    assert first["items"][1]["speakers"] == []
    assert body(await agenda.client.get(f"/meetings/{meeting.aggregate_id}/agenda")) == first

    second = body(await agenda.put(meeting.aggregate_id, items[:2]))
    assert second["version"] == 2
    assert [item["title"] for item in second["items"]] == [
        "Открытие телемоста",
        "Подведение итогов",
    ]
    assert body(await agenda.client.get(f"/meetings/{meeting.aggregate_id}/agenda")) == second

    messages = await agenda.events("agenda.agenda.published", 2)
    assert [(m.event["aggregate_version"], m.event["items"]) for m in messages] == [(1, 3), (2, 2)]
    assert messages[0].event["aggregate_id"] == messages[1].event["aggregate_id"]
    for message in messages:
        assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
        assert message.event["meeting_id"] == str(meeting.aggregate_id)
        assert message.event["url"].endswith(f"/meetings/{meeting.aggregate_id}/agenda")


async def test_an_item_outside_the_meeting_is_a_422_naming_it(agenda: Agenda) -> None:
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    response = await agenda.put(
        meeting.aggregate_id,
        [
            {"starts_at": "2030-10-01T11:00:00+03:00", "title": "Открытие"},
            {"starts_at": "2030-10-01T10:59:00+03:00", "title": "Слишком рано"},
            {"starts_at": "2030-10-01T13:00:00+03:00", "title": "Уже закончилось"},
        ],
    )
    document = problem(response, 422, "validation", field="items[1].starts_at")
    assert [error["field"] for error in document["errors"]] == [
        "items[1].starts_at",
        "items[2].starts_at",
    ]
    no_agenda = await agenda.client.get(f"/meetings/{meeting.aggregate_id}/agenda")
    problem(no_agenda, 404, "no-agenda")


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"starts_at": "2030-10-01T11:00:00", "title": "Открытие"}, "items[0].starts_at"),
        ({"starts_at": "2030-10-01T11:00:00+03:00"}, "items[0].title"),
        ({"starts_at": "2030-10-01T11:00:00+03:00", "title": ""}, "items[0].title"),
        (
            {"starts_at": "2030-10-01T11:00:00+03:00", "title": "Открытие", "room": "зал"},
            "items[0].room",
        ),
    ],
    ids=["naive-time", "missing-title", "empty-title", "unknown-field"],
)
async def test_an_invalid_item_is_a_422_naming_it(
    agenda: Agenda, item: dict[str, Any], field: str
) -> None:
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    problem(await agenda.put(meeting.aggregate_id, [item]), 422, "validation", field=field)


async def test_an_unknown_meeting_is_a_404(agenda: Agenda) -> None:
    missing = new_id()
    item = {"starts_at": "2030-10-01T11:00:00+03:00", "title": "Открытие"}
    document = problem(await agenda.put(missing, [item]), 404, "unknown-meeting")
    assert str(missing) in document["detail"]
    for path in ("agenda", "summary", "summary.md"):
        problem(await agenda.client.get(f"/meetings/{missing}/{path}"), 404, "unknown-meeting")


async def test_a_meeting_that_has_not_ended_has_no_summary_yet(agenda: Agenda) -> None:
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    for path in ("summary", "summary.md"):
        response = await agenda.client.get(f"/meetings/{meeting.aggregate_id}/{path}")
        document = problem(response, 404, "no-summary-yet")
        assert "scheduled" in document["detail"]


# --- summaries ------------------------------------------------------------------------


async def test_the_summary_counts_who_took_part_and_is_rewritten_by_a_late_registration(
    agenda: Agenda,
) -> None:
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    body(
        await agenda.put(
            meeting.aggregate_id,
            [
                {
                    "starts_at": "2030-10-01T11:00:00+03:00",
                    "title": "Открытие телемоста",
                    "speakers": ["Светлана Умеренко"],
                },
                {"starts_at": "2030-10-01T12:30:00+03:00", "title": "Подведение итогов"},
            ],
        )
    )
    umerenko = signed_up(meeting, MOSCOW, "Светлана Умеренко", "umerenko@georgievsk.example")
    kim = signed_up(meeting, VLADIVOSTOK, "Анна Ким", "kim@pkpb.example")
    await publish(agenda.js, MOSCOW, VLADIVOSTOK, *umerenko, *kim)
    await agenda.registrations_known(meeting.aggregate_id, 2)
    # Ended early, at 12:00 in Moscow: the closing item was never delivered.
    await publish(agenda.js, ended(meeting, STARTS + timedelta(hours=1)))

    summary = await agenda.summary(meeting.aggregate_id, participants=2)
    assert summary["version"] == 1
    assert summary["markdown_url"].endswith(f"/meetings/{meeting.aggregate_id}/summary.md")
    content = summary["content"]
    assert content["title"] == TITLE
    assert content["timezone"] == "Europe/Moscow"
    assert instant(content["held_from"]) == STARTS
    assert instant(content["held_until"]) == STARTS + timedelta(hours=1)
    assert content["regions"] == ["Приморский край", "Ставропольский край"]
    assert sorted((o["name"], o["participants"], o["site"]) for o in content["organizations"]) == [
        (MOSCOW.name, 1, True),
        (VLADIVOSTOK.name, 1, True),
    ]
    assert [item["title"] for item in content["items_delivered"]] == ["Открытие телемоста"]

    markdown = await agenda.client.get(f"/meetings/{meeting.aggregate_id}/summary.md")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].split(";")[0] == "text/markdown"
    assert markdown.headers["content-language"] == "ru"
    assert markdown.text.startswith(f"# Итоги: {TITLE}\n")
    assert "2 участника из 2 регионов, 2 организации" in markdown.text
    assert "1 октября 2030, 11:00–12:00 (Europe/Moscow)" in markdown.text
    assert "Открытие телемоста — Светлана Умеренко" in markdown.text
    assert "Подведение итогов" not in markdown.text

    english = await agenda.client.get(
        f"/meetings/{meeting.aggregate_id}/summary.md", params={"lang": "en"}
    )
    assert english.status_code == 200
    assert english.headers["content-type"].split(";")[0] == "text/markdown"
    assert english.headers["content-language"] == "en"
    assert english.text.startswith(f"# Summary: {TITLE}\n")
    assert "2 participants from 2 regions, 2 organizations" in english.text
    assert "October" in english.text

    german = await agenda.client.get(
        f"/meetings/{meeting.aggregate_id}/summary.md", params={"lang": "de"}
    )
    document = problem(german, 400, "validation", field="lang")
    assert document["errors"][0]["source"] == "query"

    [message] = await agenda.events("agenda.summary.published", 1)
    assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
    assert message.event["meeting_id"] == str(meeting.aggregate_id)
    assert message.event["aggregate_version"] == 1
    assert (
        message.event["participants"],
        message.event["organizations"],
        message.event["regions"],
    ) == (2, 2, 2)
    assert message.event["url"].endswith(f"/meetings/{meeting.aggregate_id}/summary")

    # Someone from Georgievsk is recorded after the fact.
    await publish(
        agenda.js, *signed_up(meeting, MOSCOW, "Ольга Бунина", "bunina@georgievsk.example")
    )
    rewritten = await agenda.summary(meeting.aggregate_id, participants=3)
    assert rewritten["version"] == 2
    assert rewritten["content"]["regions"] == content["regions"]
    assert sorted(o["participants"] for o in rewritten["content"]["organizations"]) == [1, 2]
    markdown = await agenda.client.get(f"/meetings/{meeting.aggregate_id}/summary.md")
    assert "3 участника из 2 регионов" in markdown.text

    messages = await agenda.events("agenda.summary.published", 2)
    assert [(m.event["aggregate_version"], m.event["participants"]) for m in messages] == [
        (1, 2),
        (2, 3),
    ]


async def test_a_site_heard_of_after_the_summary_is_written_joins_it(agenda: Agenda) -> None:
    """The two consumers (meetings, registry) are not ordered: a site whose organization
    arrives after its meeting's summary was written must still make it into the summary."""
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    kim = signed_up(meeting, VLADIVOSTOK, "Анна Ким", "kim@pkpb.example")
    await publish(agenda.js, VLADIVOSTOK, *kim)
    await agenda.registrations_known(meeting.aggregate_id, 1)
    await publish(agenda.js, ended(meeting, ENDS))
    first = await agenda.summary(meeting.aggregate_id, participants=1)
    assert first["content"]["regions"] == ["Приморский край"]

    await publish(agenda.js, MOSCOW)

    async def with_the_host() -> dict[str, Any] | None:
        summary = await agenda.summary(meeting.aggregate_id, participants=1)
        return summary if summary["version"] == 2 else None

    rewritten = await eventually(with_the_host)
    assert rewritten["content"]["regions"] == ["Приморский край", "Ставропольский край"]
    assert rewritten["content"]["timezone"] == "Europe/Moscow"


async def test_a_summary_that_fails_holds_up_no_other(agenda: Agenda) -> None:
    broken, fine = scheduled(), scheduled()
    await publish(agenda.js, MOSCOW, VLADIVOSTOK)
    await agenda.meeting_known(broken)
    await publish(agenda.js, ended(broken, ENDS))
    await agenda.summary(broken.aggregate_id, participants=0)
    # What is stored no longer reads as a summary: rewriting it fails every time.
    await agenda.database.execute(
        "UPDATE agenda.summaries SET content = '{\"bogus\": 1}' WHERE meeting_id = $1",
        broken.aggregate_id,
    )
    await publish(agenda.js, *signed_up(broken, MOSCOW, "Анна Ким", "kim@example.org"))

    async def failed_once() -> bool:
        failures = await agenda.database.fetchval(
            "SELECT failures FROM agenda.summary_requests WHERE meeting_id = $1",
            broken.aggregate_id,
        )
        return bool(failures)

    await eventually(failed_once)
    await agenda.meeting_known(fine)
    await publish(agenda.js, ended(fine, ENDS))
    summary = await agenda.summary(fine.aggregate_id, participants=0)
    assert summary["version"] == 1


# --- health and schema ----------------------------------------------------------------


async def test_live_ready_and_the_openapi_document(agenda: Agenda) -> None:
    await assert_live_and_ready(agenda.client, "agenda")
    operations = await openapi_operations(agenda.client)
    assert operations == served_operations(agenda.client)
    assert operations == {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("PUT", "/meetings/{meeting_id}/agenda"),
        ("GET", "/meetings/{meeting_id}/agenda"),
        ("GET", "/meetings/{meeting_id}/summary"),
        ("GET", "/meetings/{meeting_id}/summary.md"),
    }
