"""What people get from the running services (invites, feeds, mails, pages) links them to
pages and quotes titles as Russian does.

- every link to the services in an invite (its URL and description), a feed, the agenda's
  calendar or a mail opens a page (text/html) without a key, not JSON;
- a description names the meeting's kind once («Телемост «От сердца к сердцу»», not
  «Телемост: Телемост «…»»);
- quotation marks nest «…„…“…» in every Russian text: mails, descriptions, pages.
"""

from __future__ import annotations

import re

import httpx
import icalendar
import pytest

from shared.events import MEETING_KINDS
from tests.e2e.conftest import System
from tests.e2e.test_flow import Flow
from tests.e2e.test_media_types import SERVICES, mailed, world
from tests.support import OPERATOR, nesting_failures

LINK = re.compile(r"https?://[^\s\"'<>]+")


def calendar_texts(data: bytes) -> tuple[list[str], list[str]]:
    """The URLs and the descriptions of a calendar's events."""
    urls, descriptions = [], []
    for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
        urls += [str(event["URL"])] if "URL" in event else []
        descriptions.append(str(event.get("DESCRIPTION", "")))
    return urls, descriptions


async def test_links_open_pages_and_titles_are_quoted_as_russian_quotes(system: System) -> None:
    async with httpx.AsyncClient(timeout=30) as staff, httpx.AsyncClient(timeout=30) as person:
        flow = Flow(system, staff)
        _, tokens = await world(flow, staff)
        meeting = f"/meetings/{flow.meeting_id}"
        calendars = {
            "the invite": flow.url("scheduling", f"{meeting}/invite.ics"),
            "the feed": flow.url("scheduling", f"/calendars/{tokens['/calendars/{token}']}"),
            "the agenda's calendar": flow.url("agenda", f"{meeting}/agenda.ics"),
        }
        links: list[tuple[str, str]] = []
        texts: dict[str, str] = {}
        descriptions: dict[str, str] = {}
        for name, url in calendars.items():
            response = await staff.get(url, headers=OPERATOR)
            assert response.status_code == 200, (name, response.text)
            urls, found = calendar_texts(response.content)
            links += [(f"{name}'s URL", link) for link in urls]
            for number, description in enumerate(found):
                links += [(f"{name}'s description", link) for link in LINK.findall(description)]
                texts[f"{name}, event {number}"] = description
                if name != "the agenda's calendar":  # its events are the agenda's items
                    descriptions[f"{name}, event {number}"] = description
        mails = await mailed(system)
        for number, message in enumerate(mails):
            for kind in ("plain", "html"):
                part = message.get_body((kind,))
                assert part is not None
                content = part.get_content()
                links += [(f"mail {number} ({kind})", link) for link in LINK.findall(content)]
                texts[f"mail {number} ({kind})"] = content
        for page in ("agenda.html", "summary.html"):
            texts[page] = (await person.get(flow.url("agenda", f"{meeting}/{page}"))).text

        ours = [
            (source, link)
            for source, link in links
            if link.startswith(tuple(system.url(name) for name in SERVICES))
        ]
        for source in ("mail", "the invite's URL", "the invite's description", "the feed"):
            assert any(found.startswith(source) for found, _ in ours), (source, links)
        failures = []
        for source, link in ours:
            response = await person.get(link)
            kind = response.headers.get("content-type", "").split(";")[0]
            if response.status_code != 200 or kind != "text/html":
                failures.append(f"{source}: {link} answers {response.status_code} {kind}")
        kind = MEETING_KINDS["ru"][flow.meeting["kind"]].casefold()
        for source, description in descriptions.items():
            first_line = description.split("\n")[0]
            if first_line.casefold().count(kind) != 1:
                failures.append(f"{source} names the kind other than once: {first_line!r}")
        for source, text in texts.items():
            failures += [f"{source}: {failure}" for failure in nesting_failures(text)]
    assert not failures, "\n".join(failures)
    assert flow.meeting["title"] == "Телемост «От сердца к сердцу»"  # what the checks quote


pytestmark = pytest.mark.timeout(600)
