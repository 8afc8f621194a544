"""What the agenda tests share: the service in-process, and the meetings, organizations,
people and registrations it learns from events the tests publish themselves (scheduling
and the registry do not run here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from shared.events import (
    AGENDA,
    MeetingScheduled,
)
from tests import events
from tests.events import STARTS, ended, organization, signed_up
from tests.integration.api import Published, body, publish, published
from tests.support import eventually, json_of

ENDS = STARTS + timedelta(hours=2)


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

    async def put(
        self,
        meeting_id: UUID,
        items: list[dict[str, Any]],
        *,
        publish: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """PUT a new version, published unless told otherwise."""
        return await self.client.put(
            f"/meetings/{meeting_id}/agenda",
            json={"items": items, "publish": publish},
            headers=headers,
        )

    async def draft(
        self, meeting_id: UUID, *, participants: int, version: int | None = None
    ) -> dict[str, Any]:
        """The summary's latest version, once it counts `participants` (and is `version`)."""

        async def written() -> dict[str, Any] | None:
            response = await self.client.get(f"/meetings/{meeting_id}/summary/versions/latest")
            if response.status_code == 404:
                return None
            summary: dict[str, Any] = body(response)
            counts = summary["content"]["participants"] == participants
            return summary if counts and version in (None, summary["version"]) else None

        return await eventually(written)

    async def add_outcomes(
        self, meeting_id: UUID, outcomes: dict[str, str], *, version: int, publish: bool = True
    ) -> Any:
        return await self.client.put(
            f"/meetings/{meeting_id}/summary",
            json={"outcomes": outcomes, "publish": publish},
            headers={"If-Match": f'"{version}"'},
        )

    async def registrations_known(self, meeting_id: UUID, count: int) -> None:
        """Wait until the registry's registrations for the meeting have been applied."""

        async def applied() -> bool:
            found = await self.database.fetchval(
                "SELECT count(*) FROM agenda.registrations WHERE meeting_id = $1", meeting_id
            )
            return bool(found == count)

        await eventually(applied)

    async def outboxed(self, subject: str) -> int:
        """How many events with `subject` the service has committed to its outbox so far."""
        count: int = await self.database.fetchval(
            "SELECT count(*) FROM agenda.outbox WHERE subject = $1", subject
        )
        return count

    async def events(self, subject: str, count: int) -> list[Published]:
        """The AGENDA stream's events with `subject`, once `count` have been relayed."""

        async def relayed() -> list[Published] | None:
            found = [m for m in await published(self.js, AGENDA) if m.subject == subject]
            return found if len(found) >= count else None

        return await eventually(relayed)


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


def moscow_with_vladivostok() -> MeetingScheduled:
    """A telebridge hosted in Moscow with Vladivostok, at STARTS."""
    return events.scheduled(MOSCOW.aggregate_id, VLADIVOSTOK.aggregate_id)


ITEMS: list[dict[str, Any]] = [
    {"at": "2030-10-01T12:30", "duration": "PT30M", "title": "Подведение итогов"},
    {
        "at": "2030-10-01T11:00",
        "duration": "PT15M",
        "title": "Открытие телемоста",
        "kind": "opening",
        "key": "opening",
        "speakers": [{"name": "Анна Ким", "organization": "ПКПБ", "external": True}],
    },
    # 11:15 in Moscow, given on Vladivostok's clock.
    {
        "at": "2030-10-01T18:15",
        "timezone": "Asia/Vladivostok",
        "duration": "PT45M",
        "title": "Виртуальная экскурсия по Владивостоку",
        "kind": "tour",
        "materials": [{"title": "Маршрут", "url": "https://pkpb.example/tour"}],
    },
]


async def known(agenda: Agenda) -> UUID:
    """A meeting agenda publishing knows, hosted in Moscow."""
    meeting = moscow_with_vladivostok()
    await publish(agenda.js, MOSCOW, VLADIVOSTOK)
    await agenda.meeting_known(meeting)

    async def host_known() -> bool:
        found = await agenda.database.fetchval(
            "SELECT count(*) FROM agenda.organizations WHERE id = $1", MOSCOW.aggregate_id
        )
        return bool(found)

    await eventually(host_known)
    return meeting.aggregate_id


OUTCOMES = {
    "ru": "Дети из Георгиевска и Владивостока **обменялись** рисунками.\n\n<b>без HTML</b>",
    "en": "Children of Georgievsk and Vladivostok **exchanged** drawings.",
}


async def ended_with_two(agenda: Agenda) -> MeetingScheduled:
    """A telebridge with an agenda and one person from each site, ended early, at 12:00 in
    Moscow: its closing item was never delivered."""
    meeting = moscow_with_vladivostok()
    await agenda.meeting_known(meeting)
    body(
        await agenda.put(
            meeting.aggregate_id,
            [
                {
                    "at": "2030-10-01T11:00+03:00",
                    "duration": "PT30M",
                    "title": "Открытие телемоста",
                    "speakers": [{"name": "Светлана Умеренко", "external": True}],
                    "materials": [{"title": "Рисунки", "url": "https://lib.example/drawings"}],
                },
                {"at": "2030-10-01T12:30+03:00", "duration": "PT30M", "title": "Подведение итогов"},
            ],
        )
    )
    umerenko = signed_up(
        meeting.aggregate_id,
        MOSCOW.aggregate_id,
        "Светлана Умеренко",
        "umerenko@georgievsk.example",
    )
    kim = signed_up(meeting.aggregate_id, VLADIVOSTOK.aggregate_id, "Анна Ким", "kim@pkpb.example")
    await publish(agenda.js, MOSCOW, VLADIVOSTOK, *umerenko, *kim)
    await agenda.registrations_known(meeting.aggregate_id, 2)
    await publish(agenda.js, ended(meeting, STARTS + timedelta(hours=1)))
    return meeting
