"""Post-event summaries: what they say, and numbers that agree with their nouns."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import pytest

from services.agenda.schemas import AgendaItem, Material, Outcomes, SummaryContent
from services.agenda.summaries.content import (
    Attendance,
    MeetingFacts,
    OrganizationFacts,
    write_summary,
)
from services.agenda.summaries.text import SummaryText, counted, render_html
from services.agenda.summaries.text import render_markdown as render_text
from services.scheduling.mail.compose import when
from shared.regions import Region, all_regions, region
from telebridge.demo import demo_plan
from tests.events import session
from tests.unit.scheduling.test_mail_compose import MAIL

LIPETSK = UUID("0190a000-0000-7000-8000-000000000001")
ULYANOVSK = UUID("0190a000-0000-7000-8000-000000000002")
DONETSK = UUID("0190a000-0000-7000-8000-000000000003")
UNKNOWN = UUID("0190a000-0000-7000-8000-000000000004")
BYSTANDER = UUID("0190a000-0000-7000-8000-000000000005")
MEETING = UUID("0190a000-0000-7000-8000-0000000000ff")

START = datetime(2020, 10, 1, 7, 0, tzinfo=UTC)  # 10:00 in Lipetsk
ORGANIZATIONS = {
    LIPETSK: OrganizationFacts(
        LIPETSK, "Липецкая областная научная библиотека", "Липецкая область", "Europe/Moscow"
    ),
    ULYANOVSK: OrganizationFacts(
        ULYANOVSK, "Ульяновская областная библиотека", "ульяновская область", "Europe/Samara"
    ),
    DONETSK: OrganizationFacts(
        DONETSK, "Донецкая республиканская библиотека", "Донецкая Народная Республика", "UTC"
    ),
    BYSTANDER: OrganizationFacts(
        BYSTANDER, "Библиотека, не участвовавшая", "Тульская область", "UTC"
    ),
}


def meeting(**changes: Any) -> MeetingFacts:
    fields: dict[str, Any] = {
        "id": MEETING,
        "title": "Библиотека — территория чтения",
        "kind": "workshop",
        "host_organization_id": LIPETSK,
        "site_ids": [LIPETSK, ULYANOVSK],
        "starts_at": START,
        "ends_at": START + timedelta(hours=3),
        "started_at": START,
        "ended_at": START + timedelta(hours=3),
    }
    return MeetingFacts(**(fields | changes))


def item(minutes: int, title: str, *speakers: str) -> AgendaItem:
    return AgendaItem(
        starts_at=START + timedelta(minutes=minutes), title=title, speakers=[*speakers]
    )


def summary_of(
    facts: MeetingFacts | None = None,
    participants: list[UUID] | None = None,
    agenda: list[AgendaItem] | None = None,
) -> SummaryContent:
    return write_summary(
        facts or meeting(),
        ORGANIZATIONS,
        [LIPETSK, DONETSK, DONETSK, UNKNOWN] if participants is None else participants,
        agenda,
    )


def render_markdown(content: SummaryContent, language: Literal["ru", "en"] = "ru") -> str:
    return render_text(SummaryText(content, Outcomes(), version=1), language)


# --- what the summary says ------------------------------------------------------------


def test_every_registered_person_counts_as_a_participant() -> None:
    assert summary_of().participants == 4  # the one from an unknown organization too
    assert summary_of(participants=[]).participants == 0


def test_sites_and_participants_organizations_are_merged() -> None:
    organizations = {org.id: org for org in summary_of().organizations}

    assert set(organizations) == {LIPETSK, ULYANOVSK, DONETSK}
    assert (organizations[LIPETSK].participants, organizations[LIPETSK].site) == (1, True)
    assert (organizations[ULYANOVSK].participants, organizations[ULYANOVSK].site) == (0, True)
    assert (organizations[DONETSK].participants, organizations[DONETSK].site) == (2, False)
    assert organizations[DONETSK].region == "Донецкая Народная Республика"


def test_an_organization_that_took_no_part_is_left_out() -> None:
    assert BYSTANDER not in {org.id for org in summary_of().organizations}
    assert "Тульская область" not in summary_of().regions


def test_an_unknown_organization_is_left_out_until_it_is_known() -> None:
    summary = summary_of(facts=meeting(site_ids=[LIPETSK, UNKNOWN]), participants=[UNKNOWN])

    assert [org.id for org in summary.organizations] == [LIPETSK]
    assert summary.regions == ["Липецкая область"]
    assert summary.participants == 1


def test_organizations_come_by_participants_then_by_name() -> None:
    participants = [ULYANOVSK, LIPETSK, DONETSK, DONETSK, BYSTANDER, BYSTANDER]
    summary = summary_of(facts=meeting(site_ids=[LIPETSK, ULYANOVSK]), participants=participants)

    assert [org.id for org in summary.organizations] == [
        BYSTANDER,  # «Библиотека…», 2
        DONETSK,  # «Донецкая…», 2
        LIPETSK,  # «Липецкая…», 1
        ULYANOVSK,  # «Ульяновская…», 1
    ]


def test_regions_are_sorted_whatever_their_case_and_listed_once() -> None:
    summary = summary_of(participants=[LIPETSK, LIPETSK, DONETSK])

    assert summary.regions == [
        "Донецкая Народная Республика",
        "Липецкая область",
        "ульяновская область",
    ]


def test_times_and_zone_come_from_the_meeting_and_its_host() -> None:
    ended_early = START + timedelta(hours=1)
    summary = summary_of(facts=meeting(started_at=START, ended_at=ended_early))

    assert (summary.held_from, summary.held_until) == (START, ended_early)
    assert summary.timezone == "Europe/Moscow"
    assert summary.meeting_id == MEETING
    assert summary.kind == "workshop"


def test_a_meeting_the_clock_never_recorded_falls_back_to_its_schedule() -> None:
    summary = summary_of(facts=meeting(started_at=None, ended_at=None))
    assert (summary.held_from, summary.held_until) == (START, START + timedelta(hours=3))


def test_an_unknown_host_gives_times_in_utc() -> None:
    assert summary_of(facts=meeting(host_organization_id=UNKNOWN)).timezone == "UTC"


def test_only_items_that_started_before_the_meeting_ended_were_delivered() -> None:
    agenda = [
        item(-10, "Регистрация"),
        item(0, "Открытие", "Иванова"),
        item(59, "Доклад"),
        item(60, "Круглый стол"),  # the meeting ended at this moment
        item(120, "Подведение итогов"),
    ]
    summary = summary_of(facts=meeting(ended_at=START + timedelta(hours=1)), agenda=agenda)

    assert [i.title for i in summary.items_delivered] == ["Регистрация", "Открытие", "Доклад"]


SESSION_1 = UUID("0190a000-0000-7000-8000-0000000000a1")
SESSION_2 = UUID("0190a000-0000-7000-8000-0000000000a2")
PERSON_1 = UUID("0190a000-0000-7000-8000-0000000000b1")
PERSON_2 = UUID("0190a000-0000-7000-8000-0000000000b2")


def two_sessions() -> MeetingFacts:
    return meeting(
        ended_at=START + timedelta(days=1, hours=3),
        sessions=[
            session(SESSION_2, START + timedelta(days=1), START + timedelta(days=1, hours=3)),
            session(SESSION_1, START, START + timedelta(hours=3), title="День первый"),
            session(
                UUID(int=9), START + timedelta(days=2), START + timedelta(days=2, hours=1)
            ),  # after the meeting ended: not held
        ],
        site_tracks={ULYANOVSK: "Площадка 2"},
    )


def checked_in(
    session: UUID, organization: UUID, person: UUID, attended: bool = True
) -> Attendance:
    return Attendance(session, organization, person, attended=attended, headcount=None)


def counted_room(session: UUID, organization: UUID, headcount: int) -> Attendance:
    return Attendance(session, organization, None, attended=True, headcount=headcount)


ATTENDANCE = [
    checked_in(SESSION_1, LIPETSK, PERSON_1),
    checked_in(SESSION_2, LIPETSK, PERSON_1),  # the same person again: counts once
    checked_in(SESSION_1, DONETSK, PERSON_2, attended=False),  # taken back
    counted_room(SESSION_1, ULYANOVSK, 12),
    counted_room(SESSION_2, ULYANOVSK, 20),  # the room's largest count is its headcount
]


def test_people_checked_in_count_once_and_rooms_by_their_largest_headcount() -> None:
    summary = write_summary(two_sessions(), ORGANIZATIONS, [LIPETSK, DONETSK], [], ATTENDANCE)
    organizations = {org.id: org for org in summary.organizations}

    assert (summary.participants, summary.attended, summary.headcount) == (2, 1, 20)
    assert (organizations[LIPETSK].attended, organizations[LIPETSK].headcount) == (1, 0)
    assert (organizations[ULYANOVSK].attended, organizations[ULYANOVSK].headcount) == (0, 20)
    assert organizations[DONETSK].attended == 0


def test_sessions_held_are_listed_in_order_with_who_was_there() -> None:
    summary = write_summary(two_sessions(), ORGANIZATIONS, [LIPETSK], [], ATTENDANCE)

    assert [(s.id, s.title, s.attended) for s in summary.sessions] == [
        (SESSION_1, "День первый", 1 + 12),
        (SESSION_2, None, 1 + 20),
    ]


def test_a_meeting_without_sessions_of_its_own_is_one_session() -> None:
    [session] = summary_of().sessions
    assert (session.id, session.starts_at) == (MEETING, START)
    assert "## Сессии" not in render_markdown(summary_of())  # «Когда» says it already


def test_a_session_cut_short_by_an_early_end_ends_with_the_meeting() -> None:
    [session] = summary_of(facts=meeting(ended_at=START + timedelta(hours=1))).sessions
    assert session.ends_at == START + timedelta(hours=1)


def test_a_site_keeps_its_track_and_an_organization_only_counted_in_a_room_takes_part() -> None:
    attendance = [counted_room(SESSION_1, BYSTANDER, 7)]
    summary = write_summary(two_sessions(), ORGANIZATIONS, [], [], attendance)
    organizations = {org.id: org for org in summary.organizations}

    assert organizations[ULYANOVSK].track == "Площадка 2"
    assert organizations[BYSTANDER].headcount == 7
    assert "Тульская область" in summary.regions


def test_the_text_says_who_was_there_session_by_session() -> None:
    summary = write_summary(two_sessions(), ORGANIZATIONS, [LIPETSK, DONETSK], [], ATTENDANCE)
    russian = render_markdown(summary, "ru")
    english = render_markdown(summary, "en")

    assert (
        "- **Присутствовали:** 1 участник по отметкам на сессиях, ещё 20 человек в залах площадок"
    ) in russian
    assert "- 1 октября 2020, 10:00–13:00 — День первый (13 человек)" in russian
    assert (
        "- Ульяновская областная библиотека (ульяновская область; площадка «Площадка 2»): "
        "0 участников, в зале: 20 человек"
    ) in russian
    assert (
        "- **Present:** 1 participant checked in to sessions, and 20 people in the sites' rooms"
    ) in english


def test_materials_follow_their_item() -> None:
    delivered = AgendaItem(
        starts_at=START,
        title="Виртуальная экскурсия",
        kind="tour",
        track="Площадка 1",
        materials=[Material("Маршрут", "https://lodb.example/route")],
    )
    summary = summary_of(agenda=[delivered])

    assert (
        "- 1 октября 2020 10:00 · Экскурсия [Площадка 1]: Виртуальная экскурсия\n"
        "  Материалы: [Маршрут](https://lodb.example/route)"
    ) in render_markdown(summary, "ru")
    assert '<a href="https://lodb.example/route">Маршрут</a>' in render_html(
        SummaryText(summary, Outcomes(), version=1), "ru"
    )


def test_outcomes_come_in_the_reader_s_language_and_their_html_is_shown_as_text() -> None:
    outcomes = Outcomes(
        ru="Участники собрали **портфель** материалов.\n\n<script>alert(1)</script>",
        en="The participants gathered a **portfolio**.",
    )
    text = SummaryText(two_from_two(), outcomes, version=3)

    russian = render_text(text, "ru")
    assert "## Результаты\n\nУчастники собрали **портфель** материалов." in russian
    assert "версия 3" in russian
    assert "The participants gathered a **portfolio**." in render_text(text, "en")
    page = render_html(text, "ru")
    assert "<p>Участники собрали <strong>портфель</strong> материалов.</p>" in page
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Results" not in render_text(SummaryText(two_from_two(), Outcomes(), 1), "en")


def test_the_page_is_a_whole_document_in_its_language() -> None:
    page = render_html(SummaryText(two_from_two(), Outcomes(), version=1), "en")

    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "<title>Summary: Телемост «Георгиевск — Антрацит»</title>" in page
    assert "<li><strong>Registered:</strong> 2 participants</li>" in page
    assert "<li><strong>From:</strong> 2 organizations in 2 regions</li>" in page


def test_without_a_recorded_end_the_scheduled_end_decides() -> None:
    agenda = [item(170, "Последний доклад"), item(180, "После конца")]
    summary = summary_of(facts=meeting(ended_at=None), agenda=agenda)

    assert [i.title for i in summary.items_delivered] == ["Последний доклад"]


# --- numbers and nouns ----------------------------------------------------------------


def russian_form(count: int) -> str:
    """The Russian plural rule, written out: which of three forms follows `count`."""
    last, last_two = count % 10, count % 100
    if 11 <= last_two <= 14:
        return "many"
    if last == 1:
        return "one"
    if 2 <= last <= 4:
        return "few"
    return "many"


RUSSIAN = {
    "participant": {"one": "участник", "few": "участника", "many": "участников"},
    "region": {"one": "региона", "few": "регионов", "many": "регионов"},  # after «из»
    "organization": {"one": "организация", "few": "организации", "many": "организаций"},
}


@pytest.mark.parametrize("noun", sorted(RUSSIAN))
def test_russian_numbers_agree_with_their_nouns_from_0_to_1000(noun: str) -> None:
    for count in range(1001):
        expected = f"{count} {RUSSIAN[noun][russian_form(count)]}"
        assert counted(count, noun, "ru") == expected


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 участников"),
        (1, "1 участник"),
        (2, "2 участника"),
        (4, "4 участника"),
        (5, "5 участников"),
        (11, "11 участников"),
        (12, "12 участников"),
        (14, "14 участников"),
        (20, "20 участников"),
        (21, "21 участник"),
        (22, "22 участника"),
        (25, "25 участников"),
        (101, "101 участник"),
        (111, "111 участников"),
        (112, "112 участников"),
        (122, "122 участника"),
        (1000, "1000 участников"),
    ],
)
def test_russian_examples(count: int, text: str) -> None:
    assert counted(count, "participant", "ru") == text


@pytest.mark.parametrize("noun", ["participant", "region", "organization"])
def test_english_numbers_agree_with_their_nouns(noun: str) -> None:
    for count in range(1001):
        expected = f"{count} {noun}" if count == 1 else f"{count} {noun}s"
        assert counted(count, noun, "en") == expected


# --- the text -------------------------------------------------------------------------


def two_from_two() -> SummaryContent:
    return write_summary(
        meeting(title="Телемост «Георгиевск — Антрацит»", kind="telebridge"),
        ORGANIZATIONS,
        [LIPETSK, ULYANOVSK],
        [item(0, "Открытие", "Мария Иванова", "Пётр Петров")],
    )


def test_the_russian_text_says_who_took_part_and_from_where() -> None:
    text = render_markdown(two_from_two(), "ru")

    assert text.startswith("# Итоги: Телемост «Георгиевск — Антрацит»\n")
    assert "Телемост · Итоги, версия 1" in text
    assert (
        "- **Зарегистрировались:** 2 участника\n- **Откуда:** 2 организации из 2 регионов" in text
    )
    assert "1 октября 2020, 10:00–13:00 (Москва, UTC+3)" in text
    assert "- Липецкая областная научная библиотека (Липецкая область; площадка): 1 участник" in (
        text
    )
    assert "- 1 октября 2020 10:00 · Доклад: Открытие — Мария Иванова; Пётр Петров" in text
    assert "Присутствовали" not in text  # no attendance was recorded
    assert text.endswith("\n")


def test_the_english_text_says_the_same() -> None:
    text = render_markdown(two_from_two(), "en")

    assert text.startswith("# Summary: Телемост «Георгиевск — Антрацит»\n")
    assert "Telebridge · Summary, version 1" in text
    assert "- **Registered:** 2 participants\n- **From:** 2 organizations in 2 regions" in text
    assert "October 1, 2020, 10:00–13:00 (Moscow, UTC+3)" in text
    assert "(Липецкая область; site): 1 participant" in text


def test_russian_is_the_default_language() -> None:
    assert render_markdown(two_from_two()) == render_markdown(two_from_two(), "ru")


def test_one_participant_from_one_region() -> None:
    summary = summary_of(facts=meeting(site_ids=[LIPETSK]), participants=[LIPETSK])

    assert "1 организация из 1 региона" in render_markdown(summary, "ru")
    assert "1 organization in 1 region" in render_markdown(summary, "en")


def test_a_meeting_over_several_days_gives_both_dates() -> None:
    facts = meeting(ended_at=START + timedelta(days=8, hours=2))
    text = render_markdown(summary_of(facts=facts), "ru")

    assert "1 октября 2020 10:00 – 9 октября 2020 12:00 (Москва, UTC+3)" in text


def test_without_delivered_items_the_text_says_so() -> None:
    assert "Программа не была опубликована." in render_markdown(summary_of(), "ru")
    assert "No agenda was published." in render_markdown(summary_of(), "en")


def test_the_workshop_with_the_seeds_participants_reads_as_the_seed() -> None:
    """The demo's workshop: 115 people from 25 libraries, listed as the seed lists them."""
    plan = demo_plan()
    [workshop] = [m for m in plan.meetings if m.key == "lipetsk-workshop"]
    keys = {o.key: o for o in plan.organizations}
    people = {p.key: p for p in plan.people}
    ids = {key: UUID(int=number) for number, key in enumerate(keys, start=1)}
    organizations = {
        ids[key]: OrganizationFacts(
            ids[key],
            org.name,
            region_name(org.region),
            org.timezone,
            city=org.city,
            region_code=org.region,
        )
        for key, org in keys.items()
    }
    content = write_summary(
        MeetingFacts(
            id=MEETING,
            title=workshop.title,
            kind="workshop",
            host_organization_id=ids["lodb"],
            site_ids=[ids["lodb"]],
            starts_at=workshop.starts_at,
            ends_at=workshop.ends_at,
            started_at=workshop.starts_at,
            ended_at=workshop.ends_at,
        ),
        organizations,
        [ids[people[key].organization] for key in workshop.participants],
        [],
    )
    text = render_markdown(content, "ru")
    assert (
        "С 1 по 9 октября 2020 года — более ста участников из Астрахани, Брянска, Владимира, "
        "Иванова, Краснодара, Красноярска, Курска, Луганска, Орла, Пензы, Тамбова, Липецкой, "
        "Саратовской, Тульской, Ульяновской областей, Приморского края, республик Крым, Тыва."
    ) in text
    assert (
        "- **Зарегистрировались:** 115 участников\n- **Откуда:** 25 организаций из 18 регионов"
        in text
    )
    english = render_markdown(content, "en")
    assert (
        "From October 1 to 9, 2020, more than a hundred participants took part, coming from "
        "18 regions: Astrakhan Oblast, Bryansk Oblast, "
    ) in english
    assert ", Primorsky Krai, the Republic of Crimea, Saratov Oblast, " in english
    assert ", Tula Oblast, the Tuva Republic, Ulyanovsk Oblast, and Vladimir Oblast." in english


