"""A partner who waits for each answer before the next call never meets the bus's lag.

Each service keeps what others own as read models filled from events, so a call that
names an id created a moment ago in another service may arrive before the event. The
service then asks the owner whether the id exists and waits for its read model; only ids
nobody created are a 404.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.events import new_id
from tests.e2e.conftest import System
from tests.support import ADMIN, OPERATOR

ROUNDS = 100


def meeting_of(organization_id: str, number: int, starts: datetime) -> dict[str, Any]:
    """An hour's videoconference the organization hosts; staff force it past working hours."""
    return {
        "title": f"Встреча № {number}",
        "kind": "videoconference",
        "host_organization_id": organization_id,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "force": True,
        # A meeting under way is recorded, as only staff may.
        "record_past": starts < datetime.now(UTC),
    }


def succeeded(response: httpx.Response, step: str, round_number: int) -> Any:
    assert response.is_success, f"round {round_number}, {step}: {response.text}"
    return response.json()


async def test_every_call_right_after_a_write_sees_it(system: System) -> None:
    registry, scheduling, agenda = (system.url(s) for s in ("registry", "scheduling", "agenda"))
    async with httpx.AsyncClient(timeout=30) as client:
        for number in range(ROUNDS):
            organization = succeeded(
                await client.post(
                    f"{registry}/organizations",
                    json={"name": f"Библиотека № {number}", "region": "RU-KAM"},
                    headers=OPERATOR,
                ),
                "organization",
                number,
            )
            issued = succeeded(
                await client.post(
                    f"{registry}/keys",
                    json={"name": f"сайт {number}", "organization_id": organization["id"]},
                    headers=ADMIN,
                ),
                "key",
                number,
            )
            partner = {"Authorization": f"Bearer {issued['secret']}"}
            person = succeeded(
                await client.post(
                    f"{registry}/people",
                    json={"surname": "Ким", "given_name": "Анна", "email": f"a{number}@ex.org"},
                    headers=partner,
                ),
                "person",
                number,
            )
            now = datetime.now(UTC)
            meeting = succeeded(
                await client.post(
                    f"{scheduling}/meetings",
                    json=meeting_of(organization["id"], number, now - timedelta(minutes=1)),
                    headers=OPERATOR,
                ),
                "meeting",
                number,
            )
            succeeded(
                await client.post(
                    f"{registry}/meetings/{meeting['id']}/registrations",
                    json={"person_id": person["id"]},
                    headers=partner,
                ),
                "sign-up",
                number,
            )
            succeeded(
                await client.post(
                    f"{registry}/meetings/{meeting['id']}/check-ins",
                    json={"person_ids": [person["id"]]},
                    headers=partner,
                ),
                "check-in",
                number,
            )
            succeeded(await client.get(f"{scheduling}/feeds", headers=partner), "key", number)
            succeeded(
                await client.get(
                    f"{agenda}/meetings/{meeting['id']}/agenda/versions", headers=partner
                ),
                "agenda",
                number,
            )


async def test_an_id_nobody_created_is_a_404_at_once(system: System) -> None:
    """The owner says it has never heard of it: a 404, not the 503 of an id on its way."""
    registry, agenda = system.url("registry"), system.url("agenda")
    async with httpx.AsyncClient(timeout=30) as client:
        for url in (
            f"{registry}/meetings/{new_id()}",
            f"{agenda}/meetings/{new_id()}/agenda",
        ):
            response = await client.get(url, headers=OPERATOR)
            assert response.status_code == 404, response.text
        unknown_key = {"Authorization": "Bearer tb_0123456789ab_" + "x" * 43}
        response = await client.get(f"{agenda}/meetings/{new_id()}/agenda", headers=unknown_key)
        assert response.status_code == 401


async def test_requests_waiting_for_events_do_not_starve_the_consumers(system: System) -> None:
    """Meetings are scheduled while the registry stands still; then more sign-ups for them
    than the registry has connections for requests (five here) reach it at once, each
    waiting for its meeting's event while it holds a connection. The events are still
    applied, on the connections kept for the consumers, and every sign-up succeeds."""
    registry, scheduling = system.url("registry"), system.url("scheduling")
    async with httpx.AsyncClient(timeout=60) as client:
        organization = succeeded(
            await client.post(
                f"{registry}/organizations",
                json={"name": "Библиотека", "region": "RU-LIP"},
                headers=OPERATOR,
            ),
            "organization",
            0,
        )
        people = [
            succeeded(
                await client.post(
                    f"{registry}/people",
                    json={
                        "organization_id": organization["id"],
                        "surname": "Ким",
                        "given_name": "Анна",
                        "email": f"b{number}@ex.org",
                    },
                    headers=OPERATOR,
                ),
                "person",
                number,
            )
            for number in range(SIGN_UPS)
        ]
        await _known_to_scheduling(client, scheduling, organization["id"])
        system.services["registry"].pause()
        try:
            now = datetime.now(UTC)
            meetings = [
                succeeded(
                    await client.post(
                        f"{scheduling}/meetings",
                        json=meeting_of(
                            organization["id"], number, now + timedelta(days=1 + number)
                        ),
                        headers=OPERATOR,
                    ),
                    "meeting",
                    number,
                )
                for number in range(SIGN_UPS)
            ]
            sign_ups = [
                asyncio.create_task(
                    client.post(
                        f"{registry}/meetings/{meeting['id']}/registrations",
                        json={"person_id": person["id"]},
                        headers=OPERATOR,
                    )
                )
                for meeting, person in zip(meetings, people, strict=True)
            ]
            await asyncio.sleep(0.5)  # the requests reach the stalled process's socket
        finally:
            system.services["registry"].resume()
        answers = await asyncio.gather(*sign_ups)
        assert [answer.status_code for answer in answers] == [201] * SIGN_UPS, [
            answer.text for answer in answers if answer.status_code != 201
        ]


SIGN_UPS = 12


async def _known_to_scheduling(
    client: httpx.AsyncClient, scheduling: str, organization: str
) -> None:
    response = await client.post(
        f"{scheduling}/slots",
        json={
            "organization_ids": [organization],
            "duration_minutes": 60,
            "window_start": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "window_end": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
        headers=OPERATOR,
    )
    assert response.status_code == 200, response.text
