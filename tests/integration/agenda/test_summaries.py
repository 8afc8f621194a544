"""Summaries as operators and readers see them: a draft written from data alone when a
meeting ends, kept current by late data; outcomes an operator adds; versions published."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec

from shared.events import AttendanceRecorded, new_id
from tests.events import STARTS, TITLE, ended, instant, signed_up
from tests.integration.agenda.support import (
    ENDS,
    MOSCOW,
    OUTCOMES,
    VLADIVOSTOK,
    Agenda,
    ended_with_two,
    moscow_with_vladivostok,
)
from tests.integration.api import body, partner_key, problem, publish
from tests.support import eventually


async def test_a_draft_is_written_when_the_meeting_ends_and_waits_to_be_published(
    agenda: Agenda,
) -> None:
    meeting = await ended_with_two(agenda)
    path = f"/meetings/{meeting.aggregate_id}/summary"

    draft = await agenda.draft(meeting.aggregate_id, participants=2)
    assert (draft["version"], draft["published"], draft["latest"]) == (1, False, True)
    assert draft["created_by"] == "writer"
    assert draft["outcomes"] == {}
    assert draft["links"]["html"].endswith(f"{path}.html")
    content = draft["content"]
    assert content["title"] == TITLE
    assert content["timezone"] == "Europe/Moscow"
    assert instant(content["held_from"]) == STARTS
    assert instant(content["held_until"]) == STARTS + timedelta(hours=1)
    assert content["regions"] == ["Приморский край", "Ставропольский край"]
    assert sorted((o["name"], o["participants"], o["site"]) for o in content["organizations"]) == [
        (MOSCOW.name, 1, True),
        (VLADIVOSTOK.name, 1, True),
    ]
    [delivered] = content["items_delivered"]
    assert delivered["title"] == "Открытие телемоста"
    assert delivered["materials"] == [{"title": "Рисунки", "url": "https://lib.example/drawings"}]
    [session] = content["sessions"]
    assert session["id"] == str(meeting.aggregate_id)

    latest = await agenda.client.get(f"{path}/versions/latest")
    assert latest.headers["etag"] == '"1"'
    text = await agenda.client.get(f"{path}/versions/1/markdown")
    assert text.headers["content-type"].split(";")[0] == "text/markdown"
    assert "- **Зарегистрировались:** 2 участника\n" in text.text
    assert "- **Откуда:** 2 организации из 2 регионов\n" in text.text
    assert "1 октября 2030, 11:00–12:00 (Москва, UTC+3)" in text.text
    assert "Открытие телемоста — Светлана Умеренко" in text.text
    assert "[Рисунки](https://lib.example/drawings)" in text.text
    assert "Подведение итогов" not in text.text
    # The meeting ended before the agenda's second item: published all the same.
    assert content["items_planned"] == 2
    assert "Проведено 1 из 2 пунктов программы: встреча завершилась" in text.text
    assert "не была опубликована" not in text.text

    # Nobody has published it: readers learn why there is nothing to read yet.
    for public in (path, f"{path}.md", f"{path}.html"):
        problem(await agenda.client.get(public), 404, "summary-not-published")
    assert await agenda.outboxed("agenda.summary.published") == 0


async def test_outcomes_make_a_new_version_which_is_published(agenda: Agenda) -> None:
    meeting = await ended_with_two(agenda)
    path = f"/meetings/{meeting.aggregate_id}/summary"
    await agenda.draft(meeting.aggregate_id, participants=2)
    write = {"outcomes": OUTCOMES, "publish": True}

    problem(await agenda.client.put(path, json=write), 428, "if-match-required")
    stale = await agenda.client.put(path, json=write, headers={"If-Match": '"7"'})
    assert problem(stale, 412, "version-mismatch")["current_version"] == 1
    invalid = await agenda.client.put(path, json={"outcomes": {"de": "Ergebnisse"}})
    problem(invalid, 422, "validation", field="outcomes.de")

    published = await agenda.add_outcomes(meeting.aggregate_id, OUTCOMES, version=1)
    assert published.headers["etag"] == '"2"'
    version = body(published)
    assert (version["version"], version["published"], version["created_by"]) == (
        2,
        True,
        "operator",
    )
    assert version["outcomes"] == OUTCOMES

    public = body(await agenda.client.get(path))
    assert (public["version"], public["outcomes"]) == (2, OUTCOMES)

    page = await agenda.client.get(f"{path}.html")
    assert page.headers["content-type"].split(";")[0] == "text/html"
    assert page.headers["content-language"] == "ru"
    assert "<p>Дети из Георгиевска и Владивостока <strong>обменялись</strong> рисунками.</p>" in (
        page.text
    )
    assert "&lt;b&gt;без HTML&lt;/b&gt;" in page.text
    english = await agenda.client.get(f"{path}.md", params={"lang": "en"})
    assert english.headers["content-language"] == "en"
    assert english.text.startswith(f"# Summary: {TITLE}\n")
    assert "Children of Georgievsk and Vladivostok **exchanged** drawings." in english.text
    assert "- **Registered:** 2 participants\n" in english.text
    assert "- **From:** 2 organizations in 2 regions\n" in english.text
    problem(await agenda.client.get(f"{path}.md", params={"lang": "de"}), 400, "validation")

    [message] = await agenda.events("agenda.summary.published", 1)
    assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
    event = message.event
    assert (event["meeting_id"], event["aggregate_version"], event["version"]) == (
        str(meeting.aggregate_id),
        1,
        2,
    )
    assert (event["participants"], event["organizations"], event["regions"]) == (2, 2, 2)
    assert event["url"].endswith(f"{path}.html")

    # Publishing what is published already tells no one again.
    again = await agenda.client.post(f"{path}/versions/2/publish")
    assert body(again)["published"]
    assert await agenda.outboxed("agenda.summary.published") == 1
    # The same outcomes again make no new version.
    same = body(await agenda.add_outcomes(meeting.aggregate_id, OUTCOMES, version=2))
    assert same["version"] == 2


async def test_late_data_makes_a_new_draft_with_the_outcomes_while_readers_keep_theirs(
    agenda: Agenda,
) -> None:
    meeting = await ended_with_two(agenda)
    path = f"/meetings/{meeting.aggregate_id}/summary"
    await agenda.draft(meeting.aggregate_id, participants=2)
    body(await agenda.add_outcomes(meeting.aggregate_id, OUTCOMES, version=1))

    # Someone from Georgievsk is recorded after the fact.
    await publish(
        agenda.js,
        *signed_up(
            meeting.aggregate_id, MOSCOW.aggregate_id, "Ольга Бунина", "bunina@georgievsk.example"
        ),
    )
    draft = await agenda.draft(meeting.aggregate_id, participants=3)
    assert (draft["version"], draft["published"], draft["created_by"]) == (3, False, "writer")
    assert draft["outcomes"] == OUTCOMES
    assert sorted(o["participants"] for o in draft["content"]["organizations"]) == [1, 2]
    assert body(await agenda.client.get(path))["content"]["participants"] == 2

    body(await agenda.client.post(f"{path}/versions/3/publish"))
    markdown = await agenda.client.get(f"{path}.md")
    assert "- **Зарегистрировались:** 3 участника\n" in markdown.text
    messages = await agenda.events("agenda.summary.published", 2)
    assert [(m.event["aggregate_version"], m.event["version"]) for m in messages] == [
        (1, 2),
        (2, 3),
    ]
    listed = body(await agenda.client.get(f"{path}/versions"))
    assert [(v["version"], v["published"]) for v in listed] == [(3, True), (2, False), (1, False)]
    problem(await agenda.client.post(f"{path}/versions/9/publish"), 404, "no-such-version")


async def test_who_was_there_comes_from_check_ins_and_headcounts(agenda: Agenda) -> None:
    meeting = await ended_with_two(agenda)
    people = await agenda.database.fetch(
        "SELECT person_id, organization_id FROM agenda.registrations WHERE meeting_id = $1",
        meeting.aggregate_id,
    )
    vladivostok = next(p for p in people if p["organization_id"] == VLADIVOSTOK.aggregate_id)
    await publish(
        agenda.js,
        attendance(meeting.aggregate_id, VLADIVOSTOK.aggregate_id, person=vladivostok["person_id"]),
        attendance(meeting.aggregate_id, MOSCOW.aggregate_id, headcount=23),
    )

    async def counted() -> dict[str, Any] | None:
        draft = await agenda.draft(meeting.aggregate_id, participants=2)
        return draft if draft["content"]["headcount"] == 23 else None

    content = (await eventually(counted))["content"]
    assert content["attended"] == 1
    assert content["sessions"][0]["attended"] == 24
    by_name = {o["name"]: o for o in content["organizations"]}
    assert (by_name[VLADIVOSTOK.name]["attended"], by_name[MOSCOW.name]["headcount"]) == (1, 23)
    text = await agenda.client.get(
        f"/meetings/{meeting.aggregate_id}/summary/versions/latest", headers={}
    )
    version = body(text)["version"]
    markdown = await agenda.client.get(
        f"/meetings/{meeting.aggregate_id}/summary/versions/{version}/markdown"
    )
    assert "1 участник по отметкам на сессиях, ещё 23 человека в залах площадок" in markdown.text


def attendance(
    meeting_id: UUID, organization_id: UUID, *, person: UUID | None = None, headcount: int = 0
) -> AttendanceRecorded:
    return AttendanceRecorded(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        meeting_id=meeting_id,
        session_id=meeting_id,
        organization_id=organization_id,
        person_id=person,
        headcount=headcount if person is None else None,
    )


async def test_only_the_host_or_an_operator_writes_and_reads_drafts(agenda: Agenda) -> None:
    meeting = moscow_with_vladivostok()
    await agenda.meeting_known(meeting)
    path = f"/meetings/{meeting.aggregate_id}/summary"
    problem(await agenda.client.get(path), 404, "no-summary-yet")
    early = await agenda.client.put(path, json={"outcomes": OUTCOMES}, headers={"If-Match": '"1"'})
    assert "its summary is written when it ends" in problem(early, 409, "no-summary-yet")["detail"]

    await publish(agenda.js, ended(meeting, ENDS))
    await agenda.draft(meeting.aggregate_id, participants=0)
    guest = await partner_key(
        agenda.js, agenda.client, VLADIVOSTOK.aggregate_id, f"{path}/versions"
    )
    host = await partner_key(agenda.js, agenda.client, MOSCOW.aggregate_id, f"{path}/versions")
    problem(await agenda.client.get(f"{path}/versions", headers=guest), 403, "not-the-host")
    refused = await agenda.client.put(
        path, json={"outcomes": OUTCOMES}, headers={**guest, "If-Match": '"1"'}
    )
    problem(refused, 403, "not-the-host")
    accepted = await agenda.client.put(
        path, json={"outcomes": OUTCOMES, "publish": True}, headers={**host, "If-Match": '"1"'}
    )
    assert body(accepted)["created_by"].startswith("key ")


async def test_a_site_heard_of_after_the_draft_is_written_joins_it(agenda: Agenda) -> None:
    """The two consumers (meetings, registry) are not ordered: a site whose organization
    arrives after its meeting's summary was written must still make it into the summary."""
    meeting = moscow_with_vladivostok()
    await agenda.meeting_known(meeting)
    kim = signed_up(meeting.aggregate_id, VLADIVOSTOK.aggregate_id, "Анна Ким", "kim@pkpb.example")
    await publish(agenda.js, VLADIVOSTOK, *kim)
    await agenda.registrations_known(meeting.aggregate_id, 1)
    await publish(agenda.js, ended(meeting, ENDS))
    first = await agenda.draft(meeting.aggregate_id, participants=1)
    assert first["content"]["regions"] == ["Приморский край"]

    await publish(agenda.js, MOSCOW)

    rewritten = await agenda.draft(meeting.aggregate_id, participants=1, version=2)
    assert rewritten["content"]["regions"] == ["Приморский край", "Ставропольский край"]
    assert rewritten["content"]["timezone"] == "Europe/Moscow"


