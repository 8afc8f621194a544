"""A partner who waits for each answer before the next call never meets the bus's lag.

Each service keeps what others own as read models filled from events, so a call that
names an id created a moment ago in another service may arrive before the event. The
service then asks the owner whether the id exists and waits for its read model; only ids
nobody created are a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.events import new_id
from tests.e2e.conftest import System
from tests.support import ADMIN, OPERATOR

ROUNDS = 100


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
                    json={
                        "title": f"Встреча № {number}",
                        "kind": "videoconference",
                        "host_organization_id": organization["id"],
                        "starts_at": (now - timedelta(minutes=1)).isoformat(),
                        "ends_at": (now + timedelta(hours=1)).isoformat(),
                        "force": True,
                        "record_past": True,
                    },
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
