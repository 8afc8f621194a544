"""The published agenda for people and programs: the page, Markdown, ICS and frab XML,
served from what was published, on every site's clock."""

from __future__ import annotations

from xml.etree import ElementTree

from icalendar import Calendar

from tests.events import STARTS
from tests.integration.agenda.support import ITEMS, Agenda, known
from tests.integration.api import body, problem


async def test_the_published_agenda_in_every_form(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    path = f"/meetings/{meeting_id}"
    for form in ("agenda.html", "agenda.md", "agenda.ics", "agenda.xml"):
        problem(await agenda.client.get(f"{path}/{form}"), 404, "no-agenda")
    body(await agenda.put(meeting_id, ITEMS))
    del agenda.client.headers["Authorization"]  # pages are public

    page = await agenda.client.get(f"{path}/agenda.html")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-language"] == "ru"
    # Nothing but the page's own style may run in it.
    assert page.headers["content-security-policy"].startswith("default-src 'none';")
    text = page.text.replace("\n", "")
    assert "<th>Москва</th><th>Владивосток</th>" in text
    assert '<td class="time">11:15–12:00</td><td class="time">18:15–19:00</td>' in text
    assert "Виртуальная экскурсия по Владивостоку" in text
    assert '<a href="https://pkpb.example/tour">Маршрут</a>' in text
    english = await agenda.client.get(f"{path}/agenda.html", params={"lang": "en"})
    assert english.headers["content-language"] == "en"
    assert "<th>Moscow</th><th>Vladivostok</th>" in english.text.replace("\n", "")

    markdown = await agenda.client.get(f"{path}/agenda.md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "| 11:00–11:15 | 18:00–18:15 | **Открытие телемоста**" in markdown.text

    calendar = Calendar.from_ical((await agenda.client.get(f"{path}/agenda.ics")).content)
    events = calendar.walk("VEVENT")
    assert events[0].start == STARTS
    assert len(events) == 3

    frab = await agenda.client.get(f"{path}/agenda.xml")
    assert frab.headers["content-type"].startswith("application/xml")
    calendar_type = (await agenda.client.get(f"{path}/agenda.ics")).headers["content-type"]
    assert calendar_type == "text/calendar; charset=utf-8"
    schedule = ElementTree.fromstring(frab.content)  # noqa: S314 - the service's own output
    assert schedule.findtext("version") == "1"
    assert [event.findtext("start") for event in schedule.iter("event")] == [
        "11:00",
        "11:15",
        "12:30",
    ]
