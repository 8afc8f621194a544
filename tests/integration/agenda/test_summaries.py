"""Summaries as readers see them: written from data alone when a meeting ends, rewritten
when late data changes what they say."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.agenda.support import (
    ENDS,
    MOSCOW,
    STARTS,
    TITLE,
    VLADIVOSTOK,
    Agenda,
    ended,
    instant,
    scheduled,
    signed_up,
)
from tests.integration.api import body, problem, publish
from tests.support import eventually

# --- summaries ------------------------------------------------------------------------


async def test_the_summary_counts_who_took_part_and_is_rewritten_by_a_late_registration(
    agenda: Agenda,
) -> None:
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    body(
        await agenda.put(
            meeting.aggregate_id,
            [
                {
                    "at": "2030-10-01T11:00+03:00",
                    "duration": "PT30M",
                    "title": "Открытие телемоста",
                    "speakers": [{"name": "Светлана Умеренко", "external": True}],
                },
                {"at": "2030-10-01T12:30+03:00", "duration": "PT30M", "title": "Подведение итогов"},
            ],
        )
    )
    umerenko = signed_up(meeting, MOSCOW, "Светлана Умеренко", "umerenko@georgievsk.example")
    kim = signed_up(meeting, VLADIVOSTOK, "Анна Ким", "kim@pkpb.example")
    await publish(agenda.js, MOSCOW, VLADIVOSTOK, *umerenko, *kim)
    await agenda.registrations_known(meeting.aggregate_id, 2)
    # Ended early, at 12:00 in Moscow: the closing item was never delivered.
    await publish(agenda.js, ended(meeting, STARTS + timedelta(hours=1)))

    summary = await agenda.summary(meeting.aggregate_id, participants=2)
    assert summary["version"] == 1
    assert summary["markdown_url"].endswith(f"/meetings/{meeting.aggregate_id}/summary.md")
    content = summary["content"]
    assert content["title"] == TITLE
    assert content["timezone"] == "Europe/Moscow"
    assert instant(content["held_from"]) == STARTS
    assert instant(content["held_until"]) == STARTS + timedelta(hours=1)
    assert content["regions"] == ["Приморский край", "Ставропольский край"]
    assert sorted((o["name"], o["participants"], o["site"]) for o in content["organizations"]) == [
        (MOSCOW.name, 1, True),
        (VLADIVOSTOK.name, 1, True),
    ]
    assert [item["title"] for item in content["items_delivered"]] == ["Открытие телемоста"]

    markdown = await agenda.client.get(f"/meetings/{meeting.aggregate_id}/summary.md")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].split(";")[0] == "text/markdown"
    assert markdown.headers["content-language"] == "ru"
    assert markdown.text.startswith(f"# Итоги: {TITLE}\n")
    assert "2 участника из 2 регионов, 2 организации" in markdown.text
    assert "1 октября 2030, 11:00–12:00 (Europe/Moscow)" in markdown.text
    assert "Открытие телемоста — Светлана Умеренко" in markdown.text
    assert "Подведение итогов" not in markdown.text

    english = await agenda.client.get(
        f"/meetings/{meeting.aggregate_id}/summary.md", params={"lang": "en"}
    )
    assert english.status_code == 200
    assert english.headers["content-type"].split(";")[0] == "text/markdown"
    assert english.headers["content-language"] == "en"
    assert english.text.startswith(f"# Summary: {TITLE}\n")
    assert "2 participants from 2 regions, 2 organizations" in english.text
    assert "October" in english.text

    german = await agenda.client.get(
        f"/meetings/{meeting.aggregate_id}/summary.md", params={"lang": "de"}
    )
    document = problem(german, 400, "validation", field="lang")
    assert document["errors"][0]["source"] == "query"

    [message] = await agenda.events("agenda.summary.published", 1)
    assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
    assert message.event["meeting_id"] == str(meeting.aggregate_id)
    assert message.event["aggregate_version"] == 1
    assert (
        message.event["participants"],
        message.event["organizations"],
        message.event["regions"],
    ) == (2, 2, 2)
    assert message.event["url"].endswith(f"/meetings/{meeting.aggregate_id}/summary")

    # Someone from Georgievsk is recorded after the fact.
    await publish(
        agenda.js, *signed_up(meeting, MOSCOW, "Ольга Бунина", "bunina@georgievsk.example")
    )
    rewritten = await agenda.summary(meeting.aggregate_id, participants=3)
    assert rewritten["version"] == 2
    assert rewritten["content"]["regions"] == content["regions"]
    assert sorted(o["participants"] for o in rewritten["content"]["organizations"]) == [1, 2]
    markdown = await agenda.client.get(f"/meetings/{meeting.aggregate_id}/summary.md")
    assert "3 участника из 2 регионов" in markdown.text

    messages = await agenda.events("agenda.summary.published", 2)
    assert [(m.event["aggregate_version"], m.event["participants"]) for m in messages] == [
        (1, 2),
        (2, 3),
    ]


async def test_a_site_heard_of_after_the_summary_is_written_joins_it(agenda: Agenda) -> None:
    """The two consumers (meetings, registry) are not ordered: a site whose organization
    arrives after its meeting's summary was written must still make it into the summary."""
    meeting = scheduled()
    await agenda.meeting_known(meeting)
    kim = signed_up(meeting, VLADIVOSTOK, "Анна Ким", "kim@pkpb.example")
    await publish(agenda.js, VLADIVOSTOK, *kim)
    await agenda.registrations_known(meeting.aggregate_id, 1)
    await publish(agenda.js, ended(meeting, ENDS))
    first = await agenda.summary(meeting.aggregate_id, participants=1)
    assert first["content"]["regions"] == ["Приморский край"]

    await publish(agenda.js, MOSCOW)

    async def with_the_host() -> dict[str, Any] | None:
        summary = await agenda.summary(meeting.aggregate_id, participants=1)
        return summary if summary["version"] == 2 else None

    rewritten = await eventually(with_the_host)
    assert rewritten["content"]["regions"] == ["Приморский край", "Ставропольский край"]
    assert rewritten["content"]["timezone"] == "Europe/Moscow"


async def test_a_summary_that_fails_holds_up_no_other(agenda: Agenda) -> None:
    broken, fine = scheduled(), scheduled()
    await publish(agenda.js, MOSCOW, VLADIVOSTOK)
    await agenda.meeting_known(broken)
    await publish(agenda.js, ended(broken, ENDS))
    await agenda.summary(broken.aggregate_id, participants=0)
    # What is stored no longer reads as a summary: rewriting it fails every time.
    await agenda.database.execute(
        "UPDATE agenda.summaries SET content = '{\"bogus\": 1}' WHERE meeting_id = $1",
        broken.aggregate_id,
    )
    await publish(agenda.js, *signed_up(broken, MOSCOW, "Анна Ким", "kim@example.org"))

    async def failed_once() -> bool:
        failures = await agenda.database.fetchval(
            "SELECT failures FROM agenda.summary_requests WHERE meeting_id = $1",
            broken.aggregate_id,
        )
        return bool(failures)

    await eventually(failed_once)
    await agenda.meeting_known(fine)
    await publish(agenda.js, ended(fine, ENDS))
    summary = await agenda.summary(fine.aggregate_id, participants=0)
    assert summary["version"] == 1