def region_name(code: str) -> str:
    found = region(code)
    assert found is not None
    return found.name


def test_a_person_checked_in_for_two_organizations_is_one_person() -> None:
    moved = [checked_in(SESSION_1, LIPETSK, PERSON_1), checked_in(SESSION_2, DONETSK, PERSON_1)]
    summary = write_summary(two_sessions(), ORGANIZATIONS, [], [], moved)
    assert summary.attended == 1


PLACED = {
    LIPETSK: OrganizationFacts(
        LIPETSK, "ЛОДБ", "Липецкая область", "Europe/Moscow", city="Липецк", region_code="RU-LIP"
    ),
    ULYANOVSK: OrganizationFacts(
        ULYANOVSK,
        "Дворец книги",
        "Ульяновская область",
        "Europe/Ulyanovsk",
        city="Ульяновск",
        region_code="RU-ULY",
    ),
}


def test_the_lead_counts_who_came_when_nobody_registered_and_is_left_out_for_nobody() -> None:
    rooms = [counted_room(MEETING, LIPETSK, 30), counted_room(MEETING, ULYANOVSK, 25)]
    summary = write_summary(meeting(), PLACED, [], [], rooms)
    assert "— более пятидесяти участников из Липецка и Ульяновска." in render_markdown(summary)
    assert "— 0 участников" not in render_markdown(write_summary(meeting(), PLACED, [], []))