async def test_a_summary_that_fails_holds_up_no_other(agenda: Agenda) -> None:
    broken, fine = moscow_with_vladivostok(), moscow_with_vladivostok()
    await publish(agenda.js, MOSCOW, VLADIVOSTOK)
    await agenda.meeting_known(broken)
    await publish(agenda.js, ended(broken, ENDS))
    await agenda.draft(broken.aggregate_id, participants=0)
    # What is stored no longer reads as a summary: rewriting it fails every time.
    await agenda.database.execute(
        "UPDATE agenda.summary_versions SET content = '{\"bogus\": 1}' WHERE meeting_id = $1",
        broken.aggregate_id,
    )
    await publish(
        agenda.js,
        *signed_up(broken.aggregate_id, MOSCOW.aggregate_id, "Анна Ким", "kim@example.org"),
    )

    async def failed_once() -> bool:
        failures = await agenda.database.fetchval(
            "SELECT failures FROM agenda.summary_requests WHERE meeting_id = $1",
            broken.aggregate_id,
        )
        return bool(failures)

    await eventually(failed_once)
    await agenda.meeting_known(fine)
    await publish(agenda.js, ended(fine, ENDS))
    summary = await agenda.draft(fine.aggregate_id, participants=0)
    assert summary["version"] == 1


