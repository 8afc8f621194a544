"""`updated_since` on people and registrations: change feeds a partner polls while others write.

The rule, for any mix of concurrent writes: a poller that resumes from each page's cursor
ends with every registration (or person) as it is now, and never gets the same version of
one twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.integration.api import body
from tests.integration.registry.support import Registry
from tests.integration.registry.test_registrations import signed_up_meeting
from tests.support import eventually

PAST = "2020-01-01T00:00:00Z"


class Poller:
    """A partner's poller: keeps the cursor, and each thing as it last saw it."""

    def __init__(self, registry: Registry, path: str, headers: dict[str, str]) -> None:
        self.registry = registry
        self.path = path
        self.headers = headers
        self.cursor: str | None = None
        self.seen: dict[str, list[dict[str, Any]]] = {}

    async def poll(self) -> int:
        """Every page there is now; how many things came."""
        came = 0
        while True:
            params = {"cursor": self.cursor} if self.cursor else {"updated_since": PAST}
            page = body(
                await self.registry.client.get(
                    self.path, params={**params, "limit": 7}, headers=self.headers
                )
            )
            for item in page["items"]:
                self.seen.setdefault(item["id"], []).append(item)
            came += len(page["items"])
            self.cursor = page["next_cursor"]
            assert self.cursor
            if len(page["items"]) < 7:
                return came

    async def poll_until(self, count: int) -> int:
        """Poll until `count` things came; how many came. A change committed while an
        older transaction still runs comes only once that one ends (the feed's horizon):
        under load, that can be the next poll."""
        came = await self.poll()
        deadline = time.monotonic() + 15
        while came < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            came += await self.poll()
        return came

    def latest(self) -> dict[str, dict[str, Any]]:
        for sightings in self.seen.values():
            versions = [item["version"] for item in sightings]
            assert versions == sorted(set(versions)), f"seen twice or out of order: {versions}"
        return {key: sightings[-1] for key, sightings in self.seen.items()}


async def test_a_poller_of_registrations_misses_nothing_while_people_sign_up_and_cancel(
    registry: Registry,
) -> None:
    setup = await signed_up_meeting(registry, 24)
    path, partner = setup["path"], setup["partner"]
    body(await registry.client.put(f"{path}/capacity", json={"capacity": 8}))
    poller = Poller(registry, f"{path}/registrations", partner)
    writing = True

    async def poll_while_writing() -> None:
        while writing:
            await poller.poll()
            await asyncio.sleep(0.01)

    async def sign_up_and_cancel(person: dict[str, Any], cancel: bool) -> None:
        created = body(
            await registry.client.post(
                f"{path}/registrations", json={"person_id": person["id"]}, headers=partner
            ),
            201,
        )
        if cancel:
            body(await registry.client.delete(f"/registrations/{created['id']}", headers=partner))

    polling = asyncio.create_task(poll_while_writing())
    await asyncio.gather(
        *(
            sign_up_and_cancel(person, cancel=number % 3 == 0)
            for number, person in enumerate(setup["people"])
        )
    )
    writing = False
    await polling
    now = body(await registry.client.get(f"{path}/registrations", params={"limit": 200}))
    current = {item["id"]: item for item in now["items"]}

    async def caught_up() -> bool:
        await poller.poll()
        return poller.latest() == current

    await eventually(caught_up)
    assert {item["status"] for item in now["items"]} == {"registered", "waitlisted", "cancelled"}
    assert await poller.poll() == 0


async def test_people_come_again_only_when_they_change(registry: Registry) -> None:
    organization = await registry.organization()
    partner = await registry.partner_key(organization)
    anna = await registry.person(organization, "Анна Петрова", "anna@lib.example")
    boris = await registry.person(organization, "Борис Иванов", "boris@lib.example")
    other = await registry.organization()
    await registry.person(other, "Вера Смирнова", "vera@lib.example")

    poller = Poller(registry, "/people", partner)
    assert await poller.poll_until(2) == 2
    assert set(poller.seen) == {anna["id"], boris["id"]}

    response = await registry.client.get(f"/people/{anna['id']}", headers=partner)
    changed = body(
        await registry.client.put(
            f"/people/{anna['id']}",
            json={
                "surname": "Петрова-Сидорова",
                "given_name": "Анна",
                "email": "anna@lib.example",
            },
            headers={**partner, "If-Match": response.headers["etag"]},
        )
    )
    assert await poller.poll_until(1) == 1
    assert poller.latest()[anna["id"]] == changed
    assert await poller.poll() == 0
