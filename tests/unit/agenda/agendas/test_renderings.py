"""A published agenda as pages and files: every zone's clock beside the host's, and the
frab schedule and ICS that programs read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from xml.etree import ElementTree

from icalendar import Calendar

from services.agenda.agendas.identities import identities
from services.agenda.agendas.renderings import (
    Programme,
    Site,
    anchor,
    clocks,
    link,
    render_frab,
    render_html,
    render_ics,
    render_markdown,
)
from services.agenda.schemas import Material, ScheduledItem, Speaker

START = datetime(2020, 10, 1, 7, 0, tzinfo=UTC)  # 10:00 in Lipetsk
SITES = [
    Site("Липецкая областная детская библиотека", "Липецкая область", "Europe/Moscow"),
    Site("Крымская детская библиотека", "Республика Крым", "Europe/Simferopol"),
    Site("Астраханская библиотека", "Астраханская область", "Europe/Astrakhan", "Площадка 1"),
    Site("Ульяновская библиотека", "Ульяновская область", "Europe/Ulyanovsk"),
    Site("Красноярская библиотека", "Красноярский край", "Asia/Krasnoyarsk"),
    Site("Приморская библиотека", "Приморский край", "Asia/Vladivostok"),
]


def item(minutes: int, title: str, length: int = 60, **fields: object) -> ScheduledItem:
    values: dict[str, object] = {
        "title": title,
        "kind": "talk",
        "key": None,
        "starts_at": START + timedelta(minutes=minutes),
        "ends_at": START + timedelta(minutes=minutes + length),
        "timezone": "Europe/Moscow",
        "session_id": UUID(int=1),
        "track": None,
        "speakers": [],
        "materials": [],
    } | fields
    return ScheduledItem(**values)  # type: ignore[arg-type]


PUBLISHED_AT = datetime(2020, 9, 25, 12, 0, tzinfo=UTC)


def programme(items: list[ScheduledItem], **fields: Any) -> Programme:
    """The workshop's programme with `items`, each under the identity a first publication
    gives it."""
    values: dict[str, Any] = {
        "meeting_id": UUID(int=7),
        "title": "Интернет-мастерская «Во славу Великой Победы»",
        "kind": "workshop",
        "timezone": "Europe/Moscow",
        "version": 3,
        "items": items,
        "sites": SITES,
        "url": "https://agenda.example/meetings/7/agenda",
        "starts_at": START,
        "ends_at": START + timedelta(days=9),
        "published_at": PUBLISHED_AT,
        "identities": identities(UUID(int=7), [], items),
        "speaker_numbers": {},
    } | fields
    return Programme(**values)


WORKSHOP = programme(
    [
        item(
            0,
            "Открытие <интернет-мастерской> & приветствие",
            kind="opening",
            key="opening",
            speakers=[Speaker(organization="ЛОДБ", external=True)],
        ),
        item(
            60,
            "Площадка 1: «Книги, опалённые войной»",
            length=420,
            kind="quest-task",
            track="Площадка 1",
            materials=[Material(title="Задания", url="https://lodb.example/q?a=1&b=2")],
        ),
        item(24 * 60 + 60, "Площадка 2", length=420, kind="quest-task", track="Площадка 2"),
    ],
    speaker_numbers={(None, None, "ЛОДБ"): 41},
)


def test_zones_that_agree_share_a_column_host_first_then_east() -> None:
    assert [clock.label for clock in clocks(WORKSHOP, "ru")] == [
        "Москва",
        "Астрахань, Ульяновск",
        "Красноярск",
        "Владивосток",
    ]
    assert clocks(WORKSHOP, "en")[0].label == "Moscow"


def test_the_page_gives_every_clock_escapes_text_and_needs_no_script() -> None:
    page = render_html(WORKSHOP, "ru").replace("\n", "")
    assert page.startswith('<!DOCTYPE html><html lang="ru">')
    assert "<script" not in page
    assert "<th>Москва</th><th>Астрахань, Ульяновск</th><th>Красноярск</th>" in page
    assert '<td class="time">10:00–11:00</td><td class="time">11:00–12:00</td>' in page
    assert '<td class="time">17:00–18:00</td>' in page  # Vladivostok
    assert "Открытие &lt;интернет-мастерской&gt; &amp; приветствие" in page
    assert '<a href="https://lodb.example/q?a=1&amp;b=2">Задания</a>' in page
    assert "Четверг, 1 октября 2020" in page
    assert "Пятница, 2 октября 2020" in page
    # Each day's items for every site first, then each track with the sites following it.
    assert "<h2>Четверг, 1 октября 2020</h2><h3>Все площадки</h3><table>" in page
    assert "</table><h3>Площадка 1</h3><p>Площадки: Астраханская библиотека</p><table>" in page
    assert "<h2>Пятница, 2 октября 2020</h2><h3>Площадка 2</h3><table>" in page
    assert "Задание квеста" in page
    english = render_html(WORKSHOP, "en")
    assert '<html lang="en">' in english
    assert "Thursday, 1 October 2020" in english
    assert "Quest task" in english


def test_a_day_without_tracks_has_one_table_and_no_track_heading() -> None:
    plain = programme([item(0, "Открытие"), item(60, "Доклад")])
    page = render_html(plain, "ru")
    assert "<h3>" not in page
    assert page.count("<table>") == 1


def test_markdown_has_a_table_per_day_and_track() -> None:
    text = render_markdown(WORKSHOP, "ru")
    assert text.startswith("# Интернет-мастерская «Во славу Великой Победы»\n")
    assert "| Москва | Астрахань, Ульяновск | Красноярск | Владивосток | Пункт программы |" in text
    assert "| 10:00–11:00 | 11:00–12:00 | 14:00–15:00 | 17:00–18:00 | **Открытие" in text
    assert "| 11:00–18:00 | 12:00–19:00 | 15:00–22:00 | 18:00–02.10 01:00 |" in text
    assert "### Площадка 1\n\nПлощадки: Астраханская библиотека\n\n| Москва |" in text
    assert "| **Площадка 1: «Книги, опалённые войной»** (" in text
    assert "([Задания](https://lodb.example/q?a=1&b=2))" in text


def test_the_ics_has_an_event_per_item_with_a_uid_that_follows_its_key() -> None:
    calendar = Calendar.from_ical(render_ics(WORKSHOP))
    events = calendar.walk("VEVENT")
    assert [str(event["SUMMARY"]) for event in events] == [i.title for i in WORKSHOP.items]
    assert events[0].start == START
    renumbered = render_ics(programme([item(-30, "Новое"), *WORKSHOP.items]))
    moved = Calendar.from_ical(renumbered).walk("VEVENT")
    assert moved[1]["UID"] == events[0]["UID"]  # the keyed item keeps its UID


def test_the_frab_schedule_has_days_rooms_and_events() -> None:
    schedule = ElementTree.fromstring(render_frab(WORKSHOP, "ru"))  # noqa: S314 - our own output
    assert schedule.findtext("conference/title") == WORKSHOP.title
    assert schedule.findtext("conference/start") == "2020-10-01"
    assert schedule.findtext("conference/end") == "2020-10-02"
    assert schedule.findtext("conference/time_zone_name") == "Europe/Moscow"
    [first, second] = schedule.findall("day")
    assert (first.get("index"), first.get("date")) == ("1", "2020-10-01")
    assert sorted(room.get("name") or "" for room in first.findall("room")) == [
        "Онлайн-мастерская",
        "Площадка 1",
    ]
    opening = first.find("room[@name='Онлайн-мастерская']/event")
    assert opening is not None
    assert opening.findtext("start") == "10:00"
    assert opening.findtext("duration") == "01:00"
    assert opening.findtext("type") == "opening"
    assert opening.findtext("persons/person") == "ЛОДБ"
    quest = first.find("room[@name='Площадка 1']/event")
    assert quest is not None
    assert quest.findtext("duration") == "07:00"
    assert quest.find("links/link").get("href") == "https://lodb.example/q?a=1&b=2"  # type: ignore[union-attr]
    assert second.findtext("room/event/title") == "Площадка 2"


def test_an_address_pages_do_not_link_to_is_shown_as_text_and_markdown_keeps_odd_ones_whole() -> (
    None
):
    assert anchor(Material("Скрипт", "javascript:alert(1)")) == "Скрипт (javascript:alert(1))"
    assert anchor(Material("Сайт", "https://a.example/")) == '<a href="https://a.example/">Сайт</a>'
    assert link("Карта (схема)", "https://a.example/map (1)") == (
        "[Карта (схема)](<https://a.example/map%20(1)>)"
    )
    assert link("Сайт", "https://a.example/") == "[Сайт](https://a.example/)"