async def test_english_texts_name_an_organization_and_its_town_in_english(agenda: Agenda) -> None:
    """The names it gave in English, through the registry's event and the read model; the
    others transliterated, never in Cyrillic."""
    meeting = await ended_with_two(agenda)
    await agenda.draft(meeting.aggregate_id, participants=2)
    english = msgspec.structs.replace(
        VLADIVOSTOK,
        event_id=new_id(),
        aggregate_version=2,
        city="Владивосток",
        region_code="RU-PRI",
        name_en="Gorky Primorsky Regional Public Library",
        city_en="Vladivostok",
    )
    await publish(agenda.js, english)

    rewritten = await agenda.draft(meeting.aggregate_id, participants=2, version=2)
    [named] = [o for o in rewritten["content"]["organizations"] if o["name_en"]]
    assert (named["name_en"], named["city_en"]) == (english.name_en, "Vladivostok")
    path = f"/meetings/{meeting.aggregate_id}/summary/versions/2/markdown"
    text = (await agenda.client.get(path, params={"lang": "en"})).text
    assert "- Gorky Primorsky Regional Public Library (Vladivostok, Primorsky Krai; site)" in text
    assert "- Mezhposelencheskaya tsentralnaya biblioteka Georgiyevskogo okruga (" in text
    russian = (await agenda.client.get(path)).text
    assert f"- {VLADIVOSTOK.name} (Владивосток, Приморский край; площадка)" in russian