def test_english_names_regions_in_english() -> None:
    summary = write_summary(meeting(), PLACED, [LIPETSK, ULYANOVSK], [])
    english = render_markdown(summary, "en")

    assert (
        "On October 1, 2020, two participants took part, coming from two regions: "
        "Lipetsk Oblast and Ulyanovsk Oblast."
    ) in english
    assert "- LODB (Lipetsk, Lipetsk Oblast; site): 1 participant" in english
    assert "## Regions\n\n- Lipetsk Oblast\n- Ulyanovsk Oblast\n" in english
    assert "## Регионы\n\n- Липецкая область\n- Ульяновская область\n" in render_markdown(summary)


TUVA = UUID("0190a000-0000-7000-8000-000000000006")


@pytest.mark.parametrize("code", ["RU-TY", "RU-MOW", "RU-LIP"])
def test_an_organization_without_a_town_is_named_by_its_region_in_the_lead(code: str) -> None:
    found = region(code)
    assert found is not None
    townless = OrganizationFacts(
        TUVA, "Библиотека без города", found.name, found.timezone, region_code=code
    )
    summary = write_summary(
        meeting(site_ids=[LIPETSK, ULYANOVSK, TUVA]),
        PLACED | {TUVA: townless},
        [LIPETSK, ULYANOVSK, TUVA],
        [],
    )
    expected = {
        # Lipetsk's region has an organization whose town is not known: named as a whole.
        "RU-LIP": "Ульяновска и Липецкой области",
        "RU-MOW": "Липецка, Москвы, Ульяновска",
        "RU-TY": "Липецка, Ульяновска, Республики Тыва",
    }[code]
    assert f"1 октября 2020 года — 3 участника из {expected}." in render_markdown(summary)


