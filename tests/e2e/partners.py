"""Partners as the e2e tests make them: an organization, its key and a person, through the
registry's REST API as an admin would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import ADMIN, eventually


@dataclass(frozen=True)
class Partner:
    organization: dict[str, Any]
    person: dict[str, Any]
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def id(self) -> str:
        return str(self.organization["id"])


async def retry_until_known(
    client: httpx.AsyncClient, method: str, url: str, body: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    """Send until the service has heard of what the body refers to (events take a moment)."""

    async def attempt() -> httpx.Response | None:
        response = await client.request(method, url, json=body, **kwargs)
        problem_type = response.json().get("type", "") if response.is_error else ""
        if problem_type.endswith(("unknown-meeting", "unknown-organization")):
            return None
        return response

    return await eventually(attempt)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def new_partner(
    client: httpx.AsyncClient,
    registry: str,
    name: str,
    *,
    region: str = "RU-LIP",
    public: bool = True,
) -> Partner:
    """An organization with a partner key of its own and one person."""
    organization = ok(
        await client.post(
            f"{registry}/organizations",
            json={"name": name, "region": region, "public": public},
            headers=ADMIN,
        ),
        201,
    )
    issued = ok(
        await client.post(
            f"{registry}/keys",
            json={"name": f"сайт {name}", "organization_id": organization["id"]},
            headers=ADMIN,
        ),
        201,
    )
    person = ok(
        await client.post(
            f"{registry}/people",
            json={
                "surname": "Иванова",
                "given_name": "Ольга",
                "email": f"olga.{organization['id']}@example.org",
            },
            headers={"Authorization": f"Bearer {issued['secret']}"},
        ),
        201,
    )
    return Partner(organization, person, issued["secret"], issued["id"])
