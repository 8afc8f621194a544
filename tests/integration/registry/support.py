"""What the registry's tests share: a client with the staff's key, and builders of the
organizations, people and scheduling events they need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from shared.events import (
    REGISTRY,
    MeetingEvent,
    MeetingScheduled,
)
from tests import events
from tests.integration.api import Published, body, publish, published
from tests.support import ADMIN, bearer, eventually, json_of

LIPETSK = {
    "name": "Липецкая областная детская библиотека",
    "region": "RU-LIP",
    "timezone": "Europe/Moscow",
}
VLADIVOSTOK = {
    "name": "Приморская краевая публичная библиотека им. А. М. Горького",
    "region": "RU-PRI",
    "timezone": "Asia/Vladivostok",
}


@dataclass
class Registry:
    client: AsyncTestClient[Any]
    js: JetStreamContext
    database: asyncpg.Connection
    """The test's own connection to the registry's database."""

    async def link_secret(self) -> bytes:
        """The secret the registry signs links with, as a forger who stole it would have it."""
        secret: bytes = await self.database.fetchval(
            "SELECT value FROM registry.secrets WHERE name = 'rsvp-links'"
        )
        return secret

    async def organization(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        created: dict[str, Any] = body(
            await self.client.post("/organizations", json=payload or LIPETSK), 201
        )
        return created

    async def person(
        self,
        organization: dict[str, Any],
        name: str,
        email: str,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A person named `Given [Patronymic] Surname`, created with `headers` (staff's)."""
        created: dict[str, Any] = body(
            await self.client.post(
                "/people",
                json={"organization_id": organization["id"], **person_fields(name, email)},
                headers=headers,
            ),
            201,
        )
        return created

    async def partner_key(
        self, organization: dict[str, Any], scopes: list[str] | None = None
    ) -> dict[str, str]:
        """Headers with a new partner key of `organization`, issued by the admin."""
        issued = body(
            await self.client.post(
                "/keys",
                json={
                    "name": f"partner site of {organization['name']}",
                    "organization_id": organization["id"],
                    **({"scopes": scopes} if scopes is not None else {}),
                },
                headers=ADMIN,
            ),
            201,
        )
        return bearer(issued["secret"])

    async def meeting_known(self, event: MeetingEvent) -> dict[str, Any]:
        """Publish scheduling's event and wait until the registry answers with that state."""
        await publish(self.js, event)

        async def known() -> dict[str, Any] | None:
            response = await self.client.get(f"/meetings/{event.aggregate_id}")
            if response.status_code != 200:
                return None
            meeting: dict[str, Any] = json_of(response)
            return meeting if meeting["version"] == event.aggregate_version else None

        return await eventually(known)

    async def event_id(self, entity: dict[str, Any]) -> str:
        """The id of the one event about `entity`, once relayed."""
        event_id: str = (await self.event_of(entity["id"])).event["event_id"]
        return event_id

    async def events(self) -> list[Published]:
        return await published(self.js, REGISTRY)

    async def events_until(self, event_id: str) -> list[Published]:
        """The REGISTRY stream once the event `event_id` has been relayed to it."""

        async def relayed() -> list[Published] | None:
            messages = await self.events()
            return messages if any(m.event["event_id"] == event_id for m in messages) else None

        return await eventually(relayed)

    async def event_of(self, aggregate_id: str) -> Published:
        """The one event about `aggregate_id`, once relayed."""

        async def relayed() -> list[Published] | None:
            found = [m for m in await self.events() if m.event["aggregate_id"] == aggregate_id]
            return found or None

        [message] = await eventually(relayed)
        return message


def person_fields(name: str, email: str) -> dict[str, str]:
    given, *middle, surname = name.split()
    fields = {"given_name": given, "surname": surname, "display_name": name, "email": email}
    return fields | ({"patronymic": middle[0]} if middle else {})


def hosted_by(organization_id: str) -> MeetingScheduled:
    """A telebridge the organization hosts alone, at 10:00 in Moscow."""
    return events.scheduled(UUID(organization_id), starts=datetime(2030, 10, 1, 7, 0, tzinfo=UTC))