FIVE_ITEMS = [item(minutes, f"Пункт {minutes}") for minutes in (0, 30, 60, 90, 120)]


@pytest.mark.parametrize("ended_after", [0, 15, 45, 75, 105, 150, 180])
def test_a_published_agenda_is_never_said_to_be_unpublished(ended_after: int) -> None:
    """Published and delivered are different facts: an agenda the meeting ended before is
    still one that was published, and the text says how much of it took place."""
    facts = meeting(ended_at=START + timedelta(minutes=ended_after))
    summary = summary_of(facts=facts, agenda=FIVE_ITEMS)
    delivered = sum(1 for i in FIVE_ITEMS if i.starts_at < START + timedelta(minutes=ended_after))
    russian, english = render_markdown(summary, "ru"), render_markdown(summary, "en")
    page = render_html(SummaryText(summary, Outcomes(), version=1), "ru")

    assert summary.items_planned == 5
    assert len(summary.items_delivered) == delivered
    for text in (russian, english, page):
        assert "не была опубликована" not in text
        assert "No agenda was published" not in text
    if delivered == 0:
        assert (
            "Программа была опубликована, но встреча завершилась до начала её первого пункта."
        ) in russian
        assert "the meeting ended before its first item." in english
    elif delivered < 5:
        assert f"Проведено {delivered} из 5 пунктов программы: встреча завершилась" in russian
        assert f"{delivered} of 5 agenda items took place" in english
        assert "Проведено" in page
    else:
        assert "Проведено" not in russian
        assert "took place" not in english


