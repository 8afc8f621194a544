"""Every service under a burst of idempotent writes, as uvicorn serves them.

Each service runs as a process with a pool of five connections; fifty POSTs with an
`Idempotency-Key` and an issued partner key arrive at once. Before the key was checked
ahead of the request's own connection, every connection sat idle in a transaction while
its key check waited for another, and the service stopped answering for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.events import new_id
from tests.e2e.conftest import System
from tests.e2e.partners import Partner, new_partner
from tests.support import eventually

CONCURRENT = 50

WRITES: dict[str, tuple[Callable[[Partner], str], Callable[[Partner, int], dict[str, Any]]]] = {
    "registry": (
        lambda _: "/people",
        lambda _, n: {"surname": "Петрова", "given_name": f"Анна {n}", "email": f"a{n}@ex.org"},
    ),
    "scheduling": (
        lambda _: "/feeds",
        lambda partner, _: {"kind": "organization", "organization_id": partner.id},
    ),
    "agenda": (
        lambda _: f"/meetings/{new_id()}/agenda/unpublish",
        lambda _, __: {},
    ),
}
"""A POST a partner may send to each service: its path, and its body for the n-th time."""


async def _known_everywhere(client: httpx.AsyncClient, system: System, partner: Partner) -> None:
    async def accepted() -> bool:
        for service in ("scheduling", "agenda"):
            response = await client.get(
                f"{system.url(service)}/meetings/{new_id()}/invite.ics"
                if service == "scheduling"
                else f"{system.url(service)}/meetings/{new_id()}/agenda/versions",
                headers=partner.headers,
            )
            if response.status_code == 401:
                return False
        return True

    await eventually(accepted)


@pytest.mark.parametrize("service", sorted(WRITES))
async def test_fifty_concurrent_idempotent_posts_all_get_an_answer(
    system: System, service: str
) -> None:
    path_of, body_of = WRITES[service]
    async with httpx.AsyncClient(timeout=60) as client:
        partner = await new_partner(client, system.url("registry"), "Библиотека")
        await _known_everywhere(client, system, partner)
        url = f"{system.url(service)}{path_of(partner)}"

        async def post(index: int) -> int:
            response = await client.post(
                url,
                json=body_of(partner, index),
                headers={**partner.headers, "Idempotency-Key": f"burst-{index}"},
            )
            return response.status_code

        statuses = await asyncio.wait_for(
            asyncio.gather(*(post(index) for index in range(CONCURRENT))), timeout=60
        )
        assert all(status < 500 for status in statuses), statuses
        ready = await client.get(f"{system.url(service)}/health/ready")
        assert ready.status_code == 200


@pytest.mark.parametrize("service", sorted(WRITES))
async def test_two_partners_may_use_the_same_idempotency_key(system: System, service: str) -> None:
    path_of, body_of = WRITES[service]
    async with httpx.AsyncClient(timeout=30) as client:
        partners = [
            await new_partner(client, system.url("registry"), name)
            for name in ("Библиотека А", "Библиотека Б")
        ]
        for partner in partners:
            await _known_everywhere(client, system, partner)
        for index, partner in enumerate(partners):
            response = await client.post(
                f"{system.url(service)}{path_of(partner)}",
                json=body_of(partner, index),
                headers={**partner.headers, "Idempotency-Key": "order-1"},
            )
            assert response.status_code < 500, response.text
            assert response.status_code != 422, response.text
            assert "idempotent-replayed" not in response.headers
