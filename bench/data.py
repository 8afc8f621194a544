"""The data the bench loads, through the services' REST APIs as a partner's site would.

One host organization is a site of every meeting (its feed is the large one); a second is
a site of the first meetings only (the small feed); twenty more across eleven zones share
the meetings two by two, for the slot search. Meetings are created at 16 connections by
the load generator, which is also how the create-meeting figure is measured.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from bench import load
from bench.load import LoadResult
from bench.stack import Stack

T = TypeVar("T")

ZONES = {
    "RU-KGD": "Europe/Kaliningrad",
    "RU-MOW": "Europe/Moscow",
    "RU-SAM": "Europe/Samara",
    "RU-SVE": "Asia/Yekaterinburg",
    "RU-OMS": "Asia/Omsk",
    "RU-KYA": "Asia/Krasnoyarsk",
    "RU-IRK": "Asia/Irkutsk",
    "RU-SA": "Asia/Yakutsk",
    "RU-PRI": "Asia/Vladivostok",
    "RU-MAG": "Asia/Magadan",
    "RU-KAM": "Asia/Kamchatka",
}
SLOT_ORGANIZATIONS = 20
SPREAD = timedelta(weeks=12)
"""The meetings lie over this span from the start of the slot search's window."""
MEETING_LENGTH = timedelta(minutes=30)


@dataclass(frozen=True)
class PlannedMeeting:
    starts_at: datetime
    ends_at: datetime
    sites: list[str]


@dataclass
class Loaded:
    host: str
    """In every meeting: its organization feed is the large one."""
    small: str
    """In the first meetings only: the small feed."""
    slot_organizations: list[tuple[str, str]]
    """(id, time zone)"""
    plan: list[PlannedMeeting]
    meetings: list[str] = field(default_factory=list)
    people: list[tuple[str, str]] = field(default_factory=list)
    """(id, e-mail)"""
    window_start: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: dict[str, float] = field(default_factory=dict)
    """How long each step of loading took."""
    create: LoadResult | None = None
    create_cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds each part of the stack used while the meetings were created."""


class Api:
    """httpx with the operator's key, a bounded number of requests at a time."""

    def __init__(self, stack: Stack, connections: int = 16) -> None:
        self.stack = stack
        self.client = httpx.AsyncClient(
            timeout=120,
            trust_env=False,
            headers={"Authorization": f"Bearer {stack.operator_key}"},
            limits=httpx.Limits(max_connections=connections),
        )
        self.limit = asyncio.Semaphore(connections)

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def call(
        self, method: str, service: str, path: str, body: Any = None, status: int = 200
    ) -> Any:
        """The JSON answer; retried while the service has not heard of what it refers to."""
        deadline = time.monotonic() + 1800
        async with self.limit:
            while True:
                response = await self.client.request(
                    method, self.stack.url(service) + path, json=body
                )
                kind = response.json().get("type", "") if response.is_error else ""
                if kind.endswith(("unknown-meeting", "unknown-organization")) and (
                    time.monotonic() < deadline
                ):
                    await asyncio.sleep(0.2)
                    continue
                if response.status_code != status:
                    raise RuntimeError(
                        f"{method} {service}{path}: {response.status_code} {response.text[:500]}"
                    )
                return response.json() if response.content else None

    async def all(self, service: str, path: str) -> list[Any]:
        items: list[Any] = []
        cursor = ""
        while True:
            query = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
            page = await self.call("GET", service, path + query)
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


async def gather(calls: Iterable[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*calls))


def window_start() -> datetime:
    """Next Monday, 00:00 UTC, a week away at least: every planned time is in the future."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=7 + (7 - today.weekday()) % 7)


def plan(
    meetings: int,
    small: int,
    *,
    host: str,
    small_org: str,
    slot_ids: list[str],
    start: datetime,
) -> list[PlannedMeeting]:
    step = SPREAD / meetings
    planned = []
    for number in range(meetings):
        starts_at = start + step * number
        starts_at -= timedelta(seconds=starts_at.second, microseconds=starts_at.microsecond)
        sites = [
            host,
            slot_ids[number % len(slot_ids)],
            slot_ids[(number + len(slot_ids) // 2) % len(slot_ids)],
        ]
        if number < small:
            sites.append(small_org)
        planned.append(PlannedMeeting(starts_at, starts_at + MEETING_LENGTH, sites))
    return planned


def meeting_body(number: int, meeting: PlannedMeeting) -> dict[str, Any]:
    return {
        "title": f"Телемост № {number}: «Читаем вместе»",
        "kind": "telebridge",
        "host_organization_id": meeting.sites[0],
        "sites": [{"organization_id": site} for site in meeting.sites],
        "starts_at": meeting.starts_at.isoformat(),
        "ends_at": meeting.ends_at.isoformat(),
        # Planned densely, as many meetings as the bench needs: the host's other meetings
        # overlap, which an operator may override.
        "force": True,
    }


def json_request(method: str, path: str, body: Any, key: str) -> bytes:
    return load.request(
        method,
        path,
        body=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


async def organizations(api: Api) -> tuple[str, str, list[tuple[str, str]]]:
    async def create(name: str, region: str) -> str:
        body = {"name": name, "region": region, "timezone": ZONES[region]}
        created = await api.call("POST", "registry", "/organizations", body, 201)
        return str(created["id"])

    regions = list(ZONES)
    host, small, *slots = await gather(
        [
            create("Центральная библиотека (все встречи)", "RU-MOW"),
            create("Областная библиотека (первые встречи)", "RU-MOW"),
            *(
                create(f"Библиотека № {number}", regions[number % len(regions)])
                for number in range(SLOT_ORGANIZATIONS)
            ),
        ]
    )
    zones = [ZONES[regions[number % len(regions)]] for number in range(SLOT_ORGANIZATIONS)]
    return host, small, list(zip(slots, zones, strict=True))


async def people(api: Api, organization: str, count: int, tag: str) -> list[tuple[str, str]]:
    async def create(number: int) -> tuple[str, str]:
        email = f"{tag}.{number}@bench.example"
        body = {
            "organization_id": organization,
            "surname": "Иванова",
            "given_name": "Ольга",
            "email": email,
        }
        created = await api.call("POST", "registry", "/people", body, 201)
        return str(created["id"]), email

    return await gather(create(number) for number in range(count))


async def api_key(api: Api, organization: str) -> str:
    """A partner key of the organization, as a site gets one."""
    body = {"name": "bench", "organization_id": organization}
    response = await api.client.post(
        api.stack.url("registry") + "/keys",
        json=body,
        headers={"Authorization": f"Bearer {api.stack.admin_key}"},
    )
    response.raise_for_status()
    return str(response.json()["secret"])


async def until_known(check: Callable[[], Awaitable[bool]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the services did not learn of the data in time")
        await asyncio.sleep(0.2)
