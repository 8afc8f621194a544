"""Demo data: the three seed events, loaded through the services' REST APIs.

`demo_plan` reads `fixtures/demo.yaml` into what to create (pure); `load_demo` creates
what is missing, so loading twice changes nothing. The events lie in the past: the clock
starts and ends them at once, and the registrations are recorded with the operator key,
as an operator records who took part after the fact. Each summary is written once the
registrations stop arriving; the loader then publishes it with the outcomes the seed tells.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.regions import find_region
from shared.typography import quoted

FIXTURE = Path(__file__).parent / "fixtures" / "demo.yaml"
EMAIL_DOMAIN = "libraries.example"


@dataclass(frozen=True)
class DemoOrganization:
    key: str
    name: str
    region: str
    timezone: str
    city: str


@dataclass(frozen=True)
class DemoPerson:
    key: str
    organization: str
    name: str
    email: str


@dataclass(frozen=True)
class DemoItem:
    starts_at: datetime
    title: str
    speakers: list[str]


@dataclass(frozen=True)
class DemoMeeting:
    key: str
    title: str
    kind: str
    host: str
    sites: list[str]
    starts_at: datetime
    ends_at: datetime
    participants: list[str]
    """Keys of the people who took part."""
    agenda: list[DemoItem]
    outcomes: dict[str, str] = field(default_factory=dict)
    """What the summary says beyond the data, by language, as the operator publishes it."""


@dataclass(frozen=True)
class DemoPlan:
    organizations: list[DemoOrganization]
    people: list[DemoPerson]
    meetings: list[DemoMeeting]


def demo_plan(path: Path = FIXTURE) -> DemoPlan:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    organizations = [
        DemoOrganization(
            org["key"], org["name"], _region_code(org["region"]), org["timezone"], org["city"]
        )
        for org in data["organizations"]
    ]
    people = [
        DemoPerson(p["key"], p["organization"], p["name"], f"{p['key']}@{EMAIL_DOMAIN}")
        for p in data["people"]
    ]
    generated: dict[str, list[str]] = {}
    names = _name_generator(data["names"])
    for org in data["organizations"]:
        keys = []
        for index in range(1, org["participants"] + 1):
            key = f"{org['key']}.{index:02d}"
            people.append(DemoPerson(key, org["key"], next(names), f"{key}@{EMAIL_DOMAIN}"))
            keys.append(key)
        generated[org["key"]] = keys
    meetings = []
    for meeting in data["meetings"]:
        taking_part = meeting["participants"]
        participants = [
            key for org in taking_part.get("organizations", []) for key in generated[org]
        ]
        participants += taking_part.get("people", [])
        for org, count in taking_part.get("extra", {}).items():
            participants += generated[org][:count]
        meetings.append(
            DemoMeeting(
                key=meeting["key"],
                title=" ".join(meeting["title"].split()),
                kind=meeting["kind"],
                host=meeting["host"],
                sites=meeting["sites"],
                starts_at=datetime.fromisoformat(meeting["starts_at"]),
                ends_at=datetime.fromisoformat(meeting["ends_at"]),
                participants=participants,
                agenda=[
                    DemoItem(
                        datetime.fromisoformat(item["at"]),
                        " ".join(item["title"].split()),
                        item.get("speakers", []),
                    )
                    for item in meeting["agenda"]
                ],
                outcomes={
                    language: _unwrapped(text)
                    for language, text in meeting.get("outcomes", {}).items()
                },
            )
        )
    return DemoPlan(organizations, people, meetings)


def _unwrapped(text: str) -> str:
    """Paragraphs as the fixture wraps them, each made one line again."""
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in text.strip().split("\n\n"))


def _name_generator(lists: dict[str, Any]) -> Any:
    """Endless distinct-looking names, the same sequence every time."""
    female, male, every = lists["female"], lists["male"], lists["male_every"]
    index = 0
    while True:
        pool = male if index % every == every - 1 else female
        surname = pool["surnames"][(index * 7) % len(pool["surnames"])]
        given = pool["given"][(index * 5) % len(pool["given"])]
        patronymic = pool["patronymics"][(index * 3) % len(pool["patronymics"])]
        yield f"{surname} {given} {patronymic}"
        index += 1


@dataclass
class Services:
    registry: str
    scheduling: str
    agenda: str
    operator_key: str


@dataclass
class DemoReport:
    created: dict[str, int] = field(default_factory=dict)
    meetings: dict[str, str] = field(default_factory=dict)
    """Meeting key → meeting id."""

    def count(self, what: str, how_many: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + how_many


async def load_demo(
    services: Services,
    plan: DemoPlan | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> DemoReport:
    # trust_env=False: the services are on this machine, never behind a proxy.
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        loader = _Loader(client, services, plan or demo_plan())
        await loader.organizations(progress)
        await loader.people(progress)
        await loader.meetings(progress)
        await loader.summaries(progress)
        return loader.report


class _Loader:
    def __init__(self, client: httpx.AsyncClient, services: Services, plan: DemoPlan) -> None:
        self.client = client
        self.services = services
        self.plan = plan
        self.report = DemoReport()
        self.operator = {"Authorization": f"Bearer {services.operator_key}"}
        client.headers.update(self.operator)
        self.org_ids: dict[str, str] = {}
        self.person_ids: dict[str, str] = {}

    async def organizations(self, progress: Callable[[str], None]) -> None:
        progress("organizations")
        url = f"{self.services.registry}/organizations"
        existing = {org["name"]: org for org in await _all(self.client, url)}
        for org in self.plan.organizations:
            if org.name not in existing:
                body = {
                    "name": org.name,
                    "region": org.region,
                    "timezone": org.timezone,
                    "city": org.city,
                }
                existing[org.name] = _ok(await self.client.post(url, json=body))
                self.report.count("organizations")
            self.org_ids[org.key] = existing[org.name]["id"]

    async def people(self, progress: Callable[[str], None]) -> None:
        progress("people")
        url = f"{self.services.registry}/people"
        existing = {person["email"]: person for person in await _all(self.client, url)}
        for person in self.plan.people:
            if person.email not in existing:
                surname, given_name, *patronymic = person.name.split()
                body = {
                    "organization_id": self.org_ids[person.organization],
                    "surname": surname,
                    "given_name": given_name,
                    "patronymic": " ".join(patronymic) or None,
                    "display_name": person.name,
                    "email": person.email,
                }
                existing[person.email] = _ok(await self.client.post(url, json=body))
                self.report.count("people")
            self.person_ids[person.key] = existing[person.email]["id"]

    async def meetings(self, progress: Callable[[str], None]) -> None:
        url = f"{self.services.scheduling}/meetings"
        existing = {meeting["title"]: meeting for meeting in await _all(self.client, url)}
        for meeting in self.plan.meetings:
            progress(meeting.title)
            if meeting.title not in existing:
                body = {
                    "title": meeting.title,
                    "kind": meeting.kind,
                    "host_organization_id": self.org_ids[meeting.host],
                    "sites": [{"organization_id": self.org_ids[key]} for key in meeting.sites],
                    "starts_at": meeting.starts_at.isoformat(),
                    "ends_at": meeting.ends_at.isoformat(),
                    # The seeds' meetings took place already, as they took place: recorded
                    # as past meetings, at times their sites' hours need not allow.
                    "force": True,
                    "record_past": True,
                }
                existing[meeting.title] = await self._until_known("POST", url, body)
                self.report.count("meetings")
            meeting_id = existing[meeting.title]["id"]
            self.report.meetings[meeting.key] = meeting_id
            await self._registrations(meeting, meeting_id)
            await self._agenda(meeting, meeting_id)

    async def _registrations(self, meeting: DemoMeeting, meeting_id: str) -> None:
        url = f"{self.services.registry}/meetings/{meeting_id}/registrations"
        await self._until_known("GET", url)
        registered = {r["person_id"] for r in await _all(self.client, url)}
        for key in meeting.participants:
            if self.person_ids[key] not in registered:
                body = {"person_id": self.person_ids[key]}
                _ok(await self.client.post(url, json=body, headers=self.operator))
                self.report.count("registrations")

    async def _agenda(self, meeting: DemoMeeting, meeting_id: str) -> None:
        """Publish the seed's programme, unless the published version says it already."""
        url = f"{self.services.agenda}/meetings/{meeting_id}/agenda"
        items = self._agenda_items(meeting)
        published = await self._send_until_known("GET", url)
        if published.status_code == 200 and _same_items(_ok(published)["written"], items):
            return
        latest = await self.client.get(f"{url}/versions/latest")
        headers = {"If-Match": latest.headers["ETag"]} if latest.status_code == 200 else {}
        body = {"items": items, "publish": True}
        _ok(await self.client.put(url, json=body, headers=headers))
        self.report.count("agendas")

    async def summaries(self, progress: Callable[[str], None]) -> None:
        for meeting in self.plan.meetings:
            if meeting.outcomes:
                progress(f"summary: {meeting.title}")
                await self._summary(meeting, self.report.meetings[meeting.key])

    async def _summary(self, meeting: DemoMeeting, meeting_id: str) -> None:
        """Wait for the draft that counts everyone and the whole programme, and publish it
        with the seed's outcomes, unless the published version has them already."""
        url = f"{self.services.agenda}/meetings/{meeting_id}/summary"
        people = {person.key: person for person in self.plan.people}
        organizations = {
            *meeting.sites,
            *(people[key].organization for key in meeting.participants),
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            latest = await self.client.get(f"{url}/versions/latest")
            draft = latest.json() if latest.status_code == 200 else None
            if draft is None or (
                draft["content"]["participants"],
                len(draft["content"]["organizations"]),
                len(draft["content"]["items_delivered"]),
            ) != (len(meeting.participants), len(organizations), len(meeting.agenda)):
                await asyncio.sleep(0.3)
                continue
            if draft["published"] and draft["outcomes"] == meeting.outcomes:
                return
            body = {"outcomes": meeting.outcomes, "publish": True}
            response = await self.client.put(
                url, json=body, headers={"If-Match": latest.headers["ETag"]}
            )
            if response.status_code != 412:  # else the writer added a version meanwhile
                _ok(response)
                self.report.count("summaries")
                return
        raise DemoLoadError(
            f"the summary of {quoted(meeting.title)} was not written within a minute"
        )

    def _agenda_items(self, meeting: DemoMeeting) -> list[dict[str, Any]]:
        """Each item lasts until the next one starts that day, or until 18:00 (the last
        one until the meeting ends)."""
        items = []
        following: list[DemoItem | None] = [*meeting.agenda[1:], None]
        for item, after in zip(meeting.agenda, following, strict=True):
            end_of_day = min(meeting.ends_at, item.starts_at.replace(hour=18, minute=0))
            if after is not None and after.starts_at.date() == item.starts_at.date():
                end_of_day = after.starts_at
            seconds = int((end_of_day - item.starts_at).total_seconds())
            items.append(
                {
                    "title": item.title,
                    "at": item.starts_at.isoformat(),
                    "duration": f"PT{seconds}S",
                    "speakers": [self._speaker(name) for name in item.speakers],
                }
            )
        return items

    def _speaker(self, name: str) -> dict[str, Any]:
        """A person of the demo by id; an organization or anyone else as external."""
        people = {person.name: person.key for person in self.plan.people}
        if name in people:
            return {"person_id": self.person_ids[people[name]]}
        if name in {organization.name for organization in self.plan.organizations}:
            return {"organization": name, "external": True}
        return {"name": name, "external": True}

    async def _send_until_known(self, method: str, url: str, body: Any = None) -> httpx.Response:
        """Send until the service has heard of what the request refers to."""
        deadline = time.monotonic() + 30
        while True:
            response = await self.client.request(method, url, json=body)
            kind = response.json().get("type", "") if response.is_error else ""
            waiting = kind.endswith(("unknown-meeting", "unknown-organization"))
            if not waiting or time.monotonic() >= deadline:
                return response
            await asyncio.sleep(0.2)

    async def _until_known(self, method: str, url: str, body: Any = None) -> Any:
        return _ok(await self._send_until_known(method, url, body))


def _same_items(written: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> bool:
    def normal(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (
                item["title"],
                datetime.fromisoformat(item["at"]),
                item["duration"],
                [sorted(speaker.items()) for speaker in item.get("speakers", [])],
            )
            for item in items
        ]

    return normal(written) == normal(wanted)


class DemoLoadError(RuntimeError):
    """A service refused part of the demo: the message carries its problem details."""


def _ok(response: httpx.Response) -> Any:
    if response.is_error:
        raise DemoLoadError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


def _region_code(name: str) -> str:
    found = find_region(name)
    if found is None:
        raise ValueError(f"{FIXTURE.name}: {name!r} is not a region of the regions directory")
    return found.code


async def _all(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    """Every item of a paginated list."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = _ok(await client.get(url, params=params))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
