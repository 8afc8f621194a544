"""The three events Telebridge was conceived from, scheduled through the API as an operator
would schedule them today: their invites, e-mails and feeds read by every reader with the
instants the API gave.

Each is moved 522 weeks ahead, so that it keeps its weekdays and local times and the
meeting clock leaves it alone; the operator forces it, as the demo does, because the real
events kept hours no working-hours rule would allow (Vladivostok joined Lipetsk at night).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar
import pytest

from shared.regions import find_region
from telebridge.demo import DemoMeeting, demo_plan
from tests.events import email_of
from tests.integration.api import body
from tests.integration.scheduling.support import (
    Scheduling,
    calendar_part,
    mails_once,
    path_of,
    scheduling_service,
    sign_up,
)
from tests.readers.lines import line_problems
from tests.readers.radicale import stored_and_expanded
from tests.readers.readers import (
    Occurrence,
    by_ical,
    by_icaljs,
    by_recurring_ical_events,
    icalendar_problems,
    icaljs_occurrences,
)

PLAN = demo_plan()
ORGANIZATIONS = {organization.key: organization for organization in PLAN.organizations}
PEOPLE = {person.key: person for person in PLAN.people}
SHIFT = timedelta(weeks=522)
CONFERENCES = {
    "telebridge": {"url": "https://telemost.yandex.ru/j/12345678901234", "platform": "telemost"},
    "videoconference": {
        "url": "https://sferum.ru/?call_link=AbCdEfGhIjKlMnOp",
        "platform": "sferum",
        "dial_in": "+7 495 000-00-00",
    },
    "workshop": {"url": "https://vk.com/call/join/AbCdEf123", "platform": "vk"},
}


def meeting_request(seed: DemoMeeting, ids: dict[str, UUID]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "title": seed.title,
        "kind": seed.kind,
        "host_organization_id": str(ids[seed.host]),
        "sites": [{"organization_id": str(ids[key])} for key in seed.sites],
        "conference": CONFERENCES[seed.kind],
        "force": True,
    }
    if seed.kind == "workshop":
        request["sessions"] = workshop_days(seed)
    else:
        request["starts_at"] = (seed.starts_at + SHIFT).isoformat()
        request["ends_at"] = (seed.ends_at + SHIFT).isoformat()
    return request


def workshop_days(seed: DemoMeeting) -> list[dict[str, str]]:
    """A session for each day the agenda has items: from the first item to 18:00, the
    workshop's own end on its last day."""
    days: dict[Any, datetime] = {}
    for item in seed.agenda:
        days.setdefault(item.starts_at.date(), item.starts_at)
    sessions = []
    for number, (day, first) in enumerate(sorted(days.items()), start=1):
        end = first.replace(hour=18, minute=0) if day != seed.ends_at.date() else seed.ends_at
        sessions.append(
            {
                "title": f"День {number}",
                "starts_at": (first + SHIFT).isoformat(),
                "ends_at": (end + SHIFT).isoformat(),
            }
        )
    return sessions


async def organizations(scheduling: Scheduling, seed: DemoMeeting) -> dict[str, UUID]:
    ids = {}
    for key in seed.sites:
        organization = ORGANIZATIONS[key]
        region = find_region(organization.region)
        assert region is not None
        ids[key] = await scheduling.organization(
            organization.name,
            region.name,
            organization.timezone,
            region_code=region.code,
        )
    return ids


def attendees(seed: DemoMeeting) -> list[tuple[str, str, str]]:
    """One person of each site (the named ones first), as (site, name, language); the last
    site's reads English."""
    chosen: dict[str, str] = {}
    for key in seed.participants:
        person = PEOPLE[key]
        chosen.setdefault(person.organization, person.name)
    return [
        (site, chosen[site], "en" if site == seed.sites[-1] else "ru")
        for site in seed.sites
        if site in chosen
    ]


def expected_occurrences(meeting: dict[str, Any]) -> list[Occurrence]:
    return sorted(
        Occurrence(
            f"{session['id']}@telebridge",
            datetime.fromisoformat(session["starts_at"]),
            datetime.fromisoformat(session["ends_at"]),
            "CONFIRMED",
        )
        for session in meeting["sessions"]
    )


