"""Partner traffic as partners send it: sign-ups, cancellations, RSVP answers, meeting moves
and agenda publishes from several clients at once, each retried as a careful partner
retries (connection errors and 5xx, with the same Idempotency-Key, within a deadline).

What the services accepted is written in a `Ledger`: the state every service must show
once the system has caught up.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx

from tests.support import OPERATOR

RETRY_DEADLINE = 90.0
"""How long a partner keeps retrying one request through an outage."""
RETRIED_STATUSES = frozenset({500, 502, 503, 504})
RSVP_ANSWERS = ("accepted", "declined", "tentative")
THINK = 0.2
"""Seconds a partner waits between requests: steady traffic, not a load test (bench/ is)."""


@dataclass
class Registration:
    id: str
    status: str = "registered"
    rsvp: str = "needs-action"


@dataclass
class Meeting:
    id: str
    session_id: str
    starts_at: datetime
    ends_at: datetime
    etag: str
    moves: bool
    """Moved by the traffic; the others get agendas instead, so that every agenda item
    stays inside its session."""
    agenda_titles: list[str] = field(default_factory=list)
    agenda_etag: str | None = None
    agenda_versions: int = 0


@dataclass
class Ledger:
    """What the services accepted, and what went wrong on the way."""

    people: dict[str, str] = field(default_factory=dict)
    """person id → e-mail"""
    meetings: dict[str, Meeting] = field(default_factory=dict)
    registrations: dict[tuple[str, str], Registration] = field(default_factory=dict)
    """(person id, meeting id) → the registration as last accepted"""
    feeds: dict[str, str] = field(default_factory=dict)
    """person id → the URL of the person's feed"""
    accepted: int = 0
    retried: int = 0
    server_errors: dict[int, int] = field(default_factory=dict)
    """Answers with a 5xx status other than 503 while retrying: status → how many."""
    failures: list[str] = field(default_factory=list)
    """Requests refused for good or never answered within the deadline."""