def test_only_a_meeting_without_a_published_agenda_says_so() -> None:
    never = summary_of(agenda=None)
    empty = summary_of(agenda=[])

    assert never.items_planned is None
    assert "Программа не была опубликована." in render_markdown(never, "ru")
    assert "В опубликованной программе не было пунктов." in render_markdown(empty, "ru")
    assert "The published agenda had no items." in render_markdown(empty, "en")
    assert "не была опубликована" not in render_markdown(empty, "ru")


def test_the_remaining_items_agree_with_their_number() -> None:
    agenda = [item(minutes, "Пункт") for minutes in range(0, 21 * 5, 5)]  # 21 items
    summary = summary_of(facts=meeting(ended_at=START + timedelta(minutes=1)), agenda=agenda)
    assert "Проведено 1 из 21 пункта программы" in render_markdown(summary, "ru")


ZONES = sorted(
    {found.timezone for found in all_regions()}
    | {"Europe/Berlin", "Europe/Minsk", "Asia/Almaty", "Europe/Samara", "Asia/Kolkata"}
)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_summary_names_its_zone_as_the_invitation_mail_does(
    zone: str, language: Literal["ru", "en"]
) -> None:
    """One way of naming a zone in the reader's language: the summary's «Когда» shows the
    zone the way the invitation mail shows it, never as an IANA name."""
    host = OrganizationFacts(LIPETSK, "Библиотека", "Липецкая область", zone)
    summary = write_summary(meeting(site_ids=[LIPETSK]), {LIPETSK: host}, [LIPETSK], None)
    mail = replace(MAIL, starts_at=START, ends_at=START + timedelta(hours=3), timezone=zone)
    mail_label = when(mail, language).rsplit(" (", 1)[1].removesuffix(")")
    text = render_markdown(summary, language)
    page = render_html(SummaryText(summary, Outcomes(), version=1), language)

    assert f"({mail_label})" in text
    assert zone not in text
    assert zone not in page
    assert "UTC" in mail_label