async def emitted_files(
    scheduling: Scheduling, meeting: dict[str, Any], people: dict[UUID, tuple[str, str]]
) -> tuple[dict[str, bytes], list[EmailMessage]]:
    """Every file a partner, a subscriber or an attendee gets of the meeting."""
    client = scheduling.client
    files = {"invite": (await scheduling.invite(meeting["id"]))[0]}
    for session in meeting["sessions"]:
        response = await client.get(path_of(session["invite_url"]))
        assert response.status_code == 200, response.text
        files[f"session-{session['id']}"] = response.content
    # Every invite mailed means every registration was applied: the person's feed holds it.
    mails = await mails_once(scheduling, len(people))
    [person_id, *_] = people
    feeds = [
        {"kind": "public"},
        {"kind": "organization", "organization_id": meeting["host_organization_id"]},
        {"kind": "person", "person_id": str(person_id)},
    ]
    for request in feeds:
        feed = body(await client.post("/feeds", json=request), 201)
        response = await client.get(path_of(feed["url"]))
        assert response.status_code == 200, response.text
        files[f"feed-{request['kind']}"] = response.content
    for number, mail in enumerate(mails):
        method, _ = calendar_part(mail)
        assert method == "REQUEST"
        [part] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
        files[f"mail-{number}"] = part.get_payload(decode=True)
    return files, mails


@pytest.mark.parametrize("seed", PLAN.meetings, ids=[seed.key for seed in PLAN.meetings])
async def test_a_seed_event_reads_the_same_in_every_reader(
    seed: DemoMeeting,
    *,
    database_url: str,
    nats_url: str,
    tmp_path: Path,
    radicale: str,
    icaljs: None,
) -> None:
    async with scheduling_service(database_url, nats_url, tmp_path) as scheduling:
        ids = await organizations(scheduling, seed)
        meeting = body(
            await scheduling.client.post("/meetings", json=meeting_request(seed, ids)), 201
        )
        people: dict[UUID, tuple[str, str]] = {}
        for site, name, language in attendees(seed):
            signed = await sign_up(scheduling, meeting["id"], ids[site], name, language)
            people[signed.person_id] = (ORGANIZATIONS[site].timezone, language)
        files, mails = await emitted_files(scheduling, meeting, people)

    expected = expected_occurrences(meeting)
    if seed.kind == "workshop":
        assert len(expected) == len({item.starts_at.date() for item in seed.agenda})
    paths = []
    for name, data in files.items():
        path = tmp_path / f"{name}.ics"
        path.write_bytes(data)
        paths.append(path)
    read_by_icaljs = by_icaljs(paths)
    for path in paths:
        data = path.read_bytes()
        uids = {str(event["UID"]) for event in icalendar.Calendar.from_ical(data).walk("VEVENT")}
        wanted = [occurrence for occurrence in expected if occurrence.uid in uids]
        assert wanted, f"{path.name}: none of the meeting's sessions"
        assert icalendar_problems(data) == [], path.name
        assert line_problems(data) == [], path.name
        assert by_recurring_ical_events(data) == wanted, path.name
        assert by_ical(data) == wanted, path.name
        assert icaljs_occurrences(read_by_icaljs[path]) == wanted, path.name
        assert stored_and_expanded(radicale, data) == wanted, path.name

    for mail in mails:
        assert_on_the_recipients_clock(mail, people)


def assert_on_the_recipients_clock(mail: EmailMessage, people: dict[UUID, tuple[str, str]]) -> None:
    """The mail speaks the recipient's language and gives the time in their zone."""
    by_address = {email_of(person_id): found for person_id, found in people.items()}
    zone, language = by_address[mail["To"].addresses[0].addr_spec]
    assert mail["Content-Language"] == language
    text = mail.get_body(preferencelist=("plain",))
    assert isinstance(text, EmailMessage)
    [when] = [
        line for line in text.get_content().splitlines() if line.startswith(("Когда:", "When:"))
    ]
    _, calendar = calendar_part(mail)
    [event] = calendar.walk("VEVENT")
    local = event.start.astimezone(ZoneInfo(zone))
    assert f", {local:%H:%M}–" in when, when