class Partner:
    """One client: sends a request until it is answered without a 5xx, or gives up."""

    def __init__(self, client: httpx.AsyncClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger

    async def send(
        self, method: str, url: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response | None:
        deadline = time.monotonic() + RETRY_DEADLINE
        while True:
            try:
                response = await self.client.request(
                    method, url, json=json, headers={**OPERATOR, **(headers or {})}
                )
            except httpx.TransportError:
                response = None
            else:
                if response.status_code not in RETRIED_STATUSES and not _not_yet_known(response):
                    return response
                if response.status_code != 503:
                    errors = self.ledger.server_errors
                    errors[response.status_code] = errors.get(response.status_code, 0) + 1
            if time.monotonic() > deadline:
                what = response.status_code if response is not None else "no answer"
                self.ledger.failures.append(f"{method} {url}: {what} after {RETRY_DEADLINE}s")
                return None
            self.ledger.retried += 1
            await asyncio.sleep(0.2)

    async def expect(
        self,
        status: int,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        response = await self.send(method, url, json=json, headers=headers)
        if response is None:
            return None
        if response.status_code != status:
            self.ledger.failures.append(
                f"{method} {url}: {response.status_code} {response.text[:300]}"
            )
            return None
        return response


def _not_yet_known(response: httpx.Response) -> bool:
    """A 404/422 naming an id another service has not heard of yet: retried like a 503."""
    if response.status_code < 400:
        return False
    try:
        problem = response.json()
    except ValueError:
        return False
    return isinstance(problem, dict) and str(problem.get("type", "")).endswith(
        ("unknown-meeting", "unknown-organization", "unknown-person", "not-yet-known")
    )


class Traffic:
    """Several partners at once, each owning some people and one meeting, so that their
    requests never race each other for the same registration or the same version."""

    def __init__(
        self, client: httpx.AsyncClient, ledger: Ledger, urls: dict[str, str], seed: int
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.urls = urls
        self.seed = seed
        self.stopping = asyncio.Event()

    async def run(self, partners: int) -> None:
        people = sorted(self.ledger.people)
        meetings = sorted(self.ledger.meetings)
        await asyncio.gather(
            *(
                self._partner(
                    random.Random(self.seed * 100 + number),  # noqa: S311 - a fixed sequence, not a secret
                    people[number::partners],
                    self.ledger.meetings[meetings[number % len(meetings)]],
                )
                for number in range(partners)
            )
        )

    async def wait_for(self, accepted: int, timeout: float = 60.0) -> None:
        """Until the services have accepted this many requests in all."""
        deadline = time.monotonic() + timeout
        while self.ledger.accepted < accepted:
            assert time.monotonic() < deadline, f"only {self.ledger.accepted} accepted"
            await asyncio.sleep(0.05)

    async def _partner(self, rng: random.Random, people: list[str], own: Meeting) -> None:
        partner = Partner(self.client, self.ledger)
        meetings = sorted(self.ledger.meetings)
        while not self.stopping.is_set():
            open_pairs = [
                (person, meeting)
                for person in people
                for meeting in meetings
                if (person, meeting) not in self.ledger.registrations
            ]
            registered = [
                pair
                for pair in sorted(self.ledger.registrations)
                if pair[0] in people and self.ledger.registrations[pair].status == "registered"
            ]
            choices: list[tuple[str, int]] = [("meeting", 1)]
            if open_pairs:
                choices.append(("sign_up", 5))
            if registered:
                choices += [("cancel", 1), ("rsvp", 2)]
            [action] = rng.choices([name for name, _ in choices], [w for _, w in choices])
            if action == "sign_up":
                await self._sign_up(partner, *rng.choice(open_pairs))
            elif action == "cancel":
                await self._cancel(partner, rng.choice(registered))
            elif action == "rsvp":
                await self._rsvp(partner, rng.choice(registered), rng.choice(RSVP_ANSWERS))
            elif own.moves:
                await self._move(partner, own, rng.randint(1, 40))
            else:
                await self._publish_agenda(partner, own, rng.randint(2, 4))
            await asyncio.sleep(THINK)

    async def _sign_up(self, partner: Partner, person: str, meeting: str) -> None:
        response = await partner.expect(
            201,
            "POST",
            f"{self.urls['registry']}/meetings/{meeting}/registrations",
            json={"person_id": person},
            headers={"Idempotency-Key": str(uuid4())},
        )
        if response is not None:
            self.ledger.registrations[person, meeting] = Registration(response.json()["id"])
            self.ledger.accepted += 1

    async def _cancel(self, partner: Partner, pair: tuple[str, str]) -> None:
        registration = self.ledger.registrations[pair]
        response = await partner.expect(
            200, "DELETE", f"{self.urls['registry']}/registrations/{registration.id}"
        )
        if response is not None:
            registration.status = "cancelled"
            self.ledger.accepted += 1

    async def _rsvp(self, partner: Partner, pair: tuple[str, str], answer: str) -> None:
        registration = self.ledger.registrations[pair]
        response = await partner.expect(
            200,
            "PUT",
            f"{self.urls['registry']}/registrations/{registration.id}/rsvp",
            json={"rsvp": answer},
        )
        if response is not None:
            registration.rsvp = answer
            self.ledger.accepted += 1

    async def _move(self, partner: Partner, meeting: Meeting, days: int) -> None:
        """Move the meeting's session to `days` from now, at 10:00 UTC, for two hours."""
        starts_at = (datetime.now(UTC) + timedelta(days=days)).replace(
            hour=10, minute=0, second=0, microsecond=0
        )
        if starts_at == meeting.starts_at:
            starts_at += timedelta(hours=1)
        ends_at = starts_at + timedelta(hours=2)
        url = f"{self.urls['scheduling']}/meetings/{meeting.id}"
        body = {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "force": True}
        for _ in range(5):
            response = await partner.send(
                "PUT", f"{url}/sessions/{meeting.session_id}", json=body,
                headers={"If-Match": meeting.etag},
            )  # fmt: skip
            if response is None:
                return
            if response.status_code == 412:
                # Our own earlier attempt may have landed before its answer was lost.
                current = await partner.expect(200, "GET", url)
                if current is None:
                    return
                meeting.etag = current.headers["ETag"]
                [session] = current.json()["sessions"]
                if datetime.fromisoformat(session["starts_at"]) != starts_at:
                    continue
            elif response.status_code != 200:
                self.ledger.failures.append(f"PUT {url}/sessions: {response.text[:300]}")
                return
            else:
                meeting.etag = response.headers["ETag"]
            meeting.starts_at, meeting.ends_at = starts_at, ends_at
            self.ledger.accepted += 1
            return
        self.ledger.failures.append(f"PUT {url}/sessions: If-Match never current")

    async def _publish_agenda(self, partner: Partner, meeting: Meeting, items: int) -> None:
        version = meeting.agenda_versions + 1
        titles = [f"Пункт {number} версии {version}" for number in range(1, items + 1)]
        body = {
            "items": [
                {"title": title, "kind": "talk", "offset": f"PT{number * 20}M",
                 "duration": "PT15M"}
                for number, title in enumerate(titles)
            ],
            "publish": True,
        }  # fmt: skip
        url = f"{self.urls['agenda']}/meetings/{meeting.id}/agenda"
        for _ in range(5):
            headers = {"If-Match": meeting.agenda_etag} if meeting.agenda_etag else {}
            response = await partner.send("PUT", url, json=body, headers=headers)
            if response is None:
                return
            if response.status_code in (412, 428):
                # Our own earlier attempt may have landed before its answer was lost.
                latest = await partner.expect(200, "GET", f"{url}/versions/latest")
                if latest is None:
                    return
                meeting.agenda_etag = latest.headers["ETag"]
                if [item["title"] for item in latest.json()["written"]] != titles:
                    continue
            elif response.status_code != 200:
                self.ledger.failures.append(f"PUT {url}: {response.text[:300]}")
                return
            else:
                meeting.agenda_etag = response.headers["ETag"]
            meeting.agenda_titles = titles
            meeting.agenda_versions = version
            self.ledger.accepted += 1
            return
        self.ledger.failures.append(f"PUT {url}: If-Match never current")


async def prepare(
    client: httpx.AsyncClient,
    ledger: Ledger,
    urls: dict[str, str],
    *,
    people: int,
    meetings: int,
    tag: str,
) -> None:
    """Two organizations, their people each with a calendar feed, and meetings a few weeks
    ahead with both as sites; half of them are moved by the traffic, half get agendas."""
    partner = Partner(client, ledger)

    async def created(url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await partner.expect(201, "POST", url, json=body)
        assert response is not None, ledger.failures
        result: dict[str, Any] = response.json()
        return result

    host = await created(
        f"{urls['registry']}/organizations",
        {"name": "Липецкая областная детская библиотека", "region": "RU-LIP",
         "timezone": "Europe/Moscow"},
    )  # fmt: skip
    site = await created(
        f"{urls['registry']}/organizations",
        {"name": "Приморская краевая публичная библиотека", "region": "RU-PRI",
         "timezone": "Asia/Vladivostok"},
    )  # fmt: skip
    for number in range(people):
        organization = (host, site)[number % 2]
        person = await created(
            f"{urls['registry']}/people",
            {"organization_id": organization["id"], "given_name": "Ольга",
             "surname": f"Участница{number}", "email": f"person{number}.{tag}@faults.example"},
        )  # fmt: skip
        ledger.people[person["id"]] = person["email"].lower()
    start = (datetime.now(UTC) + timedelta(days=60)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    for number in range(meetings):
        starts_at = start + timedelta(days=number)
        response = await partner.expect(
            201,
            "POST",
            f"{urls['scheduling']}/meetings",
            json={
                "title": f"Телемост «Читаем вместе» №{number + 1} ({tag})",
                "kind": "telebridge",
                "host_organization_id": host["id"],
                "sites": [{"organization_id": site["id"]}],
                "starts_at": starts_at.isoformat(),
                "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
                "force": True,
            },
        )
        assert response is not None, ledger.failures
        meeting = response.json()
        [session] = meeting["sessions"]
        ledger.meetings[meeting["id"]] = Meeting(
            id=meeting["id"],
            session_id=session["id"],
            starts_at=datetime.fromisoformat(session["starts_at"]),
            ends_at=datetime.fromisoformat(session["ends_at"]),
            etag=response.headers["ETag"],
            moves=number % 2 == 0,
        )
    for person in ledger.people:
        feed = await created(f"{urls['scheduling']}/feeds", {"kind": "person", "person_id": person})
        ledger.feeds[person] = feed["url"]