@pytest.mark.parametrize("subject", all_regions(), ids=lambda found: found.code)
def test_the_english_lead_says_where_participants_came_from_with_the_article_names_take(
    subject: Region,
) -> None:
    """Republics and autonomous subjects take "the" in a sentence; oblasts, krais and the
    federal cities do not. The lead says the participants came from the regions."""
    here = OrganizationFacts(
        TUVA, "Библиотека", subject.name, subject.timezone, city="Город", region_code=subject.code
    )
    summary = write_summary(meeting(site_ids=[TUVA]), {TUVA: here}, [TUVA, TUVA], [])
    english = render_markdown(summary, "en")
    takes_the = subject.type in ("республика", "автономная область", "автономный округ")
    named = f"the {subject.name_en}" if takes_the else subject.name_en
    assert (
        f"On October 1, 2020, two participants took part, coming from one region: {named}.\n"
    ) in english
    assert f"\n- {subject.name_en}\n" in english  # a list item takes no article


def test_english_lines_are_in_latin_letters() -> None:
    """Organizations and towns in their English names when given, transliterated when not;
    speakers transliterated. Titles stay as the operator wrote them."""
    plan = demo_plan()
    ids = {org.key: UUID(int=number) for number, org in enumerate(plan.organizations, start=1)}
    organizations = {
        ids[org.key]: OrganizationFacts(
            ids[org.key], org.name, region_name(org.region), org.timezone, org.city, org.region
        )
        for org in plan.organizations
    }
    organizations[ids["lodb"]] = replace(
        organizations[ids["lodb"]], name_en="Lipetsk Regional Children's Library", city_en="Lipetsk"
    )
    summary = write_summary(
        meeting(host_organization_id=ids["lodb"], site_ids=list(organizations)),
        organizations,
        [],
        [
            item(
                0,
                "Открытие",
                "Алехина И. Л. (Донецкая республиканская универсальная научная библиотека)",
            )
        ],
    )
    english = render_markdown(summary, "en")
    lines = english.split("## Organizations and sites\n\n")[1].split("\n\n")[0].splitlines()

    assert len(lines) == len(plan.organizations)
    assert not [line for line in lines if re.search("[А-Яа-яЁё]", line)]
    assert (
        "- Lipetsk Regional Children's Library (Lipetsk, Lipetsk Oblast; site): 0 participants"
        in (lines)
    )
    assert "- Ulyanovskaya oblastnaya nauchnaya biblioteka" in english
    assert "Открытие — Alekhina I. L. (Donetskaya respublikanskaya" in english
